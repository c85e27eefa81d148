"""The job table's line for workers (``toyood_app.jobs``): jobs waiting for a worker get one first
come, first served; each waiting job's status names its place and an estimated wait, computed here
by hand from a hand-moved clock; a job abandoned in the line leaves it."""
from __future__ import annotations

import threading

import pytest

from test_app_jobs import WAIT, Clock
from toyood_app.jobs import ABANDON_SECONDS, JobTable, ordinal


def until(condition) -> None:
    """Wait (on an event that never fires, in small steps) until ``condition()`` holds."""
    pause = threading.Event()
    for _ in range(int(WAIT / 0.005)):
        if condition():
            return
        pause.wait(0.005)
    raise AssertionError("the condition never held")


def held(release: threading.Event, order: list, fraction: float = 0.5):
    """A compute that notes its key, reports ``fraction`` and holds its worker until ``release``."""
    def compute(job):
        order.append(job.key)
        job(fraction, "working")
        release.wait(WAIT)
        return job.key
    return compute


def queued(table: JobTable, key, compute, place: int, keep: bool = True):
    """Start a job and wait until it stands at ``place`` in the line."""
    job = table.get_or_start(key, key[1], compute, keep, ValueError)
    until(lambda: table.queue_place(job) == place)
    return job


def test_waiting_jobs_get_the_worker_first_come_first_served():
    table, release, order = JobTable({}, workers=1), threading.Event(), []
    first = table.get_or_start(("toy", "first"), "first", held(release, order), True, ValueError)
    until(lambda: order == [("toy", "first")])
    names = ["e", "b", "d", "a", "c"]  # not sorted: the line keeps arrival order, not key order
    waiting = [queued(table, ("toy", name), held(release, order), place) for place, name in enumerate(names, 1)]
    assert [table.queue_place(job) for job in waiting] == [1, 2, 3, 4, 5]
    assert waiting[2].status() == "d: waiting for a free worker · 3rd in line"  # no run finished: no estimate
    release.set()
    for job in (first, *waiting):
        assert job.done.wait(WAIT) and job.value == job.key
    assert order == [("toy", "first"), *(("toy", name) for name in names)]
    assert not table.queue and not table.running


def finish_one(table: JobTable, clock: Clock, kind: str, seconds: float) -> None:
    """Run one job of ``kind`` that takes ``seconds`` on the hand clock (its kind's history)."""
    release, order = threading.Event(), []
    job = table.get_or_start((kind, "history", seconds), "history", held(release, order), True, ValueError)
    until(lambda: order)
    clock.now += seconds
    release.set()
    assert job.done.wait(WAIT)


def test_the_estimate_adds_the_running_jobs_time_left_and_the_mean_run_of_each_job_ahead():
    clock = Clock()
    table = JobTable({}, workers=2, clock=clock)
    finish_one(table, clock, "toy", 8.0)
    finish_one(table, clock, "toy", 12.0)  # toy: mean 10 s
    finish_one(table, clock, "gan", 30.0)
    release, order = threading.Event(), []
    slow = table.get_or_start(("toy", "slow"), "slow", held(release, order, fraction=0.2), True, ValueError)
    quick = table.get_or_start(("toy", "quick"), "quick", held(release, order, fraction=0.5), True, ValueError)
    until(lambda: len(order) == 2)
    clock.now += 4.0  # slow: 20% in 4 s, 16 s left; quick: 50% in 4 s, 4 s left
    a = queued(table, ("gan", "a"), held(release, order), 1)
    b = queued(table, ("toy", "b"), held(release, order), 2)
    c = queued(table, ("toy", "c"), held(release, order), 3)
    # workers free at 4 and 16; a takes the one free at 4 → 4 + 30 = 34; b takes 16 → 26; c: min(34, 26)
    assert [table.queue_wait(job) for job in (a, b, c)] == pytest.approx([4.0, 16.0, 26.0])
    assert c.status() == "c: waiting for a free worker · 3rd in line, about 26 s"
    release.set()
    for job in (slow, quick, a, b, c):
        assert job.done.wait(WAIT)
    assert table.queue_wait(c) is None and c.status().startswith("c: working · 50% · ")


def test_a_job_abandoned_in_the_line_leaves_it_and_the_next_moves_up():
    clock = Clock()
    table, release, order = JobTable({}, workers=1, clock=clock), threading.Event(), []
    blocker = table.get_or_start(("toy", "blocker"), "blocker", held(release, order), True, ValueError)
    until(lambda: order)
    gone = queued(table, ("toy", "gone"), held(release, order), 1, keep=False)
    stays = queued(table, ("toy", "stays"), held(release, order), 2)
    clock.now += ABANDON_SECONDS + 0.001  # nobody watches "gone": its next look in the line stops it
    assert gone.done.wait(WAIT) and gone.cancelled and ("toy", "gone") not in table.jobs
    until(lambda: table.queue_place(stays) == 1)
    release.set()
    assert blocker.done.wait(WAIT) and stays.done.wait(WAIT)
    assert order == [("toy", "blocker"), ("toy", "stays")]


def test_a_failed_or_stopped_run_does_not_count_in_the_estimates():
    table = JobTable({}, workers=1)
    failed = table.get_or_start(("toy", "x"), "x", lambda job: 1 / 0, False, ValueError)
    assert failed.done.wait(WAIT) and "toy" not in table.durations
    ok = table.get_or_start(("toy", "y"), "y", lambda job: "fine", False, ValueError)
    assert ok.done.wait(WAIT) and len(table.durations["toy"]) == 1


@pytest.mark.parametrize("number,text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"),
                                         (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"), (101, "101st"),
                                         (111, "111th"), (30, "30th")])
def test_ordinal_names_places_in_english(number, text):
    assert ordinal(number) == text
