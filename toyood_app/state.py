"""The app's state: every toy setting and view, as one frozen dataclass (pure Python: no Streamlit).

``AppState`` is what a link can set (``toyood_app.link`` reads and writes it as URL query
parameters, with the CLI's flag names). Settings left as None follow the preset. The state builds
the library's configs: ``toy_config`` for a method, ``gan_config`` for the GAN page.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from toyood.errors import ConfigError
from toyood.gan import GanConfig
from toyood.data import OOD_SOURCES as OOD_SAMPLERS  # sampled pools; this module's OOD_SOURCES adds gan
from toyood.methods import METHODS
from toyood.models import MAX_NEGATIVE_SLOPE, PIECEWISE_AFFINE
from toyood.toy import OOD_CHOICES, PRESETS, ToyConfig

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
TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)  # a log scale
LEAKY_DEFAULT = 0.1  # the slope a leaky net gets when none is set
LEAKY_MAX = MAX_NEGATIVE_SLOPE  # the largest leaky slope a link or the sidebar's slope input accepts: [0, LEAKY_MAX]
TIMELINE_SNAPSHOTS = 20  # Playground: nets kept over training (fewer when there are fewer epochs)
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
    activation: str = "relu"  # hidden activation: relu, leaky (slope ``leaky``), tanh or sigmoid
    temperature: float = 1.0  # T: every confidence and metric uses logits / T (applied after training)
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
    attack: bool = False  # Playground: draw the far test points moved by the attack (toyood.attack)
    score: str | None = None  # Playground: the map's and the metrics' score (None: each method's own)
    timeline: int | None = None  # Playground: the training snapshot shown (index; None: the trained net)
    along: str = "direction"  # Far away: walk along a direction or through a point
    theta: float = 30.0  # Far away: the direction in degrees (0° points at class 1)
    point: tuple[float, float] = (30.0, 20.0)  # Far away: the point x of α·x
    colour: str | None = None  # Linear regions: by region, confidence or class (None: ``auto_colouring``)
    box: int = 50  # Linear regions: the box half-width
    focus: str | None = None  # Linear regions in compare mode: which method (None: the first)
    small_net: bool = False  # Linear regions: a 2×32 net with the same settings instead
    classifier: str = "confidence"  # GAN page: the classifier trained with the GAN
    start: str = "joint"  # GAN page: joint from scratch or a pre-trained, fixed classifier
    iterations: int = 800  # GAN page: GAN iterations
    beta: float | None = None  # GAN page: β of the KL terms (None: the classifier's default, gan.DEFAULT_BETA)
    generator: str = "lee"  # GAN page: G's loss, Lee's eq. (2) or a plain GAN (no KL term)
    students: bool = False  # hide the advanced controls
    present: bool = False  # presentation layout: sidebar collapsed, larger text, one screen per view
    bench_dataset: str = "mnist"  # Image benchmark: the in-distribution data set
    bench_methods: tuple[str, ...] = ("plain", "ceda", "acet")  # Image benchmark: the methods shown
    bench_preset: str = "demo"  # Image benchmark: toyood.images.benchmark.PRESETS
    bench_seed: int = 0  # Image benchmark: the run's seed
    bench_run: str | None = None  # Image benchmark: a stored run by name (None: the one matching the settings)
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
                         hidden=self.hidden if hidden is None else hidden, **self._activation(method),
                         preset=self.preset, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                         seed=self.seed, device=self.device,
                         **{name: value for name, value in options.items() if name in used})

    def _activation(self, method: str) -> dict:
        """The hidden activation and slope a method's net gets (RBF has none: relu, no slope)."""
        if method == "rbf":
            return dict(activation="relu", negative_slope=0.0)
        slope = self.leaky if self.activation in PIECEWISE_AFFINE else 0.0
        return dict(activation=self.activation, negative_slope=slope)

    def regions_method(self) -> str:
        """The method whose regions the Linear regions page shows."""
        return self.focus if self.focus in self.methods else self.methods[0]

    def gan_config(self) -> GanConfig:
        """The GAN page's config (snapshots: about 40 per run), on the paper's two Gaussians whatever
        the toy pages' data: the page's animation draws their two 3σ circles (``toyood gan --classes K``
        trains K Gaussian classes)."""
        return GanConfig(classifier=self.classifier, start=self.start, iterations=self.iterations, beta=self.beta, generator=self.generator,
                         seed=self.seed, sigma=self.sigma, device=self.device,
                         snapshot_every=max(self.iterations // 40, 1))

    def with_compare(self, on: bool) -> "AppState":
        """Compare mode switched on (the current method first, then the usual contrasts) or off
        (the first method alone)."""
        if on and len(self.methods) == 1:
            extra = [m for m in COMPARE_DEFAULT if m != self.methods[0]][:3]
            return dataclasses.replace(self, compare=True, methods=(self.methods[0], *extra))
        return dataclasses.replace(self, compare=on, methods=self.methods if on else self.methods[:1])


REGION_COLOURS_UP_TO = 128  # hidden neurons: a bigger net's regions, each its own colour, read as noise


def auto_colouring(hidden: tuple[int, ...]) -> str:
    """A region map's default colouring: each region its own colour for small nets, else by confidence
    (a 2×500 net's 340,000 regions in their own colours are noise to a reader)."""
    return "region" if sum(hidden) <= REGION_COLOURS_UP_TO else "confidence"


def preset_value(state: AppState, field: str):
    """A preset-backed setting's value: the state's own, else its preset's."""
    value = getattr(state, field)
    return PRESETS[state.preset][field] if value is None else value


def without_preset_values(state: AppState) -> AppState:
    """``state`` with the settings that equal their preset's value set to None (the same model,
    and a link that keeps following the preset)."""
    same = {field: None for field in PRESET_FIELDS if getattr(state, field) == PRESETS[state.preset][field]}
    return dataclasses.replace(state, **same)


def check_configs(state: AppState) -> str | None:
    """None when every shown method can be trained under ``state``, else the reason (one line)."""
    try:
        state.toy_configs()
    except ConfigError as error:
        return str(error)
    return None
