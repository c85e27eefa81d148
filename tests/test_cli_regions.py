"""python -m toyood regions: numbers, JSON, export, flag validation."""
import json

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
