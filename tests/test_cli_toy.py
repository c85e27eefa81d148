import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toyood.cli import main
from toyood.runfiles import load_run

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--hidden", "16,16", "--epochs", "2", "--n-per-class", "100", "--n-far", "500"]


def test_json_is_the_last_line_and_the_run_can_be_loaded(tmp_path, capsys):
    assert main(["toy", "--method", "reject", "--ood", "general", *FAST, "--json", "--out", str(tmp_path)]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["method"] == "reject" and 0 <= metrics["far_ood_rejected"] <= 1
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert load_run(tmp_path).config.method == "reject"


@pytest.mark.parametrize("argv,message", [
    (["--method", "reject", "--ood", "none"], "trains on OOD samples"),
    (["--hidden", "0,500"], "positive integers"),
    (["--hidden", "a,b"], "comma-separated integers"),
    (["--lr", "-1"], "learning rate"),
    (["--method", "svm"], "invalid choice"),
    (["--device", "tpu"], "invalid choice"),
])
def test_bad_flags_exit_2_with_one_line(argv, message, capsys):
    assert main(["toy", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_module_entry_point_runs_headless(tmp_path):
    result = subprocess.run([sys.executable, "-m", "toyood", "toy", "--method", "plain", *FAST, "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "far_ood_overconfident" in json.loads(result.stdout.strip().splitlines()[-1])


TIMINGS = ("train_seconds", "eval_seconds")


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def without_timings(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in TIMINGS}


def test_a_method_list_trains_at_once_with_each_method_s_own_numbers(one_thread, capsys):
    methods = "plain,confidence,ceda,reject"
    assert main(["toy", "--method", methods, *FAST, "--json"]) == 0
    summary = last_json(capsys)
    assert set(summary) == {*methods.split(","), "train_seconds"} and summary["train_seconds"] > 0
    assert summary["plain"]["ood"] == "none" and summary["reject"]["ood"] == "boundary"
    for method in ("plain", "reject"):  # the same numbers as the method alone
        assert main(["toy", "--method", method, *FAST, "--json"]) == 0
        assert without_timings(last_json(capsys)) == without_timings(summary[method])


def test_seeds_give_runs_mean_and_std(one_thread, capsys):
    assert main(["toy", "--method", "plain,reject", "--seeds", "0,1,2", *FAST, "--json"]) == 0
    summary = last_json(capsys)
    entry = summary["reject"]
    assert set(entry) == {"runs", "mean", "std"} and set(entry["runs"]) == {"0", "1", "2"}
    values = [entry["runs"][s]["far_ood_mmc"] for s in "012"]
    assert entry["mean"]["far_ood_mmc"] == pytest.approx(sum(values) / 3)
    assert entry["std"]["far_ood_mmc"] == pytest.approx(float(np.std(values, ddof=1)))
    assert "method" not in entry["mean"] and len(set(values)) == 3
    assert main(["toy", "--method", "reject", "--seed", "1", *FAST, "--json"]) == 0
    assert without_timings(last_json(capsys)) == without_timings(entry["runs"]["1"])


def test_several_runs_are_written_as_one_folder_of_loadable_runs(one_thread, tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["toy", "--method", "ceda,dismax", "--seeds", "4,5", *FAST, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ceda" in printed and "dismax" in printed and "±" in printed and "train_seconds" in printed
    summary = json.loads((out / "summary.json").read_text())
    for method in ("ceda", "dismax"):
        for seed in (4, 5):
            run = load_run(out / method / f"seed-{seed}")
            assert (run.config.method, run.config.seed) == (method, seed)
            assert json.loads((out / method / f"seed-{seed}" / "metrics.json").read_text()) == \
                summary[method]["runs"][str(seed)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # no staging leftovers


def test_gan_source_trains_one_gan_per_classifier_kind_and_seed(one_thread, capsys, monkeypatch):
    calls = []

    def fake_gan(config, progress=None):
        calls.append(("reject" if config.method == "reject" else "confidence", config.seed))
        return np.random.default_rng(config.seed).uniform(-20, 20, (200, 2)).astype(np.float32)
    monkeypatch.setattr("toyood.experiment.gan_ood_samples", fake_gan)
    argv = ["toy", "--method", "plain,confidence,ceda,reject", "--ood", "gan", "--seeds", "0,1", *FAST, "--json"]
    assert main(argv) == 0
    summary = last_json(capsys)
    assert sorted(calls) == [("confidence", 0), ("confidence", 1), ("reject", 0), ("reject", 1)]
    assert summary["ceda"]["runs"]["1"]["ood"] == "gan" and summary["gan_seconds"] >= 0


@pytest.mark.parametrize("argv,message", [
    (["--method", "plain,svm"], "invalid choice: 'svm'"),
    (["--method", "plain,reject,plain"], "method plain given more than once"),
    (["--method", ""], "comma-separated list"),
    (["--method", "plain,,reject"], "comma-separated list"),
    (["--seeds", "0,1,0"], "seed 0 given more than once"),
    (["--seeds", "0,-1"], "a seed is a whole number"),
    (["--seeds", ""], "comma-separated seeds"),
    (["--seeds", "1", "--seed", "2"], "not allowed with"),
    (["--method", "plain,reject", "--ood", "none"], "trains on OOD samples"),
    (["--method", "plain,reject", "--hidden", "4096,4096", "--epochs", "5000"], "over the limit"),
])
def test_bad_lists_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["toy", *argv, "--out", "runs"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_flags_no_listed_method_reads_are_noted(one_thread, capsys):
    assert main(["toy", "--method", "plain,confidence", "--weight", "2", "--acet-eps", "1", *FAST, "--json"]) == 0
    err = capsys.readouterr().err
    assert "--acet-eps does not apply to methods plain, confidence" in err and "--weight" not in err
