"""The app's "Trained model (zip)" download (``toyood_app.charts.run_archive``), read back as a
visitor would: ``toyood.runfiles.load_run`` on the downloaded bytes."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from toyood.predict import probabilities
from toyood.runfiles import load_run
from toyood.toy import ToyConfig, train_toy
from toyood_app.charts import run_archive


def test_the_trained_model_zip_reloads_the_same_run_without_training(tmp_path):
    run = train_toy(ToyConfig(method="reject", hidden=(8, 8), epochs=2, n_per_class=40, n_far=100, device="cpu"))
    data = run_archive(run, {"test_accuracy": 0.75})
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert sorted(names) == ["config.json", "metrics.json", "model.pt", "ood_train.npy", "run.json"]  # top level
    (tmp_path / "download.zip").write_bytes(data)
    loaded = load_run(tmp_path / "download.zip")
    assert loaded.config == run.config and loaded.epoch_losses == run.epoch_losses
    np.testing.assert_array_equal(loaded.ood_train, run.ood_train)
    x = run.data.x_test
    np.testing.assert_array_equal(probabilities(loaded.model, x), probabilities(run.model, x))
    assert json.loads(zipfile.ZipFile(io.BytesIO(data)).read("metrics.json")) == {"test_accuracy": 0.75}
