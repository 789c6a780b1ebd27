"""Segment operations: reduce consecutive row ranges (``ptr``) or rows sharing an id (``index``).

Readouts over batched graphs and reductions over sorted groups use these. Differentiable. Dispatched like
``ops.py``: numba kernels on CPU (``scatter_reduce`` groups ids with a stable counting sort first), torch
ops on CUDA, ``reference.py`` with ``GRAPHSCALE_KERNELS=reference``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ShapeError
from .kernels import reference
from .ops import REDUCES, _backend


def _check(where: str, data: Tensor, reduce: str) -> None:
    if reduce not in REDUCES:
        raise ShapeError(f"{where}: expected reduce in {REDUCES}, got {reduce!r}.")
    if not isinstance(data, Tensor) or data.dim() == 0:
        raise ShapeError(f"{where}: expected data with at least 1 dim [E, *], got {getattr(data, 'shape', data)}.")


def segment_reduce(data: Tensor, ptr: Tensor, reduce: str = "sum") -> Tensor:
    """Reduce ``data[ptr[i]:ptr[i+1]]`` for every segment ``i``; empty segments give 0.

    Shapes:
        data: ``[E, *]``; ptr: ``[S+1]`` non-decreasing int, ``ptr[0] == 0``, ``ptr[-1] == E``;
        return ``[S, *]``.

    Raises:
        ShapeError: ``ptr`` not 1-D, not starting at 0 or not ending at ``data.shape[0]``.
    """
    _check("segment_reduce", data, reduce)
    if ptr.dim() != 1 or ptr.numel() == 0 or int(ptr[0]) != 0 or int(ptr[-1]) != data.shape[0]:
        raise ShapeError(
            f"segment_reduce: expected ptr [S+1] from 0 to {data.shape[0]}, got shape {tuple(ptr.shape)} "
            f"with ends {ptr[:1].tolist()}..{ptr[-1:].tolist()}."
        )
    backend = _backend(data.device)
    if backend is None:
        return reference.segment_reduce(data, ptr, reduce)
    return backend.segment_reduce(data, ptr.to(device=data.device, dtype=torch.int64), reduce)


def scatter_reduce(data: Tensor, index: Tensor, num_segments: int, reduce: str = "sum") -> Tensor:
    """Reduce rows of ``data`` sharing the same id in ``index``; ids without rows give 0.

    Shapes:
        data: ``[E, *]``; index: ``[E]`` int in ``[0, num_segments)``; return ``[num_segments, *]``.
    """
    _check("scatter_reduce", data, reduce)
    if index.dim() != 1 or index.numel() != data.shape[0]:
        raise ShapeError(
            f"scatter_reduce: expected index of shape [{data.shape[0]}], got {tuple(index.shape)}."
        )
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_segments):
        raise ShapeError(
            f"scatter_reduce: index values must be in [0, {num_segments}), got range "
            f"[{int(index.min())}, {int(index.max())}]."
        )
    backend = _backend(data.device)
    if backend is None:
        return reference.scatter(data, index, num_segments, reduce)
    return backend.scatter_reduce(data, index.to(data.device), num_segments, reduce)


def segment_sum(data: Tensor, ptr: Tensor) -> Tensor:
    return segment_reduce(data, ptr, "sum")


def segment_mean(data: Tensor, ptr: Tensor) -> Tensor:
    return segment_reduce(data, ptr, "mean")


def segment_max(data: Tensor, ptr: Tensor) -> Tensor:
    return segment_reduce(data, ptr, "max")


def segment_min(data: Tensor, ptr: Tensor) -> Tensor:
    return segment_reduce(data, ptr, "min")


def segment_softmax(data: Tensor, index: Tensor, num_segments: int) -> Tensor:
    """Softmax of ``data [E, *]`` within groups of rows sharing ``index`` (e.g. attention pooling)."""
    top = scatter_reduce(data.detach(), index, num_segments, "max")
    exp = (data - top[index.long()]).exp()
    return exp / scatter_reduce(exp, index, num_segments, "sum")[index.long()]


__all__ = [
    "scatter_reduce",
    "segment_max",
    "segment_mean",
    "segment_min",
    "segment_reduce",
    "segment_softmax",
    "segment_sum",
]
