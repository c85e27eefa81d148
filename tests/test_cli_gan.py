import json

import pytest

from toyood.cli import main


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
