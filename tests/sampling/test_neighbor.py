"""Neighbour sampling: real in-edges, fanouts, uniformity / bias, Block invariants, determinism."""

from __future__ import annotations

from collections import Counter

import numba
import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.errors import SamplingError, ShapeError
from graphscale.nn.models import build_node_model
from graphscale.sampling import NeighborSampler, sample_neighbors


def csc_rows(graph: gs.Graph) -> dict[int, Counter]:
    """dst -> Counter of in-edge ids (from the edge list, independent of the sampler)."""
    rows: dict[int, Counter] = {v: Counter() for v in range(graph.num_nodes)}
    for e, v in enumerate(graph.dst.tolist()):
        rows[v][e] += 1
    return rows


def check_blocks(graph: gs.Graph, blocks: list[gs.Block], seeds: torch.Tensor) -> None:
    """Block invariants and that every sampled edge is a real in-edge of its destination."""
    assert torch.equal(blocks[-1].dst_ids, seeds)
    for i, block in enumerate(blocks):
        n_src, n_dst = block.num_src_nodes, block.num_dst_nodes
        assert torch.equal(block.src_ids[:n_dst], block.dst_ids)  # dst nodes are the first src nodes
        assert block.src_ids.unique().numel() == n_src
        assert 0 <= int(block.src_ids.min()) and int(block.src_ids.max()) < graph.num_nodes
        if block.num_edges:
            assert int(block.src.min()) >= 0 and int(block.src.max()) < n_src
            assert int(block.dst.min()) >= 0 and int(block.dst.max()) < n_dst
        eids = block.edge_ids
        assert torch.equal(block.src_ids[block.src.long()], graph.src[eids].long())
        assert torch.equal(block.dst_ids[block.dst.long()], graph.dst[eids].long())
        if i + 1 < len(blocks):  # input layer first: this block's dst nodes feed the next block
            assert torch.equal(block.dst_ids, blocks[i + 1].src_ids)


@pytest.mark.parametrize("replace", [False, True])
def test_sampled_edges_are_in_edges_and_fanouts_hold(graph, replace):
    seeds = torch.tensor([0, 5, 7, 1, 2, 59])  # 59 is isolated
    fanouts = [4, 3]
    blocks = sample_neighbors(graph, seeds, fanouts, replace=replace, seed=3)
    check_blocks(graph, blocks, seeds)
    deg = graph.in_degrees()
    rows = csc_rows(graph)
    for block, fanout in zip(reversed(blocks), fanouts):  # hop order: fanouts[0] at the seeds
        counts = torch.bincount(block.dst.long(), minlength=block.num_dst_nodes)
        expected = torch.where(deg[block.dst_ids] > 0, fanout, 0) if replace else deg[block.dst_ids].clamp(max=fanout)
        assert torch.equal(counts, expected)
        for local in range(block.num_dst_nodes):
            picked = block.edge_ids[block.dst.long() == local].tolist()
            assert set(picked) <= set(rows[int(block.dst_ids[local])])
            if not replace:
                assert len(picked) == len(set(picked))  # no edge twice


def test_fanout_minus_one_takes_every_in_edge(graph):
    seeds = torch.arange(graph.num_nodes)
    (block,) = sample_neighbors(graph, seeds, [-1], replace=True, seed=0)
    rows = csc_rows(graph)
    for v in range(graph.num_nodes):
        assert Counter(block.edge_ids[block.dst.long() == v].tolist()) == rows[v]


def star_graph(num_dst: int, degree: int) -> tuple[gs.Graph, torch.Tensor]:
    """Nodes 0..num_dst-1 each receive one edge from every source num_dst + j (j < degree)."""
    dst = torch.arange(num_dst).repeat_interleave(degree)
    src = num_dst + torch.arange(degree).repeat(num_dst)
    return gs.Graph(src, dst, num_dst + degree), torch.arange(degree).repeat(num_dst).double()


def source_frequencies(block: gs.Block, num_dst: int, degree: int) -> np.ndarray:
    sources = block.src_ids[block.src.long()] - num_dst
    return np.bincount(sources.numpy(), minlength=degree) / num_dst


@pytest.mark.parametrize("degree,fanout", [(10, 3), (30, 25)])  # Floyd's algorithm, reservoir sampling
def test_without_replacement_is_uniform(degree, fanout):
    num_dst = 8000
    graph, _ = star_graph(num_dst, degree)
    (block,) = sample_neighbors(graph, torch.arange(num_dst), [fanout], seed=1)
    freq = source_frequencies(block, num_dst, degree)
    np.testing.assert_allclose(freq, fanout / degree, atol=0.025)


def test_with_replacement_is_uniform():
    num_dst, degree = 8000, 10
    graph, _ = star_graph(num_dst, degree)
    (block,) = sample_neighbors(graph, torch.arange(num_dst), [3], replace=True, seed=2)
    np.testing.assert_allclose(source_frequencies(block, num_dst, degree) / 3, 1 / degree, atol=0.01)


@pytest.mark.parametrize("replace", [True, False])
def test_edge_weight_bias(replace):
    num_dst, degree = 8000, 6
    graph, weight = star_graph(num_dst, degree)  # weight of source j is j: source 0 is never drawn
    (block,) = sample_neighbors(graph, torch.arange(num_dst), [1], replace=replace, edge_weight=weight, seed=4)
    freq = source_frequencies(block, num_dst, degree)
    np.testing.assert_allclose(freq, np.arange(degree) / np.arange(degree).sum(), atol=0.015)
    (block,) = sample_neighbors(graph, torch.arange(num_dst), [4], replace=replace, edge_weight=weight, seed=4)
    freq = source_frequencies(block, num_dst, degree)
    assert freq[0] == 0.0
    if not replace:  # 5 positive-weight edges, 4 drawn, distinct; heavier edges more often
        counts = torch.bincount(block.dst.long(), minlength=num_dst)
        assert bool((counts == 4).all())
        assert np.all(np.diff(freq[1:]) > 0)
        assert block.edge_ids.unique().numel() == block.num_edges


def test_weighted_node_with_only_zero_weights_gets_nothing():
    graph = gs.Graph(torch.tensor([1, 2, 3]), torch.tensor([0, 0, 1]), 4)
    weight = torch.tensor([0.0, 0.0, 1.0])
    for replace in (False, True):
        (block,) = sample_neighbors(graph, torch.tensor([0, 1]), [2], replace=replace, edge_weight=weight)
        assert block.dst.tolist() == ([1] if not replace else [1, 1])


def test_determinism_and_thread_independence(graph):
    seeds = torch.tensor([3, 1, 4, 15, 9, 26])
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in (1, previous):
            numba.set_num_threads(threads)
            results.append(sample_neighbors(graph, seeds, [5, 5], seed=11))
    finally:
        numba.set_num_threads(previous)
    results.append(sample_neighbors(graph, seeds, [5, 5], seed=11))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a.src, b.src) and torch.equal(a.dst, b.dst) and torch.equal(a.edge_ids, b.edge_ids)
            assert torch.equal(a.src_ids, b.src_ids)
    different = sample_neighbors(graph, seeds, [5, 5], seed=12)
    assert any(not torch.equal(a.edge_ids, b.edge_ids) for a, b in zip(results[0], different))


def test_sampled_blocks_run_the_model_like_the_full_graph(graph):
    torch.manual_seed(0)
    model = build_node_model("sage", 5, 3, hidden_dim=8, num_layers=2).eval()
    x = torch.randn(graph.num_nodes, 5)
    seeds = torch.tensor([2, 0, 11, 30])
    blocks = sample_neighbors(graph, seeds, [-1, -1])
    with torch.no_grad():
        torch.testing.assert_close(model(blocks, x[blocks[0].src_ids]), model(graph, x)[seeds])


def test_errors(graph):
    sampler = NeighborSampler(graph, [2])
    with pytest.raises(SamplingError, match="distinct seed ids"):
        sampler.sample_blocks(torch.tensor([1, 2, 1]))
    assert bool((sampler.scratch.get() == -1).all())  # the id map is reset after a failed call
    with pytest.raises(SamplingError, match="out of range"):
        sample_neighbors(graph, torch.tensor([graph.num_nodes]), [2])
    with pytest.raises(SamplingError, match="fanout"):
        sample_neighbors(graph, torch.tensor([1]), [2, 0])
    with pytest.raises(SamplingError, match="fanouts"):
        sample_neighbors(graph, torch.tensor([1]), [])
    with pytest.raises(ShapeError, match="edge_weight"):
        NeighborSampler(graph, [2], edge_weight=torch.ones(3))
    with pytest.raises(SamplingError, match="edge weights >= 0"):
        NeighborSampler(graph, [2], edge_weight=-torch.ones(graph.num_edges))
    check_blocks(graph, sampler.sample_blocks(torch.tensor([1, 2])), torch.tensor([1, 2]))
    assert bool((sampler.scratch.get() == -1).all())


def test_empty_seed_batch(graph):
    blocks = sample_neighbors(graph, torch.zeros(0, dtype=torch.long), [3, 2])
    assert all(b.num_edges == 0 and b.num_src_nodes == 0 for b in blocks)
