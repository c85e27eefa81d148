"""Two server processes sharing one run cache (``toyood_app.stores.stored_or_trained``): a config
asked for by both at once is trained by one of them only; the other waits for the entry's file lock,
then loads the very same weights. Each process is a real one (multiprocessing, spawn)."""
from __future__ import annotations

import multiprocessing
import os
import time

import pytest
import torch

from toyood.toy import ToyConfig, train_toy
from toyood_app import stores

TINY = ToyConfig(hidden=(8, 8), epochs=1, n_per_class=40, n_far=100, device="cpu", seed=3)
TRAIN_SECONDS = 1.0  # each training holds on this long, so that two unlocked servers surely overlap
WAIT = 120


def server(cache: str, log: str, barrier, results) -> None:
    """One server process: asks for TINY at the same moment as the other; notes whether it trained."""
    os.environ["TOYOOD_APP_CACHE"] = cache
    torch.set_num_threads(1)

    def train():
        with open(log, "a") as handle:
            handle.write(f"trained in {os.getpid()}\n")
        time.sleep(TRAIN_SECONDS)
        return train_toy(TINY), None
    barrier.wait(WAIT)
    run, trained = stores.stored_or_trained(TINY, train)
    results.put((trained, {name: value.tolist() for name, value in run.model.state_dict().items()}))


def test_two_processes_asking_at_once_train_a_config_once_and_both_get_its_weights(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier, results, log = context.Barrier(2), context.Queue(), tmp_path / "trainings.log"
    processes = [context.Process(target=server, args=(str(tmp_path / "cache"), str(log), barrier, results))
                 for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=WAIT) for _ in processes]
    for process in processes:
        process.join(WAIT)
        assert process.exitcode == 0
    assert len(log.read_text().splitlines()) == 1  # one training in all
    assert sorted(trained for trained, _ in outcomes) == [False, True]
    alone = {name: value.tolist() for name, value in train_toy(TINY).model.state_dict().items()}
    assert outcomes[0][1] == outcomes[1][1] == alone  # the loader got the trainer's weights, bit for bit


def test_a_waiting_server_is_told_and_can_give_up(tmp_path, monkeypatch):
    """While another handle holds the entry's lock, ``waiting`` runs; raising from it gives up."""
    monkeypatch.setenv("TOYOOD_APP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(stores, "LOCK_POLL_SECONDS", 0.01)
    calls = []

    def waiting():
        calls.append(1)
        if len(calls) == 3:
            raise TimeoutError("gave up")
    with stores.entry_lock(TINY):
        with pytest.raises(TimeoutError):
            stores.stored_or_trained(TINY, lambda: pytest.fail("trained while another held the lock"), waiting)
    assert len(calls) == 3
    run, trained = stores.stored_or_trained(TINY, lambda: (train_toy(TINY), None), waiting)  # the lock is free again
    assert trained and stores.stored_run(TINY) is not None and len(calls) == 3


def test_without_a_cache_there_is_no_lock_and_every_call_trains(monkeypatch):
    monkeypatch.setenv("TOYOOD_APP_CACHE", "off")
    count = []
    for _ in range(2):
        _, trained = stores.stored_or_trained(TINY, lambda: (count.append(1), (train_toy(TINY), None))[1])
        assert trained
    assert len(count) == 2
