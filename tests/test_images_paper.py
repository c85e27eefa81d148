"""Hein et al.'s numbers typed into ``toyood.images.paper``, checked against the paper's own text, and
the tables of ``toyood.images.report`` that put them beside ours."""
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from toyood.cli import main
from toyood.images import benchmark, datasets
from toyood.images.benchmark import BenchConfig, BenchResult, MethodResult, Preset
from toyood.images.paper import TABLE1, TABLE2, TEST_ERRORS, paper_value, setup_difference
from toyood.images.report import (DASH, DETAIL_COLUMNS, MAIN_COLUMNS, METHOD_TITLES, detection_rows,
                                  format_table, summary_rows)

PAPER_TEXT = Path(__file__).resolve().parents[2] / "shared" / "papers" / "hein2019_relu_overconfidence_ceda_acet.txt"
SETS = ("fmnist", "emnist", "cifar10-gray", "noise", "adv_noise", "adv_samples")


def paper_lines() -> list[str]:
    if not PAPER_TEXT.is_file():
        pytest.skip(f"{PAPER_TEXT} is not here")
    return [line.strip() for line in PAPER_TEXT.read_text(encoding="utf-8").splitlines()]


def column(method: str, metric: str) -> list[str]:
    """One typed column of the MNIST block: the in-distribution cell (MMC, or '–'), then the OOD rows."""
    numbers = TABLE1["mnist"][method]
    first = f"{numbers[('in', 'mmc')].value:.3f}" if metric == "mmc" else DASH
    return [first] + [f"{numbers[(s, metric)].value:.3f}" for s in SETS]


def contains_run(lines: list[str], run: list[str]) -> bool:
    return any(lines[i:i + len(run)] == run for i in range(len(lines) - len(run) + 1))


@pytest.mark.parametrize("method, metric", [("plain", "auroc"), ("plain", "fpr95"), ("ceda", "mmc"),
                                            ("ceda", "auroc"), ("acet", "auroc")])
def test_whole_mnist_columns_appear_in_the_paper_text_in_order(method, metric):
    assert contains_run(paper_lines(), column(method, metric))


@pytest.mark.parametrize("first, second", [(("plain", "mmc"), ("ceda", "fpr95")), (("acet", "mmc"), ("acet", "fpr95"))])
def test_interleaved_mnist_columns_merge_into_the_paper_text(first, second):
    """The text extraction interleaves two columns: the typed pair must merge into the run printed there."""
    lines = paper_lines()
    a, b = column(*first), column(*second)
    starts = [i for i in range(len(lines)) if lines[i] in (a[0], b[0]) and lines[i + 1] in (a[0], b[0])]
    merged = [sorted(lines[i:i + len(a) + len(b)]) for i in starts]
    assert sorted(a + b) in merged


def test_test_errors_and_table2_appear_in_the_paper_text():
    text = " ".join(paper_lines())
    titles = {"plain": "Plain", "ceda": "CEDA", "acet": "ACET"}
    for dataset, errors in TEST_ERRORS.items():
        for method, error in errors.items():
            assert f"{titles[method]} (TE: {error * 100:.2f}%)" in text
    for dataset, rows in TABLE2.items():
        for alpha, share in rows.values():
            assert (alpha == math.inf or f"{alpha:g}" in text) and f"{share * 100:.1f}%" in text


def test_paper_value_names_its_source_or_why_there_is_none():
    assert paper_value("mnist", "acet", "adv_noise", "mmc") == (0.162, "Table 1, Trained on MNIST, ACET, row Adv. Noise, MMC")
    assert paper_value("mnist", "plain", "in", "test_error")[0] == 0.0051
    assert paper_value("mnist", "acet", "alpha", "median_alpha")[0] == math.inf  # printed as "> 10^6"
    assert paper_value("fmnist", "plain", "noise", "mmc") == (None, "the paper trains no fmnist model")
    assert paper_value("mnist", "dismax", "noise", "mmc") == (None, "the paper has no dismax model")
    assert paper_value("mnist", "ceda", "alpha", "median_alpha") == (None, "Table 2 has no ceda row")


def fake_result(dataset: str = "mnist", methods=("plain", "ceda", "acet", "dismax")) -> BenchResult:
    rng = np.random.default_rng(0)
    config = BenchConfig(dataset=dataset, methods=methods, preset="quick", seed=3)
    sets = ("fmnist" if dataset == "mnist" else "mnist", "noise", "adv_noise", "adv_samples")
    results = {m: MethodResult(m, 0.01 * (i + 1), 0.9, {s: {k: float(rng.uniform()) for k in
                                                           ("mmc", "auroc", "fpr95", "tnr95", "dtacc", "aupr_in", "aupr_out")}
                                                       for s in sets},
                               None if m == "acet" else 2.5, None if m == "acet" else 0.5, 1.0, 2.0, [0.1], {}, {})
               for i, m in enumerate(methods)}
    return BenchResult(config, results, {}, 100, 50)


def test_display_rows_have_every_column_full_names_and_no_empty_cells():
    result = fake_result()
    for rows, kind in ((summary_rows(result), "summary"), (detection_rows(result), "detection")):
        for row in rows:
            assert list(row) == [*MAIN_COLUMNS[kind], *DETAIL_COLUMNS[kind]]
            assert all(isinstance(cell, str) and cell and cell != "None" for cell in row.values())
            assert all(cell != DASH for cell in row.values())  # a dash always comes with its reason
    assert {row["Method"] for row in detection_rows(result)} == {METHOD_TITLES[m] for m in result.methods}
    assert len(detection_rows(result)) == 4 * 4


def test_detection_rows_put_the_paper_beside_ours():
    result = fake_result()
    row = next(r for r in detection_rows(result) if r["Evaluation set"] == "Adv. noise" and r["Method"].startswith("ACET"))
    assert row["MMC"] == f"{result.methods['acet'].sets['adv_noise']['mmc']:.3f}" and row["MMC (paper)"] == "0.162"
    dismax = next(r for r in detection_rows(result) if r["Method"].startswith("DisMax"))
    assert dismax["AUROC (paper)"] == f"{DASH} (the paper has no dismax model)"


def test_summary_rows_show_table2_with_the_papers_unbounded_alpha():
    rows = {row["Method"]: row for row in summary_rows(fake_result())}
    assert rows[METHOD_TITLES["acet"]]["Median α (0.999)"] == "> 1e+06"
    assert rows[METHOD_TITLES["acet"]]["Median α (0.999) (paper)"] == "> 1e+06"
    assert rows[METHOD_TITLES["plain"]]["Median α (0.999) (paper)"] == "1.5"
    assert rows[METHOD_TITLES["plain"]]["Test error (paper)"] == "0.51%"
    assert rows[METHOD_TITLES["acet"]]["Overconfident after clip (0.95)"].startswith(DASH + " (")
    assert rows[METHOD_TITLES["ceda"]]["Median α (0.999) (paper)"] == f"{DASH} (Table 2 has no ceda row)"


def test_text_table_says_how_the_run_differs_and_prints_paper_numbers():
    text = format_table(fake_result())
    assert "Hein et al. (CVPR 2019): 60,000 training images, 100 epochs" in text
    assert "0.162" in text and "None" not in text and "Adv. samples" in text


def test_fashion_mnist_run_says_the_paper_has_no_such_model():
    text = format_table(fake_result("fmnist", ("plain", "acet")))
    assert "train no fmnist model" in text and "0.162" not in text


def test_setup_difference_names_subset_epochs_and_architecture():
    line = setup_difference(BenchConfig(preset="quick"), 4000, 8000)
    assert "4,000 of 8,000 training images, 2 epochs, LeNet" in line


def write_mnist_like(folder: Path, n: int = 60) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for stem in ("train", "t10k"):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28))), ("labels-idx1", np.arange(n) % 10)):
            header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
            (folder / f"{stem}-{kind}-ubyte.gz").write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_cli_prints_the_paper_beside_ours_in_text_and_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TOYOOD_DATA", raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", {})
    tiny = Preset(n_train=40, n_test=20, epochs=1, acet_steps=1, adv_noise_steps=2, adv_samples_steps=1,
                  n_adversarial=8, alpha_trials=4, lr_decay=False, batch_size=20)
    monkeypatch.setitem(benchmark.PRESETS, "demo", {"lenet": tiny, "resnet": tiny})
    write_mnist_like(tmp_path / "data")
    flags = ["bench", "--methods", "plain,acet", "--preset", "demo", "--data-dir", str(tmp_path / "data"), "--threads", "1"]
    assert main(flags) == 0
    text = capsys.readouterr().out
    assert "Hein et al. (CVPR 2019): 60,000 training images, 100 epochs, LeNet" in text
    assert "this run: 40 training images, 1 epoch, LeNet" in text and "0.162" in text
    assert main(flags + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["paper"]["methods"]["plain"]["in/test_error"] == 0.0051
    assert out["paper"]["methods"]["acet"]["alpha/median_alpha"] == "> 1e+06"
    assert out["methods"]["acet"]["test_error"] >= 0
