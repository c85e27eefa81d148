import math

import pytest
import torch
import torch.nn.functional as F

from toyood.methods import ACET, CEDA, METHODS, OOD_LABEL, ConfidenceLoss, DisMax, Plain, RejectClass, method_by_name, pgd_maximise
from toyood.models import MLP


class FixedLogits(torch.nn.Module):
    """Returns given logits row by row, ignoring x (to check losses by hand)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits


LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.5, 0.5]])
LABELS = torch.tensor([0, 1, OOD_LABEL, OOD_LABEL])


def ce_in():
    return F.cross_entropy(LOGITS[:2], LABELS[:2])


def test_every_method_is_registered_once_with_a_docstring():
    assert set(METHODS) == {"plain", "confidence", "ceda", "acet", "reject", "dismax", "rbf"}
    for cls in METHODS.values():
        assert cls.__doc__ and len(cls.__doc__) > 40


def test_plain_ignores_ood_rows():
    assert Plain().loss(FixedLogits(LOGITS), None, LABELS) == pytest.approx(ce_in().item())


def test_confidence_loss_is_ce_plus_beta_kl_to_uniform():
    p = torch.softmax(LOGITS[2:], -1)
    kl = (0.5 * torch.log(0.5 / p)).sum(-1).mean()
    expected = ce_in() + 0.3 * kl
    assert ConfidenceLoss(beta=0.3).loss(FixedLogits(LOGITS), None, LABELS) == pytest.approx(expected.item(), rel=1e-6)


def test_ceda_adds_log_max_confidence():
    log_pmax = torch.log(torch.softmax(LOGITS[2:], -1).max(-1).values).mean()
    assert CEDA().loss(FixedLogits(LOGITS), None, LABELS) == pytest.approx((ce_in() + log_pmax).item(), rel=1e-6)


def test_reject_labels_ood_as_the_extra_class():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    expected = F.cross_entropy(logits[:2], LABELS[:2]) + F.cross_entropy(logits[2:], torch.tensor([2, 2]))
    assert RejectClass().loss(FixedLogits(logits), None, LABELS) == pytest.approx(expected.item())
    probs = torch.softmax(logits, -1)
    assert torch.equal(RejectClass().confidence(probs), probs[:, :2].max(-1).values)


def test_dismax_score_is_negative_entropy():
    probs = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    torch.testing.assert_close(DisMax().score(probs), torch.tensor([-math.log(2), 0.0]))


def test_pgd_stays_in_ball_and_box_and_never_lowers_the_objective():
    torch.manual_seed(0)
    model = MLP((16, 16), 2).eval()
    x = torch.rand(64, 2)
    objective = lambda u: torch.log_softmax(model(u), -1).max(-1).values  # noqa: E731
    g = torch.Generator().manual_seed(0)
    u = pgd_maximise(objective, x, eps=0.3, steps=20, step_size=0.05, lower=0.0, upper=1.0, generator=g)
    assert (u - x).abs().max() <= 0.3 + 1e-6
    assert u.min() >= 0 and u.max() <= 1
    # the best iterate is kept: never below the random start drawn from the same generator state
    g2 = torch.Generator().manual_seed(0)
    start = pgd_maximise(objective, x, eps=0.3, steps=0, step_size=0.05, lower=0.0, upper=1.0, generator=g2)
    assert torch.all(objective(u) >= objective(start) - 1e-6)


def test_acet_moves_ood_rows_towards_higher_confidence():
    torch.manual_seed(0)
    model = MLP((32, 32), 2)
    x = torch.cat([torch.randn(4, 2), 20 * torch.randn(8, 2)])
    y = torch.tensor([0, 1, 0, 1] + [OOD_LABEL] * 8)
    g = torch.Generator().manual_seed(1)
    acet = ACET(eps=2.0, steps=10, step_size=0.5).loss(model, x, y, g)
    ceda = CEDA().loss(model, x, y)
    assert acet >= ceda - 1e-6
    assert model.training  # restored after the attack


def test_method_by_name_rejects_unknown_names():
    with pytest.raises(ValueError, match="choose one of"):
        method_by_name("nope")
