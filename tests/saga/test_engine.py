"""saga(): the fused kernels against the chunked generic fallback (values and gradients, every builtin x
every gather), on a graph large enough for several chunks and on a Block; user-function errors."""

from __future__ import annotations

import pytest
import torch

import graphscale as gs
from graphscale import fn
from graphscale.errors import ShapeError
from graphscale.saga.engine import _chunk_bounds

GATHERS = ("sum", "mean", "max", "min", None)


def chunky_graph(block: bool):
    g = torch.Generator().manual_seed(0)
    if block:  # bipartite: 400 sources, 150 destinations
        return gs.Block(torch.randint(0, 400, (2600,), generator=g), torch.randint(0, 150, (2600,), generator=g),
                        400, 150)
    src = torch.cat([torch.randint(0, 280, (2900,), generator=g), torch.arange(50), torch.tensor([7, 7])])
    dst = torch.cat([torch.randint(0, 280, (2900,), generator=g), torch.arange(50), torch.tensor([9, 9])])
    return gs.Graph(src, dst, 300)  # self-loops, a multi-edge, isolated nodes 280..299


def features(graph, builtin):
    g = torch.Generator().manual_seed(1)
    shapes = {"src": (graph.num_src_nodes, 2, 3), "dst": (graph.num_dst_nodes, 2, 3), "edge": (graph.num_edges, 2, 1)}
    given = {}
    for slot in (builtin.lhs, builtin.rhs):
        if slot is not None:
            value = torch.randn(*shapes[slot], generator=g, dtype=torch.float64)
            if builtin.op == "div" and slot == builtin.rhs:
                value = value.abs() + 0.5
            if builtin.op in ("add", "sub") and slot == "edge":
                value = value.expand(-1, -1, 3).contiguous()
            given[slot] = value.requires_grad_()
    return given


@pytest.mark.parametrize("block", [False, True])
@pytest.mark.parametrize("name", sorted(fn.EDGE_FUNCTIONS))
def test_fused_equals_chunked_fallback(name, block, monkeypatch):
    graph = chunky_graph(block)
    builtin = fn.EDGE_FUNCTIONS[name]
    assert len(_chunk_bounds(graph.csc()[0], 1024)) >= 3  # memory_budget=1 gives chunks of 1024 edges
    given = features(graph, builtin)
    inputs = list(given.values())
    for gather in GATHERS:
        chunked = gs.saga(graph, apply_edge=builtin, gather=gather, fused=False, memory_budget=1, **given)
        weight = torch.randn(chunked.shape, generator=torch.Generator().manual_seed(2), dtype=chunked.dtype)
        grads_chunked = torch.autograd.grad((chunked * weight).sum(), inputs)
        for backend in ("cpu", "cuda"):  # the fallback does not use the kernels; the fused path does
            monkeypatch.setenv("GRAPHSCALE_KERNELS", backend)
            fused = gs.saga(graph, apply_edge=builtin, gather=gather, **given)
            what = f"{backend} {name} gather={gather}"
            torch.testing.assert_close(fused, chunked, msg=lambda m, what=what: f"{what}: {m}")
            grads_fused = torch.autograd.grad((fused * weight).sum(), inputs)
            for a, b in zip(grads_fused, grads_chunked):
                torch.testing.assert_close(a, b, msg=lambda m, what=what: f"{what} grad: {m}")


def test_user_function_matches_builtin_and_apply_vertex():
    graph = chunky_graph(False)
    x = torch.randn(graph.num_nodes, 4, dtype=torch.float64)
    out = gs.saga(graph, src=x, dst=x, apply_edge=lambda edges: edges.src - edges.dst, gather="max",
                  apply_vertex=lambda h: h * 2, memory_budget=1)
    expected = gs.saga(graph, src=x, dst=x, apply_edge=fn.src_sub_dst, gather="max") * 2
    torch.testing.assert_close(out, expected)


def test_user_function_with_wrong_row_count_raises():
    graph = chunky_graph(False)
    x = torch.randn(graph.num_nodes, 4)
    with pytest.raises(ShapeError, match="expected one row per edge"):
        gs.saga(graph, src=x, apply_edge=lambda edges: edges.src[:-1], gather="sum")
    with pytest.raises(ShapeError, match="expected one row per edge"):
        gs.saga(graph, src=x, apply_edge=lambda edges: x, gather="sum", memory_budget=1)


def test_fused_rejects_wrong_rows():
    graph = chunky_graph(True)
    with pytest.raises(ShapeError, match="source node"):
        gs.saga(graph, src=torch.randn(graph.num_dst_nodes, 3), apply_edge=fn.copy_src)


def test_unknown_builtin_names_are_config_errors_with_a_suggestion():
    """A misspelt builtin is a wrong name (ConfigError, with did-you-mean), not a wrong shape."""
    from graphscale.errors import ConfigError

    graph = gs.Graph(torch.tensor([0, 1]), torch.tensor([1, 0]), 2)
    with pytest.raises(ConfigError, match="got 'copy_sr'. Did you mean 'copy_src'"):
        gs.saga(graph, src=torch.ones(2, 3), apply_edge="copy_sr")
    with pytest.raises(ConfigError, match="got 'summ'. Did you mean 'sum'"):
        gs.saga(graph, src=torch.ones(2, 3), gather="summ")
