import json
import subprocess
import sys
from pathlib import Path

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
