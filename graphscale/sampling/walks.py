"""Uniform random walks over in-edges, in numba (parallel over walks, one random stream per walk).

A step from ``v`` moves to a uniformly drawn in-neighbour ``u`` (an edge ``u -> v`` of ``graph.csc()``);
a node without in-edges keeps the walk where it is. On an undirected graph (both directions stored) this is
the ordinary random walk. Walk ``w`` draws from the stream ``(seed, w)``: the result depends on the seed,
not on the number of threads.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ..graph import Graph
from .base import as_node_ids, csc_arrays
from .rng import below, stream

WALK_STREAM = 7  # stream family of walks (distinct from the neighbour sampler's layer numbers)


@numba.njit(cache=True, nogil=True, parallel=True)
def walk_kernel(indptr, indices, roots, walk_length, seed):
    """``[R, walk_length + 1]`` int64 node ids; column 0 holds the roots."""
    walks = np.empty((roots.shape[0], walk_length + 1), dtype=np.int64)
    for w in prange(roots.shape[0]):
        state = stream(seed, WALK_STREAM, w)
        v = roots[w]
        walks[w, 0] = v
        for step in range(1, walk_length + 1):
            start = indptr[v]
            deg = indptr[v + 1] - start
            if deg > 0:
                state, r = below(state, deg)
                v = indices[start + r]
            walks[w, step] = v
    return walks


def in_edge_walks(graph: Graph, roots: Any, walk_length: int, seed: int = 0) -> Tensor:
    """One uniform random walk of ``walk_length`` steps from every root, over in-edges.

    Args:
        graph: The graph (on the CPU).
        roots: Start nodes (repeats allowed: each starts its own walk).
        walk_length: Steps per walk (0 returns the roots).
        seed: Random seed.

    Returns:
        Visited nodes, one row per walk, root first.

    Shapes:
        roots: ``[R]``; returns ``[R, walk_length + 1]`` int64.
    """
    indptr, indices, _ = csc_arrays(graph, "in_edge_walks")
    starts = as_node_ids(roots, graph.num_nodes, "in_edge_walks", "roots")
    return torch.from_numpy(walk_kernel(indptr, indices, starts, max(int(walk_length), 0), int(seed)))
