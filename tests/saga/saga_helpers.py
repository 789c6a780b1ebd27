"""Graphs and helpers shared by the saga kernel tests: random graphs with self-loops, multi-edges and
isolated nodes, an empty graph, a bipartite Block; int32 or int64 ids; kernel family forced by env."""

from __future__ import annotations

from unittest import mock

import torch

import graphscale as gs
from graphscale.graph import graph as graph_module

BACKENDS = ("cpu", "cuda")  # cuda = the torch-ops path, run on CPU tensors here


def build_graph(kind: str, idtype: torch.dtype = torch.int32, seed: int = 0) -> gs.Graph:
    """``kind``: "random" (self-loops, multi-edges, isolated nodes 40..44), "empty", "block", "tiny"."""
    g = torch.Generator().manual_seed(seed)
    with mock.patch.object(graph_module, "index_dtype", lambda n: idtype):
        if kind == "random":
            src = torch.cat([torch.randint(0, 40, (160,), generator=g), torch.tensor([3, 5, 5, 7, 7, 7])])
            dst = torch.cat([torch.randint(0, 40, (160,), generator=g), torch.tensor([3, 9, 9, 7, 2, 2])])
            graph = gs.Graph(src, dst, 45)
        elif kind == "empty":
            graph = gs.Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 6)
        elif kind == "block":
            graph = gs.Block(torch.randint(0, 30, (90,), generator=g), torch.randint(0, 12, (90,), generator=g), 30, 12)
        elif kind == "tiny":  # for gradcheck: a Block with a multi-edge and an isolated destination
            graph = gs.Block(torch.tensor([0, 1, 2, 3, 4, 5, 5, 0, 2, 1]), torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 0, 1]),
                             6, 4)
        else:
            raise ValueError(kind)
    assert graph.idtype == idtype
    return graph


GRAPH_KINDS = ("random", "empty", "block")


def leaf(shape, dtype=torch.float64, seed=0, positive=False):
    g = torch.Generator().manual_seed(seed)
    value = torch.randn(*shape, generator=g, dtype=dtype)
    if positive:  # divisors away from 0
        value = value.abs() + 0.5
    return value.requires_grad_()


def grads(out, inputs, seed=1):
    """Gradients of ``(out * fixed random weights).sum()`` w.r.t. ``inputs`` (None for unused)."""
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return torch.autograd.grad((out * weight).sum(), inputs, allow_unused=True)


def assert_close(actual, expected, what, rtol=1e-6, atol=1e-8):
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, msg=lambda m: f"{what}: {m}")
