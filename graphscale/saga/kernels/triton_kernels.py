"""Triton CSR SpMM for CUDA: ``out[r] = reduce_{j in row r} x[cols[j]] * w[eids[j], head]`` (sum or mean).

One program per (row, block of features): it walks the row's edges, gathers a contiguous slice of each
neighbour's feature row, scales it by the edge's weight for the head that slice belongs to (one weight
per edge, per edge and head, or none), and accumulates in float32 registers; no atomics, nothing of size
``E x F``. ``cuda.py`` uses it for sum / mean of ``copy_lhs`` and weighted ``mul`` on float32 / float16 /
bfloat16 CUDA tensors when Triton is installed (``pip install graphscale[triton]``), cuSPARSE otherwise.
Tests run it on CPU tensors with ``TRITON_INTERPRET=1`` (set before this module is imported).
"""

from __future__ import annotations

import torch
from torch import Tensor

try:
    import triton
    import triton.language as tl
except ImportError:  # optional dependency
    triton = None

DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def available() -> bool:
    """True when Triton can be imported."""
    return triton is not None


if triton is not None:

    @triton.jit
    def _csr_spmm_kernel(indptr_ptr, cols_ptr, eids_ptr, weight_ptr, x_ptr, out_ptr, width, head_width, heads,
                         x_stride, out_stride, HAS_WEIGHT: tl.constexpr, MEAN: tl.constexpr, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        offsets = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < width
        start = tl.load(indptr_ptr + row)
        end = tl.load(indptr_ptr + row + 1)
        acc = tl.full([BLOCK], 0.0, tl.float32)
        for j in range(start, end):
            col = tl.load(cols_ptr + j).to(tl.int64)
            values = tl.load(x_ptr + col * x_stride + offsets, mask=mask, other=0.0).to(tl.float32)
            if HAS_WEIGHT:
                edge = tl.load(eids_ptr + j).to(tl.int64)
                weight = tl.load(weight_ptr + edge * heads + offsets // head_width, mask=mask, other=0.0)
                values = values * weight.to(tl.float32)
            acc += values
        if MEAN:
            acc = acc / tl.maximum(end - start, 1).to(tl.float32)
        tl.store(out_ptr + row * out_stride + offsets, acc.to(out_ptr.dtype.element_ty), mask=mask)


def csr_spmm(indptr: Tensor, cols: Tensor, eids: Tensor, x: Tensor, weight: Tensor | None, mean: bool) -> Tensor:
    """Sum (or mean) over CSR rows of neighbour rows of ``x``, optionally weighted per edge (and head).

    Args:
        indptr: Row pointers of the CSR (rows = outputs).
        cols: Neighbour (column) id of every CSR entry.
        eids: Edge id of every CSR entry (indexes ``weight``).
        x: Node features, ``H`` heads of ``F`` features flattened.
        weight: One weight per edge (``[E]``) or per edge and head (``[E, H]``), in edge order; None for 1.
        mean: Divide by the row's entry count (rows without entries give 0).

    Shapes:
        indptr: ``[R+1]``; cols, eids: ``[E]``; x: ``[C, H*F]``; weight: ``[E]`` or ``[E, H]``;
        return ``[R, H*F]`` in the dtype of ``x``.
    """
    rows, width = indptr.numel() - 1, x.shape[1]
    x = x.contiguous()
    out = torch.empty(rows, width, dtype=x.dtype, device=x.device)
    if rows == 0 or width == 0:
        return out
    heads = 1 if weight is None or weight.dim() == 1 else weight.shape[1]
    block = min(triton.next_power_of_2(width), 128)
    grid = (rows, triton.cdiv(width, block))
    weight_arg = weight.contiguous() if weight is not None else x
    _csr_spmm_kernel[grid](indptr, cols, eids, weight_arg, x, out, width, width // heads, heads, x.stride(0),
                           out.stride(0), HAS_WEIGHT=weight is not None, MEAN=mean, BLOCK=block)
    return out
