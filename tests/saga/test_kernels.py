"""gSpMM kernels (numba CPU and the torch "cuda" path on CPU) against reference.py: values and gradients,
every op x reduce x broadcast pattern x index dtype, on random / empty / bipartite graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from saga_helpers import GRAPH_KINDS, assert_close, build_graph, grads, leaf

import graphscale as gs
from graphscale.saga.ops import gspmm  # the fused kernels behind saga() (internal)
from graphscale.saga.kernels import autograd, cpu, reference

OPS = ("copy_lhs", "copy_rhs", "mul", "add", "sub", "div")
REDUCES = ("sum", "mean", "max", "min")
# (lhs feature shape, rhs feature shape): GCN weight [E], [E, 1], equal shapes, GAT [N, H, F] x [E, H, 1],
# both broadcasting, lhs broadcast over F, 1-D operands, and one pattern no [H, F] split fits (reference).
PATTERNS = [((5,), ()), ((5,), (5,)), ((3, 4), (3, 1)), ((1, 4), (3, 1)), ((3, 1), (3, 4)), ((), ()),
            ((2, 1, 3), (1, 4, 1))]


def patterns(op):
    """The broadcast patterns that differ for ``op`` (a copy reads one operand only)."""
    if op == "copy_lhs":
        return list(dict.fromkeys((lhs, (1,)) for lhs, _ in PATTERNS))
    if op == "copy_rhs":
        return list(dict.fromkeys(((1,), rhs) for _, rhs in PATTERNS))
    return PATTERNS


def run_gspmm(graph, op, reduce, lhs_shape, rhs_shape, dtype=torch.float64):
    lhs = leaf((graph.num_src_nodes, *lhs_shape), dtype, seed=1)
    rhs = leaf((graph.num_edges, *rhs_shape), dtype, seed=2, positive=op == "div")
    used = [t for t, keep in ((lhs, op != "copy_rhs"), (rhs, op != "copy_lhs")) if keep]
    out = gspmm(graph, op, reduce, lhs, rhs)
    expected = reference.gspmm(graph.src, graph.dst, graph.num_dst_nodes, op, reduce,
                               lhs if op != "copy_rhs" else None, rhs if op != "copy_lhs" else None)
    return out, expected, used


@pytest.mark.parametrize("idtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("op", OPS)
def test_gspmm_matches_reference(backend, idtype, op):
    if backend == "cuda" and idtype == torch.int64:
        pytest.skip("the torch path reads ids as int64 either way; int32 covers it")
    for kind in GRAPH_KINDS if idtype == torch.int32 else ("random",):
        graph = build_graph(kind, idtype)
        for reduce in REDUCES:
            for lhs_shape, rhs_shape in patterns(op):
                what = f"{backend} {kind} {op} {reduce} {lhs_shape}x{rhs_shape}"
                out, expected, used = run_gspmm(graph, op, reduce, lhs_shape, rhs_shape)
                assert_close(out, expected, what)
                for got, want in zip(grads(out, used), grads(expected, used)):
                    assert_close(got, want, what + " grad")


@pytest.mark.parametrize("reduce", REDUCES)
def test_gspmm_float32(backend, reduce):
    graph = build_graph("random")
    for op, (lhs_shape, rhs_shape) in (("copy_lhs", ((8,), ())), ("mul", ((8,), ())), ("mul", ((2, 4), (2, 1)))):
        out, expected, used = run_gspmm(graph, op, reduce, lhs_shape, rhs_shape, torch.float32)
        assert out.dtype == torch.float32
        assert_close(out, expected, f"{op} {reduce}", rtol=1e-5, atol=1e-5)
        for got, want in zip(grads(out, used), grads(expected, used)):
            assert_close(got, want, f"{op} {reduce} grad", rtol=1e-5, atol=1e-5)


def test_gspmm_other_dtypes_use_reference():
    graph = build_graph("random")
    x = torch.randn(graph.num_nodes, 4, dtype=torch.bfloat16)
    expected = reference.gspmm(graph.src, graph.dst, graph.num_nodes, "copy_lhs", "sum", x, None)
    torch.testing.assert_close(gspmm(graph, "copy_lhs", "sum", x), expected)


@pytest.mark.parametrize("op,reduce", [("copy_lhs", "sum"), ("mul", "mean"), ("div", "max"), ("sub", "min"),
                                       ("add", "sum"), ("copy_rhs", "max")])
def test_gspmm_gradcheck(backend, op, reduce):
    graph = build_graph("tiny")
    lhs = leaf((graph.num_src_nodes, 2, 3), seed=3)
    rhs = leaf((graph.num_edges, 2, 1), seed=4, positive=True)
    if op == "copy_lhs":
        assert torch.autograd.gradcheck(lambda a: gspmm(graph, op, reduce, a), (lhs,))
    elif op == "copy_rhs":
        assert torch.autograd.gradcheck(lambda b: gspmm(graph, op, reduce, None, b), (rhs,))
    else:
        assert torch.autograd.gradcheck(lambda a, b: gspmm(graph, op, reduce, a, b), (lhs, rhs))


def test_gspmm_double_backward_sum(backend):
    graph = build_graph("tiny")
    lhs, rhs = leaf((graph.num_src_nodes, 3), seed=5), leaf((graph.num_edges,), seed=6)
    assert torch.autograd.gradgradcheck(lambda a, b: gspmm(graph, "mul", "sum", a, b), (lhs, rhs))


def test_max_arg_points_at_the_winning_edge():
    graph = gs.Graph(torch.tensor([0, 1, 2, 0]), torch.tensor([3, 3, 3, 1]), 4)
    x = torch.tensor([[1.0, 5.0], [4.0, 2.0], [3.0, 3.0], [0.0, 0.0]])
    plan = autograd.make_plan((2,), None)
    out, arg = cpu.spmm(autograd.CompressedAdjacency(graph), "copy_lhs", "max", x, None, plan)
    assert out.tolist() == [[0, 0], [1, 5], [0, 0], [4, 5]]
    assert arg.tolist() == [[-1, -1], [3, 3], [-1, -1], [1, 0]]  # edge ids; -1 for rows without edges


def test_max_propagates_nan_and_keeps_neg_inf():
    graph = gs.Graph(torch.tensor([0, 1, 0]), torch.tensor([2, 2, 1]), 3)
    x = torch.tensor([[float("nan"), -float("inf")], [1.0, -float("inf")], [0.0, 0.0]])
    expected = reference.gspmm(graph.src, graph.dst, 3, "copy_lhs", "max", x, None)
    torch.testing.assert_close(gspmm(graph, "copy_lhs", "max", x), expected, equal_nan=True)


def test_plan_splits_heads_and_features():
    assert autograd.make_plan((5,), (1,)) == autograd.Plan(1, 5, 1, 5, 1, 1, (5,))
    assert autograd.make_plan((3, 4), (3, 1)) == autograd.Plan(3, 4, 3, 4, 3, 1, (3, 4))
    assert autograd.make_plan((1, 4), (3, 1)) == autograd.Plan(3, 4, 1, 4, 3, 1, (3, 4))
    assert autograd.make_plan((3, 4), (3, 4), dot=True) == autograd.Plan(3, 4, 3, 4, 3, 4, (3, 1))
    assert autograd.make_plan((2, 1, 3), (1, 4, 1)) is None


def test_counting_sort_is_stable():
    from graphscale.graph.sort import counting_sort

    rng = np.random.default_rng(0)
    rows = torch.from_numpy(rng.integers(0, 50, 2000).astype(np.int32))
    cols = torch.from_numpy(rng.integers(0, 70, 2000).astype(np.int32))
    indptr, out_cols, perm = counting_sort(rows, cols, 60)
    assert torch.equal(perm, torch.from_numpy(np.argsort(rows.numpy(), kind="stable")))
    assert torch.equal(out_cols, cols[perm])
    counts = torch.bincount(rows, minlength=60)
    assert torch.equal(indptr, torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]))


def test_numba_follows_torch_threads():
    import numba

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert cpu.num_threads() == 1 and numba.get_num_threads() == 1
        torch.set_num_threads(max(before, 1))
        assert cpu.num_threads() == min(max(before, 1), numba.config.NUMBA_NUM_THREADS)
    finally:
        torch.set_num_threads(before)


def test_triton_csr_spmm_in_the_interpreter(monkeypatch):
    """The Triton kernel (run by Triton's interpreter on CPU tensors) through cuda.py, values and gradients."""
    pytest.importorskip("triton")
    import importlib

    from graphscale.saga.kernels import cuda, triton_kernels

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("GRAPHSCALE_KERNELS", "cuda")
    monkeypatch.setattr(cuda, "_use_triton", lambda lhs: True)
    importlib.reload(triton_kernels)  # triton.jit reads TRITON_INTERPRET when the kernel is defined
    graph = build_graph("block")
    cases = [("copy_lhs", "sum", (6,), None), ("copy_lhs", "mean", (6,), None), ("mul", "sum", (6,), ()),
             ("mul", "mean", (3, 4), (3, 1)), ("mul", "sum", (3, 4), (1, 1))]
    for op, reduce, lhs_shape, rhs_shape in cases:
        lhs = leaf((graph.num_src_nodes, *lhs_shape), torch.float32, seed=1)
        rhs = None if rhs_shape is None else leaf((graph.num_edges, *rhs_shape), torch.float32, seed=2)
        used = [t for t in (lhs, rhs) if t is not None]
        out = gspmm(graph, op, reduce, lhs, rhs)
        expected = reference.gspmm(graph.src, graph.dst, graph.num_dst_nodes, op, reduce, lhs, rhs)
        assert_close(out, expected, f"{op} {reduce}", rtol=1e-5, atol=1e-5)
        for got, want in zip(grads(out, used), grads(expected, used)):
            assert_close(got, want, f"{op} {reduce} grad", rtol=1e-5, atol=1e-5)
    monkeypatch.undo()
    importlib.reload(triton_kernels)  # compiled kernels again for whoever runs next
