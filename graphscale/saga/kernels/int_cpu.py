"""Integer aggregation kernels (numba): int8 rows summed into int32 over the rows of a compressed adjacency.

The integer inference path of Degree-Quant (:mod:`graphscale.compress.integer`) aggregates quantized messages
with int32 accumulation; these are its CPU kernels, reached only through :mod:`graphscale.saga.integer`.
Rows are cut into chunks of equal work (``row_bounds``), each chunk with one int32 accumulator row, and the
source rows ``AHEAD`` edges on are prefetched, as in the float gSpMM kernels.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from .cpu_kernels import AHEAD, _prefetch_row


@numba.njit(cache=True, nogil=True, inline="always")
def _sum_row(indptr, nbr, values, zero_point, r, last, acc):
    """``acc[k] = sum_{j in row r} (values[nbr[j], k] - zero_point)`` in int32, prefetching ``AHEAD`` edges on."""
    start, end = indptr[r], indptr[r + 1]
    correction = np.int32(zero_point) * np.int32(end - start)
    for k in range(acc.shape[0]):
        acc[k] = -correction
    for j in range(start, end):
        if j < last:
            _prefetch_row(values, nbr[j + AHEAD])
        u = nbr[j]
        for k in range(acc.shape[0]):
            acc[k] += np.int32(values[u, k])


@numba.njit(cache=True, nogil=True, parallel=True)
def int8_sum_rows(indptr, nbr, values, zero_point, bounds, out):
    """``out[r, k] = sum_{j in row r} (values[nbr[j], k] - zero_point)`` in int32 (exact, no float).

    Shapes:
        indptr: ``[R + 1]`` int64; nbr: ``[E]`` int32/int64 source rows; values: ``[N_src, F]`` int8;
        bounds: ``[C + 1]`` int64 row chunks; out: ``[R, F]`` int32 (written).
    """
    width = out.shape[1]
    last = indptr[indptr.shape[0] - 1] - AHEAD
    for chunk in prange(bounds.shape[0] - 1):
        acc = np.empty(width, dtype=np.int32)
        for r in range(bounds[chunk], bounds[chunk + 1]):
            _sum_row(indptr, nbr, values, zero_point, r, last, acc)
            for k in range(width):
                out[r, k] = acc[k]


@numba.njit(cache=True, nogil=True, parallel=True)
def int8_sum_rows_requant(indptr, nbr, values, zero_point, row_scale, out_scale, out_zero, qmin, qmax, bounds, out):
    """The int32 sums of :func:`int8_sum_rows` requantized in the same pass:
    ``out[r, k] = clamp(rint(acc[r, k] * row_scale[r] / out_scale) + out_zero, qmin, qmax)`` as int8.

    Shapes:
        row_scale: ``[R]`` float32 (the float value of one unit of ``acc`` in row ``r``); out: ``[R, F]`` int8.
    """
    width = out.shape[1]
    last = indptr[indptr.shape[0] - 1] - AHEAD
    for chunk in prange(bounds.shape[0] - 1):
        acc = np.empty(width, dtype=np.int32)
        for r in range(bounds[chunk], bounds[chunk + 1]):
            _sum_row(indptr, nbr, values, zero_point, r, last, acc)
            scale = row_scale[r]
            for k in range(width):
                q = np.rint(np.float32(acc[k]) * scale / out_scale) + out_zero
                out[r, k] = np.int8(min(max(q, qmin), qmax))


__all__ = ["int8_sum_rows", "int8_sum_rows_requant"]
