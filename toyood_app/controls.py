"""Page controls that two pages share (Streamlit): which compared method's net to show, the small
net instead of the Playground's, and how a region map is coloured. Each page gives its widgets a
key suffix of its own: a widget left in the session by the other page would answer its default."""
from __future__ import annotations

import streamlit as st

from toyood.models import piecewise_affine_layers
from toyood.toy import ToyRun, with_temperature

from .labels import COLOUR_LABELS, method_label
from .session import state, widget
from .state import COLOURINGS, SMALL_NET, auto_colouring


def focus_control(container, label: str, width: int) -> None:
    """In compare mode: the method whose net the page shows (``focus`` in the link; None = the first)."""
    current = state()
    if not (current.compare and current.methods):
        return
    first = current.methods[0]
    widget("focus", lambda key: container.selectbox(label, current.methods, key=key, width=width,
                                                    format_func=method_label),
           shown=lambda v: v if v in current.methods else first, stored=lambda v: None if v == first else v,
           options=current.methods)


def colour_control(container, label: str = "Colour", suffix: str = "") -> str:
    """How the region map is coloured: by region, confidence or predicted class (by default by region
    for a small net, by confidence for a big one: ``state.auto_colouring``)."""
    current = state()
    auto = auto_colouring(SMALL_NET if current.small_net else current.hidden)
    return widget("colour", lambda key: container.segmented_control(
        label, COLOURINGS, key=key, required=True, format_func=COLOUR_LABELS.get), suffix=suffix,
        shown=lambda v: v or auto, stored=lambda v: None if v == auto else v) or auto


def small_net_toggle(why: str, suffix: str = "") -> bool:
    """A 2×32 net with the same settings instead of the Playground's net."""
    return widget("small_net", lambda key: st.toggle(
        f"A small {'×'.join(map(str, SMALL_NET))} net with the same settings instead", key=key, help=why),
        suffix=suffix)


def at_temperature(runs: dict[str, ToyRun]) -> dict[str, ToyRun]:
    """Each trained run read at the state's temperature T (``toyood.toy.with_temperature``: the same
    weights, logits / T, no retraining); the config then names T, so every cached view and metric
    keyed by the config is T's own."""
    temperature = state().temperature
    return {method: run if run.config.temperature == temperature else with_temperature(run, temperature)
            for method, run in runs.items()}


def not_piecewise_affine(run: ToyRun) -> str | None:
    """None when the run's net is piecewise affine (ReLU, leaky; DisMax's body), else the library's
    one-line reason (``toyood.models.piecewise_affine_layers`` refuses tanh and sigmoid nets)."""
    try:
        piecewise_affine_layers(run.model)
    except ValueError as error:
        return str(error)
    return None
