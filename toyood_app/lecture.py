"""The lecture: the app's story in order, each step one link and a note saying what to notice.

The notes state what the interactive preset shows on the default data (seed 0, σ = 1, 2×500).
Pure data: ``toyood_app.link.active_scenario`` says which step a state still shows.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One step of the lecture: ``page`` is the app page's URL path (app.py's ``PAGES``), ``query``
    its parameters, ``numbers`` the metric keys (``toyood.evaluate.toy_metrics``) its note talks about,
    shown large beside the maps, and ``explores`` the parameters the note asks the reader to change
    (the step and its note stay while only those differ). ``temperatures``: the step's first method
    read at these T as well, its figures under ``temperature_key(T)`` (``{T=10[metric]}`` in the note)."""

    id: str
    title: str
    page: str
    query: dict[str, str]
    note: str
    numbers: tuple[str, ...] = ()
    explores: tuple[str, ...] = ()
    temperatures: tuple[float, ...] = ()

    def text(self, values: dict[str, dict[str, str]]) -> str:
        """The note with its live numbers: ``{method[metric]}`` fields filled from ``values``
        (method → metric key → the figure as shown; '…' while one is not computed)."""
        return self.note.format_map(_Pending(values))

    def link_query(self) -> dict[str, str]:
        """The query parameters of the scenario's link (they name the scenario, so its note shows)."""
        return {**self.query, "scenario": self.id}


def temperature_key(temperature: float) -> str:
    """The name of a run's figures at temperature T in a note: 'T=10', 'T=1/10' (no '.' in a field name)."""
    return f"T={temperature:g}" if temperature >= 1 else f"T=1/{1 / temperature:g}"


class _Pending(dict):
    """Figures by method and metric; a missing one reads '…'."""

    def __getitem__(self, method):
        figures = super().get(method)
        return collections.defaultdict(lambda: "…", figures or {})


_ORDER = (
    Scenario(
        "thm31", "Thm 3.1: a plain ReLU net is sure of itself everywhere far away", "playground",
        {"method": "plain", "halfwidth": "1000000"},
        "Zoomed out to 10⁶ the data is a dot in the middle, yet almost the whole plane has confidence 1: "
        "the net is affine on its unbounded regions, so its logits grow linearly and the softmax saturates. "
        "Zoom back in: even inside [−50, 50]² {plain[far_ood_overconfident]} of the far test points get "
        "confidence ≥ 0.99.",
        numbers=("far_ood_overconfident", "asymptotic_overconfident"), explores=("halfwidth",)),
    Scenario(
        "any-data", "Any data, same theorem: three spiral arms", "playground",
        {"data": "spiral", "classes": "3", "method": "plain,reject", "halfwidth": "1000000"},
        "Thm 3.1 assumes nothing about the data. On three spiral arms the plain net fits the arms to "
        "{plain[test_accuracy]} test accuracy, yet zoomed out to 10⁶ it is certain of one arm everywhere: every "
        "direction's limit is confidence 1, and {plain[far_ood_overconfident]} of the far test points in the box "
        "already get ≥ 0.99. The reject class rejects far test points and directions "
        "({reject[asymptotic_rejected]} of them), at a price on the data: {reject[test_accuracy]} test accuracy.",
        numbers=("test_accuracy", "far_ood_overconfident", "asymptotic_rejected"), explores=("halfwidth",)),
    Scenario(
        "boundary", "Confidence loss vs reject class, trained on boundary samples (Vernekar Fig. 3)", "playground",
        {"method": "confidence,reject", "ood": "boundary"},
        "The confidence loss is unsure (dark) where its samples lie, in the annulus around each class, and along "
        "its decision boundary, but not everywhere beyond them: {confidence[far_ood_overconfident]} of the far test points in the box still get "
        "≥ 0.99. The reject class rejects {reject[far_ood_rejected]} of them — away from the data its reject "
        "logit is the one that wins.",
        numbers=("far_ood_overconfident", "far_ood_rejected"), explores=("halfwidth",)),
    Scenario(
        "general", "The same with general OOD samples, and why it fails beyond the box", "playground",
        {"method": "confidence,reject", "ood": "general", "halfwidth": "1000"},
        "Samples spread over [−50, 50]² make the confidence loss unsure inside the box (drawn in black), but "
        "outside it — where no sample ever was — the confidence climbs back to 1: scaling a far test point by "
        "a median α of {confidence[median_alpha_999]} is enough to reach 0.999, and "
        "{confidence[asymptotic_overconfident]} of the directions end at confidence 1. The reject class keeps "
        "rejecting out there ({reject[asymptotic_rejected]} of the directions).",
        numbers=("median_alpha_999", "asymptotic_overconfident", "asymptotic_rejected"), explores=("halfwidth",)),
    Scenario(
        "ceda-acet", "CEDA vs ACET (Hein et al.)", "playground",
        {"method": "ceda,acet", "ood": "general", "ceda-objective": "uniform", "attack": "1"},
        "With L_out = cross-entropy to uniform labels both are unsure in the box (MMC on far test points "
        "{ceda[far_ood_mmc]} and {acet[far_ood_mmc]}). The crosses are those far points attacked: each moved "
        "within an ℓ∞ ball of half its norm to where the net is most confident. ACET trained on such moves, "
        "CEDA did not: {acet[far_adv_overconfident]} of ACET's moved points reach ≥ 0.99 (red), "
        "{ceda[far_adv_overconfident]} of CEDA's. Switch the objective to log max p (Hein eq. 2) in the sidebar: "
        "its gradient 1 − p_max vanishes on the far samples, and both become as confident as the plain net.",
        numbers=("far_ood_mmc", "far_adv_overconfident"), explores=("ceda-objective", "halfwidth", "attack")),
    Scenario(
        "dismax", "DisMax: distances instead of affine logits", "playground",
        {"method": "plain,dismax", "halfwidth": "1000000"},
        "DisMax's logits are distances to class prototypes, not affine maps, so its confidence does not go to 1 "
        "far away: its limit confidence is {dismax[asymptotic_mmc]} on average over the directions. It is also "
        "only {dismax[in_mmc]} on the data itself (plain: {plain[in_mmc]}) — compare AUROC in the table.",
        numbers=("asymptotic_mmc", "in_mmc", "far_ood_auroc"), explores=("halfwidth",)),
    Scenario(
        "rbf", "The RBF contrast (Thm 3.2)", "far-away",
        {"method": "plain,rbf", "along": "point", "point": "10,1"},
        "Walk from near the origin (α = 0.1) through class 1's cloud at x = (10, 1) (α = 1) and on: on the data "
        "both nets are sure. The plain ReLU net stays at confidence 1 however far it goes; the RBF network's logits "
        "all decay to 0, so its confidence falls back to 1/K = 0.5 — and in every direction (right: limit MMC "
        "{rbf[asymptotic_mmc]}).",
        numbers=("asymptotic_mmc", "asymptotic_overconfident"), explores=("along", "point", "theta")),
    Scenario(
        "temperature", "Temperature does not help (Hein et al. Sec. 3)", "far-away",
        {"method": "plain", "temperature": "10"},
        "Dividing the logits by a temperature T softens every confidence, but the limit softmax(α·Vu/T) is still "
        "one-hot: {T=10[asymptotic_overconfident]} of the directions end at confidence 1 at T = 10, "
        "{T=1/10[asymptotic_overconfident]} at T = 0.1. What T changes is how far out one must go: along a far "
        "point's direction the confidence reaches 0.99 at a median radius of {T=10[median_radius_99]} at T = 10 "
        "against {T=1/10[median_radius_99]} at T = 0.1 (left: the walk at the sidebar's T). Move T in the sidebar.",
        numbers=("asymptotic_overconfident", "median_radius_99"),
        explores=("temperature", "along", "theta", "point"), temperatures=(10.0, 0.1)),
    Scenario(
        "bounded", "Bounded activations: tanh and sigmoid (Vernekar et al. Sec. 5.1)", "far-away",
        {"method": "plain", "activation": "tanh"},
        "A tanh net is not piecewise affine: far away its first layer saturates and the logits tend to finite "
        "values, so each direction's confidence tends to a constant (right). Those constants are high: limit MMC "
        "{plain[asymptotic_mmc]}, and {plain[asymptotic_confident_99]} of the directions end at ≥ 0.99 — though "
        "{plain[asymptotic_overconfident]} reach exactly 1. Bounded is not unsure. Switch the activation to "
        "sigmoid, or back to relu, in the sidebar.",
        numbers=("asymptotic_mmc", "asymptotic_confident_99", "asymptotic_overconfident"),
        explores=("activation", "along", "theta", "point")),
    Scenario(
        "gan", "The GAN's boundary samples (Lee et al., Vernekar Sec. 5.2)", "gan",
        {},
        "Press ▶: the generated samples (magenta) move towards the data and where the classifier is unsure. "
        "Trained jointly from scratch they cover {gan[coverage]} of the 3σ circles (the coverage curve below "
        "shows how that went), and the final classifier is still ≥ 0.99 sure on {gan[far_ood_overconfident]} of "
        "the far test points.",
        numbers=()),  # the GAN page shows its own figures beside the animation
    Scenario(
        "images", "Thm 3.1 on images (Hein et al. Table 1)", "image-benchmark",
        {"bench-dataset": "mnist", "bench-methods": "plain,ceda,acet", "bench-preset": "standard"},
        "The same theorem on MNIST (a stored run of the standard preset: nothing trains). On uniform noise the "
        "plain LeNet's mean confidence is {plain[noise_mmc]}, CEDA's and ACET's {ceda[noise_mmc]} and "
        "{acet[noise_mmc]}: trained on noise, they are unsure there. Move the noise a little towards high "
        "confidence (adversarial noise) and plain reaches {plain[adv_noise_mmc]}, CEDA {ceda[adv_noise_mmc]}, while "
        "ACET, trained on exactly those moves, stays at {acet[adv_noise_mmc]}. Test errors stay close "
        "({plain[test_error]} · {ceda[test_error]} · {acet[test_error]}); the paper's numbers stand beside ours.",
        numbers=("noise_mmc", "adv_noise_mmc")),
)
SCENARIOS: dict[str, Scenario] = {scenario.id: scenario for scenario in _ORDER}


def next_scenario(scenario_id: str) -> Scenario | None:
    """The scenario after ``scenario_id`` in the lecture, or None after the last."""
    ids = list(SCENARIOS)
    position = ids.index(scenario_id) + 1
    return SCENARIOS[ids[position]] if position < len(ids) else None


# ---------------------------------------------------------------------------------------------
