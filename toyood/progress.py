"""Progress reporting shared by every long job: ``progress(fraction, text)`` callbacks.

A job calls ``progress(fraction in [0, 1], text)``; a callback may raise (``Cancelled``) to stop it.
``with_eta`` adds the remaining time; ``phase`` maps a sub-job onto part of the bar;
``StderrProgress`` is the command line's one rewritten line.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional

Progress = Callable[[float, str], None]


def format_duration(seconds: float) -> str:
    """'45 s', '3 min 05 s', '2 h 07 min'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def phase(progress: Optional[Progress], start: float, stop: float, prefix: str = "") -> Optional[Progress]:
    """A callback for a sub-job that reports 0..1 onto [start, stop] of ``progress``, text prefixed."""
    if progress is None:
        return None
    return lambda fraction, text: progress(start + (stop - start) * fraction, prefix + text)


class with_eta:
    """Passes (fraction, text) on as (fraction, "text · 42% · about 1 min 05 s left")."""

    def __init__(self, progress: Progress, clock: Callable[[], float] = time.perf_counter):
        self.progress, self.clock = progress, clock
        self.start = clock()

    def __call__(self, fraction: float, text: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        elapsed = self.clock() - self.start
        left = f" · about {format_duration(elapsed * (1 - fraction) / fraction)} left" if fraction >= 0.01 else ""
        self.progress(fraction, f"{text} · {fraction:.0%}{left}")


class StderrProgress:
    """The command line's progress on stderr, with the time left: one rewritten line on a terminal,
    a line per 5% otherwise (logs)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.last_step = -1
        self.report = with_eta(self._write)

    def _write(self, fraction: float, text: str) -> None:
        if self.terminal:
            print(f"\r\033[K{text}", end="", file=self.stream, flush=True)
        elif int(fraction * 20) > self.last_step:
            self.last_step = int(fraction * 20)
            print(text, file=self.stream, flush=True)

    def __call__(self, fraction: float, text: str) -> None:
        self.report(fraction, text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.terminal:
            print(file=self.stream, flush=True)
