"""gSDDMM kernels against reference.py: values and gradients, every op x target pair x broadcast pattern x
index dtype, on random / empty / bipartite graphs, plus gradcheck in float64."""

from __future__ import annotations

import pytest
import torch
from saga_helpers import GRAPH_KINDS, assert_close, build_graph, grads, leaf

from graphscale.saga.ops import gsddmm  # the fused kernels behind saga() (internal)
from graphscale.saga.kernels import reference

OPS = ("add", "sub", "mul", "div", "dot", "copy_lhs", "copy_rhs")
TARGETS = (("src", "dst"), ("dst", "src"), ("src", "src"), ("edge", "dst"), ("dst", "edge"))
PATTERNS = [((6,), (6,)), ((3, 4), (3, 4)), ((3, 4), (3, 1)), ((1, 4), (3, 1)), ((4,), ()), ((), ()),
            ((2, 1, 3), (1, 4, 1))]


def rows(graph, target):
    return {"src": graph.num_src_nodes, "dst": graph.num_dst_nodes, "edge": graph.num_edges}[target]


@pytest.mark.parametrize("idtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("op", OPS)
def test_gsddmm_matches_reference(backend, idtype, op):
    if backend == "cuda" and idtype == torch.int64:
        pytest.skip("the torch path reads ids as int64 either way; int32 covers it")
    for kind in GRAPH_KINDS if idtype == torch.int32 else ("random",):
        graph = build_graph(kind, idtype)
        for lhs_target, rhs_target in TARGETS if kind == "random" else TARGETS[:2]:
            for lhs_shape, rhs_shape in PATTERNS:
                what = f"{backend} {kind} {op} {lhs_target}-{rhs_target} {lhs_shape}x{rhs_shape}"
                lhs = leaf((rows(graph, lhs_target), *lhs_shape), seed=1)
                rhs = leaf((rows(graph, rhs_target), *rhs_shape), seed=2, positive=op == "div")
                used = [t for t, keep in ((lhs, op != "copy_rhs"), (rhs, op != "copy_lhs")) if keep]
                out = gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target)
                expected = reference.gsddmm(graph.src, graph.dst, op, lhs if op != "copy_rhs" else None,
                                            rhs if op != "copy_lhs" else None, lhs_target, rhs_target)
                assert_close(out, expected, what)
                for got, want in zip(grads(out, used), grads(expected, used)):
                    assert_close(got, want, what + " grad")


def test_gsddmm_dot_float32_gat_shapes(backend):
    graph = build_graph("random")
    lhs = leaf((graph.num_nodes, 4, 16), torch.float32, seed=3)
    rhs = leaf((graph.num_nodes, 4, 16), torch.float32, seed=4)
    out = gsddmm(graph, "dot", lhs, rhs, "src", "dst")
    expected = reference.gsddmm(graph.src, graph.dst, "dot", lhs, rhs, "src", "dst")
    assert out.shape == (graph.num_edges, 4, 1) and out.dtype == torch.float32
    assert_close(out, expected, "dot", rtol=1e-5, atol=1e-5)
    for got, want in zip(grads(out, [lhs, rhs]), grads(expected, [lhs, rhs])):
        assert_close(got, want, "dot grad", rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["dot", "div", "sub"])
def test_gsddmm_gradcheck(backend, op):
    graph = build_graph("tiny")
    lhs = leaf((graph.num_src_nodes, 2, 3), seed=5)
    rhs = leaf((graph.num_dst_nodes, 2, 3), seed=6, positive=True)
    assert torch.autograd.gradcheck(lambda a, b: gsddmm(graph, op, a, b, "src", "dst"), (lhs, rhs))
