"""Edge softmax against reference.py (values, gradients, gradcheck) and its backward formula."""

from __future__ import annotations

import pytest
import torch
from saga_helpers import GRAPH_KINDS, assert_close, build_graph, grads, leaf

import graphscale as gs
from graphscale.saga.kernels import reference


@pytest.mark.parametrize("idtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("shape", [(), (3,), (3, 1), (2, 5)])
def test_edge_softmax_matches_reference(backend, idtype, shape):
    for kind in GRAPH_KINDS:
        graph = build_graph(kind, idtype)
        logits = leaf((graph.num_edges, *shape), seed=1)
        out = gs.edge_softmax(graph, logits)
        expected = reference.edge_softmax(graph.dst, graph.num_dst_nodes, logits)
        assert_close(out, expected, f"{kind} {shape}")
        for got, want in zip(grads(out, [logits]), grads(expected, [logits])):
            assert_close(got, want, f"{kind} {shape} grad")


def test_edge_softmax_sums_to_one_per_destination_float32(backend):
    graph = build_graph("random")
    logits = 30 * torch.randn(graph.num_edges, 4)  # large logits: the max shift keeps exp finite
    out = gs.edge_softmax(graph, logits)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    totals = torch.zeros(graph.num_nodes, 4).index_add_(0, graph.dst.long(), out)
    has_edges = graph.in_degrees() > 0
    torch.testing.assert_close(totals[has_edges], torch.ones(int(has_edges.sum()), 4))
    assert (totals[~has_edges] == 0).all()


def test_edge_softmax_backward_formula(backend):
    graph = build_graph("random")
    logits = leaf((graph.num_edges, 2), seed=2)
    upstream = torch.randn(graph.num_edges, 2, dtype=torch.float64)
    y = gs.edge_softmax(graph, logits)
    (grad,) = torch.autograd.grad(y, logits, upstream)
    dst = graph.dst.long()
    total = torch.zeros(graph.num_nodes, 2, dtype=torch.float64).index_add_(0, dst, (upstream * y).detach())
    torch.testing.assert_close(grad, y.detach() * (upstream - total[dst]))


def test_edge_softmax_gradcheck_and_gradgradcheck(backend):
    graph = build_graph("tiny")
    logits = leaf((graph.num_edges, 2), seed=3)
    assert torch.autograd.gradcheck(lambda x: gs.edge_softmax(graph, x), (logits,))
    assert torch.autograd.gradgradcheck(lambda x: gs.edge_softmax(graph, x), (logits,))
