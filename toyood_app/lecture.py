"""The lecture: the app's story in order, each step one link and a note saying what to notice.

The notes state what the interactive preset shows on the default data (seed 0, σ = 1, 2×500).
Pure data: ``toyood_app.link.active_scenario`` says which step a state still shows.
"""
from __future__ import annotations

from dataclasses import dataclass


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
