"""The app's shared job table (``toyood_app.jobs``): one computation per key whatever the number of
sessions, watchers and Stop, the abandon rule on an injected clock, the worker limit, eviction.

Every wait here is on a condition (an ``Event`` or ``job.done``), never a measured duration; the
table's clock is a hand-moved ``Clock``."""
from __future__ import annotations

import sys
import threading

import pytest

from toyood.errors import Cancelled
from toyood_app import jobs
from toyood_app.jobs import ABANDON_SECONDS, JobTable

WAIT = 60  # seconds before a condition that never comes fails the test (never reached when correct)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def blocking_compute(release: threading.Event, calls: list, value="result"):
    """A compute that reports progress until ``release`` is set (so Stop can reach it), counting its calls."""
    def compute(job):
        calls.append(job.key)
        while not release.wait(0.01):
            job(0.5, "working")
        job(1.0, "done")
        return value
    return compute


def wait_done(job) -> None:
    assert job.done.wait(WAIT), f"{job.label} never finished"


def test_n_sessions_asking_for_one_key_share_one_computation():
    table, release, calls, results = JobTable({}, workers=4), threading.Event(), [], []
    start = threading.Barrier(16)

    def session():
        start.wait()
        results.append(table.get_or_start(("toy", 1), "toy", blocking_compute(release, calls), False, ValueError))
    threads = [threading.Thread(target=session) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    release.set()
    wait_done(results[0])
    assert len(results) == 16 and all(job is results[0] for job in results)
    assert calls == [("toy", 1)] and results[0].value == "result"
    assert table.get_or_start(("toy", 1), "toy", blocking_compute(release, calls), False, ValueError) is results[0]
    assert calls == [("toy", 1)] and table.value_if_finished(("toy", 1)) == "result"


def test_a_stop_by_one_of_two_watchers_does_not_stop_the_other():
    table, release, calls = JobTable({}), threading.Event(), []
    job = table.get_or_start(("toy", 2), "toy", blocking_compute(release, calls), False, ValueError)
    job.attach()
    job.attach()
    job.detach()
    job.stop_unless_watched()  # the first session pressed Stop: the second still watches
    assert job.watchers == 1 and not job.stop_requested
    job.detach()
    job.stop_unless_watched()  # now nobody watches
    assert job.watchers == 0 and job.stop_requested
    wait_done(job)
    assert job.cancelled and job.value is None and table.finished(("toy", 2)) is False
    assert ("toy", 2) not in table.jobs  # a stopped job leaves the table
    again = table.get_or_start(("toy", 2), "toy", blocking_compute(release, calls), False, ValueError)
    assert again is not job and len(calls) == 2  # a stopped job is started afresh
    release.set()
    wait_done(again)
    assert table.value_if_finished(("toy", 2)) == "result"


def test_watcher_counts_stay_exact_under_many_threads():
    table = JobTable({})
    job = table.get_or_start(("toy", 3), "toy", lambda job: "x", False, ValueError)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose unlocked updates
    try:
        def churn():
            for _ in range(3000):
                job.attach()
                job.detach()
        threads = [threading.Thread(target=churn) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
    finally:
        sys.setswitchinterval(switch)
    assert job.watchers == 0


@pytest.mark.parametrize("change", ["attach", "detach", "stop_unless_watched"])
def test_watcher_changes_wait_for_the_table_lock(change):
    """While another thread holds the table's lock, attach/detach/stop cannot change the job (a
    correct table blocks them; an unlocked one would finish at once and fail here)."""
    table = JobTable({})
    job = table.get_or_start(("toy", 10), "toy", lambda job: "x", False, ValueError)
    wait_done(job)
    job.watchers = 1
    with table.lock:
        changer = threading.Thread(target=getattr(job, change))
        changer.start()
        changer.join(0.2)  # a chance to run: it must still be blocked
        assert changer.is_alive() and job.watchers == 1 and not job.stop_requested
    changer.join(WAIT)
    assert job.watchers == {"attach": 2, "detach": 0, "stop_unless_watched": 1}[change]


@pytest.mark.parametrize("keep,watched,stops", [(False, False, True), (True, False, False), (False, True, False)])
def test_a_job_nobody_watches_stops_after_abandon_seconds_unless_kept(keep, watched, stops):
    """On a hand-moved clock: at exactly ABANDON_SECONDS unwatched the job goes on, just past it the
    next progress report stops it; a kept job, or one still watched, never stops this way."""
    clock = Clock()
    table, release, reached = JobTable({}, clock=clock), threading.Event(), threading.Event()

    def compute(job):
        reached.set()
        release.wait(WAIT)
        job(0.9, "still working")
        return "finished"
    job = table.get_or_start(("toy", 4), "toy", compute, keep, ValueError)
    if watched:
        job.attach()
    assert reached.wait(WAIT)
    clock.now += ABANDON_SECONDS
    assert not job.abandoned()
    clock.now += 0.001
    assert job.abandoned() == stops
    release.set()
    wait_done(job)
    assert job.cancelled == stops and (job.value == "finished") != stops


def test_the_worker_limit_queues_the_second_job_until_the_first_ends(monkeypatch):
    monkeypatch.setattr(jobs, "POLL_SECONDS", 0.01)
    table, first_release, calls = JobTable({}, workers=1), threading.Event(), []
    first = table.get_or_start(("toy", 5), "first", blocking_compute(first_release, calls), False, ValueError)
    second_started = threading.Event()
    second = table.get_or_start(("toy", 6), "second", lambda job: second_started.set() or "two", False, ValueError)
    waiting = threading.Event()
    for _ in range(WAIT * 100):  # condition: the second says it waits (or finishes: a broken limit)
        if second.text == "waiting for a free worker":
            waiting.set()
        if waiting.is_set() or second.done.is_set():
            break
        waiting.wait(0.01)
    assert waiting.is_set() and not second_started.is_set() and calls == [("toy", 5)]
    first_release.set()
    wait_done(first)
    wait_done(second)
    assert second.value == "two" and first.value == "result"


def test_eviction_keeps_the_most_recently_used_finished_jobs_up_to_the_limit():
    table, release = JobTable({"toy": 2, "gan": 1}), threading.Event()
    running = table.get_or_start(("toy", "running"), "running", blocking_compute(release, []), False, ValueError)
    for name in ("a", "b"):
        table.put(("toy", name), name, name.upper())
    table.get_or_start(("toy", "a"), "a", lambda job: pytest.fail("recomputed a finished job"), False, ValueError)
    table.put(("toy", "c"), "c", "C")  # three finished toy jobs, limit 2: b is the least recently used
    table.put(("gan", "g"), "g", "G")  # another kind has its own limit
    assert [table.value_if_finished(("toy", n)) for n in ("a", "b", "c")] == ["A", None, "C"]
    assert table.value_if_finished(("gan", "g")) == "G" and ("toy", "running") in table.jobs
    release.set()
    wait_done(running)


def test_a_stop_requested_job_is_replaced_at_once_by_a_new_request():
    table, release, calls = JobTable({}), threading.Event(), []
    job = table.get_or_start(("toy", 11), "toy", blocking_compute(release, calls), False, ValueError)
    worker = [t for t in threading.enumerate() if t.name == f"toyood-job-{job.id}"]
    assert len(worker) == 1 and worker[0].daemon  # a daemon thread: never holds up the server's exit
    job.stop_unless_watched()
    again = table.get_or_start(("toy", 11), "toy", blocking_compute(release, calls), False, ValueError)
    assert again is not job and table.jobs[("toy", 11)] is again
    release.set()
    wait_done(job)
    wait_done(again)
    assert table.finished(("toy", 11)) is True and table.finished(("toy", "never")) is False


def test_put_stores_a_finished_value_once_and_a_new_job_evicts_its_own_kind():
    table = JobTable({"toy": 1, "gan": 1})
    table.put(("toy", "a"), "a", "A")
    table.put(("toy", "a"), "a", "other")  # already there: kept as it was
    job = table.jobs[("toy", "a")]
    assert table.value_if_finished(("toy", "a")) == "A" and job.status().startswith("a: done · 100% · ")
    assert not job.keep
    table.put(("gan", "g"), "g", "G")
    table.limits = {"toy": 0, "gan": 1}
    started = table.get_or_start(("toy", "b"), "b", lambda job: "B", False, ValueError)  # evicts finished toy jobs
    assert ("toy", "a") not in table.jobs and table.value_if_finished(("gan", "g")) == "G"
    wait_done(started)


def test_an_expected_error_is_kept_with_its_message_and_others_are_named_vaguely(caplog):
    table = JobTable({})

    def refuse(job):
        raise ValueError("hidden widths must be positive")
    expected = table.get_or_start(("toy", 7), "toy", refuse, False, ValueError)
    wait_done(expected)
    assert expected.error == "hidden widths must be positive" and table.jobs.get(("toy", 7)) is expected
    crash = table.get_or_start(("toy", 8), "crashing toy", lambda job: 1 / 0, False, ValueError)
    wait_done(crash)
    assert crash.error == "an unexpected error stopped it (the details are in the server log)"
    assert ("toy", 8) not in table.jobs
    assert "job crashing toy failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_status_reads_progress_elapsed_and_time_left_from_the_clock():
    clock = Clock()
    table, release = JobTable({}, clock=clock), threading.Event()

    def compute(job):
        job(0.4, "epoch 4/10")
        release.wait(WAIT)
    job = table.get_or_start(("toy", 9), "Training", compute, True, ValueError)
    while job.fraction != 0.4:  # condition: the compute has reported
        release.wait(0.01)
    clock.now += 4.0  # 40 % in 4 s: 6 s left
    assert job.status() == "Training: epoch 4/10 · 40% · 4 s · about 6 s left"
    job.fraction = 0.01  # below 2 %: no estimate yet
    assert job.status() == "Training: epoch 4/10 · 1% · 4 s"
    release.set()
    wait_done(job)
    with pytest.raises(Cancelled):
        job.stop_requested = True
        job(0.5, "after a stop")
