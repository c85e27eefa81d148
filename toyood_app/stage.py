"""The lecture on a projector (Streamlit): each step's note with its Next link, the numbers the note
talks about as large figures beside the maps, and the page style that keeps a step on one screen
(maps square and as large as the window allows; the presentation layout's larger text)."""
from __future__ import annotations

import streamlit as st

from toyood.toy import ToyRun, with_temperature

from .labels import GAN_LABELS, IMAGE_LABELS, METRIC_LABELS, metric_text
from .lecture import SCENARIOS, Scenario, next_scenario, temperature_key
from .link import DEFAULT, PARAM_BY_NAME, active_scenario, explored
from .session import page_for, state
from .training import metrics_of

# Maps live in containers keyed "map-…" (``charts.map_chart``): square, as wide as their column, and
# never taller than the window less the note above them.
ALL_LABELS = {**METRIC_LABELS, **GAN_LABELS, **IMAGE_LABELS}
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"] {padding: 2.5rem 1.5rem 2rem 1.5rem;}
[class*="st-key-map-"] {aspect-ratio: 1 / 1; width: 100%; max-height: calc(100vh - 16rem); min-height: 260px;}
.st-key-step-numbers [data-testid="stMetricValue"] {font-size: 1.7rem;}
</style>"""
PRESENT_CSS = """<style>
html {font-size: 19px;}
</style>"""


def page_style() -> None:
    """The app's style for this run (the presentation layout's when ``present`` is on)."""
    st.html(PAGE_CSS + (PRESENT_CSS if state().present else ""))


def current_step(page_path: str) -> Scenario | None:
    """The lecture step this view shows on ``page_path``, if any."""
    scenario = active_scenario(state())
    return scenario if scenario is not None and scenario.page == page_path else None


def intro(page_path: str, title: str, caption: str) -> Scenario | None:
    """The page's title and caption, unless a lecture step is shown (its note says what to see, and
    the map gets the room); returns the step."""
    scenario = current_step(page_path)
    if scenario is None:
        st.title(title)
        st.caption(caption)
    return scenario


class StepHeader:
    """The top of a view: the lecture step's note (with its live numbers and what the reader has
    changed as it asks), then one row with the link to the next step, the numbers the note talks
    about as large figures, and the page's view controls. Make it, draw the controls into ``row``,
    then ``fill`` it: the note then sees the values the controls have just written."""

    LEAD_SLOTS = 4  # the Next link and at most three numbers, ahead of the controls in the row

    def __init__(self):
        self.note = st.empty()
        self.row = st.container(horizontal=True, vertical_alignment="bottom", gap="small", key="step-numbers")
        self.lead = [self.row.empty() for _ in range(self.LEAD_SLOTS)]

    def fill(self, page_path: str, runs: dict[str, ToyRun] | None = None, figures: dict | None = None) -> None:
        """Draw the step of ``page_path`` if this view shows one. ``figures``: method → metric → text,
        when the page has them already (else computed from ``runs``)."""
        scenario = current_step(page_path)
        if scenario is None:
            return
        if figures is None:
            figures = _temperature_figures(scenario, runs or {}) if scenario.temperatures else _figures(runs or {})
        number = list(SCENARIOS).index(scenario.id) + 1
        self.note.info(f"**Step {number} of {len(SCENARIOS)}: {scenario.title}.** {scenario.text(figures)}"
                       f"{_changed(scenario)}", icon=":material/school:")
        slots = iter(self.lead)
        following = next_scenario(scenario.id)
        if following is not None:
            next(slots).page_link(page_for(following), label=f"Next: step {number + 1}",
                                  icon=":material/arrow_forward:", query_params=following.link_query(),
                                  help=following.title, width="content")
        for key, slot in zip(scenario.numbers if figures else (), slots):
            methods = [m for m in figures if key in figures[m]]
            slot.metric(ALL_LABELS[key] + (f" ({' · '.join(methods)})" if len(figures) > 1 else ""),
                        " · ".join(figures[m][key] for m in methods), width="content")


def _figures(runs: dict[str, ToyRun]) -> dict[str, dict[str, str]]:
    """Every metric of each run as shown (``labels.metric_text``), by method; computed once per run."""
    figures = {}
    for method, run in runs.items():
        values = metrics_of(run)
        if values is not None:
            figures[method] = {key: metric_text(key, values.get(key)) for key in METRIC_LABELS}
    return figures


def _changed(scenario: Scenario) -> str:
    """' (You changed …)' for the settings the reader changed as the note asks, else ''."""
    changed = explored(state(), scenario)
    if not changed:
        return ""
    link = ", ".join(f"{name}={scenario.query.get(name, _default(name))}" for name in changed)
    return f" *(You changed {', '.join(f'`{name}`' for name in changed)}; the step's link has {link}.)*"


def _default(name: str) -> str:
    param = PARAM_BY_NAME[name]
    return param.write(getattr(DEFAULT, param.field))


def _temperature_figures(scenario: Scenario, runs: dict[str, ToyRun]) -> dict[str, dict[str, str]]:
    """The step's first run read at each of its temperatures (and at the sidebar's T, when that is
    another), by ``temperature_key``: the same weights, logits / T (``toyood.toy.with_temperature``)."""
    if not runs:
        return {}
    run = next(iter(runs.values()))
    temperatures = dict.fromkeys((*scenario.temperatures, run.config.temperature))
    return {temperature_key(t): figures for t in temperatures
            for figures in _figures({"run": with_temperature(run, t)}).values()}
