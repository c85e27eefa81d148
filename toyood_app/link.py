"""The app's state as a link: every toy setting and view as URL query parameters (pure Python).

The parameters use the CLI's flag names and value spellings (``toyood toy --method reject --ood
general --hidden 500,500`` ↔ ``?method=reject&ood=general&hidden=500,500``); several methods are
a comma list (``method=plain,ceda``), as the CLI's batched form. Views add ``halfwidth`` (the
Playground's zoom), ``theta``/``along``/``point`` (Far away), ``colour``/``box``/``focus``/``small-net``
(Linear regions) and the GAN page's ``classifier``, ``start``, ``iterations``, ``beta``; ``scenario``
names the lecture step (``toyood_app.lecture``) a link opens.

The data set and K are ``data`` and ``classes`` (``?data=spiral&classes=3``). Own data uploaded in the
app never go into a link: ``data_file`` and ``data_digest`` are set by the app's upload only, and a
link that says ``data=file`` is refused with a message (no visitor can name a file on the server).

``PARAMS`` is one declarative table (name, field, reader, writer). ``parse_query`` turns query
parameters into an ``AppState`` plus a list of problems (one line each: the parameter, what is
accepted, and that the default is shown instead); ``to_query`` writes only the values that differ
from the defaults, so links stay short.
"""
from __future__ import annotations

import dataclasses
import math
import string
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from toyood.data import DATASETS, FIXED_CLASSES, MAX_CLASSES
from toyood.device import DEVICES
from toyood.gan import CLASSIFIERS, GENERATORS, STARTS
from toyood.images.benchmark import IMAGE_METHODS, OOD_SETS
from toyood.images.benchmark import PRESETS as BENCH_PRESETS
from toyood.methods import CEDA_OBJECTIVES, METHODS
from toyood.models import ACTIVATIONS
from toyood.scores import SCORES
from toyood.toy import EXTRA_OOD_LIMIT, MAX_EXTRA_OOD, MAX_SEED, PRESETS, parse_points

from .lecture import SCENARIOS, Scenario
from .state import (BOXES, COLOURINGS, GAN_BETAS, GAN_ITERATIONS, LEAKY_DEFAULT, LEAKY_MAX, LEARNING_RATES, OOD_SOURCES,
                    POINT_LIMIT, PRESET_FIELDS, SIGMAS, TEMPERATURES, THETA_STEP, TIMELINE_SNAPSHOTS, WALKS, WEIGHTS,
                    ZOOM_LEVELS, AppState, without_preset_values)

# Reading and writing single values


def _text_number(value: float) -> str:
    """1.0 → '1', 1000000 → '1000000', 0.001 → '0.001'."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _whole(text: str) -> int:
    value = _number(text)
    if not value.is_integer():
        raise ValueError("expected a whole number")
    return int(value)


def choice(options: tuple) -> Callable[[str], str]:
    def read(text: str) -> str:
        if text not in options:
            raise ValueError(f"choose one of {', '.join(options)}")
        return text
    return read


def on_grid(options: tuple, whole: bool = False) -> Callable[[str], float]:
    """A number that must be one of ``options`` (the values the app's slider offers)."""
    def read(text: str) -> float:
        value = _number(text)
        for option in options:
            if math.isclose(value, option, rel_tol=1e-9):
                return int(option) if whole else float(option)
        raise ValueError(f"choose one of {', '.join(_text_number(o) for o in options)}")
    return read


def in_range(low: float, high: float, whole: bool = False, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """A number in [low, high] (or with an open end); whole numbers only when ``whole``."""
    def read(text: str) -> float:
        value = _whole(text) if whole else _number(text)
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            ends = f"{'(' if low_open else '['}{_text_number(low)}, {_text_number(high)}{')' if high_open else ']'}"
            raise ValueError(f"expected a {'whole ' if whole else ''}number in {ends}")
        return value
    return read


def flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1 or 0")


def names_of(options, what: str) -> Callable[[str], tuple[str, ...]]:
    """A comma list of ``options`` (repeats dropped), e.g. 'plain,ceda'; ``what`` names them in a problem."""
    def read(text: str) -> tuple[str, ...]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in names if name not in options]
        if not names or unknown:
            raise ValueError(f"unknown {what} {', '.join(map(repr, unknown)) or '(none)'}; "
                             f"use one or more of {', '.join(options)}, separated by commas")
        return tuple(dict.fromkeys(names))
    return read


method_list = names_of(METHODS, "method")
image_methods = names_of(IMAGE_METHODS, "image method")


def widths(text: str) -> tuple[int, ...]:
    """'500,500' → (500, 500): 1 to 6 layers of width 1 to 4096 (``ToyConfig``'s limits)."""
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    if not text.strip() or not all(part.isdigit() for part in parts):
        raise ValueError("expected widths separated by commas, e.g. 500,500")
    values = tuple(int(part) for part in parts)
    if not 1 <= len(values) <= 6 or not all(1 <= w <= 4096 for w in values):
        raise ValueError("use 1 to 6 hidden layers of width 1 to 4096, e.g. 500,500")
    return values


def point(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError("expected two numbers x,y, e.g. 30,20")
    x, y = (in_range(-POINT_LIMIT, POINT_LIMIT)(part) for part in parts)
    if x == 0 and y == 0:
        raise ValueError("the origin stays at the origin for every α: pick another point")
    return float(x), float(y)


def point_list(text: str) -> tuple[tuple[float, float], ...]:
    """``toy.parse_points``, each coordinate within ±EXTRA_OOD_LIMIT, at most MAX_EXTRA_OOD points,
    repeats dropped (a link is tidied, not refused, for those)."""
    points = parse_points(text)
    if any(abs(v) > EXTRA_OOD_LIMIT for point in points for v in point):
        raise ValueError(f"expected coordinates in [{_text_number(-EXTRA_OOD_LIMIT)}, {_text_number(EXTRA_OOD_LIMIT)}]")
    if len(points) > MAX_EXTRA_OOD:
        raise ValueError(f"at most {MAX_EXTRA_OOD} points")
    return tuple(dict.fromkeys(points))


def _write_points(points) -> str:
    return ";".join(f"{_text_number(x)}:{_text_number(y)}" for x, y in points)


def theta(text: str) -> float:
    value = in_range(0, 360, high_open=True)(text)
    if not math.isclose(value / THETA_STEP, round(value / THETA_STEP), abs_tol=1e-9):
        raise ValueError(f"expected degrees in steps of {THETA_STEP:g}")
    return float(value)


def dataset_name(text: str) -> str:
    """A data set a link can name: not 'file' (uploaded data stay on the server that holds them)."""
    if text == "file":
        raise ValueError("own data cannot travel in a link: upload the CSV on the page")
    return choice(DATASETS)(text)


RUN_NAME_CHARACTERS = set(string.ascii_lowercase + string.digits)


def run_name(text: str) -> str:
    """A stored run's folder name (``<dataset>-<preset>-seed<seed>``): checked against the runs on the page."""
    words = text.split("-")  # lowercase letters and digits, joined by single hyphens (no regex: see test_architecture_app)
    if len(text) > 80 or not all(word and set(word) <= RUN_NAME_CHARACTERS for word in words):
        raise ValueError("expected a stored run's name, e.g. mnist-demo-seed0")
    return text


def scenario_id(text: str) -> str:
    if text not in SCENARIOS:
        raise ValueError(f"choose one of {', '.join(SCENARIOS)}")
    return text


# ---------------------------------------------------------------------------------------------
# The parameters


@dataclass(frozen=True)
class Param:
    """One query parameter: its name (the CLI flag without the dashes), the AppState field it sets,
    how its text is read (ValueError saying what is accepted) and how a value is written."""

    name: str
    field: str
    read: Callable[[str], Any]
    write: Callable[[Any], str] = str


def _write_list(values) -> str:
    return ",".join(str(v) for v in values)


def _write_point(value) -> str:
    return ",".join(_text_number(v) for v in value)


PARAMS = (
    Param("method", "methods", method_list, _write_list),
    Param("compare", "compare", flag, lambda v: "1" if v else "0"),
    Param("ood", "ood", choice(OOD_SOURCES)),
    Param("ceda-objective", "ceda_objective", choice(CEDA_OBJECTIVES)),
    Param("data", "dataset", dataset_name),
    Param("classes", "classes", in_range(2, MAX_CLASSES, whole=True), _text_number),
    Param("ood-points", "ood_points", point_list, _write_points),
    Param("sigma", "sigma", on_grid(SIGMAS), _text_number),
    Param("hidden", "hidden", widths, _write_list),
    Param("leaky", "leaky", in_range(0, LEAKY_MAX), _text_number),
    Param("activation", "activation", choice(ACTIVATIONS)),
    Param("preset", "preset", choice(tuple(PRESETS))),
    Param("epochs", "epochs", in_range(1, 5000, whole=True), _text_number),
    Param("batch-size", "batch_size", in_range(1, 4096, whole=True), _text_number),
    Param("lr", "lr", on_grid(LEARNING_RATES), _text_number),
    Param("weight", "weight", on_grid(WEIGHTS), _text_number),
    Param("acet-eps", "acet_eps", in_range(0, 100, low_open=True), _text_number),
    Param("acet-steps", "acet_steps", in_range(1, 200, whole=True), _text_number),
    Param("acet-step-size", "acet_step_size", in_range(0, 100, low_open=True), _text_number),
    Param("seed", "seed", in_range(0, MAX_SEED, whole=True, high_open=True), _text_number),
    Param("device", "device", choice(DEVICES)),
    Param("temperature", "temperature", on_grid(TEMPERATURES), _text_number),
    Param("halfwidth", "halfwidth", on_grid(ZOOM_LEVELS, whole=True), _text_number),
    Param("attack", "attack", flag, lambda v: "1" if v else "0"),
    Param("score", "score", choice(SCORES)),
    Param("timeline", "timeline", in_range(0, TIMELINE_SNAPSHOTS - 1, whole=True), _text_number),
    Param("along", "along", choice(WALKS)),
    Param("theta", "theta", theta, _text_number),
    Param("point", "point", point, _write_point),
    Param("colour", "colour", choice(COLOURINGS)),
    Param("box", "box", on_grid(BOXES, whole=True), _text_number),
    Param("focus", "focus", choice(tuple(METHODS))),
    Param("small-net", "small_net", flag, lambda v: "1" if v else "0"),
    Param("classifier", "classifier", choice(CLASSIFIERS)),
    Param("start", "start", choice(STARTS)),
    Param("iterations", "iterations", on_grid(GAN_ITERATIONS, whole=True), _text_number),
    Param("beta", "beta", on_grid(GAN_BETAS), _text_number),
    Param("generator", "generator", choice(GENERATORS)),
    Param("students", "students", flag, lambda v: "1" if v else "0"),
    Param("present", "present", flag, lambda v: "1" if v else "0"),
    Param("bench-dataset", "bench_dataset", choice(tuple(OOD_SETS))),
    Param("bench-methods", "bench_methods", image_methods, _write_list),
    Param("bench-preset", "bench_preset", choice(tuple(BENCH_PRESETS))),
    Param("bench-seed", "bench_seed", in_range(0, MAX_SEED, whole=True, high_open=True), _text_number),
    Param("bench-run", "bench_run", run_name),
    Param("scenario", "scenario", scenario_id),
)
PARAM_BY_NAME = {param.name: param for param in PARAMS}
DEFAULT = AppState()


def _last(value) -> str:
    """st.query_params and urllib give a string or a list of strings (repeated keys): the last wins."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


NONE_SHOWS = {"score": "each method's own score", "timeline": "the trained net",  # what None shows, per field
              "colour": "the net's default colouring (by region up to 128 neurons, else by confidence)",
              "beta": "the classifier's default β", "bench_run": "the stored run the settings describe"}


def _showing(param: Param, value) -> str:
    if value is None and param.field in NONE_SHOWS:
        return f"showing {NONE_SHOWS[param.field]} instead"
    if value is None:
        return "showing the preset's value instead" if param.field in PRESET_FIELDS else "ignored"
    return f"showing {param.name}={param.write(value)} instead"


def parse_query(params: Mapping[str, Any], base: AppState = DEFAULT) -> tuple[AppState, list[str]]:
    """The state a link describes (``base`` for what it leaves out) and one line per problem; a
    parameter with a bad value keeps ``base``'s value."""
    values, problems = {}, []
    for name, raw in params.items():
        param, text = PARAM_BY_NAME.get(name), _last(raw).strip()
        if param is None:
            problems.append(f"`{name}` is not a setting of this app; ignored")
            continue
        try:
            values[param.field] = param.read(text)
        except ValueError as error:
            problems.append(f"`{name}={text}`: {error}; {_showing(param, getattr(base, param.field))}")
    if "compare" not in values and "methods" in values:
        values["compare"] = len(values["methods"]) > 1
    state = without_preset_values(dataclasses.replace(base, **values))
    if not state.compare and len(state.methods) > 1:
        problems.append(f"`compare=0` shows one method: showing {state.methods[0]}")
        state = dataclasses.replace(state, methods=state.methods[:1])
    state = _check_classes(_check_activation(state, "activation" in values, problems), problems)
    return _check_focus(state, problems)


def _check_classes(state: AppState, problems: list[str]) -> AppState:
    """moons and xor have two classes: a link asking for more says so and shows two."""
    fixed = FIXED_CLASSES.get(state.dataset)
    if fixed is not None and state.classes != fixed:
        problems.append(f"`classes={state.classes}`: {state.dataset} has {fixed} classes; showing classes={fixed}")
        state = dataclasses.replace(state, classes=fixed)
    return state


def _check_activation(state: AppState, named: bool, problems: list[str]) -> AppState:
    """A slope alone (``leaky=0.1``, the links before ``activation``) means a leaky net; a slope with
    tanh, sigmoid or relu named is dropped, and ``activation=leaky`` without one gets LEAKY_DEFAULT."""
    if state.leaky and state.activation == "relu" and not named:
        return dataclasses.replace(state, activation="leaky")
    if state.leaky and state.activation != "leaky":
        problems.append(f"`leaky={_text_number(state.leaky)}`: a slope applies to leaky nets only, not "
                        f"{state.activation}; ignored")
        return dataclasses.replace(state, leaky=0.0)
    if state.activation == "leaky" and not state.leaky:
        problems.append(f"`activation=leaky` needs a slope in (0, {_text_number(LEAKY_MAX)}]; showing leaky={_text_number(LEAKY_DEFAULT)}")
        return dataclasses.replace(state, leaky=LEAKY_DEFAULT)
    return state


def _check_focus(state: AppState, problems: list[str]) -> tuple[AppState, list[str]]:
    if state.focus is not None and state.focus not in state.methods:
        problems.append(f"`focus={state.focus}` is not one of the methods shown ({', '.join(state.methods)}); "
                        f"showing {state.methods[0]}")
        state = dataclasses.replace(state, focus=None)
    return state, problems


def to_query(state: AppState) -> dict[str, str]:
    """The query parameters of ``state``: only values that differ from the defaults, in PARAMS order
    (``compare`` only when it does not follow from the number of methods)."""
    query = {}
    for param in PARAMS:
        value = getattr(state, param.field)
        if state.dataset == "file" and param.field in ("dataset", "classes"):
            continue  # an upload stays on the server: the link shows the default data
        if value is None or value == getattr(DEFAULT, param.field):
            continue
        if param.name == "compare" and value == (len(state.methods) > 1):
            continue
        query[param.name] = param.write(value)
    return query


def active_scenario(state: AppState) -> Scenario | None:
    """The scenario the state was opened as, while every setting its link names is unchanged, except
    those its note asks the reader to change (``Scenario.explores``)."""
    if state.scenario is None:
        return None
    scenario = SCENARIOS[state.scenario]
    expected, current = to_query(parse_query(scenario.query)[0]), to_query(state)
    fixed = [name for name in scenario.query if name not in scenario.explores]
    return scenario if all(current.get(name) == expected.get(name) for name in fixed) else None


def explored(state: AppState, scenario: Scenario) -> list[str]:
    """The parameters of the scenario's link that the reader has changed as its note asks."""
    expected, current = to_query(parse_query(scenario.query)[0]), to_query(state)
    return [name for name in scenario.explores if current.get(name) != expected.get(name)]
