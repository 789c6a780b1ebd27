"""Small graphs shared by the sampler tests (imported as ``from .graphs import ...``)."""

from __future__ import annotations

import torch

import graphscale as gs


def random_graph(num_nodes: int = 60, num_edges: int = 600, seed: int = 0) -> gs.Graph:
    """Random directed multigraph with self-loops and a few isolated nodes (ids >= num_nodes - 3)."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes - 3, (num_edges,), generator=gen)
    dst = torch.randint(0, num_nodes - 3, (num_edges,), generator=gen)
    src[:5] = dst[:5]  # self-loops
    src[5:8], dst[5:8] = 1, 2  # a triple multi-edge
    return gs.Graph(src, dst, num_nodes)


def sbm_graph(num_nodes: int = 40, p_in: float = 0.3, p_out: float = 0.05, seed: int = 0) -> gs.Graph:
    """Undirected two-block SBM (both directions stored), no self-loops."""
    gen = torch.Generator().manual_seed(seed)
    blocks = torch.arange(num_nodes) % 2
    prob = torch.where(blocks[:, None] == blocks[None, :], p_in, p_out)
    upper = torch.triu(torch.rand(num_nodes, num_nodes, generator=gen) < prob, diagonal=1)
    src, dst = upper.nonzero().t()
    return gs.Graph(torch.cat([src, dst]), torch.cat([dst, src]), num_nodes)
