"""CUDA kernels from torch ops (they also run on CPU tensors: ``GRAPHSCALE_KERNELS=cuda`` tests them).

* gSpMM sum / mean of ``copy_lhs`` or ``mul`` by one weight per edge (or per edge and head) runs the
  Triton CSR kernel of ``triton_kernels.py`` on CUDA when Triton is installed; otherwise it is a
  ``torch.sparse_csr_tensor`` (built from ``adj.compressed()``, values = the weights in row order) times
  the dense node features: cuSPARSE on a GPU, MKL on a CPU; per-head weights run one product per head.
* Every other gSpMM / gSDDMM gathers and reduces edge chunks sized by ``CHUNK_BYTES``, so at most one
  chunk of messages exists at a time; max / min also return the arg edge per output element.
* Edge softmax and its backward use ``scatter_reduce`` / ``index_add_`` over the row ids (``[E, K]``
  temporaries: the size of the logits).

The backward passes come from ``autograd.py`` and are made of these same primitives.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings

import torch
from torch import Tensor

from . import autograd, reference

CHUNK_BYTES = 256 * 2**20


def supports(dtype: torch.dtype) -> bool:
    return dtype.is_floating_point


def _csr_matrix(indptr: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    if cols.dtype != indptr.dtype:
        indptr = indptr.to(cols.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(indptr, cols, values, size=shape, check_invariants=False)


def _csr_spmm(adj, op: str, lhs: Tensor, rhs: Tensor | None, plan: autograd.Plan) -> Tensor:
    indptr, cols, eids = adj.compressed()
    heads, feats = plan.num_heads, plan.num_feats
    shape = (adj.num_rows, adj.num_cols)
    if op == "copy_lhs" or plan.rhs_h == 1:
        values = rhs.reshape(-1)[eids] if op == "mul" else torch.ones(adj.num_edges, dtype=lhs.dtype,
                                                                        device=lhs.device)
        out = _csr_matrix(indptr, cols, values, shape) @ lhs.reshape(lhs.shape[0], plan.lhs_h * plan.lhs_f)
        return out.reshape(adj.num_rows, heads * feats)
    weights = rhs.reshape(adj.num_edges, heads)[eids]  # [E, H] in row order
    nodes = lhs.reshape(lhs.shape[0], plan.lhs_h, feats)
    out = lhs.new_empty(adj.num_rows, heads, feats)
    for h in range(heads):
        matrix = _csr_matrix(indptr, cols, weights[:, h].contiguous(), shape)
        out[:, h] = matrix @ nodes[:, h if plan.lhs_h > 1 else 0]
    return out.reshape(adj.num_rows, heads * feats)


def _chunks(adj, row_bytes: int) -> list[tuple[int, int]]:
    """Row ranges holding about ``CHUNK_BYTES`` of messages each (a row is never split)."""
    indptr = adj.compressed()[0]
    edges_per_chunk = max(1, CHUNK_BYTES // max(row_bytes, 1))
    if adj.num_edges <= edges_per_chunk:
        return [(0, adj.num_rows)]
    targets = torch.arange(edges_per_chunk, adj.num_edges, edges_per_chunk, device=indptr.device)
    cuts = torch.searchsorted(indptr, targets, right=True).clamp(max=adj.num_rows).tolist()
    bounds = sorted({0, *cuts, adj.num_rows})
    return list(itertools.pairwise(bounds))


def _view3(t: Tensor | None, h: int, f: int) -> Tensor | None:
    return None if t is None else t.reshape(t.shape[0], h, f)


def _chunked_spmm(adj, op: str, reduce: str, lhs: Tensor | None, rhs: Tensor | None, plan: autograd.Plan):
    indptr, cols, eids = adj.compressed()
    heads, feats, rows = plan.num_heads, plan.num_feats, adj.num_rows
    dtype, device = (lhs if lhs is not None else rhs).dtype, indptr.device
    lhs3, rhs3 = _view3(lhs, plan.lhs_h, plan.lhs_f), _view3(rhs, plan.rhs_h, plan.rhs_f)
    out = torch.zeros(rows, heads, feats, dtype=dtype, device=device)
    arg = None
    if reduce in ("max", "min"):
        arg = torch.full((rows, heads, feats), -1, dtype=torch.int64, device=device)
    for lo_row, hi_row in _chunks(adj, heads * feats * (dtype.itemsize * 3 + 16)):
        lo, hi = int(indptr[lo_row]), int(indptr[hi_row])
        if hi == lo:
            continue
        edge = eids[lo:hi] if eids is not None else torch.arange(lo, hi, device=device)
        left = lhs3.index_select(0, cols[lo:hi].long()) if lhs3 is not None else None
        right = rhs3.index_select(0, edge) if rhs3 is not None else None
        messages = reference.binary(op, left, right).expand(hi - lo, heads, feats)  # [E_c, H, F]
        local = torch.repeat_interleave(torch.arange(hi_row - lo_row, device=device), indptr[lo_row:hi_row + 1].diff())
        index = local.view(-1, 1, 1).expand_as(messages)
        if arg is None:
            out[lo_row:hi_row].index_add_(0, local, messages)
            continue
        best = out[lo_row:hi_row].scatter_reduce(0, index, messages, "amax" if reduce == "max" else "amin",
                                                 include_self=False)
        chosen = best.index_select(0, local)
        hit = (messages == chosen) | messages.isnan()
        candidates = torch.where(hit, edge.view(-1, 1, 1), torch.iinfo(torch.int64).max)
        first = torch.full_like(arg[lo_row:hi_row], torch.iinfo(torch.int64).max)
        first = first.scatter_reduce(0, index, candidates, "amin", include_self=True)
        out[lo_row:hi_row] = best
        arg[lo_row:hi_row] = torch.where(first == torch.iinfo(torch.int64).max, -1, first)
    if reduce == "mean":
        out /= adj.degrees().clamp(min=1).to(dtype).view(-1, 1, 1)
    return out.reshape(rows, heads * feats), None if arg is None else arg.reshape(rows, heads * feats)


def _use_triton(lhs: Tensor) -> bool:
    """Triton's CSR kernel for CUDA tensors of a dtype it accumulates well, when Triton is installed."""
    if not lhs.is_cuda:
        return False
    from . import triton_kernels

    return triton_kernels.available() and lhs.dtype in triton_kernels.DTYPES


def _triton_spmm(adj, op: str, lhs: Tensor, rhs: Tensor | None, plan: autograd.Plan, mean: bool) -> Tensor:
    from . import triton_kernels

    indptr, cols, eids = adj.compressed()
    weight = rhs.reshape(adj.num_edges, plan.rhs_h) if op == "mul" else None
    if weight is not None and plan.rhs_h == 1:
        weight = weight.view(-1)
    return triton_kernels.csr_spmm(indptr, cols, eids, lhs.reshape(lhs.shape[0], -1), weight, mean)


def spmm(adj, op: str, reduce: str, lhs: Tensor | None, rhs: Tensor | None, plan: autograd.Plan):
    """Raw gSpMM: ``(out [R, *plan.out_shape], arg [R, H*F] edge ids or None)``."""
    fast = (reduce in ("sum", "mean") and isinstance(adj, autograd.CompressedAdjacency) and adj.num_edges > 0
            and lhs is not None and (op == "copy_lhs" or (op == "mul" and plan.rhs_f == 1
                                                          and plan.lhs_f == plan.num_feats)))
    full_lhs = fast and plan.lhs_h == plan.num_heads
    if full_lhs and _use_triton(lhs):
        out, arg = _triton_spmm(adj, op, lhs, rhs, plan, reduce == "mean"), None
    elif fast and lhs.dtype in (torch.float32, torch.float64):
        out, arg = _csr_spmm(adj, op, lhs.contiguous(), rhs, plan), None
        if reduce == "mean":
            out = out / adj.degrees().clamp(min=1).to(out.dtype).view(-1, 1)
    else:
        out, arg = _chunked_spmm(adj, op, reduce, lhs, rhs, plan)
    return out.view(adj.num_rows, *plan.out_shape), arg


def _endpoint(adj, target: str, lo: int, hi: int) -> Tensor:
    if target == "row":
        return adj.row_ids()[lo:hi].long()
    if target == "col":
        return adj.col_ids()[lo:hi].long()
    return torch.arange(lo, hi, device=adj.device)


def sddmm(adj, op: str, lhs: Tensor, rhs: Tensor, lhs_target: str, rhs_target: str, plan: autograd.Plan) -> Tensor:
    """Raw gSDDMM in edge order over edge chunks: ``[E, *plan.out_shape]``."""
    heads, feats = plan.num_heads, plan.num_feats
    lhs3, rhs3 = _view3(lhs, plan.lhs_h, plan.lhs_f), _view3(rhs, plan.rhs_h, plan.rhs_f)
    width = heads if op == "dot" else heads * feats
    out = lhs.new_empty(adj.num_edges, width)
    step = max(1, CHUNK_BYTES // max(1, heads * feats * lhs.dtype.itemsize * 3))
    for lo in range(0, adj.num_edges, step):
        hi = min(lo + step, adj.num_edges)
        left = lhs3.index_select(0, _endpoint(adj, lhs_target, lo, hi))
        right = rhs3.index_select(0, _endpoint(adj, rhs_target, lo, hi))
        value = reference.binary(op, left, right)
        out[lo:hi] = value.reshape(hi - lo, math.prod(value.shape[1:])).expand(hi - lo, width)
    return out.view(adj.num_edges, *plan.out_shape)


def softmax(adj, logits: Tensor) -> Tensor:
    rows = adj.row_ids().long()
    flat = logits.reshape(logits.shape[0], math.prod(logits.shape[1:]))
    index = rows.view(-1, 1).expand_as(flat)
    top = flat.new_zeros(adj.num_rows, flat.shape[1]).scatter_reduce(0, index, flat, "amax", include_self=False)
    exp = (flat - top.index_select(0, rows)).exp()
    total = flat.new_zeros(adj.num_rows, flat.shape[1]).index_add_(0, rows, exp)
    return (exp / total.index_select(0, rows)).view_as(logits)


def softmax_backward(adj, y: Tensor, grad: Tensor) -> Tensor:
    rows = adj.row_ids().long()
    product = (grad * y).reshape(y.shape[0], math.prod(y.shape[1:]))
    total = product.new_zeros(adj.num_rows, product.shape[1]).index_add_(0, rows, product)
    return y * (grad - total.index_select(0, rows).view_as(y))


def sort_index(index: Tensor, num_segments: int) -> tuple[Tensor, Tensor]:
    """``(ptr [S+1], perm [E])`` grouping ``index`` by value, stable."""
    perm = torch.sort(index.long(), stable=True).indices
    ptr = torch.zeros(num_segments + 1, dtype=torch.int64, device=index.device)
    torch.cumsum(torch.bincount(index.long(), minlength=num_segments), 0, out=ptr[1:])
    return ptr, perm


# -- entry points used by ops.py / segment.py ---------------------------------------------------------------
_BACKEND = sys.modules[__name__]


def gspmm(graph, op, reduce, lhs, rhs):
    """gSpMM on a Graph; see ``ops.gspmm``."""
    return autograd.gspmm(_BACKEND, graph, op, reduce, lhs, rhs)


def gsddmm(graph, op, lhs, rhs, lhs_target, rhs_target):
    """gSDDMM on a Graph; see ``ops.gsddmm``."""
    return autograd.gsddmm(_BACKEND, graph, op, lhs, rhs, lhs_target, rhs_target)


def edge_softmax(graph, logits):
    """Edge softmax on a Graph; see ``ops.edge_softmax``."""
    return autograd.edge_softmax(_BACKEND, graph, logits)


def segment_reduce(data, ptr, reduce):
    """Segment reduction; see ``segment.segment_reduce``."""
    return autograd.segment_reduce(_BACKEND, data, ptr, reduce)


def scatter_reduce(data, index, num_segments, reduce):
    """Scatter reduction (sorted ids); see ``segment.scatter_reduce``."""
    return autograd.scatter_reduce(_BACKEND, data, index, num_segments, reduce, sort_index)
