"""ShaDow-GNN scopes: k-hop sets against a naive BFS, budgets, induced edges, disjoint batching, determinism."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.errors import SamplingError
from graphscale.sampling.shadow import ShadowSampler

from .graphs import random_graph


def with_hub(num_nodes: int = 60) -> gs.Graph:
    """``random_graph`` plus node 0 receiving an edge from every node twice (a hub: its in-edge row is far
    longer than any scope, so induction takes the row-search branch for it)."""
    base = random_graph(num_nodes)
    hub = torch.arange(num_nodes).repeat(2)
    return gs.Graph(torch.cat([base.src.long(), hub]), torch.cat([base.dst.long(), torch.zeros_like(hub)]),
                    num_nodes)


def in_neighbours(graph: gs.Graph) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(graph.num_nodes)]
    for s, d in zip(graph.src.tolist(), graph.dst.tolist()):
        out[d].add(s)
    return out


def naive_bfs(graph: gs.Graph, target: int, hops: int) -> list[int]:
    """Every in-neighbour hop by hop: target, then each hop's new nodes in ascending id order."""
    nbrs = in_neighbours(graph)
    order, seen, frontier = [target], {target}, [target]
    for _ in range(hops):
        new = sorted({w for u in frontier for w in nbrs[u]} - seen)
        order += new
        seen |= set(new)
        frontier = new
    return order


def naive_induced(graph: gs.Graph, nodes: list[int]) -> Counter:
    """Multiset of ``(src, dst, edge id)`` of the graph edges with both ends in ``nodes``."""
    keep = set(nodes)
    return Counter((s, d, e) for e, (s, d) in enumerate(zip(graph.src.tolist(), graph.dst.tolist()))
                   if s in keep and d in keep)


def scopes_of(batch) -> list[list[int]]:
    ptr = batch.graph.node_ptr.tolist()
    return [batch.input_ids[ptr[b]:ptr[b + 1]].tolist() for b in range(len(ptr) - 1)]


def edges_of(batch, b: int) -> Counter:
    """Scope ``b``'s edges as ``(src, dst, edge id)`` in full-graph ids."""
    lo, hi = batch.graph.edge_ptr[b].item(), batch.graph.edge_ptr[b + 1].item()
    ids = batch.input_ids
    src, dst = ids[batch.graph.src[lo:hi].long()], ids[batch.graph.dst[lo:hi].long()]
    return Counter(zip(src.tolist(), dst.tolist(), batch.edge_ids[lo:hi].tolist()))


@pytest.mark.parametrize("fanouts", [[-1], [-1, -1], [1000, 1000, 1000]])
def test_unbounded_khop_scope_is_the_bfs_and_its_induced_subgraph(fanouts):
    graph = with_hub()
    targets = np.array([0, 5, 17, 5, 59])  # a hub, a repeat and an isolated node
    batch = ShadowSampler(graph, "khop", fanouts=fanouts).sample(targets, seed=3)
    assert batch.output_ids.tolist() == targets.tolist() and batch.output_index is None
    for b, (target, scope) in enumerate(zip(targets.tolist(), scopes_of(batch))):
        assert scope == naive_bfs(graph, target, len(fanouts))
        assert scope[0] == target  # the target index of a scope is its first row
        assert edges_of(batch, b) == naive_induced(graph, scope)


@pytest.mark.parametrize("fanouts", [[3], [4, 2], [2, 2, 2]])
def test_budgets_are_respected_and_induced_edges_are_exact(fanouts):
    graph = with_hub()
    nbrs = in_neighbours(graph)
    targets = np.arange(0, 57, 4)
    batch = ShadowSampler(graph, "khop", fanouts=fanouts).sample(targets, seed=11)
    # hop l's draws do not depend on later hops: the scopes of fanouts[:l] are prefixes, so they mark the hops
    ends = [[len(s) for s in scopes_of(ShadowSampler(graph, fanouts=fanouts[:k]).sample(targets, seed=11))]
            for k in range(1, len(fanouts) + 1)]
    for b, scope in enumerate(scopes_of(batch)):
        assert len(set(scope)) == len(scope)
        assert set(scope) <= set(naive_bfs(graph, scope[0], len(fanouts)))
        assert ends[-1][b] == len(scope)
        hop, start = [scope[0]], 1
        for k, fanout in enumerate(fanouts):  # each hop: new in-neighbours of the previous hop, within budget
            new = scope[start:ends[k][b]]
            assert set(new) <= set().union(*(nbrs[u] for u in hop)) - set(scope[:start])
            assert new == sorted(new) and len(new) <= sum(min(fanout, len(nbrs[u])) for u in hop)
            hop, start = new, ends[k][b]
        assert edges_of(batch, b) == naive_induced(graph, scope)


def test_exact_budget_on_a_tree():
    """In-tree with 10 children per node: fanouts [3, 2] keep exactly 1 + 3 + 3 * 2 nodes, different per seed."""
    children = 10
    parents = torch.arange(1, 1 + children + children * children)
    graph = gs.Graph(parents, (parents - 1) // children, 1 + children + children * children)
    sampler = ShadowSampler(graph, "khop", fanouts=[3, 2])
    scopes = [scopes_of(sampler.sample(np.array([0]), seed))[0] for seed in range(6)]
    assert all(len(scope) == 10 for scope in scopes)
    assert len({tuple(scope) for scope in scopes}) > 1


def test_batches_are_disjoint_and_scopes_do_not_depend_on_the_batch(graph):
    sampler = ShadowSampler(graph, "khop", fanouts=[4, 3])
    targets = np.arange(0, 40, 3)
    batch = sampler.sample(targets, seed=7)
    g = batch.graph
    ptr, edge_ptr = g.node_ptr, g.edge_ptr
    assert ptr[-1].item() == g.num_nodes == batch.input_ids.numel() and edge_ptr[-1].item() == g.num_edges
    owner = torch.repeat_interleave(torch.arange(len(targets)), ptr.diff())
    edge_owner = torch.repeat_interleave(torch.arange(len(targets)), edge_ptr.diff())
    assert torch.equal(owner[g.src.long()], edge_owner) and torch.equal(owner[g.dst.long()], edge_owner)
    assert torch.equal(batch.input_ids[ptr[:-1]], torch.from_numpy(targets))  # target rows
    for b, target in enumerate(targets.tolist()):  # alone, or in another batch, a target gets the same scope
        alone = sampler.sample(np.array([target]), seed=7)
        assert scopes_of(alone)[0] == scopes_of(batch)[b]
        assert edges_of(alone, 0) == edges_of(batch, b)
    assert scopes_of(sampler.sample(targets, seed=8)) != scopes_of(batch)


def test_loader_drives_the_sampler(graph):
    loader = gs.loader.NodeLoader(ShadowSampler(graph, fanouts=[3, 3]), torch.arange(50), 16, num_workers=2)
    seen = torch.cat([batch.output_ids for batch in loader])
    assert sorted(seen.tolist()) == list(range(50))


def test_bad_arguments(graph):
    with pytest.raises(SamplingError, match="method"):
        ShadowSampler(graph, "walk")
    with pytest.raises(SamplingError, match="fanout"):
        ShadowSampler(graph, fanouts=[0])
    with pytest.raises(SamplingError, match="out of range"):
        ShadowSampler(graph, fanouts=[2]).sample(np.array([graph.num_nodes]))
    with pytest.raises(SamplingError, match="batch_size"):
        ShadowSampler(graph, fanouts=[2]).plan(np.arange(4), 0, False, np.random.default_rng(0))


def dense_ppr(graph: gs.Graph, alpha: float) -> np.ndarray:
    """Exact PPR rows along in-edges: ``alpha (I - (1 - alpha) D_in^-1 A^T)^-1`` (row s: walks from s to srcs)."""
    n = graph.num_nodes
    walk = np.zeros((n, n))
    for s, d in zip(graph.src.tolist(), graph.dst.tolist()):
        walk[d, s] += 1.0
    walk /= np.maximum(walk.sum(1, keepdims=True), 1.0)
    return alpha * np.linalg.inv(np.eye(n) - (1 - alpha) * walk)


def test_ppr_scope_is_the_target_and_its_topk_by_exact_pagerank():
    from .graphs import sbm_graph

    graph = sbm_graph(num_nodes=30, seed=2)
    pagerank = dense_ppr(graph, 0.25)
    sampler = ShadowSampler(graph, "ppr", topk=5, alpha=0.25, eps=1e-9)
    targets = np.array([0, 7, 7, 29])
    batch = sampler.sample(targets)
    assert scopes_of(sampler.sample(targets[::-1].copy()))[::-1] == scopes_of(batch)  # cached, order-free
    for b, (target, scope) in enumerate(zip(targets.tolist(), scopes_of(batch))):
        others = [v for v in np.argsort(-pagerank[target], kind="stable").tolist() if v != target][:5]
        assert scope == [target, *others]
        assert edges_of(batch, b) == naive_induced(graph, scope)
