"""The benchmark on several processes: two gloo processes under torchrun give the numbers of one
process with the same global batch; the sharding arithmetic behind it."""
import json
import os
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from test_images_datasets import write_idx_dataset
from toyood.images.benchmark import BenchConfig, load_bench_data, run_benchmark, train_method
from toyood.images.distributed import ShardedForward, Workers

pytestmark = pytest.mark.usefixtures("one_thread")


def test_shares_cover_every_row_once_and_differ_by_at_most_one():
    for n in (0, 1, 7, 128, 129):
        for world in (1, 2, 3):
            shares = [Workers(r, world, torch.device("cpu")).bounds(n) for r in range(world)]
            assert shares[0][0] == 0 and shares[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
            sizes = [stop - start for start, stop in shares]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_one_process_computes_every_chunk_in_order():
    workers = Workers(0, 1, torch.device("cpu"))
    out = workers.map_chunks(lambda index, rows: torch.full((rows.stop - rows.start,), float(index)), 10, 4)
    assert out.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_a_single_process_forward_is_the_network_itself():
    net = torch.nn.Linear(3, 2)
    wrapped = ShardedForward(net, Workers(0, 1, torch.device("cpu")))
    x = torch.randn(5, 3)
    assert torch.equal(wrapped(x), net(x)) and wrapped.model is net
    assert list(wrapped.parameters()) == list(net.parameters())


def test_two_gloo_processes_give_the_numbers_of_one_process(tmp_path):
    write_idx_dataset(tmp_path / "data" / "mnist", n_train=300, n_test=40)
    write_idx_dataset(tmp_path / "data" / "fashion-mnist", n_train=30, n_test=48)  # other images than MNIST
    # 300 rows: batches of 128 + 128 OOD, and a last one of 44 + 128 split unevenly between the processes
    flags = ["--dataset", "mnist", "--methods", "ceda", "--data-dir", str(tmp_path / "data"), "--n-train", "300",
             "--n-test", "16", "--epochs", "2", "--device", "cpu", "--threads", "1", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(tmp_path / "home")}
    start = time.monotonic()
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                               "-m", "toyood", "bench", *flags], capture_output=True, text=True, env=env, timeout=300)
    two_seconds = time.monotonic() - start
    assert launched.returncode == 0, launched.stderr[-2000:]
    lines = [line for line in launched.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # process 1 prints nothing
    two = json.loads(lines[0])
    config = BenchConfig(dataset="mnist", methods=("ceda",), data_dir=str(tmp_path / "data"), n_train=300, n_test=16,
                         epochs=2, device="cpu")
    one = run_benchmark(config).to_dict()
    assert two["n_train"] == one["n_train"] == 300 and two["config"]["methods"] == ["ceda"]
    for name in ("ceda",):
        expected, got = one["methods"][name], two["methods"][name]
        assert got["epoch_losses"] == pytest.approx(expected["epoch_losses"], rel=1e-5)
        assert got["test_error"] == expected["test_error"] and got["in_mmc"] == pytest.approx(expected["in_mmc"], abs=1e-6)
        assert got["median_alpha"] == pytest.approx(expected["median_alpha"], rel=1e-3)
        for set_name in ("fmnist", "noise"):  # forward passes only: the same to float rounding
            assert got["sets"][set_name] == pytest.approx(expected["sets"][set_name], abs=1e-5)
        for set_name in ("adv_noise", "adv_samples"):  # PGD's signed steps amplify rounding a little
            assert got["sets"][set_name]["mmc"] == pytest.approx(expected["sets"][set_name]["mmc"], abs=0.02)
    print(f"two processes: {two_seconds:.1f} s including start-up")


# Steps of 128 rows (the standard preset's; quick's 32 would make 14 steps, over which float rounding
# between one and two processes grows past the weights' tolerance).
PRESET = "standard"


def train_in_group(rank: int, world: int, rendezvous: str, data_dir: str, method: str, out: str) -> None:
    """One process of a gloo group: train ``method`` on its share of every batch; rank 0 saves the
    epoch losses and the weights."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    try:
        config = BenchConfig(dataset="mnist", methods=(method,), data_dir=data_dir, n_train=200, n_test=16,
                             epochs=2, device="cpu", preset=PRESET)
        model, result = train_method(config, method, load_bench_data(config), workers=Workers(rank, world,
                                                                                               torch.device("cpu")))
        if rank == 0:
            torch.save({"losses": result.epoch_losses, "state": model.state_dict()}, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("method", ["acet", "reject"])
def test_two_processes_train_like_one(tmp_path, method):
    """ACET attacks each process's share of the OOD rows inside a step; the reject class puts the
    OOD rows in their own class. Both train as in one process (the first epoch to rounding; after it
    ACET's signed PGD steps amplify rounding differences, as a different batch size would)."""
    write_idx_dataset(tmp_path / "data" / "mnist", n_train=200, n_test=40)  # steps of 128 and 72 rows
    out = tmp_path / "rank0.pt"
    mp.start_processes(train_in_group, args=(2, str(tmp_path / "rendezvous"), str(tmp_path / "data"), method,
                                             str(out)), nprocs=2, start_method="spawn")
    config = BenchConfig(dataset="mnist", methods=(method,), data_dir=str(tmp_path / "data"), n_train=200,
                         n_test=16, epochs=2, device="cpu", preset=PRESET)
    model, single = train_method(config, method, load_bench_data(config))
    shared = torch.load(out)
    assert shared["losses"][0] == pytest.approx(single.epoch_losses[0], rel=1e-5)
    assert shared["losses"][1] == pytest.approx(single.epoch_losses[1], rel=1e-5 if method == "reject" else 0.05)
    if method == "reject":
        for key, value in model.state_dict().items():
            # measured: 1 of 3.2 M weights differs by 1.6e-5 (the all-reduce sums in another order)
            torch.testing.assert_close(shared["state"][key], value, rtol=1e-4, atol=3e-5)
