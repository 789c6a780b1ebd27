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
    seen = np.concatenate([group for group, _ in items])
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
