"""Jobs as the pages see them (Streamlit): the server's one ``JobTable``, ``run_once`` with its
progress bar, Stop button and live preview, and ``JobSpec``, a kind of job defined once for the
pages and the warm start alike."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import streamlit as st

from toyood.errors import ConfigError, RunFileError, TrainingDiverged

from .activity import ACTIVITY
from .jobs import JOB_LIMITS, POLL_SECONDS, Job, JobTable


@st.cache_resource(show_spinner=False)
def jobs() -> JobTable:
    """The server's one table of jobs, shared by every session (its background jobs give way to
    the visitors ``ACTIVITY`` records)."""
    return JobTable(JOB_LIMITS, activity=ACTIVITY)


EXPECTED_ERRORS = (ConfigError, TrainingDiverged, RunFileError)


class JobSpec(NamedTuple):
    """A kind of job, defined once for the pages (``run_once(*spec)``) and the warm start
    (``start_kept``): its key in the job table, its computation and its label."""

    key: tuple
    compute: Callable[[Job], Any]
    label: str


def start_kept(spec: JobSpec) -> Job:
    """Start (or find) the job of ``spec``, kept running whether or not anyone watches it, in the
    background (giving way to visitors while nobody watches it)."""
    return jobs().get_or_start(spec.key, spec.label, spec.compute, True, EXPECTED_ERRORS, background=True)


STOPPED_KEY = "toyood:stopped"


def run_once(key: tuple, compute: Callable[[Job], Any], label: str,
             preview: Callable[[Any, str], None] | None = None, keep: bool = False,
             expected: tuple[type[BaseException], ...] = EXPECTED_ERRORS):
    """``compute(job)`` for ``key`` (a hashable tuple whose first item names the kind of job),
    computed once in a worker thread and shared by every session; meanwhile a progress bar, a Stop
    button and, if given, ``preview(value, element_key)`` of what the job last handed over.

    Returns the value, or None after an ``st.error`` (one of the ``expected`` errors) or when this
    session stopped the job (with a button to start it again). ``keep`` jobs run on unwatched.
    """
    stopped = st.session_state.setdefault(STOPPED_KEY, set())
    while key not in stopped:
        job = jobs().get_or_start(key, label, compute, keep, expected)
        if st.session_state.get(f"stop-{job.id}"):
            stopped.add(key)
            job.stop_unless_watched()
            break
        if not job.done.is_set():
            _watch(job, preview)
        if not job.cancelled:  # cancelled while watched: stopped by another session, so start again
            if job.error is not None:
                st.error(f"**{label} failed:** {job.error}. Change the settings and the page updates.")
                return None
            return job.value
    if st.button(f"Stopped: {label}. Start again", icon=":material/replay:", key=f"restart-{hash(key)}"):
        stopped.discard(key)
        st.rerun()
    return None


# While a job is watched, what the previous run drew below it (the last step's maps and table) is
# hidden, not left greyed out under the progress: the rule lives inside the progress box, so it goes
# with the box once the job is done. Streamlit marks such elements ``data-stale="true"``; the empty
# span keeps the rule in the box (``st.html`` sends style-only HTML to a container of its own).
HIDE_STALE = "<style>.stElementContainer[data-stale='true'] {display: none;}</style><span hidden></span>"


def _watch(job: Job, preview: Callable[[Any, str], None] | None) -> None:
    """Show the job's progress until it is done. A widget change or a closed tab interrupts this
    (Streamlit raises from the next element call); the job then runs on for ``ABANDON_SECONDS``."""
    job.attach()
    placeholder = st.empty()
    box = placeholder.container(border=True)
    try:
        box.html(HIDE_STALE)
        bar = box.progress(job.fraction, text=job.status())
        box.button("Stop this job", key=f"stop-{job.id}", icon=":material/stop_circle:")
        view, shown, text = box.empty(), 0, ""
        while not job.done.wait(POLL_SECONDS):
            if job.status() != text:
                text = job.status()
                bar.progress(job.fraction, text=text)
            if preview is not None and job.preview_version != shown:
                shown = job.preview_version
                with view.container():
                    preview(job.preview_value, f"preview-{job.id}-{shown}")
        placeholder.empty()
    finally:
        job.detach()

