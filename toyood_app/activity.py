"""Whether a browser is opening a page of the app right now, so that the warm start
(``toyood_app.warm``) can give way to it (pure Python: no Streamlit).

On 2 cores the warm start's training takes one core and the GIL for its Python steps. A browser that
opens a page on the same machine (a lecturer's laptop on the projector, or the benchmark's Chromium)
then waits longer for the frontend, the server's first script run and compiling plotly.js (~2 s).
So the warm start pauses between its steps, and its jobs between epochs, for ``QUIET_SECONDS`` after
each request for a page (an HTTP request that accepts HTML; ``VisitorRequests``, an ASGI middleware,
marks them), at most ``MAX_PAUSE_SECONDS`` at a time, so thirty students arriving never stop it for
good. Nothing else pauses it: pausing after every request (the frontend's code chunks, the media
files, each click's script run) held the warm start back from the steps still to come while a
lecturer clicked Next through them right after the start (steps 5, 6, 9 and 10: 3-11 s instead of
1.5-2 s), since a session already open moves between pages over its websocket.
"""
from __future__ import annotations

import time
from typing import Callable

QUIET_SECONDS = 4.0  # a page opened this recently is still loading (a new browser: 3-3.5 s on 2 cores)
MAX_PAUSE_SECONDS = 10.0  # the longest the warm start waits at one step before it goes on anyway
POLL_SECONDS = 0.05


class Activity:
    """The time a page was last opened."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.clock, self.sleep = clock, sleep
        self._last = float("-inf")

    def mark(self) -> None:
        """A browser opened a page now."""
        self._last = self.clock()

    def busy(self) -> bool:
        """A page was opened less than ``QUIET_SECONDS`` ago."""
        return self.clock() - self._last < QUIET_SECONDS

    def give_way(self, still_wanted: Callable[[], bool] = lambda: True,
                 limit: float = MAX_PAUSE_SECONDS) -> float:
        """Wait while ``busy()`` and ``still_wanted()``, at most ``limit`` seconds; the seconds waited."""
        start = self.clock()
        while self.busy() and still_wanted() and self.clock() - start < limit:
            self.sleep(POLL_SECONDS)
        return self.clock() - start


ACTIVITY = Activity()  # the server's one record (serve.py's middleware writes it)


class VisitorRequests:
    """ASGI middleware: a request for a page (HTTP, accepting HTML: a link opened, a reload) marks
    ``activity``; the frontend's code, media files, websockets and the server's own events pass
    unmarked."""

    def __init__(self, app, activity: Activity = ACTIVITY):
        self.app, self.activity = app, activity

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and b"text/html" in dict(scope.get("headers") or ()).get(b"accept", b""):
            self.activity.mark()
        return await self.app(scope, receive, send)
