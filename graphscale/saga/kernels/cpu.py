"""CPU kernels in numba over CSR/CSC rows (parallel over destination rows, no atomics)."""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

from . import reference


@numba.njit(cache=True, nogil=True)
def _counting_sort(rows, cols, num_rows):
    counts = np.zeros(num_rows + 1, dtype=np.int64)
    for i in range(rows.shape[0]):
        counts[rows[i] + 1] += 1
    for r in range(num_rows):
        counts[r + 1] += counts[r]
    indptr = counts.copy()
    fill = counts[:-1].copy()
    perm = np.empty(rows.shape[0], dtype=np.int64)
    out_cols = np.empty_like(cols)
    for i in range(rows.shape[0]):
        pos = fill[rows[i]]
        fill[rows[i]] = pos + 1
        perm[pos] = i
        out_cols[pos] = cols[i]
    return indptr, out_cols, perm


def counting_sort(rows: Tensor, cols: Tensor, num_rows: int) -> tuple[Tensor, Tensor, Tensor]:
    """Stable O(E) bucket sort of edges by ``rows``: ``(indptr [R+1] int64, cols [E], perm [E] int64)``."""
    indptr, out_cols, perm = _counting_sort(rows.numpy(), cols.numpy(), num_rows)
    return torch.from_numpy(indptr), torch.from_numpy(out_cols), torch.from_numpy(perm)


# Temporary: the fused numba kernels replace these (same semantics as reference.py).
def gspmm(graph, op, reduce, lhs, rhs):
    return reference.gspmm(graph.src, graph.dst, graph.num_dst_nodes, op, reduce, lhs, rhs)


def gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target):
    return reference.gsddmm(graph.src, graph.dst, op, lhs, rhs, lhs_target, rhs_target)


def edge_softmax(graph, logits):
    return reference.edge_softmax(graph.dst, graph.num_dst_nodes, logits)


@numba.njit(cache=True)
def _seed(value):
    np.random.seed(value)


def seed_numba(value: int) -> None:
    """Seed numba's internal generator (used by jitted samplers that do not take a seed)."""
    _seed(value)
