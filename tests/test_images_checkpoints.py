"""Resumable benchmark runs: a run killed mid-epoch and started again with the same command gives the
numbers of an uninterrupted run; checkpoints of another run or damaged files end in one line, exit 2."""
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_images_benchmark import one_line_error, tiny_image_data
from test_images_datasets import write_idx_dataset
from toyood.cli import main
from toyood.images.benchmark import PRESETS, BenchConfig, run_benchmark

pytestmark = pytest.mark.usefixtures("one_thread")

# 320 rows: 10 steps of the quick preset's 32 per epoch. "step 15/20" is printed as the 5th step of epoch 2 starts.
N_TRAIN, EPOCHS, KILL_AT = 10 * PRESETS["quick"]["lenet"].batch_size, 2, "step 15/20"
TIMING = ("train_seconds", "eval_seconds")


@pytest.fixture(scope="module")
def idx_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_idx_dataset(root / "mnist", n_train=N_TRAIN, n_test=40)
    write_idx_dataset(root / "fashion-mnist", n_train=30, n_test=48)
    return root


def bench_flags(data: Path, method: str = "plain") -> list[str]:
    return ["bench", "--dataset", "mnist", "--methods", method, "--data-dir", str(data), "--n-train", str(N_TRAIN),
            "--n-test", "16", "--epochs", str(EPOCHS), "--device", "cpu", "--threads", "1"]


def reference(data: Path, method: str = "plain") -> dict:
    config = BenchConfig(dataset="mnist", methods=(method,), data_dir=str(data), n_train=N_TRAIN, n_test=16,
                         epochs=EPOCHS, device="cpu")
    return json.loads(json.dumps(run_benchmark(config).to_dict()))


def without_timing(result: dict) -> dict:
    return {name: {k: v for k, v in numbers.items() if k not in TIMING} for name, numbers in result["methods"].items()}


def start_and_kill(command: list[str], env: dict, checkpoints: Path) -> list[str]:
    """Start ``command`` in its own process group, SIGKILL the group once the progress line of
    ``KILL_AT`` appears (the second epoch under way); the checkpoint files left."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
                               start_new_session=True)
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if KILL_AT in line:
                os.killpg(process.pid, signal.SIGKILL)
                break
    finally:
        if process.poll() is None and not any(KILL_AT in line for line in seen):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert any(KILL_AT in line for line in seen), "".join(seen)[-2000:]
    assert process.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL, 1), process.returncode
    return sorted(p.name for p in checkpoints.iterdir() if p.suffix == ".pt")


def environment(tmp_path: Path) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(tmp_path / "home")}


def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_numbers(idx_data, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "toyood", *bench_flags(idx_data), "--out", str(out)]
    left = start_and_kill(command, environment(tmp_path), out / "checkpoints")
    assert left == ["plain.epoch1.rank0.pt"]  # killed inside epoch 2, after epoch 1's checkpoint
    resumed = subprocess.run(command, capture_output=True, text=True, env=environment(tmp_path), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from the checkpoints" in resumed.stderr
    assert "training plain: step 5/20" not in resumed.stderr  # epoch 1 is not trained again
    assert not (out / "checkpoints").exists()  # the finished run replaced the folder
    got = json.loads((out / "results.json").read_text())
    assert without_timing(got) == without_timing(reference(idx_data))  # bit for bit


def test_two_gloo_processes_killed_mid_epoch_resume_to_the_numbers_of_one(idx_data, tmp_path):
    checkpoints = tmp_path / "ck"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "toyood",
               *bench_flags(idx_data), "--checkpoint-dir", str(checkpoints)]
    left = start_and_kill(command, environment(tmp_path), checkpoints)
    assert left == ["plain.epoch1.rank0.pt", "plain.epoch1.rank1.pt"]
    resumed = subprocess.run([*command, "--resume", "--json"], capture_output=True, text=True,
                             env=environment(tmp_path), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = json.loads([line for line in resumed.stdout.splitlines() if line.startswith("{")][-1])["methods"]["plain"]
    expected = reference(idx_data)["methods"]["plain"]
    # two processes match one to float rounding (test_images_distributed); a resume that lost any
    # state (generator, optimiser moments, learning rate) would differ by far more
    assert got["epoch_losses"] == pytest.approx(expected["epoch_losses"], rel=1e-5)
    assert got["test_error"] == expected["test_error"]
    for set_name in ("fmnist", "noise"):
        assert got["sets"][set_name] == pytest.approx(expected["sets"][set_name], abs=1e-5)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["plain.epoch2.rank0.pt", "plain.epoch2.rank1.pt"]


# ---- refused checkpoints: one line, exit 2, before any training ----------------------------------

def run_cli(data_dir, checkpoints, *flags) -> int:
    return main(["bench", "--methods", "plain,ceda", "--data-dir", str(data_dir), "--checkpoint-dir",
                 str(checkpoints), "--json", *flags])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Look-alike MNIST and Fashion-MNIST, the tiny preset (one epoch), and a finished run's
    checkpoint folder with its printed result (trained once for the module)."""
    root = tmp_path_factory.mktemp("tiny")
    with pytest.MonkeyPatch.context() as patch:
        tiny_image_data(patch, root)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert run_cli(root / "data", root / "ck") == 0
        yield root / "data", root / "ck", json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture
def data_dir(tiny):  # noqa: F811
    return tiny[0]


@pytest.fixture
def saved(tiny, tmp_path):
    """A copy of the finished tiny run's checkpoints, and its result."""
    checkpoints = tmp_path / "ck"
    shutil.copytree(tiny[1], checkpoints)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["ceda.epoch1.rank0.pt", "plain.epoch1.rank0.pt"]
    return checkpoints, tiny[2]


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started before the checkpoints were checked")
    monkeypatch.setattr("toyood.images.benchmark.fit", refuse)


def test_finished_checkpoints_reproduce_the_run(data_dir, saved, capsys):
    checkpoints, first = saved
    assert run_cli(data_dir, checkpoints, "--resume") == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert without_timing(again) == without_timing(first)
    for name in ("plain", "ceda"):  # the saved training time: nothing was trained again
        assert again["methods"][name]["train_seconds"] == first["methods"][name]["train_seconds"]


def test_checkpoints_of_another_config_are_refused(data_dir, saved, capsys, no_training):
    checkpoints, _ = saved
    assert run_cli(data_dir, checkpoints, "--seed", "1") == 2
    line = one_line_error(capsys)
    assert "belongs to another run" in line and "seed 0 there, 1 here" in line and str(checkpoints) in line


def test_checkpoints_of_more_processes_are_refused(data_dir, saved, capsys, no_training):
    checkpoints, _ = saved
    (checkpoints / "plain.epoch1.rank1.pt").write_bytes((checkpoints / "plain.epoch1.rank0.pt").read_bytes())
    assert run_cli(data_dir, checkpoints) == 2
    assert "more processes" in one_line_error(capsys)


def write_payload(path: Path, change) -> None:
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("damage,expected", [
    (lambda f: f.write_bytes(os.urandom(4096)), "is not a toyood checkpoint"),
    (lambda f: f.write_bytes(f.read_bytes()[:5000]), "is not a toyood checkpoint"),
    (lambda f: f.write_bytes(b""), "is not a toyood checkpoint"),
    (lambda f: torch.save([1, 2, 3], f), "not a toyood benchmark checkpoint"),
    (lambda f: torch.save({"format": "toyood-bench-checkpoint", "payload": Evil()}, f), "is not a toyood checkpoint"),
    (lambda f: write_payload(f, lambda p: p.update(version=99)), "version 99"),
    (lambda f: write_payload(f, lambda p: p["training"].update(epoch_losses="many")), "epoch_losses"),
    (lambda f: write_payload(f, lambda p: p.update(method="plain")), "do not match"),
    (lambda f: write_payload(f, lambda p: p["rng"].update(numpy=None)), "random states"),
    (lambda f: torch.save({"format": "toyood-bench-checkpoint", "big": torch.zeros(2**25)}, f), "unpacks to"),
])
def test_damaged_checkpoints_give_one_line_naming_the_file(data_dir, saved, capsys, no_training, damage, expected,
                                                          tmp_path, monkeypatch):
    checkpoints, _ = saved
    monkeypatch.chdir(tmp_path)
    file = checkpoints / "ceda.epoch1.rank0.pt"
    damage(file)
    assert run_cli(data_dir, checkpoints) == 2
    line = one_line_error(capsys)
    assert str(file) in line and expected in line, line
    assert not (tmp_path / "pwned").exists()


def test_a_file_named_for_no_method_gives_one_line(data_dir, saved, capsys, no_training):
    checkpoints, _ = saved
    (checkpoints / "plain.epoch1.rank0.pt").rename(checkpoints / "nomethod.epoch1.rank0.pt")
    assert run_cli(data_dir, checkpoints) == 2
    assert "'nomethod' is not a method" in one_line_error(capsys)


def test_weights_that_do_not_fit_the_network_give_one_line(data_dir, saved, capsys):
    checkpoints, _ = saved
    file = checkpoints / "plain.epoch1.rank0.pt"
    write_payload(file, lambda p: p["training"]["model"].update({"net.head.weight": torch.zeros(3, 3)}))
    assert run_cli(data_dir, checkpoints) == 2
    line = one_line_error(capsys)
    assert str(file) in line and "do not fit this run's plain network" in line and "(3, 3) there" in line


def test_resume_without_a_checkpoint_is_refused(data_dir, tmp_path, capsys, no_training):
    assert run_cli(data_dir, tmp_path / "empty", "--resume") == 2
    assert "no checkpoint" in one_line_error(capsys)
    assert main(["bench", "--data-dir", str(data_dir), "--resume"]) == 2
    assert "--resume needs" in one_line_error(capsys)


def test_a_killed_save_leaves_nothing_that_is_read_and_is_cleaned_up(data_dir, saved, capsys):
    checkpoints, first = saved
    stale = checkpoints / ".plain.epoch1.rank0.pt.999999.tmp"
    stale.write_bytes(b"half a file")
    assert run_cli(data_dir, checkpoints, "--seed", "3") == 2  # the real files are read (another seed) ...
    assert "seed 0 there, 3 here" in one_line_error(capsys)  # ... the half-written one is not
    other = checkpoints.parent / "other"
    shutil.copytree(checkpoints, other)
    for file in other.glob("*.pt"):
        file.unlink()
    assert run_cli(data_dir, other) == 0  # trains afresh, saves, and removes the leftover
    assert sorted(p.name for p in other.iterdir()) == ["ceda.epoch1.rank0.pt", "plain.epoch1.rank0.pt"]
    assert without_timing(json.loads(capsys.readouterr().out.strip().splitlines()[-1])) == without_timing(first)
