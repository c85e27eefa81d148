"""Whether a visitor is being served right now, so that the warm start (``toyood_app.warm``) can
give way to them (pure Python: no Streamlit).

On 2 cores the warm start's training takes one core and the GIL for its Python steps; a visitor who
opens a link meanwhile waits longer for the server's script run and, in the browser, for plotly.js to
compile (~2 s on a new visit). So the warm start pauses between its steps (and its jobs between
epochs) while a visitor's script runs or a visitor's request came less than ``QUIET_SECONDS`` ago
(``VisitorRequests``, an ASGI middleware, marks each request and each message of a websocket) — at
most ``MAX_PAUSE_SECONDS`` at a time, so thirty students clicking never stop it for good.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable

QUIET_SECONDS = 2.5  # a request this recent means a browser is still drawing what it asked for
MAX_PAUSE_SECONDS = 10.0  # the longest the warm start waits at one step before it goes on anyway
POLL_SECONDS = 0.05


class Activity:
    """Visitors' script runs in progress and the time of their latest request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._runs, self._last = 0, float("-inf")

    def mark(self) -> None:
        """A visitor's request arrived now."""
        self._last = self.clock()

    @contextlib.contextmanager
    def script_run(self):
        """Around a visitor's script run: busy until it ends, and ``QUIET_SECONDS`` after."""
        with self._lock:
            self._runs += 1
        self.mark()
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
            self.mark()

    def busy(self) -> bool:
        return self._runs > 0 or self.clock() - self._last < QUIET_SECONDS

    def give_way(self, still_wanted: Callable[[], bool] = lambda: True,
                 limit: float = MAX_PAUSE_SECONDS) -> float:
        """Wait while a visitor is served and ``still_wanted()`` holds, at most ``limit`` seconds;
        the seconds waited."""
        start = self.clock()
        while self.busy() and still_wanted() and self.clock() - start < limit:
            self.sleep(POLL_SECONDS)
        return self.clock() - start


ACTIVITY = Activity()  # the server's one record (the app's entry script and serve.py's middleware write it)


class VisitorRequests:
    """ASGI middleware: every HTTP request and every message a browser sends on its websocket marks
    ``activity`` (a page load, a rerun, a widget change)."""

    def __init__(self, app, activity: Activity = ACTIVITY):
        self.app, self.activity = app, activity

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        self.activity.mark()

        async def marked_receive():
            message = await receive()
            self.activity.mark()
            return message

        return await self.app(scope, marked_receive, send)
