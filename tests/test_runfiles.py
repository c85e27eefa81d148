import json
import zipfile

import numpy as np
import pytest
import torch

from toyood import gan, runfiles
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


def test_a_reloaded_run_keeps_its_training_time_and_array_types(tmp_path, reject_run):
    save_run(reject_run, tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    assert reject_run.train_seconds > 0 and loaded.train_seconds == pytest.approx(reject_run.train_seconds)
    assert loaded.ood_train.dtype == np.float32


def test_own_points_and_ood_points_survive_config_json(tmp_path):
    config = ToyConfig(method="confidence", extra_ood=((1.5, -2.0), (30.0, 40.0)), **SMALL)
    again = runfiles.config_from_json(json.loads(json.dumps(config.to_dict())), tmp_path / "config.json")
    assert again == config and again.extra_ood == ((1.5, -2.0), (30.0, 40.0))


def test_errors_name_the_damaged_file_by_its_path(tmp_path, reject_run):
    """The message starts with the full path of the file at fault (not a look-alike name), and a
    network that does not fit lists what is missing and what is unexpected."""
    run = tmp_path / "run"
    save_run(reject_run, run)
    _corrupt(run, "config.json", json.dumps({**reject_run.config.to_dict(), "sigma": "one"}))
    with pytest.raises(RunFileError) as error:
        load_run(run)
    assert str(error.value).startswith(f"{run / 'config.json'}: ")
    _corrupt(run, "config.json", json.dumps({**reject_run.config.to_dict(), "hidden": [16, 16, 16]}))
    with pytest.raises(RunFileError) as error:
        load_run(run)
    message = str(error.value)
    assert message.startswith(f"{run / 'model.pt'} does not match config.json: missing ['hidden_layers.2.bias'")
    assert message.endswith(", unexpected none")


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


def zip_run_files(source, archive_path, folders) -> int:
    """Zip a run folder's files under each of ``folders`` ("" = top level); returns the unpacked size."""
    with zipfile.ZipFile(archive_path, "w") as archive:
        for folder in folders:
            for file in source.iterdir():
                archive.write(file, f"{folder}{file.name}")
    return len(folders) * sum(file.stat().st_size for file in source.iterdir())


def test_a_zip_with_the_run_at_its_top_level_loads(tmp_path, reject_run):
    save_run(reject_run, tmp_path / "run")
    zip_run_files(tmp_path / "run", tmp_path / "run.zip", [""])
    loaded = load_run(tmp_path / "run.zip")
    assert loaded.config == reject_run.config
    x = reject_run.data.x_test
    np.testing.assert_array_equal(probabilities(loaded.model, x), probabilities(reject_run.model, x))


@pytest.mark.parametrize("folders", [["a/", "b/"], ["", "b/"], ["outer/inner/"]])
def test_a_zip_must_hold_exactly_one_run_at_most_one_folder_deep(tmp_path, reject_run, folders):
    save_run(reject_run, tmp_path / "run")
    zip_run_files(tmp_path / "run", tmp_path / "runs.zip", folders)
    with pytest.raises(RunFileError, match="must hold one run: config.json and model.pt"):
        load_run(tmp_path / "runs.zip")


def test_a_zip_without_run_files_or_not_a_zip_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "notes.zip", "w") as archive:
        archive.writestr("notes.txt", "no run here")
    with pytest.raises(RunFileError, match="must hold one run"):
        load_run(tmp_path / "notes.zip")
    (tmp_path / "fake.zip").write_bytes(b"PK not really a zip")
    with pytest.raises(RunFileError, match="neither a run folder nor a zip of one"):
        load_run(tmp_path / "fake.zip")


def test_the_zip_size_cap_counts_the_unpacked_bytes_of_run_files(tmp_path, reject_run, monkeypatch):
    """At the cap the run loads, one byte under it is refused before anything is extracted."""
    save_run(reject_run, tmp_path / "run")
    unpacked = zip_run_files(tmp_path / "run", tmp_path / "run.zip", ["run/"])
    monkeypatch.setattr(runfiles, "MAX_ZIP_BYTES", unpacked)
    assert load_run(tmp_path / "run.zip").config == reject_run.config
    monkeypatch.setattr(runfiles, "MAX_ZIP_BYTES", unpacked - 1)
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *args: pytest.fail("read a member of an oversized zip"))
    with pytest.raises(RunFileError, match="unpacks to more than"):
        load_run(tmp_path / "run.zip")


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
    assert loaded.data.y_train.dtype == loaded.data.y_test.dtype == np.int64
    assert loaded.data.scale == pytest.approx(run.data.scale)
    (tmp_path / "run" / "data.npz").unlink()
    with pytest.raises(RunFileError, match="data.npz is missing: a run on own data stores the points it used"):
        load_run(tmp_path / "run")
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
