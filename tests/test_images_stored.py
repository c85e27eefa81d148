"""Stored benchmark runs (``toyood.images.stored``): the runs shipped in results/ load, are complete and
match the current result format; saving and loading keep every number; a bad folder gives one message."""
import json
import shutil

import numpy as np
import pytest
import torch

from toyood.cli import main
from toyood.errors import RunFileError
from toyood.images import stored as stored_module
from toyood.images.benchmark import GENERATED_SETS, IMAGE_METHODS, PRESETS, SET_METRICS, BenchConfig, BenchResult, MethodResult
from toyood.images.stored import (PROVENANCE_FIELDS, STORED_DIR, find_stored, load_stored, run_name, save_stored,
                                  stored_runs)

MAX_STORED_BYTES = 5 * 2**20


def test_the_repository_ships_a_stored_mnist_demo_run_with_every_method():
    runs = stored_runs()
    mnist = find_stored(runs, "mnist", "demo")
    assert mnist is not None, "regenerate with: python scripts/store_results.py"
    assert set(mnist.result.methods) == set(IMAGE_METHODS)


@pytest.mark.parametrize("run", stored_runs(), ids=lambda run: run.name)
def test_every_stored_run_is_complete_and_in_the_current_format(run):
    raw = json.loads((run.folder / "results.json").read_text())
    assert raw == json.loads(json.dumps(run.result.to_dict())), "results.json differs from today's to_dict()"
    assert raw["preset_values"] == json.loads(json.dumps(run.result.to_dict()["preset_values"]))
    current = PRESETS[run.result.config.preset][run.result.config.architecture]
    assert raw["preset_values"] == {**json.loads(json.dumps(current.__dict__))}, \
        f"{run.name} was made with other {run.result.config.preset} settings: rerun scripts/store_results.py"
    for method, result in run.result.methods.items():
        assert set(GENERATED_SETS) <= set(result.sets) and all(set(m) == set(SET_METRICS) for m in result.sets.values())
        assert len(result.confidences["in"]) == run.result.n_test and result.samples["adv_noise"].shape[0] > 0
    assert set(PROVENANCE_FIELDS) <= set(run.provenance) and run.provenance["command"].startswith("toyood bench ")
    assert f"--preset {run.result.config.preset}" in run.provenance["command"]
    assert run.provenance["data"][run.result.config.dataset]["sha256"], "the data used must be recorded"
    assert not list(run.folder.glob("*.pt")), "stored runs carry no weights"


STANDARD_RUNS = [run for run in stored_runs() if run.result.config.preset == "standard"]


def test_the_repository_ships_standard_runs_of_mnist_and_fashion_mnist():
    assert {run.result.config.dataset for run in STANDARD_RUNS} >= {"mnist", "fmnist"}, \
        "regenerate with: python scripts/store_results.py --preset standard"


@pytest.mark.parametrize("run", STANDARD_RUNS, ids=lambda run: run.name)
def test_standard_runs_show_table1s_pattern(run):
    """Table 1's pattern, the MMCs recomputed from the stored confidences (float64 means): CEDA and
    ACET at least 0.3 below plain on uniform noise, ACET the lowest on adversarial noise."""
    r = run.result.methods
    mmc = {(m, s): float(np.mean(r[m].confidences[s], dtype=np.float64)) for m in ("plain", "ceda", "acet")
           for s in ("noise", "adv_noise")}
    assert all(mmc["plain", "noise"] - mmc[m, "noise"] >= 0.3 for m in ("ceda", "acet")), mmc
    assert mmc["acet", "adv_noise"] < min(mmc["ceda", "adv_noise"], mmc["plain", "adv_noise"]), mmc


def test_the_standard_mnist_run_has_ceda_and_acet_within_a_point_of_plain():
    """Issue 22, on the paper's dataset (Hein et al. train no Fashion-MNIST model). On Fashion-MNIST
    CEDA/ACET err 2.4/2.6 points more than plain (seed 0; CEDA +2.95 on seed 1, and about as much
    without the lr decay: README, "Image benchmark: presets")."""
    run = next(run for run in STANDARD_RUNS if run.result.config.dataset == "mnist")
    errors = {m: run.result.methods[m].test_error for m in ("plain", "ceda", "acet")}
    assert all(abs(errors[m] - errors["plain"]) <= 0.01 for m in ("ceda", "acet")), errors


def test_stored_runs_stay_small():
    total = sum(f.stat().st_size for f in STORED_DIR.rglob("*") if f.is_file())
    assert total <= MAX_STORED_BYTES


def fake_result(methods=("plain", "acet"), seed=3) -> BenchResult:
    rng = np.random.default_rng(seed)
    sets = ("fmnist", *GENERATED_SETS)
    results = {m: MethodResult(m, 0.02, 0.95, {s: {k: float(rng.uniform()) for k in SET_METRICS} for s in sets},
                               2.0, 0.5, 1.0, 1.0, [0.3], {s: rng.uniform(size=12).astype(np.float32) for s in ("in", *sets)},
                               {k: rng.uniform(size=(4, 1, 28, 28)).astype(np.float32)
                                for k in ("noise", "adv_noise", "test", "adv_samples")}, torch.nn.Linear(2, 2))
               for m in methods}
    return BenchResult(BenchConfig(methods=methods, preset="demo", seed=seed), results, {}, 40, 12)


PROVENANCE = {"command": "toyood bench --preset demo", "revision": "abc", "device": "cpu (test)", "wall_seconds": 1.5,
              "created": "2026-12-06T00:00:00+00:00", "data": {"mnist": {"folder": "/x", "sha256": {"f": "0"}}}}


def test_a_stored_run_reloads_with_its_numbers_provenance_and_no_weights(tmp_path):
    result = fake_result()
    folder = save_stored(result, PROVENANCE, tmp_path)
    assert folder.name == run_name(result.config) == "mnist-demo-seed3"
    run = load_stored(folder)
    assert run.provenance == PROVENANCE and not list(folder.glob("*.pt"))
    for name, original in result.methods.items():
        assert run.result.methods[name].to_dict() == original.to_dict()
        np.testing.assert_array_equal(run.result.methods[name].samples["noise"], original.samples["noise"])
    assert stored_runs(tmp_path)[0].name == "mnist-demo-seed3" and "demo" in run.label()


@pytest.mark.parametrize("damage, message", [
    (lambda folder: (folder / "provenance.json").unlink(), "provenance.json is missing"),
    (lambda folder: (folder / "provenance.json").write_text("{not json"), "is not valid JSON"),
    (lambda folder: (folder / "provenance.json").write_text(json.dumps({**PROVENANCE, "wall_seconds": -1})),
     "wall_seconds must be a non-empty float ≥ 0"),
    (lambda folder: (folder / "provenance.json").write_text(json.dumps({**PROVENANCE, "command": ""})),
     "command must be a non-empty str"),
    (lambda folder: (folder / "provenance.json").write_text(json.dumps({**PROVENANCE, "load_average_1min": "high"})),
     "load_average_1min must be a number ≥ 0 when given, got 'high'"),
    (lambda folder: (folder / "samples.npz").write_bytes(b"PK junk"), "is not a NumPy .npz archive"),
    (lambda folder: folder.rename(folder.with_name("other")), "must carry its name"),
])
def test_a_damaged_stored_run_gives_one_message_naming_the_problem(tmp_path, damage, message):
    folder = save_stored(fake_result(), PROVENANCE, tmp_path)
    damage(folder)
    with pytest.raises(RunFileError, match=message):
        stored_runs(tmp_path)


def test_find_stored_prefers_the_preset_asked_for_and_the_most_methods(tmp_path):
    save_stored(fake_result(("plain",), seed=1), PROVENANCE, tmp_path)
    save_stored(fake_result(("plain", "ceda", "acet"), seed=2), PROVENANCE, tmp_path)
    runs = stored_runs(tmp_path)
    assert find_stored(runs, "mnist").name == "mnist-demo-seed2"
    assert find_stored(runs, "mnist", "standard") is None and find_stored(runs, "fmnist") is None


def test_cli_lists_the_stored_runs_and_their_results(tmp_path, monkeypatch, capsys):
    save_stored(fake_result(), PROVENANCE, tmp_path)
    monkeypatch.setattr(stored_module, "STORED_DIR", tmp_path)
    assert main(["bench", "--stored"]) == 0
    assert "mnist-demo-seed3: mnist, preset demo, plain, acet, seed 3" in capsys.readouterr().out
    assert main(["bench", "--stored", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert listed["mnist-demo-seed3"]["paper"]["methods"]["acet"]["adv_noise/mmc"] == 0.162
    assert listed["mnist-demo-seed3"]["provenance"]["revision"] == "abc"


def test_the_store_script_writes_a_run_that_loads_with_its_command_and_data(tmp_path, monkeypatch, capsys):
    """scripts/store_results.py's ``store`` on MNIST/Fashion-MNIST look-alikes with a tiny preset."""
    import gzip
    import importlib.util
    import hashlib
    from toyood.images import benchmark, datasets
    from toyood.images.benchmark import Preset
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TOYOOD_DATA", raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {})
    tiny = Preset(40, 20, 1, 1, 2, 1, 8, 4, False, batch_size=20)
    monkeypatch.setitem(benchmark.PRESETS, "demo", {"lenet": tiny, "resnet": tiny})
    rng = np.random.default_rng(0)
    for folder in ("mnist", "fashion-mnist"):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for stem in ("train", "t10k"):
            for kind, array in (("images-idx3", rng.integers(0, 256, (40, 28, 28))), ("labels-idx1", np.arange(40) % 10)):
                header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
                (tmp_path / "data" / folder / f"{stem}-{kind}-ubyte.gz").write_bytes(
                    gzip.compress(header + array.astype(np.uint8).tobytes()))
    spec = importlib.util.spec_from_file_location("store_results", STORED_DIR.parent / "scripts" / "store_results.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    config = BenchConfig(methods=("plain", "reject"), preset="demo", data_dir=str(tmp_path / "data"), device="cpu")
    script.store(config, tmp_path / "results", threads=1)
    run = load_stored(tmp_path / "results" / "mnist-demo-seed0")
    assert run.provenance["command"] == (f"toyood bench --dataset mnist --methods plain,reject --preset demo --seed 0 "
                                         f"--device cpu --threads 1 --data-dir {tmp_path / 'data'}")
    labels = tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte.gz"
    assert run.provenance["data"]["mnist"]["sha256"][labels.name] == hashlib.sha256(labels.read_bytes()).hexdigest()
    assert set(run.provenance["data"]) == {"mnist", "fmnist"}
    assert "stored in" in capsys.readouterr().out


def test_select_methods_shows_a_stored_run_for_fewer_methods_in_the_links_order():
    from toyood.images.stored import select_methods
    result = fake_result(("plain", "ceda", "acet"))
    view = select_methods(result, ("acet", "plain"))
    assert list(view.methods) == ["acet", "plain"] and view.config.methods == ("acet", "plain")
    assert view.methods["acet"] is result.methods["acet"]
    with pytest.raises(RunFileError, match="it has no dismax"):
        select_methods(result, ("plain", "dismax"))


def test_the_revision_counts_code_changes_but_not_the_stored_runs_being_rewritten(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / STORED_DIR.name).mkdir()
    (tmp_path / STORED_DIR.name / "results.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    commit = stored_module.revision(tmp_path)
    assert len(commit) == 40 and "+" not in commit
    (tmp_path / STORED_DIR.name / "results.json").write_text('{"a": 1}')  # the script's previous run
    assert stored_module.revision(tmp_path) == commit
    (tmp_path / "code.py").write_text("x = 2\n")
    assert stored_module.revision(tmp_path) == commit + "+changes"
