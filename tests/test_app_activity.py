"""The warm start gives way to visitors (``toyood_app.activity``): what counts as a visitor being
served (a script run, a request less than ``QUIET_SECONDS`` ago), how long it waits, the ASGI
middleware that marks requests, and a background job pausing at its progress call. Time is a
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


def test_a_script_run_keeps_it_busy_until_it_ends_then_the_quiet_seconds(clock):
    activity = Activity(clock, clock.sleep)
    with activity.script_run():
        clock.now += 10 * QUIET_SECONDS  # a long run: a visitor watching a job
        assert activity.busy()
    assert activity.busy()
    clock.now += QUIET_SECONDS
    assert not activity.busy()


def test_a_script_run_ending_in_an_exception_is_counted_out(clock):
    activity = Activity(clock, clock.sleep)
    with pytest.raises(RuntimeError), activity.script_run():
        raise RuntimeError("st.stop() or st.rerun() raise, too")
    clock.now += QUIET_SECONDS
    assert not activity.busy()


def test_giving_way_waits_until_the_visitor_is_served(clock):
    activity = Activity(clock, clock.sleep)
    activity.mark()
    waited = activity.give_way()
    assert waited == pytest.approx(QUIET_SECONDS, abs=POLL_SECONDS + 1e-9) and not activity.busy()
    assert activity.give_way() == 0 and clock.slept == round(waited / POLL_SECONDS)


def test_giving_way_ends_at_the_limit_or_when_no_longer_wanted(clock):
    activity = Activity(clock, clock.sleep)
    with activity.script_run():
        assert activity.give_way() == pytest.approx(MAX_PAUSE_SECONDS, abs=POLL_SECONDS + 1e-9)
        polls = iter([True, True, False])
        assert activity.give_way(lambda: next(polls)) == pytest.approx(2 * POLL_SECONDS)


def test_the_middleware_marks_each_request_and_websocket_message_only(clock):
    activity = Activity(clock, clock.sleep)
    marks = []
    activity.mark = lambda: marks.append(clock.now)  # noqa: E731  (counted, not timed)
    received = []

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
    asyncio.run(visit({"type": "http"}, [{"type": "http.request"}]))
    assert len(marks) == 1 + 2  # the request, then each message the app receives (its body, the end)
    asyncio.run(visit({"type": "websocket"}, [{"type": "websocket.connect"}, {"type": "websocket.receive"},
                                              {"type": "websocket.receive"}]))
    assert len(marks) == 3 + 1 + 4  # the connection, then each message (connect, two from the browser, the end)


def _background_job(table: JobTable, gate: threading.Event, reached: list, watched: bool = False):
    """A background job that reports progress once, then records the polls its table's activity had
    made by then (``reached``)."""
    def compute(job):
        gate.wait(10)
        job(0.5, "half")
        reached.append(table.activity.clock.slept)
        return "done"
    job = table.get_or_start(("toy", "warm"), "Warm", compute, True, EXPECTED_ERRORS, background=True)
    if watched:
        job.attach()
    return job


def test_a_background_job_pauses_at_its_progress_call_while_a_visitor_is_served(clock):
    activity = Activity(clock, clock.sleep)
    table, gate, reached = JobTable({}, workers=2, activity=activity), threading.Event(), []
    with activity.script_run():
        job = _background_job(table, gate, reached)
        gate.set()
        assert job.done.wait(10) and job.value == "done"
    assert len(reached) == 1  # paused at most the limit, then went on
    assert reached[0] * POLL_SECONDS == pytest.approx(MAX_PAUSE_SECONDS, abs=POLL_SECONDS + 1e-9)
    assert table.get_or_start(("toy", "visitor"), "Visitor", lambda job: job(1, "x"), False, EXPECTED_ERRORS).done.wait(10)


@pytest.mark.parametrize("why", ["watched", "someone waits for its worker", "not background"])
def test_a_background_job_does_not_pause_when(why, clock):
    activity = Activity(clock, clock.sleep)
    table, gate, reached = JobTable({}, workers=1, activity=activity), threading.Event(), []
    with activity.script_run():
        if why == "not background":
            job = table.get_or_start(("toy", "page"), "Page", lambda job: (gate.wait(10), job(0.5, "half"),
                                                                            reached.append(clock.slept)), True,
                                     EXPECTED_ERRORS)
        else:
            job = _background_job(table, gate, reached, watched=why == "watched")
        if why == "someone waits for its worker":
            waiting = table.get_or_start(("toy", "visitor"), "Visitor", lambda job: "ok", False, EXPECTED_ERRORS)
            assert table.queue_place(waiting) == 1
        gate.set()
        assert job.done.wait(10)
    assert reached == [0]


def test_every_script_run_of_the_app_is_counted_in_and_out(monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from toyood_app import activity as activity_module

    clock = Clock()
    recorded = Activity(clock, clock.sleep)
    monkeypatch.setattr(activity_module, "ACTIVITY", recorded)
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    app.run()
    assert not app.exception
    assert recorded._runs == 0 and recorded._last == clock.now  # counted out again, the end marked
