"""The warm start gives way to a browser opening a page (``toyood_app.activity``): what counts as
busy (a page requested less than ``QUIET_SECONDS`` ago), how long it waits, the ASGI middleware that
marks requests for pages only, and a background job pausing at its progress call. Time is a
hand-moved clock; sleeping moves it."""
from __future__ import annotations

import asyncio
import threading

import pytest

from toyood_app.activity import MAX_PAUSE_SECONDS, POLL_SECONDS, QUIET_SECONDS, Activity, VisitorRequests
from toyood_app.jobs import JobTable
from toyood_app.running import EXPECTED_ERRORS


class Clock:
    def __init__(self):
        self.now, self.slept = 100.0, 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += 1


class Crowded(Activity):
    """Requests keep coming: busy whatever the clock says."""

    def busy(self) -> bool:
        return True


@pytest.fixture
def clock():
    return Clock()


def test_a_request_keeps_it_busy_for_the_quiet_seconds_only(clock):
    activity = Activity(clock, clock.sleep)
    assert not activity.busy()
    activity.mark()
    clock.now += QUIET_SECONDS - 0.01
    assert activity.busy()
    clock.now += 0.02
    assert not activity.busy()


def test_giving_way_waits_until_the_quiet_seconds_are_over(clock):
    activity = Activity(clock, clock.sleep)
    activity.mark()
    waited = activity.give_way()
    assert waited == pytest.approx(QUIET_SECONDS, abs=POLL_SECONDS + 1e-9) and not activity.busy()
    assert activity.give_way() == 0 and clock.slept == round(waited / POLL_SECONDS)


def test_giving_way_ends_at_the_limit_or_when_no_longer_wanted(clock):
    activity = Crowded(clock, clock.sleep)
    assert activity.give_way() == pytest.approx(MAX_PAUSE_SECONDS, abs=POLL_SECONDS + 1e-9)
    polls = iter([True, True, False])
    assert activity.give_way(lambda: next(polls)) == pytest.approx(2 * POLL_SECONDS)


PAGE = [(b"host", b"127.0.0.1"), (b"accept", b"text/html,application/xhtml+xml,*/*;q=0.8")]  # Chromium's


def test_the_middleware_marks_requests_for_pages_only(clock):
    activity = Activity(clock, clock.sleep)
    marks, received = [], []
    activity.mark = lambda: marks.append(clock.now)  # noqa: E731  (counted, not timed)

    async def app(scope, receive, send):
        while (message := await receive())["type"] != "end":
            received.append(message["type"])

    async def visit(scope, messages):
        queue = iter([*messages, {"type": "end"}])

        async def receive():
            return next(queue)
        await VisitorRequests(app, activity)(scope, receive, None)

    asyncio.run(visit({"type": "lifespan"}, [{"type": "lifespan.startup"}]))
    assert marks == [] and received == ["lifespan.startup"]
    asyncio.run(visit({"type": "http", "path": "/image-benchmark", "headers": PAGE}, [{"type": "http.request"}]))
    assert len(marks) == 1 and received[-1] == "http.request"
    for path, accept in (("/static/js/PlotlyChart.js", b"*/*"), ("/media/1db2.json", b"application/json"),
                         ("/_stcore/health", b"")):
        asyncio.run(visit({"type": "http", "path": path, "headers": [(b"accept", accept)]}, [{"type": "http.request"}]))
    asyncio.run(visit({"type": "http", "path": "/_stcore/host-config"}, [{"type": "http.request"}]))
    asyncio.run(visit({"type": "websocket", "headers": PAGE}, [{"type": "websocket.connect"},
                                                             {"type": "websocket.receive"}]))
    assert len(marks) == 1 and received[-2:] == ["websocket.connect", "websocket.receive"]  # a click on Next


def _background_job(table: JobTable, clock: Clock, gate: threading.Event, reached: list, watched: bool = False):
    """A background job that reports progress once, then records how often the clock had been slept
    on by then (``reached``)."""
    def compute(job):
        gate.wait(10)
        job(0.5, "half")
        reached.append(clock.slept)
        return "done"
    job = table.get_or_start(("toy", "warm"), "Warm", compute, True, EXPECTED_ERRORS, background=True)
    if watched:
        job.attach()
    return job


def test_a_background_job_pauses_at_its_progress_call_while_a_browser_loads(clock):
    activity = Activity(clock, clock.sleep)
    table, gate, reached = JobTable({}, workers=2, activity=activity), threading.Event(), []
    activity.mark()
    job = _background_job(table, clock, gate, reached)
    gate.set()
    assert job.done.wait(10) and job.value == "done"
    assert len(reached) == 1 and reached[0] * POLL_SECONDS == pytest.approx(QUIET_SECONDS, abs=POLL_SECONDS + 1e-9)


def test_a_background_job_goes_on_after_the_longest_pause(clock):
    table, gate, reached = JobTable({}, workers=2, activity=Crowded(clock, clock.sleep)), threading.Event(), []
    job = _background_job(table, clock, gate, reached)
    gate.set()
    assert job.done.wait(10)
    assert reached[0] * POLL_SECONDS == pytest.approx(MAX_PAUSE_SECONDS, abs=POLL_SECONDS + 1e-9)


@pytest.mark.parametrize("why", ["watched", "someone waits for its worker", "not background"])
def test_a_background_job_does_not_pause_when(why, clock):
    table, gate, reached = JobTable({}, workers=1, activity=Crowded(clock, clock.sleep)), threading.Event(), []
    if why == "not background":
        job = table.get_or_start(("toy", "page"), "Page", lambda job: (gate.wait(10), job(0.5, "half"),
                                                                        reached.append(clock.slept)), True,
                                 EXPECTED_ERRORS)
    else:
        job = _background_job(table, clock, gate, reached, watched=why == "watched")
    if why == "someone waits for its worker":
        waiting = table.get_or_start(("toy", "visitor"), "Visitor", lambda job: "ok", False, EXPECTED_ERRORS)
        assert table.queue_place(waiting) == 1
    gate.set()
    assert job.done.wait(10)
    assert reached == [0]
