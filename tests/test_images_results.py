"""Benchmark results on disk: save → load gives the same numbers and arrays; every malformed folder
gives one ``RunFileError`` naming the file; the histogram panels' titles keep clear of the axis titles."""
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from toyood.errors import ConfigError, RunFileError
from toyood.images import results as results_module
from toyood.images.benchmark import SET_METRICS, BenchConfig, BenchResult, MethodResult
from toyood.images.report import format_table
from toyood.images.results import load_result, save_result
from toyood.plots.images import confidence_histograms_figure


def method_result(name: str, seed: int, sets=("fmnist", "noise", "adv_noise", "adv_samples")) -> MethodResult:
    rng = np.random.default_rng(seed)
    metrics = {s: {k: float(rng.uniform()) for k in SET_METRICS} for s in sets}
    metrics["noise"]["dtacc"] = None  # a metric that could not be computed is stored as null
    return MethodResult(name, 0.125, 0.9, metrics, 12.5 if seed else None, 0.25 if seed else None, 3.0, 1.5,
                        [0.7, 0.4], {s: rng.uniform(size=20).astype(np.float32) for s in ("in", *sets)},
                        {k: rng.uniform(size=(8, 1, 28, 28)).astype(np.float32)
                         for k in ("noise", "adv_noise", "test", "adv_samples")},
                        torch.nn.Linear(2, 2))


def make_result(methods=("plain", "acet")) -> BenchResult:
    config = BenchConfig(dataset="mnist", methods=methods, data_dir="/data", epochs=3)
    return BenchResult(config, {m: method_result(m, i) for i, m in enumerate(methods)},
                       {"emnist": "EMNIST letters not found"}, 64, 20)


def test_saved_results_reload_with_the_same_numbers_and_arrays(tmp_path):
    result = make_result()
    save_result(result, tmp_path / "out")
    loaded = load_result(tmp_path / "out")
    assert loaded.config == result.config and loaded.skipped == result.skipped
    assert (loaded.n_train, loaded.n_test) == (64, 20)
    for name, original in result.methods.items():
        again = loaded.methods[name]
        assert again.to_dict() == original.to_dict() and again.model is None
        for key, values in original.confidences.items():
            np.testing.assert_array_equal(again.confidences[key], values)
        for key, images in original.samples.items():
            np.testing.assert_array_equal(again.samples[key], images)
    assert format_table(loaded) == format_table(result)
    assert (tmp_path / "out" / "model_acet.pt").is_file()


def test_saving_never_replaces_a_folder_unless_asked(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "note.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="already holds files"):
        save_result(make_result(), tmp_path / "out")
    assert (tmp_path / "out" / "note.txt").read_text() == "keep me"
    save_result(make_result(), tmp_path / "out", overwrite=True)
    assert not (tmp_path / "out" / "note.txt").exists() and load_result(tmp_path / "out").methods


# ---- malformed result folders ------------------------------------------------------------------

def edit_json(change):
    def damage(folder: Path) -> str:
        file = folder / "results.json"
        data = json.loads(file.read_text())
        change(data)
        file.write_text(json.dumps(data))
        return "results.json"
    return damage


def replace_arrays(name: str, change):
    def damage(folder: Path) -> str:
        with np.load(folder / name) as arrays:
            data = {key: arrays[key] for key in arrays.files}
        change(data)
        np.savez(folder / name, **data)
        return name
    return damage


def write(name: str, content: bytes):
    def damage(folder: Path) -> str:
        (folder / name).write_bytes(content)
        return name
    return damage


def delete(name: str):
    def damage(folder: Path) -> str:
        (folder / name).unlink()
        return name
    return damage


RESULT_CASES = {
    "results.json missing": (delete("results.json"), "results.json is missing"),
    "confidences.npz missing": (delete("confidences.npz"), "confidences.npz is missing"),
    "results.json not JSON": (write("results.json", b"{not json"), "not valid JSON"),
    "results.json not UTF-8": (write("results.json", b"\xff\xfe{}"), "not valid JSON"),
    "results.json a list": (write("results.json", b"[]"), "expected a JSON object"),
    "unknown config setting": (edit_json(lambda d: d["config"].update(colour="red")), "unknown config settings"),
    "config seed a string": (edit_json(lambda d: d["config"].update(seed="0")), "seed must be int"),
    "config invalid dataset": (edit_json(lambda d: d["config"].update(dataset="imagenet")), "dataset must be one of"),
    "config methods not a list": (edit_json(lambda d: d["config"].update(methods="plain")), "list of names"),
    "methods differ from config": (edit_json(lambda d: d["methods"].pop("acet")), "methods must hold exactly"),
    "n_test negative": (edit_json(lambda d: d.update(n_test=-3)), "n_train and n_test"),
    "metric above 1": (edit_json(lambda d: d["methods"]["plain"]["sets"]["fmnist"].update(auroc=7)), "auroc"),
    "metric missing": (edit_json(lambda d: d["methods"]["plain"]["sets"]["fmnist"].pop("mmc")), "metrics of fmnist"),
    "generated set missing": (edit_json(lambda d: d["methods"]["plain"]["sets"].pop("noise")), "sets must name"),
    "unknown set": (edit_json(lambda d: d["methods"]["plain"]["sets"].update(lsun={})), "sets must name"),
    "test error a string": (edit_json(lambda d: d["methods"]["acet"].update(test_error="low")), "test_error"),
    "median alpha below 1": (edit_json(lambda d: d["methods"]["acet"].update(median_alpha=0.5)), "median_alpha"),
    "losses not a list": (edit_json(lambda d: d["methods"]["acet"].update(epoch_losses=3)), "epoch_losses"),
    "confidences not a zip": (write("confidences.npz", b"not a zip"), "not a NumPy .npz archive"),
    "confidences with a pickled object": (replace_arrays("confidences.npz", lambda d: d.update(
        {"plain/in": np.array([{"a": 1}], dtype=object)})), "not a NumPy .npz archive"),
    "confidences above 1": (replace_arrays("confidences.npz", lambda d: d.update({"plain/in": d["plain/in"] + 2})),
                            "outside [0, 1]"),
    "confidences of a set missing": (replace_arrays("confidences.npz", lambda d: d.pop("acet/adv_noise")),
                                     "acet/adv_noise is missing"),
    "confidences 2-D": (replace_arrays("confidences.npz", lambda d: d.update({"plain/in": np.zeros((2, 2))})),
                        "1-D float array"),
    "samples of the wrong shape": (replace_arrays("samples.npz", lambda d: d.update(
        {"plain/noise": np.zeros((8, 3, 32, 32), np.float32)})), "shape (1, 28, 28)"),
    "too many samples": (replace_arrays("samples.npz", lambda d: d.update(
        {"plain/test": np.zeros((100, 1, 28, 28), np.float32)})), "1 to 8 float images"),
}


@pytest.mark.parametrize("case", RESULT_CASES)
def test_malformed_results_folder_gives_one_error_naming_the_file(tmp_path, case):
    save_result(make_result(), tmp_path / "out")
    damage, expected = RESULT_CASES[case]
    name = damage(tmp_path / "out")
    with pytest.raises(RunFileError) as error:
        load_result(tmp_path / "out")
    assert expected in str(error.value) and name in str(error.value) and "\n" not in str(error.value)


def test_an_oversized_array_archive_is_refused_before_reading(tmp_path, monkeypatch):
    save_result(make_result(), tmp_path / "out")
    monkeypatch.setattr(results_module, "MAX_ARRAYS_BYTES", 1000)
    with zipfile.ZipFile(tmp_path / "out" / "confidences.npz") as archive:
        assert sum(i.file_size for i in archive.infolist()) > 1000
    with pytest.raises(RunFileError, match="confidences.npz unpacks to"):
        load_result(tmp_path / "out")


def test_a_missing_folder_or_a_file_is_not_a_result(tmp_path):
    with pytest.raises(RunFileError, match="not a folder of benchmark results"):
        load_result(tmp_path / "nothing")
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFileError, match="not a folder"):
        load_result(tmp_path / "file")


# ---- figures ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_sets", [1, 4, 6])
def test_histogram_titles_keep_clear_of_the_axis_titles_above_them(n_sets):
    sets = ("fmnist", "emnist", "cifar10-gray")[:max(0, n_sets - 3)] + ("noise", "adv_noise", "adv_samples")
    result = make_result()
    for i, name in enumerate(result.methods):
        result.methods[name] = method_result(name, i, sets)
    fig = confidence_histograms_figure(result)
    layout = fig.layout
    plot_height = layout.height - layout.margin.t - layout.margin.b
    axes = {name: fig.layout[name] for name in fig.layout if name.startswith("yaxis")}
    rows = sorted({tuple(axis.domain) for axis in axes.values()}, reverse=True)
    gaps = [(upper[0] - lower[1]) * plot_height for upper, lower in zip(rows, rows[1:])]
    assert all(gap >= 80 for gap in gaps), gaps  # an x-axis title (~35 px) and a subplot title (~25 px)
    titled = [name for name in fig.layout if name.startswith("xaxis") and fig.layout[name].title.text]
    assert len(titled) == min(3, len(sets) + 1)  # only the lowest panel of each column names its axis
    assert len(fig.layout.annotations) == len(sets) + 1
