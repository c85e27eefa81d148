"""python -m toyood regions: numbers, JSON, export, flag validation."""
import json
import time

import numpy as np
import pytest

from toyood.cli import main
from toyood.cli.regions import init_layers
from toyood.regions import enumerate_regions


def run(capsys, *argv):
    code = main(["regions", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_and_export(capsys, tmp_path):
    path = tmp_path / "regions.npz"
    code, out, _ = run(capsys, "--init", "--hidden", "8,8", "--seed", "3", "--box", "5", "--json", "--export", str(path))
    assert code == 0
    numbers = json.loads(out.strip().splitlines()[-1])
    regions = enumerate_regions(init_layers((8, 8), 2, 3), 5.0)
    assert numbers["regions"] == len(regions)
    assert numbers["unbounded_in_box"] == regions.unbounded.sum()
    assert numbers["unbounded_total"] == regions.unbounded_total
    assert numbers["area_rel_error"] < 1e-9 and numbers["seconds"] >= 0
    data = np.load(path)
    offsets, vertices = data["offsets"], data["vertices"]
    assert offsets.dtype == np.int64 and offsets[-1] == len(vertices) and len(offsets) == len(regions) + 1
    assert vertices.dtype == np.float64
    assert data["patterns"].shape == (len(regions), 2) and data["patterns"].dtype == np.uint8
    np.testing.assert_array_equal(data["unbounded"], regions.unbounded)
    assert (data["limit_class"][~data["unbounded"]] == -1).all()
    for i, (weight, bias) in enumerate(init_layers((8, 8), 2, 3)):
        np.testing.assert_array_equal(data[f"weight_{i}"], weight)
        np.testing.assert_array_equal(data[f"bias_{i}"], bias)


def test_init_matches_torch_default_initialisation():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    first = torch.nn.Linear(2, 4)
    (weight, bias), *_ = init_layers((4,), 3, 0)
    np.testing.assert_array_equal(weight, first.weight.detach().double().numpy())
    np.testing.assert_array_equal(bias, first.bias.detach().double().numpy())


@pytest.mark.parametrize("argv,message", [
    (["--init", "--hidden", "5,x"], "--hidden"),
    (["--init", "--hidden", "0,3"], "--hidden"),
    (["--init", "--box", "0"], "--box"),
    (["--init", "--box", "-3"], "--box"),
    ([], "exactly one of --init"),
    (["--init", "--model", "somewhere"], "exactly one of --init"),
    (["--model", "/nonexistent/run"], "no such directory"),
    (["--init", "--classes", "0"], "--classes"),
])
def test_bad_flags(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_model_directory_that_is_not_a_run(capsys, tmp_path):
    code, _, err = run(capsys, "--model", str(tmp_path))
    assert code == 2 and "not a saved toyood run" in err


def one_line_error(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv,message", [
    (["--init", "--seed", "1e30"], "seed"),
    (["--init", "--seed", "-1"], "seed"),
    (["--init", "--seed", str(2**31)], "seed"),
    (["--init", "--box", "1e-300"], "--box"),
    (["--init", "--box", "1e300"], "--box"),
    (["--init", "--box", "1e12"], "--box"),
    (["--init", "--box", "nan"], "--box"),
    (["--init", "--box", "inf"], "--box"),
    (["--init", "--leaky", "nan"], "--leaky"),
    (["--init", "--leaky", "0.97"], "--leaky must be in [0, 0.95], got 0.97"),
    (["--init", "--hidden", "4096,4096"], "over the limit"),
    (["--init", "--hidden", "100000,100000"], "over the limit"),
    (["--init", "--hidden", ",".join(["500"] * 300)], "over the limit"),
    (["--init", "--hidden", "8,8", "--classes", "100000000"], "over the limit"),
    (["--init", "--hidden", "8,8", "--export", ""], "--export"),
    (["--init", "--hidden", "8,8", "--export", "/nonexistent/folder/x.npz"], "no such folder"),
])
def test_bad_values_fail_at_once_with_one_line(capsys, argv, message):
    started = time.perf_counter()
    assert message in one_line_error(capsys, *argv)
    assert time.perf_counter() - started < 5


def test_export_without_suffix_names_the_file_written(capsys, tmp_path):
    target = tmp_path / "regions"
    code, out, _ = run(capsys, "--init", "--hidden", "6,6", "--box", "3", "--export", str(target))
    assert code == 0 and f"exported to {target}.npz" in out
    assert (tmp_path / "regions.npz").is_file() and not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["regions.npz"]  # no temporary file left


def test_existing_export_is_replaced_only_with_force(capsys, tmp_path):
    path = tmp_path / "regions.npz"
    path.write_bytes(b"keep me")
    assert "--force" in one_line_error(capsys, "--init", "--hidden", "6,6", "--export", str(path))
    assert path.read_bytes() == b"keep me"
    code, out, _ = run(capsys, "--init", "--hidden", "6,6", "--box", "3", "--export", str(path), "--force")
    assert code == 0 and np.load(path)["offsets"][0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["regions.npz"]


def test_export_onto_a_folder_is_refused(capsys, tmp_path):
    (tmp_path / "out.npz").mkdir()
    assert "is a folder" in one_line_error(capsys, "--init", "--hidden", "6,6", "--export", str(tmp_path / "out.npz"))


def test_json_is_strict_and_unbounded_total_steady_for_huge_boxes(capsys):
    totals = set()
    for box in ("1", "100", "10000"):
        code, out, _ = run(capsys, "--init", "--hidden", "8,8", "--box", box, "--json")
        assert code == 0
        line = out.strip().splitlines()[-1]
        assert "NaN" not in line and "Infinity" not in line
        numbers = json.loads(line)
        totals.add(numbers["unbounded_total"])
    assert len(totals) == 1


def test_engines_agree_and_json_names_the_one_that_ran(capsys):
    counts = {}
    for engine in ("numpy", "compiled", "auto"):
        code, out, _ = run(capsys, "--init", "--hidden", "12,12", "--seed", "4", "--box", "8", "--engine", engine, "--json")
        numbers = json.loads(out.strip().splitlines()[-1])
        assert code == 0 and f"{engine if engine != 'auto' else 'compiled'} cutter" in out
        counts[engine] = (numbers["regions"], numbers["unbounded_in_box"], numbers["unbounded_total"], numbers["engine"])
    assert counts["numpy"][:3] == counts["compiled"][:3] == counts["auto"][:3]
    assert [counts[e][3] for e in ("numpy", "compiled", "auto")] == ["numpy", "compiled", "compiled"]
    code, out, _ = run(capsys, "--init", "--hidden", "6,6,6", "--box", "3", "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["engine"] == "numpy"


def test_compiled_engine_on_a_net_it_does_not_handle(capsys):
    line = one_line_error(capsys, "--init", "--hidden", "6,6,6", "--engine", "compiled")
    assert "two hidden layers, this net has 3" in line and "--engine compiled" in line


def test_unknown_engine_is_refused_by_the_parser(capsys):
    code, _, err = run(capsys, "--init", "--engine", "fast")
    assert code == 2 and "--engine" in err and "compiled" in err
