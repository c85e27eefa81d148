"""``toyood toy --data/--classes/--data-file`` and ``toyood gan --classes``: every data set by name,
own CSV files (each malformed file ends in its one-line message and exit code 2, nothing written),
and the data in the JSON."""
import json

import numpy as np
import pytest

from toyood.cli import main
from toyood.data import DATA_RADIUS

TINY = ["--hidden", "8,8", "--epochs", "1", "--n-per-class", "20", "--n-far", "100"]
GOOD_CSV = "x,y,label\n" + "".join(f"{i * 2},{(i * 7) % 11},{i % 3}\n" for i in range(60))

# the list: wrong columns, non-numeric, NaN/inf, one class, more than 10⁵ rows, labels not 0..K−1
BAD_FILES = [
    ("x,y\n1,2\n3,4\n", "2 columns"),
    ("1,2,0,9\n3,4,1,9\n", "4 columns"),
    ("x,y,label\n1,2,a\n3,4,1\n", "not numeric"),
    ('1,2,0\n"3\n4",5,1\n', "not numeric"),
    ("1,2,0\nnan,4,1\n5,6,1\n7,8,0\n", "NaN"),
    ("1,2,0\ninf,4,1\n5,6,1\n7,8,0\n", "infinite"),
    ("1,2,0\n3,4,0\n", "one class"),
    ("1,2,0\n" * 100_001, "at most 100,000"),
    ("1,2,0\n3,4,2\n5,6,0\n7,8,2\n", "0..K"),
    ("1,2,1\n3,4,2\n5,6,1\n7,8,2\n", "0..K"),
    ("1,2,-1\n3,4,0\n", "whole numbers"),
    ("1,2,0.5\n3,4,1\n", "whole numbers"),
    ("", "no rows"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
]
DATA_CASES = [
    (["--data", "blobs"], "invalid choice"), (["--data", "moons", "--classes", "3"], "moons has 2 classes"),
    (["--data", "xor", "--classes", "4"], "xor has 2 classes"), (["--classes", "1"], "from 2 to 10"),
    (["--classes", "11"], "from 2 to 10"), (["--classes", "three"], "whole number"),
    (["--data", "file"], "needs --data-file"), (["--data", "spiral", "--data-file", "x.csv"], "only with --data file"),
    (["--data-file", "missing.csv"], "cannot read the data file"), (["--data-file", "."], "cannot read"),
]


def _one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("content,message", BAD_FILES, ids=[m for _, m in BAD_FILES])
def test_every_bad_csv_gives_its_message_in_one_line(content, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "points.csv"
    file.write_bytes(content if isinstance(content, bytes) else content.encode())
    _one_line_exit_2(["toy", "--data-file", str(file), *TINY, "--out", "run"], message, capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.csv"], "nothing written"


@pytest.mark.parametrize("argv,message", DATA_CASES)
def test_bad_data_flags_give_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _one_line_exit_2(["toy", *argv, *TINY], message, capsys)
    assert list(tmp_path.iterdir()) == []


def test_the_gan_source_refuses_data_that_are_not_gaussians(capsys):
    _one_line_exit_2(["toy", "--data", "rings", "--method", "reject", "--ood", "gan", *TINY], "Gaussian classes",
                     capsys)


def test_classes_that_contradict_the_file_are_refused(tmp_path, capsys):
    file = tmp_path / "points.csv"
    file.write_text(GOOD_CSV)
    _one_line_exit_2(["toy", "--data-file", str(file), "--classes", "2", *TINY], "labels are 0..2 (K = 3)", capsys)


def test_own_data_json_says_the_file_its_rows_classes_and_scale(tmp_path, capsys):
    file = tmp_path / "points.csv"
    file.write_text(GOOD_CSV)
    assert main(["toy", "--data-file", str(file), "--classes", "3", "--method", "reject", "--ood", "general", *TINY,
                 "--json", "--out", str(tmp_path / "run")]) == 0
    metrics = _last_json(capsys)
    assert metrics["dataset"] == "file" and metrics["classes"] == 3 and metrics["data_rows"] == 60
    assert metrics["data_scale"] == pytest.approx(DATA_RADIUS / 118)
    assert len(metrics["data_digest"]) == 64
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["dataset"] == "file" and saved["classes"] == 3


@pytest.mark.parametrize("dataset,classes", [("gaussians", 3), ("spiral", 3), ("rings", 4), ("moons", None),
                                             ("xor", None)])
def test_each_data_set_trains_with_its_classes(dataset, classes, capsys):
    argv = ["toy", "--data", dataset, *(["--classes", str(classes)] if classes else []), *TINY, "--json"]
    assert main(argv) == 0
    metrics = _last_json(capsys)
    assert metrics["dataset"] == dataset and metrics["classes"] == (classes or 2)
    assert 0.0 <= metrics["far_ood_overconfident"] <= 1.0


def test_methods_and_seeds_batched_on_own_data_match_single_runs(tmp_path, capsys):
    file = tmp_path / "points.csv"
    file.write_text(GOOD_CSV)
    assert main(["toy", "--data-file", str(file), "--method", "plain,reject", "--ood", "general", "--seeds", "0,1",
                 *TINY, "--json"]) == 0
    summary = _last_json(capsys)
    assert set(summary) >= {"plain", "reject"}
    assert summary["reject"]["runs"]["1"]["classes"] == 3 and summary["plain"]["runs"]["0"]["dataset"] == "file"
    assert main(["toy", "--data-file", str(file), "--method", "reject", "--ood", "general", "--seed", "1", *TINY,
                 "--json"]) == 0
    alone = _last_json(capsys)
    for key in ("test_accuracy", "far_ood_overconfident", "asymptotic_overconfident"):
        assert np.isclose(summary["reject"]["runs"]["1"][key], alone[key], atol=1e-6), key


def test_spiral_methods_batched_report_k_3(capsys):
    assert main(["toy", "--data", "spiral", "--classes", "3", "--method", "plain,reject", *TINY, "--json"]) == 0
    summary = _last_json(capsys)
    assert summary["plain"]["classes"] == 3 and summary["reject"]["dataset"] == "spiral"


@pytest.mark.parametrize("argv,message", [(["--classes", "1"], "from 2 to 10"), (["--classes", "x"], "whole number"),
                                          (["--classes", "11"], "from 2 to 10")])
def test_gan_classes_flag_is_checked(argv, message, capsys):
    _one_line_exit_2(["gan", *argv], message, capsys)


def test_gan_trains_k_gaussians(capsys):
    assert main(["gan", "--classes", "3", "--iterations", "2", "--snapshot-every", "1", "--n-far", "100",
                 "--json"]) == 0
    metrics = _last_json(capsys)
    assert 0.0 <= metrics["coverage"] <= 1.0
