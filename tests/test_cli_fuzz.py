"""Careless and hostile input to ``toyood toy`` / ``toyood gan`` and to the configs behind them:
every case ends in one line on stderr and exit code 2 (or a ConfigError), never a traceback, and
nothing is written outside the target."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from toyood.cli import main
from toyood.errors import ConfigError
from toyood.gan import GanConfig
from toyood.runfiles import save_run
from toyood.toy import ToyConfig, train_toy

TINY = ["--hidden", "8,8", "--epochs", "1", "--n-per-class", "20", "--n-far", "100"]

TOY_CASES = [
    (["--seed", "1e30"], "seed"), (["--seed", "-1"], "seed"), (["--seed", "2147483648"], "seed"),
    (["--sigma", "nan"], "finite"), (["--sigma", "inf"], "finite"), (["--sigma", "0"], "sigma"),
    (["--lr", "inf"], "finite"), (["--lr", "2"], "learning rate"), (["--epochs", "0"], "epochs"),
    (["--epochs", "1e3"], "invalid int"), (["--batch-size", "-4"], "batch size"),
    (["--hidden", ""], "comma-separated"), (["--hidden", "500,,500"], "comma-separated"),
    (["--hidden", "1,2,3,4,5,6,7"], "hidden"), (["--hidden", "5000"], "hidden"),
    (["--method", "acet", "--acet-eps", "inf"], "finite"), (["--method", "acet", "--acet-step-size", "inf"], "finite"),
    (["--method", "acet", "--acet-eps", "0"], "ACET eps"), (["--method", "acet", "--acet-steps", "1000"], "ACET steps"),
    (["--method", "confidence", "--weight", "-1"], "ood_weight"), (["--leaky", "1"], "--leaky must be in [0, 0.95]"), (["--leaky", "0.97"], "--leaky must be in [0, 0.95]"),
    (["--n-per-class", "1"], "n_per_class"), (["--n-far", "10"], "n_far"),
    (["--threads", "0"], "threads"), (["--threads", "100000"], "threads"),
    (["--device", "tpu"], "invalid choice"), (["--method", "svm"], "invalid choice"),
    (["--ood", "moon"], "invalid choice"), (["--preset", "slow"], "invalid choice"),
    (["--method", "plain", "--ood", "general"], "uses no OOD"), (["--method", "reject", "--ood", "none"], "trains on OOD"),
    (["--hidden", "4096,4096,4096,4096,4096,4096"], "memory"), (["--hidden", "4096,4096", "--epochs", "5000"], "over the limit"),
    (["--out", ""], "empty"), (["--out", "   "], "empty"), (["--bogus"], "unrecognized"),
]
GAN_CASES = [
    (["--iterations", "0"], "iterations"), (["--iterations", "100000", "--snapshot-every", "1"], "500 snapshots"),
    (["--beta", "nan"], "finite"), (["--beta", "0"], "beta"), (["--seed", "-3"], "seed"), (["--threads", "100000"], "threads"),
    (["--sigma", "9"], "sigma"), (["--classifier", "svm"], "invalid choice"), (["--out", ""], "empty"),
]


def _one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("argv,message", TOY_CASES)
def test_toy_rejects_bad_input_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line_exit_2(["toy", *argv], message, capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv,message", GAN_CASES)
def test_gan_rejects_bad_input_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line_exit_2(["gan", *argv], message, capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "run"
    save_run(train_toy(ToyConfig(hidden=(8, 8), epochs=1, n_per_class=20)), folder)
    return folder


def test_out_onto_an_existing_run_is_refused_before_training(saved, capsys, monkeypatch):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    monkeypatch.setattr("toyood.cli.toy.train_toy_with_source",
                        lambda *a, **k: pytest.fail("trained before checking --out"))
    _one_line_exit_2(["toy", *TINY, "--out", str(saved)], "already holds files", capsys)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before


def test_out_onto_a_file_or_an_unwritable_place(tmp_path, capsys):
    file = tmp_path / "file.txt"
    file.write_text("x")
    _one_line_exit_2(["toy", *TINY, "--out", str(file)], "not a folder", capsys)
    _one_line_exit_2(["toy", *TINY, "--out", "/proc/toyood-run"], "cannot write", capsys)
    assert file.read_text() == "x"


def test_force_replaces_an_existing_run_without_leftovers(saved, capsys):
    (saved / "stale.txt").write_text("old")
    assert main(["toy", *TINY, "--seed", "3", "--out", str(saved), "--force", "--json"]) == 0
    assert not (saved / "stale.txt").exists()
    assert sorted(p.name for p in saved.parent.iterdir()) == ["run"]


def test_flags_that_do_not_apply_are_reported(capsys):
    assert main(["toy", *TINY, "--method", "plain", "--acet-eps", "1", "--weight", "2", "--json"]) == 0
    err = capsys.readouterr().err
    assert "--acet-eps does not apply to method plain" in err and "--weight does not apply" in err


numbers = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "sigma": numbers, "lr": numbers, "epochs": numbers, "batch_size": numbers, "seed": numbers,
    "ood_weight": numbers, "acet_eps": numbers, "acet_steps": numbers, "acet_step_size": numbers,
    "n_per_class": numbers, "n_ood": numbers, "n_far": numbers, "negative_slope": numbers, "rbf_centres": numbers,
    "hidden": st.lists(st.integers(-5, 10**6), max_size=8),
    "method": st.sampled_from(["plain", "acet", "reject", "x"]), "ood": st.sampled_from(["none", "gan", "y", None]),
}))
def test_any_toy_config_is_built_or_refused_with_a_config_error(values):
    try:
        config = ToyConfig(**values)
    except ConfigError:
        return
    for key in ("sigma", "lr", "ood_weight", "acet_eps", "acet_step_size"):
        assert math.isfinite(getattr(config, key))


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "iterations": numbers, "beta": numbers, "snapshot_every": numbers, "snapshot_samples": numbers,
    "grid_resolution": numbers, "latent_dim": numbers, "batch_size": numbers, "lr": numbers, "seed": numbers,
    "gan_hidden": st.lists(st.integers(-5, 10**6), max_size=8),
}))
def test_any_gan_config_is_built_or_refused_with_a_config_error(values):
    try:
        config = GanConfig(**values)
    except ConfigError:  # any other exception fails the test
        return
    for key, (low, high, low_open) in GAN_BOUNDS.items():  # the documented rules, restated here
        value = getattr(config, key)
        assert math.isfinite(value) and (low < value if low_open else low <= value) and value <= high, (key, value)
    assert config.iterations // config.snapshot_every <= 500
    assert 1 <= len(config.gan_hidden) <= 6 and all(1 <= h <= 4096 for h in config.gan_hidden)


@pytest.mark.parametrize("key,inside,outside,others", [
    ("iterations", 1, 0, {}), ("iterations", 100_000, 100_001, {"snapshot_every": 1000}),
    ("beta", 100, 100.001, {}), ("beta", 1e-9, 0, {}), ("lr", 1, 1.001, {}), ("lr", 1e-9, 0, {}),
    ("snapshot_every", 1, 0, {"iterations": 500}), ("snapshot_samples", 5000, 5001, {}),
    ("snapshot_samples", 1, 0, {}), ("grid_resolution", 200, 201, {}), ("grid_resolution", 2, 1, {}),
    ("latent_dim", 1024, 1025, {}), ("latent_dim", 1, 0, {}), ("batch_size", 4096, 4097, {}),
    ("batch_size", 1, 0, {}), ("gan_hidden", (4096,) * 6, (4096,) * 7, {}), ("gan_hidden", (1,), (0,), {}),
])
def test_gan_config_bounds_are_inclusive_and_refused_one_step_beyond(key, inside, outside, others):
    """The edges fuzzing rarely hits: each documented bound is accepted, one step beyond refused."""
    assert getattr(GanConfig(**{**others, key: inside}), key) == inside
    with pytest.raises(ConfigError):
        GanConfig(**{**others, key: outside})


GAN_BOUNDS = {"iterations": (1, 100_000, False), "beta": (0, 100, True), "snapshot_every": (1, math.inf, False),
              "snapshot_samples": (1, 5000, False), "grid_resolution": (2, 200, False), "latent_dim": (1, 1024, False),
              "batch_size": (1, 4096, False), "lr": (0, 1, True)}
