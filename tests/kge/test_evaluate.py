"""Filtered ranking against a brute-force reference (Python loops over every candidate) on a tiny KG."""

from __future__ import annotations

import pytest
import torch

from graphscale.kge.evaluate import evaluate, filtered_ranks, metrics_from_ranks
from graphscale.kge.model import build_kg_model
from graphscale.kge.triples import FilterIndex


def brute_force_ranks(model, triples, known):
    """Realistic rank of every (triple, side): 1 + #better + #tied / 2 over unfiltered candidates."""
    known = {tuple(t) for t in known.tolist()}
    ranks = {"head": [], "tail": []}
    with torch.no_grad():
        for h, r, t in triples.tolist():
            for side in ("head", "tail"):
                true = model.score_triples(torch.tensor([[h, r, t]]))[0].item()
                better = tied = 0
                for e in range(model.num_entities):
                    cand = (e, r, t) if side == "head" else (h, r, e)
                    if cand == (h, r, t) or cand in known:
                        continue
                    s = model.score_triples(torch.tensor([cand]))[0].item()
                    better += s > true
                    tied += s == true
                ranks[side].append(1 + better + tied / 2)
    return ranks


@pytest.mark.parametrize("name", ["transe", "distmult", "complex", "simple", "rotate"])
def test_filtered_ranks_match_brute_force(ring, name):
    model = build_kg_model(name, ring.num_entities, ring.num_relations, dim=4, gamma=2.0, init="normal",
                        init_scale=1.0, seed=1)
    model.double()
    index = FilterIndex.build([ring.train, ring.valid, ring.test], ring.num_relations)
    got = evaluate(model.score_all, ring.test, index, batch_size=5)
    ref = brute_force_ranks(model, ring.test, torch.cat([ring.train, ring.valid, ring.test]))
    all_ref = torch.tensor(ref["head"] + ref["tail"], dtype=torch.float64)
    expected = metrics_from_ranks(all_ref)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
    assert got["head_mrr"] == pytest.approx(metrics_from_ranks(torch.tensor(ref["head"]))["mrr"])
    assert got["num_ranks"] == 2 * ring.test.shape[0]


def test_ties_get_the_mean_rank_and_raw_setting():
    scores = torch.zeros(2, 6)  # everything tied
    targets = torch.tensor([1, 4])
    raw = filtered_ranks(scores, targets, None, None, "tail")
    assert raw.tolist() == [3.5, 3.5]  # 1 + 5 tied others / 2
    scores = torch.tensor([[0.5, 0.9, 0.9, 0.1, 0.95, 0.2]])
    triples = torch.tensor([[0, 0, 1], [0, 0, 4]])  # (0, r0, 4) is known: filtered out for target 1
    index = FilterIndex.build([triples], num_relations=1)
    rows = index.rows(torch.tensor([0]).numpy(), torch.tensor([0]).numpy(), "tail")
    ranks = filtered_ranks(scores, torch.tensor([1]), rows, index, "tail")
    assert ranks.tolist() == [1.5]  # entity 4 (0.95) filtered; entity 2 ties at 0.9
    assert filtered_ranks(scores, torch.tensor([1]), rows, None, "tail").tolist() == [2.5]


def test_chunked_scoring_and_reciprocal_head_queries(ring):
    model = build_kg_model("complex", ring.num_entities, ring.num_relations, dim=3, reciprocal=True, init="normal",
                        init_scale=0.5, seed=2)
    known, rel = ring.test[:, 2], ring.test[:, 1]
    full = model.score_all(known, rel, "head")
    torch.testing.assert_close(model.score_all(known, rel, "head", chunk_size=7), full)
    # reciprocal: (?, r, t) is answered by the inverse relation's tail query
    torch.testing.assert_close(full, model.score_all(known, rel + ring.num_relations, "tail"))
    index = FilterIndex.build([ring.train, ring.valid, ring.test], ring.num_relations)
    out = evaluate(lambda k, r, s: model.score_all(k, r, s, chunk_size=7), ring.test, index, batch_size=3)
    assert out["mrr"] == pytest.approx(evaluate(model.score_all, ring.test, index, batch_size=100)["mrr"])
