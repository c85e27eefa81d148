import functools
import json

import numpy as np
import pytest

from toyood import gan
from toyood.cli import main
from toyood.runfiles import load_run


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("flags,message", [
    (["--iterations", "0"], "iterations"),
    (["--iterations", "ten"], "invalid int value"),
    (["--classifier", "plain"], "invalid choice"),
    (["--start", "warm"], "invalid choice"),
    (["--beta", "-1"], "beta"),
    (["--snapshot-every", "0"], "snapshot_every"),
    (["--sigma", "0"], "sigma"),
    (["--iterations", "100000", "--snapshot-every", "1"], "at most 500 snapshots"),
    (["--threads", "0"], "threads must be between 1 and"),
])
def test_bad_flags_exit_2_with_one_line(flags, message, capsys):
    assert main(["gan", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_json_run_reports_coverage_and_far_ood_metrics_and_writes_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["gan", "--classifier", "reject", "--iterations", "10", "--snapshot-every", "5", "--n-far", "200",
                 "--device", "cpu", "--json", "--out", str(out)])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= result["coverage"] <= 1 and len(result["coverage_curve"]) == 3
    assert result["snapshot_iterations"] == [0, 5, 10]
    assert {"far_ood_overconfident", "far_ood_rejected", "train_seconds"} <= set(result)
    assert result["method"] == "reject" and result["ood"] == "gan"
    for name in ("config.json", "model.pt", "metrics.json", "gan_config.json", "generator.pt", "snapshots.npz"):
        assert (out / name).is_file(), name
    assert json.loads((out / "gan_config.json").read_text())["iterations"] == 10


def test_toy_with_the_gan_source_trains_on_the_gans_samples_end_to_end(tmp_path, capsys, monkeypatch):
    """`toyood toy --ood gan` from the command line: one small GAN is trained, the classifier's saved
    OOD training set is exactly that GAN's generated samples, and the saved run reloads."""
    small = functools.partial(gan.GanConfig, iterations=4, snapshot_every=2, gan_hidden=(8,), latent_dim=4,
                              batch_size=16, snapshot_samples=20, grid_resolution=4)
    trained = []
    train_gan = gan.train_gan
    monkeypatch.setattr(gan, "GanConfig", small)
    monkeypatch.setattr(gan, "train_gan", lambda *args, **kwargs: trained.append(train_gan(*args, **kwargs))
                        or trained[-1])
    out = tmp_path / "run"
    code = main(["toy", "--method", "reject", "--ood", "gan", "--hidden", "16,16", "--epochs", "2", "--n-per-class",
                 "60", "--n-far", "200", "--device", "cpu", "--seed", "3", "--json", "--out", str(out)])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["method"] == "reject" and result["ood"] == "gan" and len(trained) == 1
    assert trained[0].config.classifier == "reject" and trained[0].config.seed == 3
    loaded = load_run(out)
    np.testing.assert_array_equal(loaded.ood_train, gan.generated_samples(trained[0], loaded.config.n_ood, 3))
    assert loaded.config.ood == "gan" and loaded.ood_train.shape == (loaded.config.n_ood, 2)
