import gzip
import json
import math
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from streamlit.testing.v1 import AppTest

from toyood.cli import main
from toyood.images import benchmark, datasets
from toyood.images.benchmark import (BenchConfig, Preset, ResultStore, alpha_scaling, format_table, image_method,
                                     run_benchmark, table_records)
from toyood.methods import Plain
from toyood.errors import ConfigError

TINY = Preset(n_train=64, n_test=24, epochs=1, acet_steps=2, adv_noise_steps=3, adv_samples_steps=2,
              n_adversarial=10, alpha_trials=6, lr_decay=False)


pytestmark = pytest.mark.usefixtures("one_thread")


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_mnist_like(folder: Path, seed: int, n: int = 80) -> None:
    rng = np.random.default_rng(seed)
    for stem in ("train", "t10k"):
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", np.arange(n) % 10)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """MNIST and Fashion-MNIST look-alikes (random images), nothing else; the tiny preset."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TOYOOD_DATA", raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {})
    monkeypatch.setitem(benchmark.PRESETS, "quick", {"lenet": TINY, "resnet": TINY})
    write_mnist_like(tmp_path / "data" / "mnist", 0)
    write_mnist_like(tmp_path / "data" / "fashion-mnist", 1)
    return tmp_path / "data"


def test_cifar_resnet_path_runs_with_svhn_as_ood(data_dir):
    rng = np.random.default_rng(0)
    folder = data_dir / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (16, 3072), dtype=np.uint8), "labels": list(range(10)) + [0] * 6}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (data_dir / "svhn").mkdir()
    scipy.io.savemat(data_dir / "svhn" / "test_32x32.mat",
                     {"X": rng.integers(0, 256, (32, 32, 3, 30), dtype=np.uint8), "y": np.full((30, 1), 10)})
    result = run_benchmark(BenchConfig(dataset="cifar10", methods=("plain", "acet"), data_dir=str(data_dir)))
    assert set(result.skipped) == {"cifar100"} and (result.n_train, result.n_test) == (64, 16)
    assert result.methods["acet"].samples["adv_samples"].shape == (8, 3, 32, 32)
    assert list(result.methods["plain"].sets) == ["svhn", "noise", "adv_noise", "adv_samples"]


def test_config_reports_every_problem_at_once():
    with pytest.raises(ConfigError) as error:
        BenchConfig(dataset="imagenet", methods=("plain", "rbf"), preset="slow", n_test=3)
    message = str(error.value)
    for part in ("dataset must be one of", "rbf", "preset must be one of", "n_test must be at least 10"):
        assert part in message


def test_ood_sets_must_have_the_in_distribution_shape():
    with pytest.raises(ConfigError, match="svhn images are 3×32×32, mnist's are 1×28×28"):
        BenchConfig(dataset="mnist", ood_sets=("svhn",))


def test_overrides_replace_preset_values():
    values = BenchConfig(dataset="cifar10", preset="paper", epochs=7).preset_values()
    assert values.epochs == 7 and values.n_train is None and values.acet_steps == 40
    assert BenchConfig(dataset="mnist").architecture == "lenet"


def test_acet_uses_heins_image_attack():
    acet = image_method("acet", BenchConfig(dataset="mnist", preset="paper"))
    assert (acet.eps, acet.steps, acet.step_size, acet.lower, acet.upper) == (0.3, 40, 0.3 / 40, 0.0, 1.0)


def test_benchmark_reports_every_set_and_skips_missing_defaults(data_dir):
    config = BenchConfig(dataset="mnist", methods=("plain", "reject", "dismax"), data_dir=str(data_dir))
    result = run_benchmark(config)
    assert set(result.skipped) == {"emnist", "cifar10-gray"} and "emnist-letters" in result.skipped["emnist"]
    assert (result.n_train, result.n_test) == (64, 24)
    for name, method_result in result.methods.items():
        assert list(method_result.sets) == ["fmnist", "noise", "adv_noise", "adv_samples"]
        for metrics in method_result.sets.values():
            assert all(0 <= metrics[key] <= 1 for key in ("mmc", "auroc", "fpr95", "tnr95", "dtacc"))
        assert 0 <= method_result.test_error <= 1
        assert method_result.samples["adv_noise"].shape == (8, 1, 28, 28)
        assert len(method_result.confidences["adv_samples"]) == 10 and len(method_result.confidences["noise"]) == 24
    json.dumps(result.to_dict())
    assert "Adv. samples" in format_table(result) and "FMNIST" in format_table(result)
    assert {r["set"] for r in table_records(result)} >= {"MNIST (in-dist.)", "Noise", "Adv. noise"}


def test_same_config_gives_the_same_numbers_and_progress_ends_at_one(data_dir):
    config = BenchConfig(dataset="mnist", methods=("ceda", "acet"), data_dir=str(data_dir))
    reports = []
    first = run_benchmark(config, lambda fraction, text: reports.append((fraction, text))).methods["ceda"]
    second = run_benchmark(replace(config, methods=("ceda",))).methods["ceda"]
    assert first.sets == second.sets and first.epoch_losses == second.epoch_losses
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert reports[-1][1].startswith("acet: evaluation done · 100%") and "left" in reports[-1][1]


def test_result_store_keeps_runs_per_method(data_dir):
    store = ResultStore(capacity=2)
    config = BenchConfig(dataset="mnist", methods=("plain", "dismax"), data_dir=str(data_dir))
    assert store.missing(config) == ["plain", "dismax"]
    store.add(run_benchmark(replace(config, methods=("dismax",))))
    assert store.missing(replace(config, download=True)) == ["plain"]  # downloading changes no result
    store.add(run_benchmark(replace(config, methods=("plain",))))
    combined = store.result(config)
    assert list(combined.methods) == ["plain", "dismax"] and combined.config == config
    store.add(run_benchmark(replace(config, methods=("ceda",))))
    assert store.missing(config) == ["dismax"]  # the oldest entry went


def test_explicitly_requested_missing_set_is_an_error(data_dir):
    with pytest.raises(datasets.DatasetUnavailable, match="emnist-letters-test-images"):
        run_benchmark(BenchConfig(dataset="mnist", methods=("plain",), data_dir=str(data_dir), ood_sets=("emnist",)))


def test_alpha_scaling_finds_the_scale_of_a_linear_model():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0]]))
    # logit gap 4·mean(x)·α: confidence 0.999 at α = log(999) / sum(x)
    alpha, share = alpha_scaling(model, Plain(), (1, 2, 2), 5, torch.Generator().manual_seed(0))
    x = torch.rand((5, 1, 2, 2), generator=torch.Generator().manual_seed(0))
    expected = np.maximum(1.0, math.log(999) / x.flatten(1).sum(1).numpy())
    assert alpha == pytest.approx(np.sort(expected)[2], rel=1e-3)
    assert 0 <= share <= 1
    with torch.no_grad():
        model[1].weight.zero_()
    assert alpha_scaling(model, Plain(), (1, 2, 2), 5, torch.Generator().manual_seed(0)) == (None, None)


def test_cli_writes_json_table_models_and_figures(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["bench", "--dataset", "mnist", "--methods", "plain,acet", "--data-dir", str(data_dir),
                 "--json", "--out", str(out)])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["methods"]) == {"plain", "acet"} and "fmnist" in result["methods"]["acet"]["sets"]
    names = {p.name for p in out.iterdir()}
    assert {"results.json", "table.txt", "confidences.npz", "model_plain.pt", "model_acet.pt",
            "histograms.html", "noise.html", "adversarial_samples.html"} <= names


def test_cli_bad_input_is_one_line_with_exit_code_2(data_dir, capsys):
    assert main(["bench", "--methods", "plain,rbf"]) == 2
    assert "rbf" in capsys.readouterr().err
    assert main(["bench", "--dataset", "svhn", "--data-dir", str(data_dir)]) == 2
    assert "train_32x32.mat" in capsys.readouterr().err


def test_cli_lists_datasets(data_dir, capsys):
    assert main(["bench", "--list", "--data-dir", str(data_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mnist") and str(data_dir / "mnist") in lines[0]
    assert any(line.startswith("svhn") and "missing" in line for line in lines)


def test_page_runs_the_benchmark_and_shows_the_table(data_dir):
    app = AppTest.from_file(str(Path(__file__).parents[1] / "pages" / "4_Image_benchmark.py"), default_timeout=300)
    app.run()
    app.sidebar.text_input[0].set_value(str(data_dir)).run()
    app.sidebar.multiselect[0].set_value(["plain", "ceda"]).run()
    assert [b.label for b in app.button] == ["Run 2 methods"]
    app.button[0].click().run()
    assert not app.exception
    assert len(app.dataframe) >= 2 and "Not evaluated" in app.warning[0].value


def test_page_says_what_is_missing_before_offering_a_run(data_dir):
    app = AppTest.from_file(str(Path(__file__).parents[1] / "pages" / "4_Image_benchmark.py"), default_timeout=60)
    app.run()
    app.sidebar.text_input[0].set_value(str(data_dir)).run()
    app.sidebar.selectbox[0].set_value("svhn").run()
    assert not app.exception and not app.button
    assert "train_32x32.mat" in app.warning[0].value
