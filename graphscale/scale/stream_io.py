"""Node tensors of a streamed model that live outside resident memory, and tile readers for aggregation.

* :class:`NodeFile`: an ``[N, F]`` float32 tensor in a temporary file, written in row ranges and read in
  row ranges with plain file I/O (``numpy.fromfile``), so only the OS page cache holds it, never this
  process's resident memory (a memory map would count its touched pages as resident).
* :class:`SparseRows`: an ``[N, F]`` tensor that is zero except on a few sorted rows (the output
  gradient lives on the training rows only); tiles are materialised on demand.
* :class:`AggregatedRows`: ``A_0`` of a constant input that is never stored (rows aggregated on demand).
* :func:`reader_of`: ``read(c0, c1) -> [c1 - c0, F]`` for a tensor, a NodeFile or SparseRows; ``rows_of`` and
  ``gather_rows`` read row ranges / sorted rows of any of them.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import ShapeError


class NodeFile:
    """``[num_rows, width]`` float32 rows in a temporary file under ``folder`` (removed with the object).

    Shapes:
        ``nf[r0:r1] = t`` with ``t [r1 - r0, width]``; ``read(r0, r1) -> [r1 - r0, width]``.
    """

    def __init__(self, num_rows: int, width: int, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        handle, self.path = tempfile.mkstemp(prefix="nodes-", suffix=".f32", dir=folder)
        os.close(handle)
        os.truncate(self.path, 4 * num_rows * width)  # a sparse file of zeros
        self.num_rows, self.width = num_rows, width
        weakref.finalize(self, _unlink, self.path)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.num_rows, self.width)

    def __setitem__(self, rows: slice, value: Tensor) -> None:
        start = rows.start or 0
        data = value.detach().contiguous().to(torch.float32).numpy()
        with open(self.path, "r+b") as handle:
            handle.seek(4 * start * self.width)
            data.tofile(handle)

    def read(self, r0: int, r1: int) -> Tensor:
        count = max(0, r1 - r0) * self.width
        data = np.fromfile(self.path, dtype=np.float32, count=count, offset=4 * r0 * self.width)
        return torch.from_numpy(data).view(max(0, r1 - r0), self.width)


class SparseRows:
    """An ``[num_rows, F]`` tensor that is zero outside ``rows`` (sorted, unique), holding ``values [R, F]``."""

    def __init__(self, rows: Tensor, values: Tensor, num_rows: int) -> None:
        self.rows, self.values, self.num_rows = rows, values, num_rows

    def read(self, r0: int, r1: int) -> Tensor:
        out = self.values.new_zeros(r1 - r0, *self.values.shape[1:])
        bounds = torch.searchsorted(self.rows, torch.tensor([r0, r1], dtype=self.rows.dtype))
        p0, p1 = int(bounds[0]), int(bounds[1])
        if p1 > p0:
            out.index_copy_(0, self.rows[p0:p1] - r0, self.values[p0:p1])
        return out


def reader_of(source: Any) -> Callable[[int, int], Tensor]:
    """``read(c0, c1)``: rows ``[c0, c1)`` of a Tensor (a view), a NodeFile or SparseRows."""
    if isinstance(source, Tensor):
        return lambda c0, c1: source[c0:c1]
    return source.read


class AggregatedRows:
    """``A_0 = Agg_0(x)`` that is never stored: ``read(r0, r1)`` aggregates those rows from ``x`` now."""

    def __init__(self, graph: Any, layer: Any, x: Tensor) -> None:  # StreamedGraph, Stages
        self.graph, self.layer, self.x = graph, layer, x
        self.shape = (graph.num_nodes, layer.width)

    def read(self, r0: int, r1: int) -> Tensor:
        return self.graph.aggregate_rows(self.layer, self.x, r0, r1)


def local_rows(sorted_rows: Tensor, sel: slice) -> Tensor:
    """Positions inside ``sel`` of the sorted ``rows`` that fall into it."""
    p0, p1 = positions(sorted_rows, sel)
    return sorted_rows[p0:p1] - sel.start


def positions(sorted_rows: Tensor, sel: slice) -> tuple[int, int]:
    """Range ``[p0, p1)`` of the sorted ``rows`` that fall into ``sel``."""
    bounds = torch.searchsorted(sorted_rows, torch.tensor([sel.start, sel.stop], dtype=sorted_rows.dtype))
    return int(bounds[0]), int(bounds[1])


def rows_of(source: Any, sel: slice) -> Tensor:
    """Rows ``sel`` of a tensor (a view) or of a NodeFile (read from disk)."""
    return source[sel] if isinstance(source, Tensor) else source.read(sel.start, sel.stop)


def gather_rows(source: Any, rows: Tensor, batches: Any) -> Tensor:
    """``source[rows]`` for sorted ``rows``, reading a NodeFile one row chunk at a time."""
    if isinstance(source, Tensor):
        return source.index_select(0, rows)
    parts = []
    for sel, _ in batches:
        p0, p1 = positions(rows, sel)
        if p1 > p0:
            parts.append(rows_of(source, sel).index_select(0, rows[p0:p1] - sel.start))
    return torch.cat(parts) if parts else torch.empty(0, source.shape[1])


def sorted_rows(rows: Tensor | None, num_nodes: int, where: str) -> tuple[Tensor | None, Tensor | None]:
    """``rows`` sorted and unique, and the inverse that restores their order (None when already sorted).

    Raises:
        ShapeError: A row outside ``[0, num_nodes)``.
    """
    if rows is None:
        return None, None
    inverse = None
    rows = rows.long().view(-1)
    if rows.numel() > 1 and not bool((rows[1:] > rows[:-1]).all()):
        rows, inverse = torch.unique(rows, sorted=True, return_inverse=True)
    if rows.numel() and (int(rows[0]) < 0 or int(rows[-1]) >= num_nodes):
        raise ShapeError(f"{where}: expected rows in [0, {num_nodes}), got ids from {int(rows[0])} to "
                         f"{int(rows[-1])}.")
    return rows, inverse


def check_input(x: Tensor, num_nodes: int, where: str) -> None:
    """Raise ShapeError unless ``x`` is ``[num_nodes, F]`` float32 on the CPU."""
    if x.dim() != 2 or x.shape[0] != num_nodes or x.dtype != torch.float32 or x.device.type != "cpu":
        raise ShapeError(f"{where}: expected x [{num_nodes}, F] float32 on the CPU, got {tuple(x.shape)} "
                         f"{x.dtype} on {x.device}. Convert with x.float().cpu().")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


__all__ = ["AggregatedRows", "NodeFile", "SparseRows", "gather_rows", "local_rows", "positions", "reader_of",
           "rows_of"]
