"""Edge splits for link prediction: no held-out edge reaches message passing, negatives are non-edges, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphscale.errors import SamplingError
from graphscale.graph import Graph
from graphscale.sampling.link import split_edges, undirected_pairs, uniform_negatives


def random_graph(num_nodes=120, num_edges=900, seed=0) -> Graph:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=g)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=g)
    return Graph(torch.cat([src, dst, torch.arange(5)]), torch.cat([dst, src, torch.arange(5)]), num_nodes)  # loops


def keys(pairs, n) -> set[int]:
    pairs = torch.as_tensor(pairs)
    low, high = torch.minimum(pairs[:, 0], pairs[:, 1]), torch.maximum(pairs[:, 0], pairs[:, 1])
    return set((low * n + high).tolist())


def test_split_partitions_the_undirected_edges_and_keeps_held_out_ones_out_of_training():
    graph = random_graph()
    n = graph.num_nodes
    split = split_edges(graph, 0.05, 0.10, seed=3)
    every = keys(undirected_pairs(graph), n)
    naive = {min(a, b) * n + max(a, b) for a, b in zip(graph.src.tolist(), graph.dst.tolist()) if a != b}
    assert every == naive
    train, val, test = keys(split.train_pos, n), keys(split.val_pos, n), keys(split.test_pos, n)
    assert train | val | test == every and not (train & val) and not (train & test) and not (val & test)
    assert len(test) == int(0.10 * len(every)) and len(val) == int(0.05 * len(every))
    # the message-passing graph: exactly the training pairs, both directions, edge i and i + P reversed
    g = split.train_graph
    p = split.train_pos.shape[0]
    assert g.num_edges == 2 * p and keys(torch.stack([g.src, g.dst], 1), n) == train
    assert torch.equal(g.src[:p], split.train_pos[:, 0]) and torch.equal(g.dst[p:], split.train_pos[:, 0])
    assert not (keys(torch.stack([g.src, g.dst], 1), n) & (val | test))


def test_negatives_are_distinct_non_edges_and_not_self_loops():
    graph = random_graph()
    n = graph.num_nodes
    split = split_edges(graph, 0.1, 0.2, seed=1)
    every = keys(undirected_pairs(graph), n)
    for pos, neg in ((split.val_pos, split.val_neg), (split.test_pos, split.test_neg)):
        assert neg.shape == pos.shape
        assert bool((neg[:, 0] != neg[:, 1]).all())
        assert not (keys(neg, n) & every)
    assert len(keys(split.val_neg, n) | keys(split.test_neg, n)) == split.val_neg.shape[0] + split.test_neg.shape[0]


def test_split_is_deterministic_per_seed():
    graph = random_graph()
    a, b, c = split_edges(graph, seed=7), split_edges(graph, seed=7), split_edges(graph, seed=8)
    for name in ("train_pos", "val_pos", "val_neg", "test_pos", "test_neg"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.test_pos, c.test_pos)


def test_cora_split_sizes_match_kipf_and_welling(require_dataset):
    require_dataset("cora")
    import graphscale

    split = split_edges(graphscale.datasets.load("cora").graph, seed=0)
    assert split.sizes() == {"train": 4488, "val": 263, "test": 527}  # the reference code's counts of 5,278 edges


@pytest.mark.parametrize("val, test", [(-0.1, 0.1), (0.5, 0.5), (0.1, 1.0)])
def test_bad_fractions_raise(val, test):
    with pytest.raises(SamplingError, match="split_edges"):
        split_edges(random_graph(), val, test)


def test_too_few_non_edges_raise():
    full = torch.combinations(torch.arange(6))
    graph = Graph(full[:, 0], full[:, 1], 6)  # complete graph: no negatives exist
    with pytest.raises(SamplingError, match="not edges"):
        split_edges(graph, 0.2, 0.2)


def test_uniform_negatives_keep_the_source_and_draw_uniform_destinations():
    pairs = torch.tensor([[0, 1], [2, 3], [4, 5]])
    neg = uniform_negatives(pairs, 10, 4, np.random.default_rng(0))
    assert neg.shape == (12, 2) and (neg[:, 0] == np.repeat([0, 2, 4], 4)).all()
    many = uniform_negatives(np.zeros((20000, 2), dtype=np.int64), 10, 1, np.random.default_rng(1))[:, 1]
    counts = np.bincount(many, minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200  # about 2,000 each
