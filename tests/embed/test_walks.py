"""Walk validity, node2vec transition probabilities (alias and rejection) and the alias sampler."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

import graphscale as gs
from graphscale.embed import node2vec_walks, deepwalk_walks
from graphscale.sampling.alias import build_alias, sample_alias
from graphscale.embed.walks import node2vec_table_size, walk_graph
from graphscale.errors import SamplingError

# A small undirected graph with triangles, a pendant node and distinct weights.
EDGES = [(0, 1, 1.0), (0, 2, 2.0), (1, 2, 1.0), (1, 3, 3.0), (2, 3, 1.0), (3, 4, 2.0), (2, 5, 1.0), (4, 5, 4.0),
         (3, 5, 1.0), (5, 6, 1.0)]


def small_graph(weighted: bool):
    src = [a for a, b, _ in EDGES] + [b for a, b, _ in EDGES]
    dst = [b for a, b, _ in EDGES] + [a for a, b, _ in EDGES]
    weight = [w for *_, w in EDGES] * 2
    graph = gs.Graph(torch.tensor(src), torch.tensor(dst), 7)
    return graph, (torch.tensor(weight) if weighted else None)


def weight_of(graph, edge_weight):
    table = {}
    for i, (a, b) in enumerate(zip(graph.src.tolist(), graph.dst.tolist())):
        table[(a, b)] = 1.0 if edge_weight is None else float(edge_weight[i])
    return table


def test_every_step_is_an_edge_and_walks_start_at_each_node():
    graph, weight = small_graph(True)
    edges = set(zip(graph.src.tolist(), graph.dst.tolist()))
    for walks in (deepwalk_walks(graph, 3, 12, seed=1), deepwalk_walks(graph, 3, 12, seed=1, edge_weight=weight),
                  node2vec_walks(graph, 3, 12, p=0.5, q=2.0, seed=1, mode="alias"),
                  node2vec_walks(graph, 3, 12, p=0.5, q=2.0, seed=1, mode="rejection", edge_weight=weight)):
        assert walks.shape == (21, 12) and walks.dtype == np.int32
        assert walks[:, 0].tolist() == list(range(7)) * 3
        for row in walks:
            assert all((int(a), int(b)) in edges for a, b in itertools.pairwise(row))


def test_walks_are_seeded_and_dead_ends_pad_with_minus_one():
    graph, _ = small_graph(False)
    assert np.array_equal(deepwalk_walks(graph, 2, 8, seed=5), deepwalk_walks(graph, 2, 8, seed=5))
    assert not np.array_equal(deepwalk_walks(graph, 2, 8, seed=5), deepwalk_walks(graph, 2, 8, seed=6))
    directed = gs.Graph(torch.tensor([0, 1]), torch.tensor([1, 2]), 4)   # 2 and 3 have no out-edges
    walks = deepwalk_walks(directed, 1, 5, seed=0)
    assert walks[0].tolist() == [0, 1, 2, -1, -1] and walks[3].tolist() == [3, -1, -1, -1, -1]


def test_first_order_weighted_step_distribution():
    graph, weight = small_graph(True)
    walks = deepwalk_walks(graph, 20000, 2, seed=2, edge_weight=weight)
    table = weight_of(graph, weight)
    nxt = walks[walks[:, 0] == 3, 1]
    nbrs = sorted(b for (a, b) in table if a == 3)
    expected = np.array([table[(3, b)] for b in nbrs])
    observed = np.array([(nxt == b).sum() for b in nbrs])
    assert observed.sum() == nxt.size
    assert chisquare(observed, expected / expected.sum() * observed.sum()).pvalue > 1e-3


@pytest.mark.parametrize("mode", ["alias", "rejection"])
@pytest.mark.parametrize("p,q", [(0.25, 4.0), (4.0, 0.25), (0.5, 0.5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_node2vec_transitions_match_the_analytic_ones(mode, p, q, weighted):
    graph, weight = small_graph(weighted)
    table = weight_of(graph, weight)
    walks = node2vec_walks(graph, 6000, 3, p=p, q=q, seed=11, mode=mode, edge_weight=weight)
    checked = 0
    for t, v in ((1, 2), (2, 3), (5, 3), (3, 5)):
        nxt = walks[(walks[:, 0] == t) & (walks[:, 1] == v), 2]
        nbrs = sorted(b for (a, b) in table if a == v)
        alpha = [1 / p if x == t else (1.0 if (t, x) in table else 1 / q) for x in nbrs]
        expected = np.array([table[(v, x)] * a for x, a in zip(nbrs, alpha)])
        observed = np.array([(nxt == x).sum() for x in nbrs])
        assert observed.sum() == nxt.size and nxt.size > 500
        assert chisquare(observed, expected / expected.sum() * observed.sum()).pvalue > 1e-3, (t, v, observed)
        checked += 1
    assert checked == 4


def test_node2vec_auto_mode_and_bad_parameters():
    graph, _ = small_graph(False)
    wg = walk_graph(graph)
    assert node2vec_table_size(wg) == int((np.diff(wg.indptr) ** 2).sum())
    assert np.array_equal(node2vec_walks(graph, 2, 6, p=2, q=0.5, seed=3, alias_budget_mb=1e-9),
                          node2vec_walks(graph, 2, 6, p=2, q=0.5, seed=3, mode="rejection"))
    with pytest.raises(SamplingError, match="expected p as a number > 0, got -1"):
        node2vec_walks(graph, 1, 5, p=-1)
    with pytest.raises(SamplingError, match="expected num_walks as an int >= 1"):
        deepwalk_walks(graph, 0, 5)


def test_alias_table_distribution():
    weights = np.array([0.0, 1.0, 2.0, 0.5, 10.0, 3.5])
    prob, alias = build_alias(weights)
    draws = sample_alias(prob, alias, 300000, seed=4)
    observed = np.bincount(draws, minlength=weights.size)
    assert observed[0] == 0
    assert chisquare(observed[1:], weights[1:] / weights.sum() * draws.size).pvalue > 1e-3
    exact = np.zeros(weights.size)   # the table itself encodes the distribution exactly
    for k in range(weights.size):
        exact[k] += prob[k] / weights.size
        exact[alias[k]] += (1 - prob[k]) / weights.size
    np.testing.assert_allclose(exact, weights / weights.sum(), atol=1e-6)
