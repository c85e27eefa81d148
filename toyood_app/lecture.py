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
    (the step and its note stay while only those differ)."""

    id: str
    title: str
    page: str
    query: dict[str, str]
    note: str
    numbers: tuple[str, ...] = ()
    explores: tuple[str, ...] = ()

    def text(self, values: dict[str, dict[str, str]]) -> str:
        """The note with its live numbers: ``{method[metric]}`` fields filled from ``values``
        (method → metric key → the figure as shown; '…' while one is not computed)."""
        return self.note.format_map(_Pending(values))

    def link_query(self) -> dict[str, str]:
        """The query parameters of the scenario's link (they name the scenario, so its note shows)."""
        return {**self.query, "scenario": self.id}


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
        {"method": "ceda,acet", "ood": "general", "ceda-objective": "uniform"},
        "With L_out = cross-entropy to uniform labels both are unsure in the box (MMC on far test points "
        "{ceda[far_ood_mmc]} and {acet[far_ood_mmc]}), and ACET's adversarial moves add little on this toy. "
        "Switch the objective to log max p (Hein eq. 2) in the sidebar: its gradient 1 − p_max vanishes on the "
        "far samples, and both become as confident as the plain net.",
        numbers=("far_ood_mmc", "far_ood_overconfident"), explores=("ceda-objective", "halfwidth")),
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
        "gan", "The GAN's boundary samples (Lee et al., Vernekar Sec. 5.2)", "gan",
        {},
        "Press ▶: the generated samples (magenta) move towards the data and where the classifier is unsure. "
        "Trained jointly from scratch they cover {gan[coverage]} of the 3σ circles (the coverage curve below "
        "shows how that went), and the final classifier is still ≥ 0.99 sure on {gan[far_ood_overconfident]} of "
        "the far test points.",
        numbers=()),  # the GAN page shows its own figures beside the animation
)
SCENARIOS: dict[str, Scenario] = {scenario.id: scenario for scenario in _ORDER}


def next_scenario(scenario_id: str) -> Scenario | None:
    """The scenario after ``scenario_id`` in the lecture, or None after the last."""
    ids = list(SCENARIOS)
    position = ids.index(scenario_id) + 1
    return SCENARIOS[ids[position]] if position < len(ids) else None


# ---------------------------------------------------------------------------------------------
