"""PPRGo model (graphscale.nn.pprgo) against the dense formulas in float64."""

from __future__ import annotations

import pytest
import torch

import graphscale as gs
from graphscale.nn import build_node_model
from graphscale.nn.pprgo import PPRGo, ppr_propagate
from graphscale.sampling.ppr import ppr_topk_graph


def directed_graph(num_nodes: int = 30, num_edges: int = 120, seed: int = 0) -> gs.Graph:
    """Random directed graph with self loops and a node without in-edges (id 0 receives none)."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    dst = torch.randint(1, num_nodes, (num_edges,), generator=gen)
    src[:3] = dst[:3]
    return gs.Graph(src, dst, num_nodes)


def dense_ppr(graph: gs.Graph, alpha: float, normalization: str) -> torch.Tensor:
    """D^p Pi D^-p with Pi = alpha (I - (1 - alpha) D^-1 A)^-1, A[i, j] = #edges j -> i, D = in-degree (>= 1)."""
    n = graph.num_nodes
    adjacency = torch.zeros(n, n, dtype=torch.float64)
    adjacency.index_put_((graph.dst.long(), graph.src.long()), torch.ones(graph.num_edges, dtype=torch.float64),
                         accumulate=True)
    degree = adjacency.sum(1).clamp(min=1)
    transition = adjacency / degree[:, None]
    ppr = alpha * torch.linalg.inv(torch.eye(n, dtype=torch.float64) - (1 - alpha) * transition)
    power = {"row": 0.0, "sym": 0.5, "col": 1.0}[normalization]
    return degree[:, None] ** power * ppr / degree[None, :] ** power


def model(in_dim: int = 5, out_dim: int = 3, **hparams) -> PPRGo:
    torch.manual_seed(0)
    return build_node_model("pprgo", in_dim, out_dim, **{"hidden_dim": 8, "bias": True, **hparams}).double().eval()


@pytest.mark.parametrize("normalization", ["row", "sym", "col"])
def test_aggregate_equals_the_dense_topk_formula(normalization):
    graph = directed_graph()
    x = torch.randn(graph.num_nodes, 5, dtype=torch.float64)
    net = model(alpha=0.2)
    roots = torch.tensor([3, 0, 17, 3, 29])
    ptr, neighbors, scores = ppr_topk_graph(graph, roots, alpha=0.2, eps=1e-5, topk=6, normalization=normalization)
    dense = torch.zeros(roots.numel(), graph.num_nodes, dtype=torch.float64)  # Pi_topk, one row per root
    for i in range(roots.numel()):
        dense[i, neighbors[ptr[i]:ptr[i + 1]]] = torch.from_numpy(scores[ptr[i]:ptr[i + 1]]).double()
    expected = dense @ net.mlp(x)
    ptr_t, nb_t, sc_t = (torch.from_numpy(a) for a in (ptr, neighbors, scores))
    torch.testing.assert_close(net.aggregate(x[nb_t], sc_t, ptr_t), expected)
    distinct, inverse = torch.unique(nb_t, return_inverse=True)
    torch.testing.assert_close(net.aggregate(x[distinct], sc_t, ptr_t, inverse), expected)
    # the top-k rows approximate the exact (normalised) PPR rows; at top-k = N and tiny eps they are exact
    ptr, neighbors, scores = ppr_topk_graph(graph, roots, alpha=0.2, eps=1e-12, topk=graph.num_nodes,
                                            normalization=normalization)
    full = torch.zeros_like(dense)
    for i in range(roots.numel()):
        full[i, neighbors[ptr[i]:ptr[i + 1]]] = torch.from_numpy(scores[ptr[i]:ptr[i + 1]]).double()
    torch.testing.assert_close(full, dense_ppr(graph, 0.2, normalization)[roots], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("normalization", ["row", "sym", "col"])
def test_inference_propagation_converges_to_pi_times_mlp(normalization):
    graph = directed_graph(seed=1)
    x = torch.randn(graph.num_nodes, 5, dtype=torch.float64)
    net = model(alpha=0.3, K=200, ppr_norm=normalization)
    h = net.mlp(x)
    torch.testing.assert_close(net(graph, x), dense_ppr(graph, 0.3, normalization) @ h, atol=1e-9, rtol=1e-9)
    # two steps (the paper's nprop) are the truncated series alpha sum_t ((1-alpha) S)^t H + ((1-alpha) S)^2 H
    two = ppr_propagate(graph, h, 0.3, 2, normalization)
    step = lambda z: ppr_propagate(graph, z, 0.0, 1, normalization)  # noqa: E731  (S z)
    torch.testing.assert_close(two, 0.3 * h + 0.3 * 0.7 * step(h) + 0.49 * step(step(h)))
    assert torch.equal(ppr_propagate(graph, h, 0.3, 0, normalization), h)


def test_builds_from_the_registry_and_trains_a_step():
    graph = directed_graph()
    net = build_node_model("PPRGo", 5, 3)
    assert net.alpha == 0.5 and net.K == 2 and net.ppr_topk == 32 and net.ppr_norm == "sym"  # paper defaults
    x = torch.randn(graph.num_nodes, 5)
    out = net(graph, x)
    assert out.shape == (graph.num_nodes, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_aggregate_rejects_mismatched_lists():
    net = model()
    with pytest.raises(gs.errors.ShapeError, match="one score per neighbour row"):
        net.aggregate(torch.zeros(4, 5, dtype=torch.float64), torch.ones(3), torch.tensor([0, 3]))
    empty = net.aggregate(torch.zeros(0, 5, dtype=torch.float64), torch.ones(0), torch.tensor([0, 0]))
    assert empty.shape == (1, 3) and torch.equal(empty, torch.zeros(1, 3, dtype=torch.float64))
