"""ClusterGCN: METIS partitions (cached on disk), cluster groups, induced-subgraph batches."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.errors import SamplingError
from graphscale.sampling import ClusterSampler, graph_hash, metis_partition
from graphscale.sampling import cluster as cluster_module

from .graphs import random_graph, sbm_graph


def induced_edges(graph: gs.Graph, nodes: torch.Tensor) -> Counter:
    """Edge ids of ``graph`` with both ends in ``nodes`` (brute force)."""
    inside = torch.zeros(graph.num_nodes, dtype=torch.bool)
    inside[nodes] = True
    keep = inside[graph.src.long()] & inside[graph.dst.long()]
    return Counter(keep.nonzero().view(-1).tolist())


def test_metis_partition_is_balanced_and_cuts_few_edges():
    graph = sbm_graph(num_nodes=80, p_in=0.3, p_out=0.01)
    parts = metis_partition(graph, 2)
    assert parts.shape == (80,) and set(np.unique(parts)) == {0, 1}
    assert abs(int((parts == 0).sum()) - 40) <= 4
    cut = (parts[graph.src.numpy()] != parts[graph.dst.numpy()]).mean()
    assert cut < 0.15  # the planted blocks are found (a random split cuts ~half the edges)


def test_metis_partition_cache(tmp_path, monkeypatch):
    graph = random_graph()
    first = metis_partition(graph, 4, cache_dir=tmp_path)
    files = list(tmp_path.glob("metis-p4-s0-*.npy"))
    assert len(files) == 1 and graph_hash(graph) in files[0].name

    import pymetis

    def fail(*args, **kwargs):
        raise AssertionError("METIS ran although the partition is cached")

    monkeypatch.setattr(pymetis, "part_graph", fail)
    np.testing.assert_array_equal(metis_partition(graph, 4, cache_dir=tmp_path), first)
    other = gs.Graph(graph.src.flip(0), graph.dst, graph.num_nodes)  # another graph: another key
    assert graph_hash(other) != graph_hash(graph)
    with pytest.raises(AssertionError, match="METIS ran"):
        metis_partition(other, 4, cache_dir=tmp_path)


def test_cluster_batches_are_induced_subgraphs():
    graph = random_graph(num_nodes=90, num_edges=700, seed=1)
    parts = np.arange(90) % 9
    sampler = ClusterSampler(graph, parts=parts)
    seeds = np.arange(0, 90, 3)
    items = sampler.plan(seeds, 2, True, np.random.default_rng(0))
    assert len(items) == 5
    seen = np.concatenate([group for group, *_ in items])
    assert sorted(seen.tolist()) == list(range(9))  # every cluster exactly once per epoch
    for item in items:
        batch = sampler.sample(item, seed=0)
        nodes = batch.input_ids
        expected_nodes = np.flatnonzero(np.isin(parts, item[0]))
        assert sorted(nodes.tolist()) == expected_nodes.tolist()
        assert Counter(batch.edge_ids.tolist()) == induced_edges(graph, nodes)  # edges between clusters kept
        sub = batch.graph
        assert sub.num_nodes == nodes.numel()
        assert torch.equal(nodes[sub.src.long()], graph.src[batch.edge_ids].long())
        assert torch.equal(nodes[sub.dst.long()], graph.dst[batch.edge_ids].long())
        assert torch.equal(nodes[batch.output_index], batch.output_ids)
        assert sorted(batch.output_ids.tolist()) == sorted(set(expected_nodes.tolist()) & set(seeds.tolist()))
    assert bool((sampler.scratch.get() == -1).all())


def test_cluster_sampler_with_metis_and_errors(tmp_path):
    graph = sbm_graph(num_nodes=60)
    sampler = ClusterSampler(graph, 3, cache_dir=tmp_path)
    assert sampler.num_parts == 3 and list(tmp_path.iterdir())
    with pytest.raises(SamplingError, match="num_parts or parts"):
        ClusterSampler(graph)
    with pytest.raises(SamplingError, match="num_parts <= num_nodes"):
        metis_partition(graph, 61)
    with pytest.raises(SamplingError, match="clusters per batch"):
        sampler.plan(np.arange(5), None, False, np.random.default_rng(0))
    assert cluster_module.cluster_cache_dir("cora", tmp_path) == tmp_path / "cora" / "partitions"


def test_cache_dir_falls_back_when_the_data_root_is_read_only(tmp_path, monkeypatch):
    from graphscale.datasets import io

    shared, home = tmp_path / "shared", tmp_path / "home"
    (shared / "cora").mkdir(parents=True)
    monkeypatch.setattr(io, "DEFAULT_ROOT", home)
    assert cluster_module.cluster_cache_dir("cora", shared) == shared / "cora" / "partitions"
    shared.chmod(0o555)
    (shared / "cora").chmod(0o555)
    try:
        folder = cluster_module.cluster_cache_dir("cora", shared)
        assert folder == home / "cora" / "partitions"
        metis_partition(sbm_graph(num_nodes=60), 3, cache_dir=folder)
        assert len(list(folder.glob("metis-p3-s0-*.npy"))) == 1
    finally:
        (shared / "cora").chmod(0o755)
        shared.chmod(0o755)


def test_pair_probability_matches_enumeration():
    # 5 clusters in groups of 2 (sizes 2, 2, 1): pairs sharing a group / ordered pairs = 2 * 2 / 20
    assert ClusterSampler.pair_probability(5, 2) == pytest.approx(4 / 20)
    assert ClusterSampler.pair_probability(12, 4) == pytest.approx(3 * 4 * 3 / (12 * 11))
    assert ClusterSampler.pair_probability(6, 6) == 1.0 and ClusterSampler.pair_probability(1, 1) == 1.0
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(4000):
        order = rng.permutation(7)
        hits += (np.flatnonzero(order == 0)[0] // 3) == (np.flatnonzero(order == 1)[0] // 3)
    assert hits / 4000 == pytest.approx(ClusterSampler.pair_probability(7, 3), abs=0.03)


@pytest.mark.parametrize("aggregation", ["mean", "none"])
def test_unbiased_cluster_weights_estimate_the_full_graph_aggregate(aggregation):
    graph = random_graph(num_nodes=60, num_edges=500, seed=3)
    parts = np.arange(60) % 12
    sampler = ClusterSampler(graph, parts=parts, aggregation=aggregation)
    degree = torch.bincount(graph.dst.long(), minlength=60).double()
    full = 1.0 / degree[graph.dst.long()] if aggregation == "mean" else torch.ones(graph.num_edges, dtype=torch.float64)
    between = torch.from_numpy(parts[graph.src.long().numpy()] != parts[graph.dst.long().numpy()])
    p = ClusterSampler.pair_probability(12, 4)
    total = torch.zeros(graph.num_edges, dtype=torch.float64)
    rng = np.random.default_rng(0)
    epochs = 600
    for _ in range(epochs):
        for item in sampler.plan(np.arange(60), 4, True, rng):
            batch = sampler.sample(item, seed=0)
            eids = batch.edge_ids.long()
            # each batch edge: the full-graph weight over its probability of being in the batch
            expected = full[eids] / torch.where(between[eids], p, 1.0)
            torch.testing.assert_close(batch.edge_weight.double(), expected, rtol=1e-6, atol=0)
            total.index_add_(0, eids, batch.edge_weight.double())
    # over random groupings the weights average to the full graph's (1 / d_v for mean): unbiased
    torch.testing.assert_close(total / epochs, full, rtol=0.3, atol=0)
    assert float((total / epochs / full).mean()) == pytest.approx(1.0, abs=0.02)
    plain = ClusterSampler(graph, parts=parts)
    assert plain.sample(plain.plan(np.arange(60), 4, False, rng)[0], seed=0).edge_weight is None
    with pytest.raises(SamplingError, match="aggregation"):
        ClusterSampler(graph, parts=parts, aggregation="sum")
