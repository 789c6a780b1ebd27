"""Link-prediction metrics on the scores of positive and negative pairs (vectorised torch, no Python loops).

* :func:`roc_auc`: area under the ROC curve, the Mann-Whitney statistic with average ranks for ties
  (``sklearn.metrics.roc_auc_score`` on the concatenated scores).
* :func:`average_precision`: ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds in decreasing
  order (``sklearn.metrics.average_precision_score``: tied scores form one threshold, no interpolation).
* :func:`hits_at_k`: OGB's Hits@K (``ogb.linkproppred.Evaluator``): the share of positives scored strictly above
  the K-th highest negative (1 when there are fewer than K negatives).
* :func:`mean_reciprocal_rank`: each positive ranked among the negatives, OGB's tie rule
  (``rank = 1 + (#neg > pos + #neg >= pos) / 2``); the negatives are shared by all positives (``[M]``) or a
  positive's own (``[P, K]``, row ``i`` for positive ``i``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import ShapeError

HITS_AT = (10, 50, 100)


def _flat(pos: Tensor, neg: Tensor, where: str) -> tuple[Tensor, Tensor]:
    pos, neg = torch.as_tensor(pos).detach().double().reshape(-1), torch.as_tensor(neg).detach().double().reshape(-1)
    if pos.numel() == 0 or neg.numel() == 0:
        raise ShapeError(f"{where}: expected at least one positive and one negative score, got {pos.numel()} and "
                         f"{neg.numel()}.")
    return pos, neg


def roc_auc(pos: Tensor, neg: Tensor) -> float:
    """AUC of positives ``[P]`` against negatives ``[M]`` (any float dtype; 0.5 for all-equal scores)."""
    pos, neg = _flat(pos, neg, "roc_auc")
    scores = torch.cat([pos, neg])
    _, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    average_rank = ends - (counts.double() - 1) / 2  # 1-based mean rank of each group of tied scores
    ranks = average_rank[inverse]
    p, m = pos.numel(), neg.numel()
    return float((ranks[:p].sum() - p * (p + 1) / 2) / (p * m))


def average_precision(pos: Tensor, neg: Tensor) -> float:
    """Average precision of positives ``[P]`` against negatives ``[M]`` (sklearn's definition)."""
    pos, neg = _flat(pos, neg, "average_precision")
    scores = torch.cat([pos, neg])
    labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
    values, inverse = torch.unique(scores, sorted=True, return_inverse=True)
    groups = values.numel()
    true = torch.zeros(groups, dtype=torch.float64).index_add_(0, inverse, labels).flip(0)  # descending thresholds
    seen = torch.zeros(groups, dtype=torch.float64).index_add_(0, inverse, torch.ones_like(labels)).flip(0)
    tp, predicted = torch.cumsum(true, 0), torch.cumsum(seen, 0)
    precision = tp / predicted
    recall_step = true / pos.numel()
    return float((recall_step * precision).sum())


def hits_at_k(pos: Tensor, neg: Tensor, k: int) -> float:
    """OGB Hits@K: the share of positives ``[P]`` scored above the ``k``-th highest negative ``[M]``."""
    pos, neg = _flat(pos, neg, "hits_at_k")
    if k < 1:
        raise ShapeError(f"hits_at_k: expected k >= 1, got {k}.")
    if neg.numel() < k:
        return 1.0
    threshold = torch.topk(neg, k).values[-1]
    return float((pos > threshold).double().mean())


def mean_reciprocal_rank(pos: Tensor, neg: Tensor) -> float:
    """MRR of positives ``[P]`` against shared negatives ``[M]`` or per-positive negatives ``[P, K]``."""
    pos_t = torch.as_tensor(pos).detach().double().reshape(-1)
    neg_t = torch.as_tensor(neg).detach().double()
    if neg_t.dim() == 2:
        if neg_t.shape[0] != pos_t.numel() or neg_t.shape[1] == 0:
            raise ShapeError(f"mean_reciprocal_rank: expected negatives [P={pos_t.numel()}, K>=1] (one row per "
                             f"positive), got {tuple(neg_t.shape)}.")
        above = (neg_t > pos_t[:, None]).sum(1).double()
        at_least = (neg_t >= pos_t[:, None]).sum(1).double()
    else:
        pos_t, neg_t = _flat(pos_t, neg_t, "mean_reciprocal_rank")
        ordered = torch.sort(neg_t).values
        m = ordered.numel()
        above = (m - torch.searchsorted(ordered, pos_t, right=True)).double()
        at_least = (m - torch.searchsorted(ordered, pos_t, right=False)).double()
    rank = 1.0 + (above + at_least) / 2.0
    return float((1.0 / rank).mean())


def link_metrics(pos: Tensor, neg: Tensor, hits_at: Sequence[int] = HITS_AT, prefix: str = "") -> dict[str, float]:
    """``auc, ap, hits_at_<k>..., mrr`` of one set of positive ``[P]`` and negative ``[M]`` scores, keys
    prefixed with ``prefix`` (``val_`` / ``test_``). MRR ranks each positive among all the negatives."""
    out = {"auc": roc_auc(pos, neg), "ap": average_precision(pos, neg)}
    out.update({f"hits_at_{k}": hits_at_k(pos, neg, k) for k in hits_at})
    out["mrr"] = mean_reciprocal_rank(pos, neg)
    return {f"{prefix}{key}": value for key, value in out.items()}


__all__ = ["HITS_AT", "average_precision", "hits_at_k", "link_metrics", "mean_reciprocal_rank", "roc_auc"]
