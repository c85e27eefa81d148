"""OOD scores from a model's eval logits, one function per score, each with its paper.

Convention (``toyood.metrics``): every score is oriented so that higher = more in-distribution, so
AUROC and FPR@95 read the same for all of them. The functions take the eval-mode logits ``z / T``
(``toyood.models``: the model's temperature T is already applied) and, where the score's own
definition involves T, that T. With a reject class (Vernekar et al.) the "real" classes are all but
the last output; ``n_real`` says how many there are.

- ``max_probability``: max_k p_k over the real classes (Hendrycks & Gimpel; Hein et al.'s MMC).
- ``negative_entropy``: −H(p) over all outputs, H in nats, 0 (certain) … log C (undecided).
  Vernekar et al.'s corollary: on a ReLU net H → 0 along almost every ray.
- ``max_logit``: max_k z_k over the real classes (the raw logit: T · (z/T)).
- ``negative_energy``: T · logsumexp(z_real / T) = −E(x; T), with the energy E = −T·logsumexp(z/T).
- ``dismax_entropy``: Macêdo et al. eq. (8), the entropy of a DisMax net's probabilities (eval scale
  α = 1). The paper's text calls the score "the negative of the entropy" while eq. (8) prints
  −Σ p log p = H; the score used here is −H (higher = in-distribution), as the text says.
"""
from __future__ import annotations

import torch

SCORES = ("max_prob", "entropy", "max_logit", "energy", "dismax_entropy")
SCORE_LABELS = {
    "max_prob": "max probability", "entropy": "entropy (nats)", "max_logit": "max logit",
    "energy": "negative energy T·logsumexp(z/T)", "dismax_entropy": "DisMax entropy score (Macêdo eq. 8)",
}


def max_probability(logits: torch.Tensor, n_real: int) -> torch.Tensor:
    """max_{k < n_real} softmax(logits)_k: the largest real-class probability."""
    return torch.softmax(logits, -1)[..., :n_real].max(-1).values


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """H(softmax(logits)) in nats, from log-probabilities (exact where a probability underflows)."""
    log_p = torch.log_softmax(logits, -1)
    return -(log_p.exp() * log_p).sum(-1)


def negative_entropy(logits: torch.Tensor) -> torch.Tensor:
    """−H(p) (Vernekar et al.'s corollary: → 0 far away on a ReLU net)."""
    return -entropy(logits)


def max_logit(logits: torch.Tensor, n_real: int, temperature: float = 1.0) -> torch.Tensor:
    """The largest real-class raw logit T · max_k (z_k / T)."""
    return temperature * logits[..., :n_real].max(-1).values


def negative_energy(logits: torch.Tensor, n_real: int, temperature: float = 1.0) -> torch.Tensor:
    """−E(x; T) = T · logsumexp_k (z_k / T) over the real classes (the energy score, higher = in)."""
    return temperature * torch.logsumexp(logits[..., :n_real], -1)


def score_values(name: str, logits: torch.Tensor, n_real: int, temperature: float = 1.0,
                 head: str = "linear") -> torch.Tensor:
    """The score ``name`` (``SCORES``) of eval logits (…, C); ``head`` is the model's head kind
    (``dismax_entropy`` needs a DisMax head). Raises ValueError for an unknown or unfitting score."""
    check_score(name, head)
    if name == "max_prob":
        return max_probability(logits, n_real)
    if name in ("entropy", "dismax_entropy"):
        return negative_entropy(logits)
    if name == "max_logit":
        return max_logit(logits, n_real, temperature)
    return negative_energy(logits, n_real, temperature)


def check_score(name: str, head: str = "linear") -> str:
    """``name`` when it is a score that applies to a ``head`` net; ValueError saying why not."""
    if name not in SCORES:
        raise ValueError(f"score must be one of {', '.join(SCORES)} (got {name!r})")
    if name == "dismax_entropy" and head != "dismax":
        raise ValueError("the dismax_entropy score (Macêdo eq. 8) needs a DisMax net; for other nets use entropy")
    return name


def default_score(method_name: str) -> str:
    """A method's own score: DisMax's entropy (eq. 8) for dismax, max probability otherwise."""
    return "dismax_entropy" if method_name == "dismax" else "max_prob"
