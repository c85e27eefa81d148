"""The app's state as a link: every toy setting and view as URL query parameters.

The parameters use the CLI's flag names and value spellings (``toyood toy --method reject --ood
general --hidden 500,500`` ↔ ``?method=reject&ood=general&hidden=500,500``); several methods are
a comma list (``method=plain,ceda``), as the CLI's batched form. Views add ``halfwidth`` (the
Playground's zoom), ``theta``/``along``/``point`` (Far away), ``colour``/``box``/``focus``/``small-net``
(Linear regions) and the GAN page's ``classifier``, ``start``, ``iterations``, ``beta``. ``SCENARIOS``
are the lecture's links, in order, each with a note saying what to notice.

The data set and K are ``data`` and ``classes`` (``?data=spiral&classes=3``). Own data uploaded in the
app never go into a link: ``data_file`` and ``data_digest`` are set by the app's upload only, and a
link that says ``data=file`` is refused with a message (no visitor can name a file on the server).

``parse_query`` turns query parameters into an ``AppState`` plus a list of problems (one line each:
the parameter, what is accepted, and that the default is shown instead); ``to_query`` writes only
the values that differ from the defaults, so links stay short. Pure Python: no Streamlit.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .device import DEVICES
from .errors import ConfigError
from .gan import CLASSIFIERS, STARTS, GanConfig
from .data import DATASETS, FIXED_CLASSES, MAX_CLASSES
from .data import OOD_SOURCES as OOD_SAMPLERS  # sampled pools; this module's OOD_SOURCES adds gan
from .methods import CEDA_OBJECTIVES, METHODS
from .toy import EXTRA_OOD_LIMIT, MAX_EXTRA_OOD, MAX_SEED, OOD_CHOICES, PRESETS, ToyConfig, parse_points

OOD_SOURCES = tuple(source for source in OOD_CHOICES if source != "none")
SIGMAS = tuple(0.5 * k for k in range(1, 11))
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
WEIGHTS = (0.1, 0.3, 1.0, 3.0, 10.0)
ZOOM_LEVELS = tuple(m * 10**e for e in range(1, 7) for m in (1, 2, 5) if 50 <= m * 10**e <= 10**6)
BOXES = (10, 20, 50, 100, 200)
COLOURINGS = ("region", "confidence", "class")
WALKS = ("direction", "point")
GAN_ITERATIONS = (200, 400, 800, 1200, 2000, 4000, 10000, 20000)
GAN_BETAS = (0.1, 0.3, 1.0, 3.0, 10.0)
COMPARE_DEFAULT = ("plain", "ceda", "reject", "rbf")
SMALL_NET = (32, 32)
POINT_LIMIT = 1000.0
THETA_STEP = 0.5
PRESET_FIELDS = ("epochs", "batch_size", "lr", "acet_steps")  # None: the preset's value
SERVER_ONLY_FIELDS = ("data_file", "data_digest")  # set by the app's upload, never by a link


@dataclass(frozen=True)
class AppState:
    """Everything a link can set. ``None`` means the preset's value (epochs, batch size, lr, ACET steps)."""

    methods: tuple[str, ...] = ("plain",)  # the method, or the methods compared side by side
    compare: bool = False  # several methods side by side
    ood: str = "boundary"  # OOD training source of the methods that need one: boundary, general or gan
    ceda_objective: str = "max_conf"  # CEDA/ACET L_out: max_conf (Hein eq. 2) or uniform
    dataset: str = "gaussians"  # gaussians, moons, rings, spiral, xor, or file (an uploaded CSV)
    classes: int = 2  # K (moons and xor: 2; own data: the file's)
    data_file: str | None = None  # own data: the server's copy of the upload (never from a link)
    data_digest: str | None = None  # own data: the upload's SHA-256
    ood_points: tuple[tuple[float, float], ...] = ()  # OOD training points of the user's own (clicked)
    sigma: float = 1.0  # std of each Gaussian class
    hidden: tuple[int, ...] = (500, 500)  # hidden-layer widths
    leaky: float = 0.0  # leaky-ReLU slope (0 = ReLU)
    preset: str = "interactive"  # epochs, batch size, lr and ACET steps (toyood.toy.PRESETS)
    epochs: int | None = None  # passes over the training data (None: the preset's)
    batch_size: int | None = None  # in-distribution rows per step (None: the preset's)
    lr: float | None = None  # Adam learning rate (None: the preset's)
    weight: float = 1.0  # β of the confidence loss, λ of CEDA/ACET
    acet_eps: float = 2.0  # ACET ℓ∞ attack radius
    acet_steps: int | None = None  # ACET PGD steps (None: the preset's)
    acet_step_size: float = 0.5  # ACET PGD step size
    seed: int = 0  # data, OOD samples, initialisation and batch order
    device: str = "auto"  # auto, cpu, cuda or mps
    halfwidth: int = 50  # Playground: the maps cover [−halfwidth, halfwidth]²
    along: str = "direction"  # Far away: walk along a direction or through a point
    theta: float = 30.0  # Far away: the direction in degrees (0° points at class 1)
    point: tuple[float, float] = (30.0, 20.0)  # Far away: the point x of α·x
    colour: str = "region"  # Linear regions: colour by region, confidence or class
    box: int = 50  # Linear regions: the box half-width
    focus: str | None = None  # Linear regions in compare mode: which method (None: the first)
    small_net: bool = False  # Linear regions: a 2×32 net with the same settings instead
    classifier: str = "confidence"  # GAN page: the classifier trained with the GAN
    start: str = "joint"  # GAN page: joint from scratch or a pre-trained, fixed classifier
    iterations: int = 800  # GAN page: GAN iterations
    beta: float = 1.0  # GAN page: β of the KL terms
    students: bool = False  # hide the advanced controls
    scenario: str | None = None  # the lecture scenario this link opened

    def toy_configs(self) -> dict[str, ToyConfig]:
        """One config per shown method; raises ``ConfigError`` naming every problem."""
        return {method: self.toy_config(method) for method in self.methods}

    def toy_config(self, method: str, hidden: tuple[int, ...] | None = None) -> ToyConfig:
        """The config of ``method`` under these settings. Settings the method does not read keep
        ToyConfig's defaults, so changing, say, the CEDA objective never retrains plain."""
        used = METHODS[method].settings_used()
        ood = self.ood if METHODS[method].needs_ood else "none"
        extra = self.ood_points if ood in OOD_SAMPLERS else ()  # they join a sampled pool only
        options = dict(ood_weight=self.weight, ceda_objective=self.ceda_objective, acet_eps=self.acet_eps,
                       acet_steps=self.acet_steps, acet_step_size=self.acet_step_size)
        own = dict(data_file=self.data_file, data_digest=self.data_digest) if self.dataset == "file" else {}
        return ToyConfig(method=method, ood=ood, extra_ood=extra, sigma=self.sigma, dataset=self.dataset,
                         classes=self.classes, **own,
                         hidden=self.hidden if hidden is None else hidden, negative_slope=self.leaky,
                         preset=self.preset, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                         seed=self.seed, device=self.device,
                         **{name: value for name, value in options.items() if name in used})

    def regions_method(self) -> str:
        """The method whose regions the Linear regions page shows."""
        return self.focus if self.focus in self.methods else self.methods[0]

    def gan_config(self) -> GanConfig:
        """The GAN page's config (snapshots: about 40 per run), on the paper's two Gaussians whatever
        the toy pages' data: the page's animation draws their two 3σ circles (``toyood gan --classes K``
        trains K Gaussian classes)."""
        return GanConfig(classifier=self.classifier, start=self.start, iterations=self.iterations, beta=self.beta,
                         seed=self.seed, sigma=self.sigma, device=self.device,
                         snapshot_every=max(self.iterations // 40, 1))

    def with_compare(self, on: bool) -> "AppState":
        """Compare mode switched on (the current method first, then the usual contrasts) or off
        (the first method alone)."""
        if on and len(self.methods) == 1:
            extra = [m for m in COMPARE_DEFAULT if m != self.methods[0]][:3]
            return dataclasses.replace(self, compare=True, methods=(self.methods[0], *extra))
        return dataclasses.replace(self, compare=on, methods=self.methods if on else self.methods[:1])


# ---------------------------------------------------------------------------------------------
# Lecture scenarios: the story of the app in order, each one link and a note saying what to notice.
# The notes state what the interactive preset shows on the default data (seed 0, σ = 1, 2×500).
@dataclass(frozen=True)
class Scenario:
    """One step of the lecture: ``page`` is the app page's URL path (app.py's ``PAGES``), ``query``
    its parameters."""

    id: str
    title: str
    page: str
    query: dict[str, str]
    note: str

    def link_query(self) -> dict[str, str]:
        """The query parameters of the scenario's link (they name the scenario, so its note shows)."""
        return {**self.query, "scenario": self.id}


_ORDER = (
    Scenario(
        "thm31", "Thm 3.1: a plain ReLU net is sure of itself everywhere far away", "playground",
        {"method": "plain", "halfwidth": "1000000"},
        "Zoomed out to 10⁶ the data is a dot in the middle, yet almost the whole plane has confidence 1: "
        "the net is affine on its unbounded regions, so its logits grow linearly and the softmax saturates. "
        "Zoom back in: even inside [−50, 50]² about 98% of the far test points get confidence ≥ 0.99."),
    Scenario(
        "any-data", "Any data, same theorem: three spiral arms", "playground",
        {"data": "spiral", "classes": "3", "method": "plain,reject", "halfwidth": "1000000"},
        "Thm 3.1 assumes nothing about the data. On three spiral arms the plain net fits the arms only to about "
        "90% test accuracy, yet zoomed out to 10⁶ it is certain of one arm everywhere: every direction's limit "
        "is confidence 1, and about 98% of the far test points in the box already get ≥ 0.99. The reject class "
        "rejects every far test point and every direction, at a price on the data: about 82% test accuracy."),
    Scenario(
        "boundary", "Confidence loss vs reject class, trained on boundary samples (Vernekar Fig. 3)", "playground",
        {"method": "confidence,reject", "ood": "boundary"},
        "The confidence loss is unsure only in a thin band around the data, where its samples lie: beyond "
        "the annulus it is confident again (about 45% of far test points ≥ 0.99). The reject class "
        "rejects almost everything away from the data — far away its reject logit is the one that wins."),
    Scenario(
        "general", "The same with general OOD samples, and why it fails beyond the box", "playground",
        {"method": "confidence,reject", "ood": "general", "halfwidth": "1000"},
        "Samples spread over [−50, 50]² make the confidence loss unsure inside the box (drawn in black), but "
        "outside it — where no sample ever was — the confidence climbs back to 1: scaling a far test "
        "point by about 20 is enough to reach 0.999. The reject class keeps rejecting out there."),
    Scenario(
        "ceda-acet", "CEDA vs ACET (Hein et al.)", "playground",
        {"method": "ceda,acet", "ood": "general", "ceda-objective": "uniform"},
        "With L_out = cross-entropy to uniform labels both are unsure in the box, and ACET's adversarial "
        "moves add little on this toy. Switch the objective to max_conf (Hein eq. 2): its gradient "
        "1 − p_max vanishes on the far samples, and both become as confident as the plain net."),
    Scenario(
        "dismax", "DisMax: distances instead of affine logits", "playground",
        {"method": "plain,dismax", "halfwidth": "1000000"},
        "DisMax's logits are distances to class prototypes, not affine maps, so its confidence does not "
        "go to 1 far away: it stays near 0.67 even at 10⁶. It is also only about 0.71 on the data "
        "itself — compare MMC in-dist. and AUROC in the table."),
    Scenario(
        "rbf", "The RBF contrast (Thm 3.2)", "far-away",
        {"method": "plain,rbf"},
        "Walk out along a direction: the plain ReLU net reaches confidence 1 and stays there, the RBF "
        "network's logits all decay to 0 and its confidence falls to 1/K = 0.5 in every direction."),
    Scenario(
        "gan", "The GAN's boundary samples (Lee et al., Vernekar Sec. 5.2)", "gan",
        {},
        "Press ▶: the generated samples (magenta) move towards the data and where the classifier is unsure, "
        "but trained jointly from scratch they cover little of the 3σ circles (the coverage curve below stays "
        "under about 20%), and the final classifier is still ≥ 0.99 sure on about half of the far test points."),
)
SCENARIOS: dict[str, Scenario] = {scenario.id: scenario for scenario in _ORDER}


def next_scenario(scenario_id: str) -> Scenario | None:
    """The scenario after ``scenario_id`` in the lecture, or None after the last."""
    ids = list(SCENARIOS)
    position = ids.index(scenario_id) + 1
    return SCENARIOS[ids[position]] if position < len(ids) else None


# ---------------------------------------------------------------------------------------------
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


def method_list(text: str) -> tuple[str, ...]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in METHODS]
    if not names or unknown:
        raise ValueError(f"unknown method {', '.join(map(repr, unknown)) or '(none)'}; "
                         f"use one or more of {', '.join(METHODS)}, separated by commas")
    return tuple(dict.fromkeys(names))


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
    Param("leaky", "leaky", in_range(0, 1, high_open=True), _text_number),
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
    Param("halfwidth", "halfwidth", on_grid(ZOOM_LEVELS, whole=True), _text_number),
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
    Param("students", "students", flag, lambda v: "1" if v else "0"),
    Param("scenario", "scenario", scenario_id),
)
PARAM_BY_NAME = {param.name: param for param in PARAMS}
DEFAULT = AppState()


def _last(value) -> str:
    """st.query_params and urllib give a string or a list of strings (repeated keys): the last wins."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


def _showing(param: Param, value) -> str:
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
    state = _check_classes(state, problems)
    return _check_focus(state, problems)


def _check_classes(state: AppState, problems: list[str]) -> AppState:
    """moons and xor have two classes: a link asking for more says so and shows two."""
    fixed = FIXED_CLASSES.get(state.dataset)
    if fixed is not None and state.classes != fixed:
        problems.append(f"`classes={state.classes}`: {state.dataset} has {fixed} classes; showing classes={fixed}")
        state = dataclasses.replace(state, classes=fixed)
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


def preset_value(state: AppState, field: str):
    """A preset-backed setting's value: the state's own, else its preset's."""
    value = getattr(state, field)
    return PRESETS[state.preset][field] if value is None else value


def without_preset_values(state: AppState) -> AppState:
    """``state`` with the settings that equal their preset's value set to None (the same model,
    and a link that keeps following the preset)."""
    same = {field: None for field in PRESET_FIELDS if getattr(state, field) == PRESETS[state.preset][field]}
    return dataclasses.replace(state, **same)


def active_scenario(state: AppState) -> Scenario | None:
    """The scenario the state was opened as, while every setting its link names is unchanged."""
    if state.scenario is None:
        return None
    scenario = SCENARIOS[state.scenario]
    expected, current = to_query(parse_query(scenario.query)[0]), to_query(state)
    return scenario if all(current.get(name) == expected.get(name) for name in scenario.query) else None


def check_configs(state: AppState) -> str | None:
    """None when every shown method can be trained under ``state``, else the reason (one line)."""
    try:
        state.toy_configs()
    except ConfigError as error:
        return str(error)
    return None
