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
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import nn

from toyood.cli import bench as bench_cli
from toyood.cli import main
from toyood.errors import ConfigError
from toyood.images import benchmark, datasets
from toyood.images.benchmark import BenchConfig, Preset, alpha_scaling, image_method, run_benchmark
from toyood.images.report import format_table, table_records
from toyood.methods import CEDA, Plain, RejectClass
from toyood.progress import with_eta

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


def tiny_image_data(patch: pytest.MonkeyPatch, root: Path) -> Path:
    """MNIST and Fashion-MNIST look-alikes (random images) in ``root/data``, nothing else found (no
    $TOYOOD_DATA, no home cache, no system folders); the tiny preset as 'quick'."""
    patch.setenv("HOME", str(root / "home"))
    patch.delenv("TOYOOD_DATA", raising=False)
    patch.setattr(datasets, "SYSTEM_DATA_DIRS", {})
    patch.setitem(benchmark.PRESETS, "quick", {"lenet": TINY, "resnet": TINY})
    write_mnist_like(root / "data" / "mnist", 0)
    write_mnist_like(root / "data" / "fashion-mnist", 1)
    return root / "data"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """MNIST and Fashion-MNIST look-alikes (random images), nothing else; the tiny preset."""
    return tiny_image_data(monkeypatch, tmp_path)


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


def test_methods_build_their_settings_from_the_config():
    acet = image_method("acet", BenchConfig(dataset="mnist", preset="paper"))
    assert (acet.eps, acet.steps, acet.step_size, acet.lower, acet.upper) == (0.3, 40, 0.3 / 40, 0.0, 1.0)
    assert (acet.lam, acet.objective) == (1.0, "max_conf")
    quick = image_method("acet", BenchConfig(dataset="cifar10", ood_weight=0.5, ceda_objective="uniform"))
    assert (quick.steps, quick.step_size, quick.lam, quick.objective) == (3, 0.3 / 3, 0.5, "uniform")
    assert image_method("ceda", BenchConfig(ood_weight=2.0)) == CEDA(lam=2.0)
    assert image_method("confidence", BenchConfig(ood_weight=2.0)).beta == 2.0


def assert_set_metrics_match_sklearn(result, scores_are_confidences: bool) -> None:
    """Every set's numbers recomputed from the confidences the result stores: MMC as a numpy mean;
    AUROC, AUPR in/out with sklearn; FPR at 95 % TPR with numpy (Hein et al.'s convention). The
    confidences are not all equal, so a swapped or dropped set shows."""
    c_in = np.asarray(result.confidences["in"], dtype=np.float64)
    assert result.in_mmc == pytest.approx(np.mean(c_in), abs=1e-12)
    for name, metrics in result.sets.items():
        c_out = np.asarray(result.confidences[name], dtype=np.float64)
        assert metrics["mmc"] == pytest.approx(np.mean(c_out), abs=1e-12), name
        if not scores_are_confidences:
            continue
        labels, scores = np.r_[np.ones(len(c_in)), np.zeros(len(c_out))], np.r_[c_in, c_out]
        assert len(np.unique(scores)) > 2
        assert metrics["auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12), name
        assert metrics["aupr_in"] == pytest.approx(average_precision_score(labels, scores), abs=1e-12), name
        assert metrics["aupr_out"] == pytest.approx(average_precision_score(1 - labels, -scores), abs=1e-12), name
        assert metrics["fpr95"] == pytest.approx(np.mean(c_out >= np.percentile(c_in, 5)), abs=1e-12), name


def constant_image_model(bias: list[float]) -> nn.Module:
    """A 28×28 image model whose logits are ``bias`` whatever the input (zero weights)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, len(bias)))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor(bias))
    return model


def test_a_reject_answer_counts_as_an_error_and_confidence_excludes_the_reject_class(data_dir):
    """Hand-worked: logits 0 for the 10 classes and 3 for the reject class → every answer is the
    reject class (test error exactly 1) and the confidence is max_k p_k = 1 / (10 + e³) everywhere."""
    config = BenchConfig(dataset="mnist", methods=("reject",), data_dir=str(data_dir))
    data = benchmark.load_bench_data(config)
    result = benchmark.evaluate_method(constant_image_model([0.0] * 10 + [3.0]), RejectClass(), data, config)
    assert result.test_error == 1.0
    by_hand = 1.0 / (10.0 + math.exp(3.0))
    assert result.in_mmc == pytest.approx(by_hand, rel=1e-6)
    for name in ("fmnist", "noise", "adv_noise", "adv_samples"):
        np.testing.assert_allclose(result.confidences[name], by_hand, rtol=1e-6)
        assert result.sets[name]["mmc"] == pytest.approx(by_hand, rel=1e-6)


def test_test_error_of_a_constant_answer_is_the_share_of_other_labels(data_dir):
    """A model that always answers class 3 (and never rejects) errs on every test image not labelled 3."""
    config = BenchConfig(dataset="mnist", methods=("reject",), data_dir=str(data_dir))
    data = benchmark.load_bench_data(config)
    labels = data.y_test.numpy()
    expected = sum(label != 3 for label in labels) / len(labels)
    assert 0 < expected < 1
    result = benchmark.evaluate_method(constant_image_model([0.0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]), RejectClass(),
                                       data, config)
    assert result.test_error == pytest.approx(expected, abs=1e-12)


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
        assert_set_metrics_match_sklearn(method_result, scores_are_confidences=name != "dismax")
    json.dumps(result.to_dict())
    assert "Adv. samples" in format_table(result) and "FMNIST" in format_table(result)
    assert {r["set"] for r in table_records(result)} >= {"MNIST (in-dist.)", "Noise", "Adv. noise"}


def test_same_config_gives_the_same_numbers_and_progress_ends_at_one(data_dir):
    config = BenchConfig(dataset="mnist", methods=("ceda", "acet"), data_dir=str(data_dir))
    reports = []
    first = run_benchmark(config, with_eta(lambda fraction, text: reports.append((fraction, text)))).methods["ceda"]
    second = run_benchmark(replace(config, methods=("ceda",))).methods["ceda"]
    assert first.sets == second.sets and first.epoch_losses == second.epoch_losses
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert reports[-1][1].startswith("acet: evaluation done · 100%") and "left" in reports[-1][1]


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
    assert {"results.json", "table.txt", "confidences.npz", "samples.npz", "model_plain.pt", "model_acet.pt",
            "histograms.html", "noise.html", "adversarial_samples.html"} <= names
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_cli_bad_input_is_one_line_with_exit_code_2(data_dir, capsys):
    assert main(["bench", "--methods", "plain,rbf"]) == 2
    assert "rbf" in capsys.readouterr().err
    assert main(["bench", "--dataset", "svhn", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "train_32x32.mat" in err and "--download" in err and len(err.strip().splitlines()) == 1


def test_cli_lists_datasets(data_dir, capsys):
    assert main(["bench", "--list", "--data-dir", str(data_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mnist") and str(data_dir / "mnist") in lines[0]
    assert any(line.startswith("svhn") and "missing" in line for line in lines)



# ---- --out, --force and --threads are checked before any work; writes are atomic ----------------

def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def no_run(monkeypatch):
    """Makes any benchmark run fail loudly: the checks below must stop the command before it starts."""
    def refuse(*args, **kwargs):
        raise AssertionError("the benchmark started before the flags were checked")
    monkeypatch.setattr("toyood.cli.bench.run_benchmark", refuse)


@pytest.mark.parametrize("flags,expected", [
    (["--out", ""], "output path is empty"),
    (["--out", "  "], "output path is empty"),
    (["--threads", "0"], "threads must be between 1"),
    (["--threads", "100000"], "threads must be between 1"),
    (["--seed", "-1"], "seed"),
    (["--epochs", "0"], "epochs must be between 1 and 1000"),
])
def test_bad_flags_stop_before_any_work(data_dir, capsys, no_run, flags, expected):
    assert main(["bench", "--data-dir", str(data_dir), *flags]) == 2
    assert expected in one_line_error(capsys)


def test_threads_variable_is_validated(data_dir, capsys, no_run, monkeypatch):
    monkeypatch.setenv("TOYOOD_THREADS", "many")
    assert main(["bench", "--data-dir", str(data_dir)]) == 2
    assert "TOYOOD_THREADS" in one_line_error(capsys)


def test_out_onto_an_existing_folder_needs_force(data_dir, tmp_path, capsys, no_run):
    out = tmp_path / "previous"
    out.mkdir()
    (out / "results.json").write_text("{}")
    assert main(["bench", "--data-dir", str(data_dir), "--out", str(out)]) == 2
    assert "already holds files" in one_line_error(capsys)
    assert (out / "results.json").read_text() == "{}"


def test_failed_save_keeps_the_previous_results_and_leaves_no_staging(data_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "runs" / "bench"
    out.mkdir(parents=True)
    (out / "results.json").write_text("previous")

    def disk_full(result, directory):
        (directory / "histograms.html").write_text("half")
        raise OSError(28, "No space left on device")

    save_figures = bench_cli.save_figures
    monkeypatch.setattr(bench_cli, "save_figures", disk_full)
    code = main(["bench", "--methods", "plain", "--data-dir", str(data_dir), "--out", str(out), "--force", "--json"])
    assert code == 2 and "No space left on device" in one_line_error(capsys)
    assert [p.name for p in out.iterdir()] == ["results.json"] and (out / "results.json").read_text() == "previous"
    # no staging folder; the new run's checkpoints wait beside the previous run, for the same command again
    assert sorted(p.name for p in out.parent.iterdir()) == [".bench.checkpoints", "bench"]
    monkeypatch.setattr(bench_cli, "save_figures", save_figures)
    assert main(["bench", "--methods", "plain", "--data-dir", str(data_dir), "--out", str(out), "--force"]) == 0
    assert "resuming from the checkpoints" in capsys.readouterr().err
    assert [p.name for p in out.parent.iterdir()] == ["bench"] and (out / "results.json").read_text() != "previous"


def test_force_replaces_an_existing_folder(data_dir, tmp_path, capsys):
    out = tmp_path / "bench"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    assert main(["bench", "--methods", "plain", "--data-dir", str(data_dir), "--out", str(out), "--force"]) == 0
    assert not (out / "stale.txt").exists() and (out / "results.json").is_file()


# ---- the budget: estimated before any work -------------------------------------------------------

def test_a_run_over_the_time_budget_is_refused_before_any_work(data_dir, capsys, no_run, monkeypatch):
    monkeypatch.setenv("TOYOOD_MAX_MINUTES", "1")
    assert main(["bench", "--data-dir", str(data_dir), "--preset", "paper", "--epochs", "100"]) == 2
    line = one_line_error(capsys)
    assert "would take about" in line and "over the limit of 1 min" in line and "--epochs" in line


def test_a_run_over_the_memory_budget_is_refused_before_any_work(data_dir, capsys, no_run, monkeypatch):
    monkeypatch.setenv("TOYOOD_MAX_MEMORY_GB", "0.1")
    assert main(["bench", "--data-dir", str(data_dir)]) == 2
    line = one_line_error(capsys)
    assert "of memory, over the limit of 102 MiB" in line


def test_a_run_within_the_budget_runs(data_dir, capsys, monkeypatch):
    from toyood.images.estimate import bench_job_estimate
    config = BenchConfig(dataset="mnist", methods=("plain",), data_dir=str(data_dir))
    memory, seconds = bench_job_estimate(config)
    monkeypatch.setenv("TOYOOD_MAX_MINUTES", str(1.01 * seconds / 60))
    monkeypatch.setenv("TOYOOD_MAX_MEMORY_GB", str(1.01 * memory / 2**30))
    assert main(["bench", "--methods", "plain", "--data-dir", str(data_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["methods"]["plain"]["epoch_losses"]


def test_estimates_grow_with_the_work_and_read_the_real_split_sizes(data_dir):
    from toyood.images.estimate import bench_job_estimate
    base = BenchConfig(dataset="mnist", methods=("plain",), data_dir=str(data_dir), preset="paper")
    memory, seconds = bench_job_estimate(base)
    assert bench_job_estimate(replace(base, epochs=200))[1] > seconds
    assert bench_job_estimate(replace(base, methods=("plain", "acet")))[1] > 2 * seconds
    assert bench_job_estimate(base, threads=2)[1] < seconds
    assert bench_job_estimate(replace(base, n_train=40))[1] > seconds / 2  # 80 images in the files: 40 is half
    official = BenchConfig(dataset="mnist", methods=("plain",), data_dir=str(data_dir / "nowhere"), preset="paper")
    assert bench_job_estimate(official)[1] > 10 * seconds  # no files: the official 60,000 training images


def test_an_accelerator_is_estimated_from_passes_timed_on_it(data_dir, monkeypatch):
    """On CUDA/MPS the estimate is passes × the seconds per pass measured on the device (stubbed at
    0.5 ms), never the CPU's FLOP rate; on CPU nothing is timed."""
    from toyood.images import estimate
    config = BenchConfig(dataset="mnist", methods=("plain", "acet"), data_dir=str(data_dir), preset="demo")
    timed = []
    monkeypatch.setattr(estimate, "measured_pass_seconds", lambda c, m, d: timed.append((m, d)) or 0.0005)
    cpu_seconds = estimate.bench_job_estimate(config)[1]
    assert not timed
    monkeypatch.setattr(estimate, "resolve_device", lambda name: torch.device("cuda", 0))
    preset, n_ood = config.preset_values(), len(estimate._ood_sets(config))
    n_train, n_test = (min(n, datasets.split_size("mnist", split, str(data_dir)))
                       for n, split in ((preset.n_train, "train"), (preset.n_test, "test")))
    passes = sum(sum(benchmark.method_costs(preset, m, n_train, n_test, n_ood)) for m in config.methods)
    seconds = estimate.bench_job_estimate(replace(config, device="cuda"), threads=2)[1]
    assert seconds == pytest.approx(estimate.START_SECONDS + passes * 0.0005) and seconds != cpu_seconds
    assert [m for m, _ in timed] == ["plain", "acet"] and timed[0][1] == torch.device("cuda", 0)
    assert estimate.bench_job_estimate(replace(config, device="cuda"), processes=2)[1] == pytest.approx(
        estimate.START_SECONDS + passes * 0.0005 / 2)


def test_a_pass_is_timed_as_the_median_of_synchronised_batches(monkeypatch):
    """``measured_pass_seconds`` on CPU with a clock that advances 64 ms per timed batch of 128
    images, after a slower warm-up: 0.5 ms an image (the warm-up left out)."""
    from toyood.images import estimate
    steps = iter([0.0, 5.0] + [t for k in range(estimate.PASS_REPEATS) for t in (10.0 + k, 10.064 + k)])
    monkeypatch.setattr(estimate.time, "perf_counter", lambda: next(steps))
    synced = []
    monkeypatch.setattr(estimate, "_synchronise", synced.append)
    seconds = estimate.measured_pass_seconds.__wrapped__(BenchConfig(methods=("plain",)), "plain", torch.device("cpu"))
    assert seconds == pytest.approx(0.064 / estimate.BATCH_SIZE)
    assert len(synced) == 2 * (estimate.PASS_REPEATS + 1)
