import json
import zipfile

import numpy as np
import pytest
import torch

from toyood import gan
from toyood.errors import ConfigError, RunFileError
from toyood.predict import probabilities
from toyood.output_folder import check_output_path
from toyood.runfiles import load_run, save_run
from toyood.toy import ToyConfig, train_toy

SMALL = dict(hidden=(16, 16), epochs=2, n_per_class=100)


@pytest.fixture(scope="module")
def reject_run():
    return train_toy(ToyConfig(method="reject", **SMALL))


def test_save_and_load_round_trip(tmp_path, reject_run):
    save_run(reject_run, tmp_path / "run", {"x": 1})
    loaded = load_run(tmp_path / "run")
    assert loaded.config == reject_run.config
    assert loaded.epoch_losses == pytest.approx(reject_run.epoch_losses)
    np.testing.assert_array_equal(loaded.ood_train, reject_run.ood_train)
    x = reject_run.data.x_test
    np.testing.assert_array_equal(probabilities(loaded.model, x), probabilities(reject_run.model, x))


def test_a_gan_run_reloads_its_own_samples_without_training(tmp_path, monkeypatch):
    config = ToyConfig(method="confidence", ood="gan", **SMALL)
    original = gan.GanConfig
    monkeypatch.setattr(gan, "GanConfig", lambda **kw: original(iterations=3, snapshot_every=3, gan_hidden=(8,), **kw))
    run = gan.train_toy_with_source(config)
    save_run(run, tmp_path / "gan")

    def refuse(*args, **kwargs):
        raise AssertionError("loading a run must not train")
    monkeypatch.setattr(torch.optim.Adam, "step", refuse)
    monkeypatch.setattr(torch.optim.SGD, "step", refuse)
    monkeypatch.setattr(gan, "train_gan", refuse)
    loaded = load_run(tmp_path / "gan")
    np.testing.assert_array_equal(loaded.ood_train, run.ood_train)
    x = run.data.x_test
    np.testing.assert_array_equal(probabilities(loaded.model, x), probabilities(run.model, x))


def test_an_old_run_without_stored_samples_redraws_a_sampled_source(tmp_path, reject_run):
    save_run(reject_run, tmp_path / "old")
    (tmp_path / "old" / "ood_train.npy").unlink()
    (tmp_path / "old" / "run.json").unlink()
    np.testing.assert_array_equal(load_run(tmp_path / "old").ood_train, reject_run.ood_train)


def test_a_zip_of_a_run_loads(tmp_path, reject_run):
    save_run(reject_run, tmp_path / "run")
    with zipfile.ZipFile(tmp_path / "run.zip", "w") as archive:
        for file in (tmp_path / "run").iterdir():
            archive.write(file, f"run/{file.name}")
    assert load_run(tmp_path / "run.zip").config == reject_run.config


def test_saving_over_a_run_needs_overwrite_and_leaves_no_leftovers(tmp_path, reject_run):
    target = tmp_path / "run"
    save_run(reject_run, target)
    (target / "stale.txt").write_text("old")
    with pytest.raises(ConfigError, match="already holds files"):
        save_run(reject_run, target)
    assert (target / "stale.txt").exists()
    save_run(reject_run, target, overwrite=True)
    assert not (target / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failed_save_keeps_the_previous_run(tmp_path, reject_run, monkeypatch):
    target = tmp_path / "run"
    save_run(reject_run, target)
    before = (target / "model.pt").read_bytes()
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        save_run(reject_run, target, overwrite=True)
    assert (target / "model.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("path,message", [("", "empty"), ("  ", "empty")])
def test_output_path_is_checked_before_work(path, message):
    with pytest.raises(ConfigError, match=message):
        check_output_path(path)


def _corrupt(folder, name, content):
    file = folder / name
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        file.write_text(content)


@pytest.mark.parametrize("name,content,message", [
    ("config.json", "{not json", "not valid JSON"),
    ("config.json", "[1, 2]", "JSON object"),
    ("config.json", json.dumps({"hidden": "500"}), "hidden must be a list"),
    ("config.json", json.dumps({"hidden": [16, 16], "sigma": "one"}), "sigma must be float"),
    ("config.json", json.dumps({"hidden": [16, 16], "seed": 1.5}), "seed must be int"),
    ("config.json", json.dumps({"hidden": [16, 16], "colour": 1}), "unknown settings colour"),
    ("config.json", json.dumps({"hidden": [16, 16], "method": "svm"}), "method must be one of"),
    ("config.json", json.dumps({"hidden": [16, 32], "method": "reject", "epochs": 2, "n_per_class": 100}),
     "does not match config.json"),
    ("config.json", json.dumps({"hidden": [16, 16], "method": "plain", "epochs": 2, "n_per_class": 100}),
     "does not match config.json"),
    ("model.pt", b"", "not a PyTorch state dict"),
    ("model.pt", b"\x00" * 1000, "not a PyTorch state dict"),
    ("ood_train.npy", b"garbage", "not a NumPy array file"),
    ("run.json", "{", "not valid JSON"),
])
def test_malformed_run_files_give_one_typed_error(tmp_path, reject_run, name, content, message):
    save_run(reject_run, tmp_path / "run")
    _corrupt(tmp_path / "run", name, content)
    with pytest.raises(RunFileError, match=message) as error:
        load_run(tmp_path / "run")
    assert len(str(error.value).splitlines()) == 1 and name in str(error.value)


def test_weights_that_do_not_fit_the_config_or_unpickle_code_are_refused(tmp_path, reject_run):
    save_run(reject_run, tmp_path / "run")
    state = {k: torch.zeros(4096, 4096) for k in reject_run.model.state_dict()}
    torch.save(state, tmp_path / "run" / "model.pt")
    with pytest.raises(RunFileError, match="unpacks to"):
        load_run(tmp_path / "run")

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))
    torch.save({"x": Payload()}, tmp_path / "run" / "model.pt")
    with pytest.raises(RunFileError, match="cannot be read as weights"):
        load_run(tmp_path / "run")


def test_oversized_or_misshaped_samples_are_refused_before_reading(tmp_path, reject_run):
    save_run(reject_run, tmp_path / "run")
    np.save(tmp_path / "run" / "ood_train.npy", np.zeros((10, 3), np.float32))
    with pytest.raises(RunFileError, match="rows of 2 floats"):
        load_run(tmp_path / "run")


def test_a_run_on_own_data_stores_and_reloads_its_points(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("x,y,label\n" + "".join(f"{i % 11},{i % 5},{i % 3}\n" for i in range(60)))
    config = ToyConfig(method="reject", dataset="file", data_file=str(csv), **SMALL)
    assert config.classes == 3 and len(config.data_digest) == 64
    run = train_toy(config)
    save_run(run, tmp_path / "run")
    csv.unlink()  # the run holds what it used
    loaded = load_run(tmp_path / "run")
    np.testing.assert_array_equal(loaded.data.x_train, run.data.x_train)
    assert loaded.data.scale == pytest.approx(run.data.scale)
    x = run.data.x_test
    np.testing.assert_array_equal(probabilities(loaded.model, x), probabilities(run.model, x))


def test_own_data_that_changed_or_is_missing_is_refused(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    config = ToyConfig(method="plain", dataset="file", data_file=str(csv), **SMALL)
    csv.write_text("1,2,0\n3,4,1\n5,6,0\n7,9,1\n")
    with pytest.raises(ConfigError, match="changed"):
        train_toy(config)
    with pytest.raises(ConfigError, match="cannot read"):
        ToyConfig(dataset="file", data_file=str(tmp_path / "missing.csv"))
    with pytest.raises(ConfigError, match="one class"):
        csv.write_text("1,2,0\n3,4,0\n")
        ToyConfig(dataset="file", data_file=str(csv))
