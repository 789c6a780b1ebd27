"""Link metrics against scikit-learn (AUC, AP) and naive loops (OGB's Hits@K and MRR), ties included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from graphscale.errors import ShapeError
from graphscale.train.link_metrics import average_precision, hits_at_k, link_metrics, mean_reciprocal_rank, roc_auc


def scores(seed, p=300, m=400, ties=False):
    g = torch.Generator().manual_seed(seed)
    pos, neg = torch.randn(p, generator=g) + 0.7, torch.randn(m, generator=g)
    if ties:  # few distinct values: many ties inside and across the two sets
        pos, neg = torch.round(pos * 2) / 2, torch.round(neg * 2) / 2
    return pos, neg


@pytest.mark.parametrize("seed, ties", [(0, False), (1, True), (2, True)])
def test_auc_and_ap_equal_sklearn(seed, ties):
    pos, neg = scores(seed, ties=ties)
    y = np.r_[np.ones(pos.numel()), np.zeros(neg.numel())]
    s = np.r_[pos.numpy(), neg.numpy()]
    assert roc_auc(pos, neg) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert average_precision(pos, neg) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_auc_of_separated_and_constant_scores():
    assert roc_auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    assert roc_auc(torch.ones(3), torch.ones(5)) == 0.5


def naive_hits(pos, neg, k):
    if len(neg) < k:
        return 1.0
    kth = sorted(neg.tolist(), reverse=True)[k - 1]
    return sum(1 for v in pos.tolist() if v > kth) / len(pos)


def naive_mrr(pos, neg_rows):
    total = 0.0
    for value, row in zip(pos.tolist(), neg_rows):
        above = sum(1 for v in row if v > value)
        at_least = sum(1 for v in row if v >= value)
        total += 1.0 / (1 + (above + at_least) / 2)
    return total / len(pos)


@pytest.mark.parametrize("ties", [False, True])
def test_hits_and_mrr_equal_naive_loops(ties):
    pos, neg = scores(3, p=50, m=80, ties=ties)
    for k in (1, 10, 50, 80, 100):
        assert hits_at_k(pos, neg, k) == pytest.approx(naive_hits(pos, neg, k), abs=1e-12)
    shared = [neg.tolist()] * pos.numel()
    assert mean_reciprocal_rank(pos, neg) == pytest.approx(naive_mrr(pos, shared), abs=1e-12)
    own = torch.round(torch.randn(50, 7, generator=torch.Generator().manual_seed(4)) * 2) / 2
    assert mean_reciprocal_rank(pos, own) == pytest.approx(naive_mrr(pos, own.tolist()), abs=1e-12)


def test_link_metrics_keys_and_bad_input():
    pos, neg = scores(5)
    out = link_metrics(pos, neg, (10, 20), prefix="val_")
    assert set(out) == {"val_auc", "val_ap", "val_hits_at_10", "val_hits_at_20", "val_mrr"}
    with pytest.raises(ShapeError, match="at least one positive"):
        roc_auc(torch.zeros(0), neg)
    with pytest.raises(ShapeError, match="one row per positive"):
        mean_reciprocal_rank(pos, torch.zeros(3, 4))
