"""Numba kernels of the integer inference path (:mod:`.integer`): requantization of int32 accumulators (or
int8 / float rows) to int8 in one pass, with the zero-point correction, per-row and per-column terms, and
optionally a ReLU and a second quantization (a layer's output, then the next layer's input).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True, nogil=True, parallel=True)
def requantize_rows(acc, col_offset, row_scale, mult, bias, scale1, zero1, relu, scale2, zero2, qmin, qmax, out):
    """``v = (acc[i, k] - col_offset[k]) * mult * row_scale[i] + bias[k]``, ``q1 = clamp(rint(v / scale1) +
    zero1)``; without a second stage (``scale2 <= 0``) ``out = q1``, else ``r = (q1 - zero1) * scale1``
    (``max(r, 0)`` with ``relu``) and ``out = clamp(rint(r / scale2) + zero2)``.

    Shapes:
        acc: ``[N, F]`` int32, int8 or float32; col_offset: ``[F]`` or ``[0]`` (none); row_scale: ``[N]`` or
        ``[0]`` (ones); bias: ``[F]`` or ``[0]`` (zeros); out: ``[N, F]`` int8 (written).
    """
    rows, width = out.shape
    has_offset, has_rows, has_bias = col_offset.shape[0] > 0, row_scale.shape[0] > 0, bias.shape[0] > 0
    for i in prange(rows):
        factor = np.float32(mult * row_scale[i]) if has_rows else np.float32(mult)
        for k in range(width):
            value = np.float32(acc[i, k] - col_offset[k]) if has_offset else np.float32(acc[i, k])
            value = value * factor
            if has_bias:
                value += bias[k]
            q = min(max(np.rint(value / scale1) + zero1, qmin), qmax)
            if scale2 > 0:
                real = np.float32((q - zero1) * scale1)
                if relu and real < 0:
                    real = np.float32(0.0)
                q = min(max(np.rint(real / scale2) + zero2, qmin), qmax)
            out[i, k] = np.int8(q)


__all__ = ["requantize_rows"]
