"""Dense-matrix references for the layer tests: adjacency matrices and graph generators."""

from __future__ import annotations

import torch
from torch import Tensor

import graphscale as gs


def adjacency(graph: gs.Graph, edge_weight: Tensor | None = None, dtype=torch.float64) -> Tensor:
    """``M [N_dst, N_src]`` with ``M[v, u]`` = summed weight of the edges ``u -> v`` (multi-edges add up)."""
    weight = torch.ones(graph.num_edges, dtype=dtype) if edge_weight is None else edge_weight.to(dtype)
    m = torch.zeros(graph.num_dst_nodes, graph.num_src_nodes, dtype=dtype)
    m.index_put_((graph.dst.long(), graph.src.long()), weight, accumulate=True)
    return m


def simple_graph(num_nodes: int, p: float, seed: int, undirected: bool = False, loops: bool = False) -> gs.Graph:
    """Erdős–Rényi graph without multi-edges (optionally symmetric, optionally with some self-loops)."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(num_nodes, num_nodes, generator=gen) < p
    if undirected:
        upper = torch.triu(mask, 1)
        mask = upper | upper.T | torch.diag(mask.diagonal())
    if not loops:
        mask.fill_diagonal_(False)
    src, dst = mask.nonzero().T
    return gs.Graph(src, dst, num_nodes)


def sym_norm(m: Tensor) -> Tensor:
    """``D_in^-1/2 M D_out^-1/2`` with zero-degree rows/columns left at 0."""
    deg_in, deg_out = m.sum(1), m.sum(0)
    inv_in = torch.where(deg_in > 0, deg_in.rsqrt(), torch.zeros_like(deg_in))
    inv_out = torch.where(deg_out > 0, deg_out.rsqrt(), torch.zeros_like(deg_out))
    return inv_in[:, None] * m * inv_out[None, :]
