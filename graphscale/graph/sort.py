"""The O(E) stable counting sort that builds every ``Graph.csr()`` / ``Graph.csc()`` (and the segment
ops' scatter order): a numba kernel over the edge arrays, serial (a parallel version with per-thread
histograms measured no faster on 2 cores)."""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor


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
    """Stable bucket sort of CPU edges by ``rows``: ``(indptr [R+1] int64, cols [E] in row order, perm [E] int64)``
    where ``perm`` maps sorted positions back to edge ids."""
    indptr, out_cols, perm = _counting_sort(rows.contiguous().numpy(), cols.contiguous().numpy(), num_rows)
    return torch.from_numpy(indptr), torch.from_numpy(out_cols), torch.from_numpy(perm)
