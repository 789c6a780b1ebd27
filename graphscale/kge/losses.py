r"""Losses and regularisers of the KGE models.

All losses take positive scores ``pos [B]`` and negative scores ``neg [B, K]`` (the ``K`` corruptions of each
positive, shared or not) and optional per-positive weights ``weight [B]`` (RotatE's subsampling weights);
the weighted mean is ``sum(w * l) / sum(w)``.

* ``margin``: margin ranking (Bordes et al. 2013), :math:`\frac1K\sum_k \max(0, m - f(p) + f(n_k))`.
* ``nssa``: negative log-sigmoid with self-adversarial negative sampling (Sun et al. 2019, eq. 5):
  :math:`-\log\sigma(f(p)) - \sum_k w_k \log\sigma(-f(n_k))`, :math:`w = \mathrm{softmax}(\alpha f(n))`
  (no gradient through :math:`w`); ``temperature`` :math:`\alpha = 0` is the plain mean over negatives. As in
  the reference code the positive and negative parts are averaged: ``(pos_loss + neg_loss) / 2``.
* ``softmax``: cross-entropy of the positive against its negatives (sampled softmax); with 1-N scoring
  (``negatives: all``) the negatives are all entities and the positive is its own column (Lacroix et al.).

Regularisers act on the embedding factors of the positive triples (``Interaction.factors``): ``n3``
(Lacroix et al. 2018, :math:`\frac{\lambda}{B}\sum |x|^3`, moduli for complex models) and ``l2``
(:math:`\frac{\lambda}{B}\sum x^2`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config.registry import Registry
from ..errors import ConfigError, ShapeError

LOSSES = ("margin", "nssa", "softmax")
REGULARIZERS = ("none", "n3", "l2")


def _weighted_mean(values: Tensor, weight: Tensor | None) -> Tensor:
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum()


def _check(pos: Tensor, neg: Tensor) -> None:
    if neg.dim() != 2 or pos.shape[0] != neg.shape[0]:
        raise ShapeError(f"loss: expected pos [B] and neg [B, K], got {tuple(pos.shape)} and {tuple(neg.shape)}.")


def margin_ranking(pos: Tensor, neg: Tensor, *, margin: float = 1.0, weight: Tensor | None = None) -> Tensor:
    """Mean hinge ``max(0, margin - pos + neg)`` over every (positive, negative) pair."""
    _check(pos, neg)
    return _weighted_mean(F.relu(margin - pos.unsqueeze(1) + neg).mean(1), weight)


def nssa(pos: Tensor, neg: Tensor, *, temperature: float = 1.0, weight: Tensor | None = None) -> Tensor:
    """Negative-sampling log-sigmoid loss with self-adversarial weights (RotatE)."""
    _check(pos, neg)
    if temperature > 0:
        probs = torch.softmax(neg.detach() * temperature, dim=1)
        neg_loss = -(probs * F.logsigmoid(-neg)).sum(1)
    else:
        neg_loss = -F.logsigmoid(-neg).mean(1)
    pos_loss = -F.logsigmoid(pos)
    return (_weighted_mean(pos_loss, weight) + _weighted_mean(neg_loss, weight)) / 2


def softmax_cross_entropy(pos: Tensor | None, neg: Tensor, *, target: Tensor | None = None,
                          weight: Tensor | None = None) -> Tensor:
    """Cross-entropy of the positive among its candidates.

    With ``pos`` the logits are ``[pos, neg]`` and the positive is class 0; with ``pos=None`` the
    positive is column ``target`` of ``neg`` (1-N scoring against all entities).
    """
    if pos is not None:
        _check(pos, neg)
        logits = torch.cat([pos.unsqueeze(1), neg], dim=1)
        target = torch.zeros(pos.shape[0], dtype=torch.int64, device=neg.device)
    elif target is None:
        raise ShapeError("softmax_cross_entropy: expected pos or target, got neither.")
    else:
        logits = neg
    return _weighted_mean(F.cross_entropy(logits, target, reduction="none"), weight)


def regularization(name: str, factors: list[Tensor], weight: float) -> Tensor | None:
    """``weight / B * sum |x|^3`` (n3) or ``weight / B * sum x^2`` (l2) over the factors; None for none."""
    if name == "none" or weight <= 0 or not factors:
        return None
    batch = factors[0].shape[0]
    if name == "n3":
        return weight * sum(f.abs().pow(3).sum() for f in factors) / batch
    if name == "l2":
        return weight * sum(f.pow(2).sum() for f in factors) / batch
    raise ConfigError(f"train.regularizer: expected one of {', '.join(REGULARIZERS)}, got {name!r}.")


LOSS_FUNCTIONS: Registry = Registry("train.loss")
LOSS_FUNCTIONS.register("margin", margin_ranking)
LOSS_FUNCTIONS.register("nssa", nssa)
LOSS_FUNCTIONS.register("softmax", softmax_cross_entropy)
