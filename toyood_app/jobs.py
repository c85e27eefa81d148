"""Long computations shared by every session of the server (pure Python: no Streamlit).

A ``JobTable`` maps a key (a hashable tuple whose first item names the kind of job) to one ``Job``:
the first session that asks starts a worker thread, every later one finds the same job and watches
it. At most ``workers`` jobs compute at once; the others wait in one first-come, first-served line,
each shown its place and an estimated wait ("3rd in line, about 20 s"); finished jobs are kept per
kind up to a limit, least recently used first out. A job nobody watches for ``ABANDON_SECONDS``
(the browser was closed) stops at its next progress report, unless it was started to be ``keep``-t.
A ``background`` job (the warm start's) gives way to a browser opening a page at each progress report
while nobody watches it and no job waits for a worker (``toyood_app.activity``). Time comes from
``clock`` (``time.monotonic``), so tests can move it by hand.
"""
from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from typing import Any, Callable

from toyood.device import max_threads, use_threads
from toyood.errors import Cancelled
from toyood.progress import format_duration

from .activity import Activity

LOGGER = logging.getLogger("toyood.app")
JOB_LIMITS = {"toy": 32, "metrics": 32, "toy-batch": 4, "regions": 3, "gan": 6}  # finished results kept per kind
DEFAULT_JOB_LIMIT = 8
ABANDON_SECONDS = 5.0  # a job nobody has watched for this long stops at its next progress report
POLL_SECONDS = 0.25  # how often a waiting worker (and a watching page) looks again
WAITING_TEXT = "waiting for a free worker"
DURATIONS_KEPT = 8  # recent run times per kind of job that the queue's estimates average


class Job:
    """One computation, shared by every session that asks for its key. The worker thread calls
    ``compute(job)``; ``job(fraction, text)`` is its progress callback and ``job.preview(obj)`` hands
    the page something to show meanwhile. Either raises ``Cancelled`` once the job is stopped, or
    when nobody has watched it for ``ABANDON_SECONDS``."""

    ids = itertools.count(1)

    def __init__(self, key, label: str, keep: bool, table: "JobTable", background: bool = False):
        self.key, self.label, self.keep, self.id, self.table = key, label, keep, next(Job.ids), table
        self.background = background
        self.fraction, self.text = 0.0, "queued"
        self.preview_value, self.preview_version = None, 0
        self.value, self.error, self.cancelled = None, None, False
        self.done = threading.Event()
        self.watchers, self.unwatched_since, self.stop_requested = 0, table.clock(), False
        self.started = table.clock()

    def __call__(self, fraction: float, text: str) -> None:
        if self.background:
            self.table.give_way(self)
        self._check_wanted()
        self.fraction, self.text = min(max(float(fraction), 0.0), 1.0), text

    def preview(self, value) -> None:
        self._check_wanted()
        self.preview_value, self.preview_version = value, self.preview_version + 1

    def abandoned(self) -> bool:
        """Nobody has watched this (not kept) job for ``ABANDON_SECONDS``."""
        with self.table.lock:
            return (not self.keep and self.watchers == 0
                    and self.table.clock() - self.unwatched_since > ABANDON_SECONDS)

    def _check_wanted(self) -> None:
        if self.stop_requested or self.abandoned():
            raise Cancelled(f"{self.label}: stopped")

    def status(self) -> str:
        """'label: text · 40% · 3 s · about 5 s left' (the estimate once 2% is done); while queued,
        'label: waiting for a free worker · 3rd in line, about 20 s'."""
        place = self.table.queue_place(self)
        if place is not None:
            wait = self.table.queue_wait(self)
            return (f"{self.label}: {WAITING_TEXT} · {ordinal(place)} in line"
                    + (f", about {format_duration(wait)}" if wait is not None else ""))
        elapsed = self.table.clock() - self.started
        left = (f" · about {format_duration(elapsed * (1 - self.fraction) / self.fraction)} left"
                if self.fraction >= 0.02 else "")
        return f"{self.label}: {self.text} · {self.fraction:.0%} · {format_duration(elapsed)}{left}"

    def attach(self) -> None:
        with self.table.lock:
            self.watchers += 1

    def detach(self) -> None:
        with self.table.lock:
            self.watchers -= 1
            self.unwatched_since = self.table.clock()

    def stop_unless_watched(self) -> None:
        """A session pressed Stop: the job ends unless another session is still watching it."""
        with self.table.lock:
            if self.watchers == 0:
                self.stop_requested = True


class JobTable:
    """The jobs by key, bounded per kind (``key[0]``): the least recently used finished ones go."""

    def __init__(self, limits: dict[str, int], workers: int | None = None,
                 clock: Callable[[], float] = time.monotonic, activity: Activity | None = None):
        self.limits, self.clock, self.lock, self.jobs = limits, clock, threading.RLock(), collections.OrderedDict()
        self.activity = activity  # visitors a background job gives way to (None: it never pauses)
        self.capacity = workers or max_threads()
        self.queue: collections.deque[Job] = collections.deque()  # jobs waiting for a worker, first come first
        self.running: dict[Job, float] = {}  # jobs computing, and when each got its worker
        self.durations: dict[str, collections.deque] = {}  # recent run times per kind (key[0])
        self.turn = threading.Condition(self.lock)

    def get_or_start(self, key, label: str, compute: Callable[[Job], Any], keep: bool, expected,
                     background: bool = False) -> Job:
        """The job of ``key``: the one running or finished, else a new one computing ``compute``
        (``background``: giving way to visitors). ``expected`` errors end it with their message;
        others are logged and named vaguely."""
        with self.lock:
            job = self.jobs.get(key)
            if job is None or job.cancelled or job.stop_requested:
                job = self.jobs[key] = Job(key, label, keep, self, background)
                self._enter_line(job)
                threading.Thread(target=self._work, args=(job, compute, expected), daemon=True,
                                 name=f"toyood-job-{job.id}").start()
                self._evict(key[0])
            self.jobs.move_to_end(key)
            return job

    def give_way(self, job: Job) -> None:
        """Pause background ``job`` while a browser opens a page, nobody watches the job, nobody waits
        in line for a worker and it is not stopped (at most ``activity.MAX_PAUSE_SECONDS`` at a time)."""
        if self.activity is not None:
            self.activity.give_way(lambda: job.watchers == 0 and not self.queue and not job.stop_requested)

    def finished(self, key) -> bool:
        return self.value_if_finished(key, default=False, present=True)

    def value_if_finished(self, key, default=None, present: bool = False):
        """The value of the finished job of ``key`` (or True with ``present``), else ``default``;
        never waits, never starts a job."""
        with self.lock:
            job = self.jobs.get(key)
            if job is None or not job.done.is_set() or job.cancelled:
                return default
            return True if present else job.value

    def put(self, key, label: str, value) -> None:
        """Store a value computed elsewhere (a batch of models) as the finished job of ``key``."""
        with self.lock:
            if key in self.jobs and not self.jobs[key].cancelled:
                return
            job = self.jobs[key] = Job(key, label, False, self)
            job.value, job.fraction, job.text = value, 1.0, "done"
            job.done.set()
            self._evict(key[0])

    def stop_all(self, timeout: float) -> bool:
        """Ask every running job to stop (at its next progress call) and wait up to ``timeout``
        seconds for them: the server is shutting down. True if all have ended."""
        with self.lock:
            running = [job for job in self.jobs.values() if not job.done.is_set()]
            for job in running:
                job.stop_requested = True
        deadline = time.monotonic() + timeout
        return all(job.done.wait(max(0.0, deadline - time.monotonic())) for job in running)

    def forget(self, job: Job) -> None:
        with self.lock:
            if self.jobs.get(job.key) is job:
                del self.jobs[job.key]

    def _evict(self, kind: str) -> None:
        finished = [key for key, job in self.jobs.items() if key[0] == kind and job.done.is_set()]
        for key in finished[:max(0, len(finished) - self.limits.get(kind, DEFAULT_JOB_LIMIT))]:
            del self.jobs[key]

    def queue_place(self, job: Job) -> int | None:
        """1 for the job next in line for a worker, 2 for the one after, ...; None if not waiting."""
        with self.lock:
            return self.queue.index(job) + 1 if job in self.queue else None

    def queue_wait(self, job: Job) -> float | None:
        """Seconds until a waiting ``job`` gets a worker: each running job ends when its progress says
        (else after its kind's mean recent run time), and each job ahead in line then takes its
        kind's mean; None while a needed time is unknown (no run of that kind finished yet)."""
        with self.lock:
            if job not in self.queue:
                return None
            now, free = self.clock(), []
            for running, started in self.running.items():
                left = self._time_left(running, now - started)
                if left is None:
                    return None
                free.append(left)
            free += [0.0] * (self.capacity - len(free))
            for ahead in itertools.islice(self.queue, self.queue.index(job)):
                mean = self._mean_duration(ahead.key[0])
                if mean is None:
                    return None
                free.sort()
                free[0] += mean
            return min(free)

    def _time_left(self, job: Job, elapsed: float) -> float | None:
        if job.fraction >= 0.02:
            return elapsed * (1 - job.fraction) / job.fraction
        mean = self._mean_duration(job.key[0])
        return None if mean is None else max(mean - elapsed, 0.0)

    def _mean_duration(self, kind: str) -> float | None:
        times = self.durations.get(kind)
        return sum(times) / len(times) if times else None

    def _enter_line(self, job: Job) -> None:
        """A new job gets a free worker at once if nobody waits, else the last place in line
        (called with the lock held, in the order the jobs were asked for)."""
        if not self.queue and len(self.running) < self.capacity:
            job.started = self.running[job] = self.clock()  # its elapsed time and estimate count from here
        else:
            self.queue.append(job)

    def _take_worker(self, job: Job) -> None:
        """Wait until ``job`` holds a worker (``_free_worker`` hands them on in line order); a job
        stopped or abandoned meanwhile leaves the line (``Cancelled``)."""
        if job in self.running:
            return
        with self.lock:
            try:
                while job not in self.running:
                    job(0.0, WAITING_TEXT)
                    self.turn.wait(POLL_SECONDS)
            except Cancelled:
                self.queue.remove(job)
                raise

    def _free_worker(self, job: Job, finished: bool) -> None:
        """Give the worker to the first in line; a finished run's time joins its kind's estimates."""
        with self.lock:
            started = self.running.pop(job)
            if finished:
                self.durations.setdefault(job.key[0], collections.deque(maxlen=DURATIONS_KEPT)).append(
                    self.clock() - started)
            while self.queue and len(self.running) < self.capacity:
                first = self.queue.popleft()
                first.started = self.running[first] = self.clock()
            self.turn.notify_all()

    def _work(self, job: Job, compute: Callable[[Job], Any], expected) -> None:
        try:
            self._take_worker(job)
            finished = False
            try:
                use_threads()
                job.value, finished = compute(job), True
            finally:
                self._free_worker(job, finished)
        except Cancelled:
            job.cancelled = True
            self.forget(job)
        except expected as error:
            job.error = str(error)
        except Exception:  # logged for the operator; the visitor sees a one-line message
            LOGGER.exception("job %s failed", job.label)
            job.error = "an unexpected error stopped it (the details are in the server log)"
            self.forget(job)
        finally:
            job.done.set()


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
