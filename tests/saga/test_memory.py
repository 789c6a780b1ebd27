"""The common gSpMM paths never allocate an ``[E, F]`` tensor, forward or backward (profiled allocations);
the torch ("cuda") path keeps its gathered chunks under ``CHUNK_BYTES``."""

from __future__ import annotations

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

import graphscale as gs
from graphscale.saga.ops import gspmm  # the fused kernels behind saga() (internal)
from graphscale.saga.kernels import cuda, reference

NUM_NODES, NUM_EDGES, HEADS, FEATS = 2000, 40000, 4, 16


@pytest.fixture(scope="module")
def graph():
    g = torch.Generator().manual_seed(0)
    graph = gs.Graph(torch.randint(0, NUM_NODES, (NUM_EDGES,), generator=g),
                     torch.randint(0, NUM_NODES, (NUM_EDGES,), generator=g), NUM_NODES)
    graph.csc(), graph.csr(), graph.in_degrees(), graph.out_degrees()  # cached structure is not per call
    return graph


def largest_allocation(fn) -> int:
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
        out.backward(torch.ones_like(out))
    return max(event.cpu_memory_usage for event in prof.events())


def cases(graph):
    x = torch.randn(NUM_NODES, HEADS * FEATS, requires_grad=True)
    h = torch.randn(NUM_NODES, HEADS, FEATS, requires_grad=True)
    weight = torch.rand(NUM_EDGES, requires_grad=True)
    attention = torch.rand(NUM_EDGES, HEADS, 1, requires_grad=True)
    return {
        "copy_lhs sum": lambda: gspmm(graph, "copy_lhs", "sum", x),
        "copy_lhs mean": lambda: gspmm(graph, "copy_lhs", "mean", x),
        "mul [E] sum": lambda: gspmm(graph, "mul", "sum", x, weight),
        "mul [E] mean": lambda: gspmm(graph, "mul", "mean", x, weight),
        "mul [E, H, 1] sum": lambda: gspmm(graph, "mul", "sum", h, attention),
    }


def test_common_paths_allocate_no_edge_by_feature_tensor(graph, monkeypatch):
    monkeypatch.setenv("GRAPHSCALE_KERNELS", "cpu")
    edge_by_feature = NUM_EDGES * HEADS * FEATS * 4
    for name, fn in cases(graph).items():
        assert largest_allocation(fn) < edge_by_feature / 4, name
    # the oracle does materialise messages: the measurement sees them
    x = torch.randn(NUM_NODES, HEADS * FEATS, requires_grad=True)
    oracle = largest_allocation(lambda: reference.gspmm(graph.src, graph.dst, NUM_NODES, "copy_lhs", "sum", x, None))
    assert oracle >= edge_by_feature


def test_torch_path_chunks_stay_under_budget(graph, monkeypatch):
    monkeypatch.setenv("GRAPHSCALE_KERNELS", "cuda")
    monkeypatch.setattr(cuda, "CHUNK_BYTES", 2**20)
    edge_by_feature = NUM_EDGES * HEADS * FEATS * 4
    for name, fn in cases(graph).items():
        assert largest_allocation(fn) <= 2 * 2**20, name
    x = torch.randn(NUM_NODES, HEADS * FEATS, requires_grad=True)
    assert largest_allocation(lambda: gspmm(graph, "copy_lhs", "max", x)) <= 2 * 2**20 < edge_by_feature
