"""Chunked adjacency for streamed full-batch execution (see :mod:`graphscale.scale.stream`).

A :class:`ChunkedAdjacency` holds one direction of a graph's edges (rows = destinations for the forward
aggregation, rows = sources for its transpose) compressed by row and split two ways:

* **source-column tiles** ``[c0, c1)``: each tile keeps its own row pointer ``indptr_s [R + 1]`` (int64) and
  the column ids of its edges, local to the tile (int32), in row order;
* **destination-row chunks** ``[r0, r1)``: cut so that a chunk holds about ``edges_per_block`` edges per
  tile. A *block* is one (tile, chunk) pair: ``indptr_s[r0:r1 + 1]`` and ``cols_s[indptr_s[r0]:indptr_s[r1]]``.

With one tile this is the plain CSC (CSR for the transpose) sliced into row chunks, and the blocks are
views: no copy. Row pointers and column ids live in memory, or in two files per tile (``spill_dir``) that
each block reads with ``numpy.fromfile`` at its offset: only the OS page cache holds them then, never this
process's resident memory (what stays resident is ``O(R)``: the degrees and the chunk bounds). Self-loops (GCN) are appended as the last entry of every row, the order
``add_self_loops`` and the stable CSC/CSR of :class:`~graphscale.graph.Graph` give, so a block's rows
hold the same edges in the same order as the unchunked kernels see them.

:meth:`ChunkedAdjacency.aggregate` runs the SAGA gSpMM kernels of ``saga/kernels/cpu_kernels.py`` (the
``sum``/``mean`` kernels with ``copy_lhs``, or ``mul`` with GCN weights computed per block from per-node
factors ``inv_col[col] * inv_row[row]``, bit-identical to ``gcn_norm``'s ``[E]`` weights) block by block.
:class:`StreamedGraph` holds both directions of a graph (with and without self-loops, as layers need them)
and runs a layer's aggregation or its transpose.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ..errors import ConfigError, ShapeError
from ..graph import Graph
from ..saga.kernels import cpu, cpu_kernels
from .stream_io import reader_of
from .stream_plan import StreamPlan

if TYPE_CHECKING:
    from ..nn.conv.stages import Stages

# A source-column tile of the aggregation input: ``read(c0, c1) -> [c1 - c0, F]`` float32 (view or copy).
TileReader = Callable[[int, int], Tensor]


@numba.njit(cache=True, nogil=True)
def _compress(rows, cols, num_rows, loops):
    """Stable counting sort of ``cols`` by ``rows``; ``loops`` appends ``r`` as the last entry of row ``r``."""
    indptr = np.zeros(num_rows + 1, dtype=np.int64)
    for i in range(rows.shape[0]):
        indptr[rows[i] + 1] += 1
    for r in range(num_rows):
        indptr[r + 1] += indptr[r] + (1 if loops else 0)
    fill = indptr[:-1].copy()
    out = np.empty(indptr[num_rows], dtype=np.int32)
    for i in range(rows.shape[0]):
        r = rows[i]
        out[fill[r]] = cols[i]
        fill[r] += 1
    if loops:
        for r in range(num_rows):
            out[fill[r]] = r
    return indptr, out


@numba.njit(cache=True, nogil=True)
def _tile(indptr, cols, c0, c1):
    """Entries of every row with ``c0 <= col < c1``: ``(indptr [R + 1], local cols)`` keeping row order."""
    num_rows = indptr.shape[0] - 1
    out_ptr = np.zeros(num_rows + 1, dtype=np.int64)
    for r in range(num_rows):
        count = 0
        for j in range(indptr[r], indptr[r + 1]):
            if c0 <= cols[j] < c1:
                count += 1
        out_ptr[r + 1] = out_ptr[r] + count
    out = np.empty(out_ptr[num_rows], dtype=np.int32)
    for r in range(num_rows):
        k = out_ptr[r]
        for j in range(indptr[r], indptr[r + 1]):
            c = cols[j]
            if c0 <= c < c1:
                out[k] = c - c0
                k += 1
    return out_ptr, out


@numba.njit(cache=True, nogil=True, parallel=True)
def _block_weights(indptr, cols, col0, row0, inv_col, inv_row, out):
    """``out[j, 0] = inv_col[col0 + cols[j]] * inv_row[row0 + r]`` for the entries ``j`` of local row ``r``."""
    for r in prange(indptr.shape[0] - 1):
        scale = inv_row[row0 + r]
        for j in range(indptr[r], indptr[r + 1]):
            out[j, 0] = inv_col[col0 + cols[j]] * scale


@numba.njit(cache=True, nogil=True, parallel=True)
def _add_rows(out, part):
    for r in prange(out.shape[0]):
        for k in range(out.shape[1]):
            out[r, k] += part[r, k]


@numba.njit(cache=True, nogil=True, parallel=True)
def _mean_rows(out, degrees):
    """The mean kernel's finish: rows with more than one entry scaled by ``1 / degree``."""
    for r in prange(out.shape[0]):
        if degrees[r] > 1:
            scale = 1.0 / degrees[r]
            for k in range(out.shape[1]):
                out[r, k] *= scale


def chunk_bounds(indptr: np.ndarray, edges_per_chunk: int) -> np.ndarray:
    """Row boundaries ``[0, ..., R]`` with about ``edges_per_chunk`` entries (plus one per row) per chunk.

    A row with more entries than that forms a chunk of its own.
    """
    num_rows = indptr.shape[0] - 1
    cost = indptr + np.arange(num_rows + 1)
    targets = np.arange(edges_per_chunk, int(cost[-1]), edges_per_chunk, dtype=np.int64)
    cuts = np.searchsorted(cost, targets, side="left")
    return np.unique(np.concatenate([[0], cuts, [num_rows]])).astype(np.int64)


class ChunkedAdjacency:
    """One direction of a graph's edges, split into source-column tiles and destination-row chunks.

    Args:
        rows: ``[E]`` row id of every edge (``dst`` for the forward aggregation, ``src`` for its transpose).
        cols: ``[E]`` column id of every edge.
        num_rows, num_cols: Node counts of the two sides (equal when ``self_loops``).
        self_loops: Append ``r -> r`` as the last entry of every row.
        edges_per_block: Target entries per (tile, chunk) block.
        col_tiles: Number of source-column tiles (1 = destination-row chunks only).
        spill_dir: Folder for the column-id files; None keeps them in memory.

    Shapes:
        rows, cols: ``[E]`` int32 or int64.
    """

    def __init__(self, rows: Tensor, cols: Tensor, num_rows: int, num_cols: int, *, self_loops: bool,
                 edges_per_block: int, col_tiles: int = 1, spill_dir: str | Path | None = None) -> None:
        self.num_rows, self.num_cols, self.self_loops = num_rows, num_cols, self_loops
        indptr, full = _compress(rows.contiguous().numpy(), cols.contiguous().numpy(), num_rows, self_loops)
        self.degrees = np.diff(indptr)                                  # [R] int64 entries per row
        self.num_entries = int(indptr[-1])
        tiles = max(1, min(int(col_tiles), max(num_cols, 1)))
        self.col_bounds = np.linspace(0, num_cols, tiles + 1).round().astype(np.int64)
        self.row_bounds = chunk_bounds(indptr, max(1, edges_per_block) * tiles)
        self._indptrs: list[np.ndarray | None] = []
        self._cols: list[np.ndarray | None] = []
        self._files: list[tuple[str, str]] = []
        self._dir: str | None = None
        if spill_dir is not None:
            Path(spill_dir).mkdir(parents=True, exist_ok=True)
            self._dir = tempfile.mkdtemp(prefix="adjacency-", dir=spill_dir)
            weakref.finalize(self, _remove_files, self._dir)
        for s in range(tiles):
            if tiles == 1:
                tile_ptr, tile_cols = indptr, full
            else:
                tile_ptr, tile_cols = _tile(indptr, full, int(self.col_bounds[s]), int(self.col_bounds[s + 1]))
            if self._dir is None:
                self._indptrs.append(tile_ptr)
                self._cols.append(tile_cols)
            else:
                paths = (os.path.join(self._dir, f"indptr{s}.int64"), os.path.join(self._dir, f"cols{s}.int32"))
                tile_ptr.tofile(paths[0])
                tile_cols.tofile(paths[1])
                self._files.append(paths)
                self._indptrs.append(None)
                self._cols.append(None)
            del tile_ptr, tile_cols
        del full
        self._eids = np.zeros(0, dtype=np.int64)

    @property
    def num_tiles(self) -> int:
        return len(self._cols)

    @property
    def spilled(self) -> bool:
        return self._dir is not None

    def resident_bytes(self) -> int:
        """Bytes this object keeps in memory (row pointers, degrees, in-memory column ids)."""
        total = self.degrees.nbytes + self.row_bounds.nbytes
        return total + sum(a.nbytes for a in (*self._indptrs, *self._cols) if a is not None)

    def block(self, tile: int, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """``(local indptr [r1 - r0 + 1] int64, local column ids int32)`` of rows ``[r0, r1)`` in ``tile``."""
        ptr, cols = self._indptrs[tile], self._cols[tile]
        if ptr is None:
            ptr = np.fromfile(self._files[tile][0], dtype=np.int64, count=r1 - r0 + 1, offset=8 * r0)
            r0, r1 = 0, r1 - r0
        start, stop = int(ptr[r0]), int(ptr[r1])
        local = ptr[r0:r1 + 1] - start
        if cols is not None:
            return local, cols[start:stop]
        return local, np.fromfile(self._files[tile][1], dtype=np.int32, count=stop - start, offset=4 * start)

    def _edge_ids(self, count: int) -> np.ndarray:
        if self._eids.shape[0] < count:
            self._eids = np.arange(count, dtype=np.int64)
        return self._eids[:count]

    def aggregate(self, read: TileReader, out: Any, *, mean: bool = False,
                  inv_row: Tensor | None = None, inv_col: Tensor | None = None) -> Any:
        """``out[r] = sum_{(r, c)} w_rc * lhs[c]`` over every block (``/ degree`` with ``mean``).

        ``w_rc = inv_col[c] * inv_row[r]`` when both factors are given (GCN), else 1. ``read(c0, c1)``
        returns the rows of the aggregation input for one source-column tile; tiles are visited in order,
        each read once, and every row chunk of a tile accumulates into ``out``: a tensor, or a row store
        with ``read(r0, r1)`` and ``out[r0:r1] = rows`` (a ``NodeFile``: rows go to disk chunk by chunk).

        Shapes:
            read(c0, c1): ``[c1 - c0, F]`` float32; out: ``[R, F]`` float32 (overwritten); inv_row: ``[R]``;
            inv_col: ``[C]``; return ``out``.
        """
        weighted = inv_row is not None and inv_col is not None
        factors = (inv_col.numpy(), inv_row.numpy()) if weighted else None
        in_memory = isinstance(out, Tensor)
        out_np = out.numpy() if in_memory else None
        width = out.shape[1]
        single = self.num_tiles == 1
        for s in range(self.num_tiles):
            c0 = int(self.col_bounds[s])
            lhs = read(c0, int(self.col_bounds[s + 1])).contiguous()
            lhs_np = lhs.reshape(lhs.shape[0], width).numpy() if lhs.shape[0] else np.zeros((1, width), np.float32)
            for c in range(self.row_bounds.shape[0] - 1):
                r0, r1 = int(self.row_bounds[c]), int(self.row_bounds[c + 1])
                indptr, cols = self.block(s, r0, r1)
                target = out_np[r0:r1] if (in_memory and s == 0) else np.empty((r1 - r0, width), dtype=np.float32)
                _spmm(indptr, cols, lhs_np, target, mean and single, factors and (*factors, c0, r0), self._edge_ids)
                if s > 0:  # accumulate this tile's part into the rows so far
                    rows = out_np[r0:r1] if in_memory else out.read(r0, r1).numpy()
                    _add_rows(rows, target)
                    target = rows
                if mean and not single and s == self.num_tiles - 1:
                    _mean_rows(target, self.degrees[r0:r1])
                if not in_memory:
                    out[r0:r1] = torch.from_numpy(target)
            del lhs, lhs_np
        return out


    def aggregate_rows(self, read: TileReader, r0: int, r1: int, *, mean: bool = False,
                       inv_row: Tensor | None = None, inv_col: Tensor | None = None) -> Tensor:
        """Rows ``[r0, r1)`` of :meth:`aggregate` (``read`` as there), as a new ``[r1 - r0, F]`` tensor."""
        weighted = inv_row is not None and inv_col is not None
        factors = (inv_col.numpy(), inv_row.numpy()) if weighted else None
        single = self.num_tiles == 1
        out = None
        for s in range(self.num_tiles):
            c0 = int(self.col_bounds[s])
            lhs = read(c0, int(self.col_bounds[s + 1])).contiguous()
            width = lhs.shape[1]
            if out is None:
                out = np.empty((r1 - r0, width), dtype=np.float32)
            lhs_np = lhs.numpy() if lhs.shape[0] else np.zeros((1, width), np.float32)
            indptr, cols = self.block(s, r0, r1)
            target = out if s == 0 else np.empty_like(out)
            _spmm(indptr, cols, lhs_np, target, mean and single, factors and (*factors, c0, r0), self._edge_ids)
            if s > 0:
                _add_rows(out, target)
        if mean and not single:
            _mean_rows(out, self.degrees[r0:r1])
        return torch.from_numpy(out)


def _spmm(indptr: np.ndarray, cols: np.ndarray, lhs: np.ndarray, out: np.ndarray, mean: bool, weights,
          edge_ids: Callable[[int], np.ndarray]) -> None:
    """One block through the SAGA sum/mean gSpMM kernel (``copy_lhs``, or ``mul`` with per-entry weights)."""
    num_entries, width = cols.shape[0], out.shape[1]
    bounds = cpu_kernels.row_bounds(indptr, 4 * cpu.num_threads((num_entries + out.shape[0]) * max(width, 1)))
    if not weights:
        rhs = np.zeros((1, 1), dtype=np.float32)
        cpu_kernels.SPMM_SUM[cpu_kernels.COPY_LHS](indptr, cols, np.zeros(0, np.int64), lhs, rhs, out, mean,
                                                   1, width, width, 1, 1, 0, bounds)
        return
    inv_col, inv_row, col0, row0 = weights
    rhs = np.empty((num_entries, 1), dtype=np.float32)
    _block_weights(indptr, cols, col0, row0, inv_col, inv_row, rhs)
    cpu_kernels.SPMM_SUM[cpu_kernels.MUL](indptr, cols, edge_ids(num_entries), lhs, rhs, out, mean,
                                         1, width, width, 1, 1, 0, bounds)


def _remove_files(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def inverse_sqrt_degrees(degrees: np.ndarray) -> Tensor:
    """``deg^-1/2`` as float32 (0 where the degree is 0), computed as ``gcn_norm`` does it."""
    deg = torch.from_numpy(degrees).to(torch.float32)
    return deg.pow(-0.5).masked_fill_(deg == 0, 0.0)


class StreamedGraph:
    """A graph's chunked adjacency (both directions, with / without self-loops as used), built on demand.

    Args:
        graph: The full graph (CPU).
        plan: Chunk sizes and spilling.
    """

    def __init__(self, graph: Graph, plan: StreamPlan) -> None:
        if graph.num_src_nodes != graph.num_dst_nodes:
            raise ShapeError(f"StreamedGraph: expected a graph with one node set, got {graph.num_src_nodes} source "
                             f"and {graph.num_dst_nodes} destination nodes. Stream full graphs, not Blocks.")
        if graph.device.type != "cpu":
            raise ConfigError(f"train.memory_budget: expected the graph on the CPU, got {graph.device}. Streamed "
                              "training runs on the CPU; use --device cpu.")
        self.graph, self.plan, self.num_nodes = graph, plan, graph.num_nodes
        self._adjacency: dict[bool, tuple[ChunkedAdjacency, ChunkedAdjacency, Tensor, Tensor]] = {}

    def adjacency(self, self_loops: bool) -> tuple[ChunkedAdjacency, ChunkedAdjacency, Tensor, Tensor]:
        """``(forward [rows = dst], transposed [rows = src], inv_sqrt_in_degree, inv_sqrt_out_degree)``."""
        if self_loops not in self._adjacency:
            plan, g, n = self.plan, self.graph, self.num_nodes
            spill = plan.folder() if plan.spill_adjacency else None
            options = {"self_loops": self_loops, "edges_per_block": plan.edges_per_block,
                       "col_tiles": plan.col_tiles, "spill_dir": spill}
            forward = ChunkedAdjacency(g.dst, g.src, n, n, **options)
            transposed = ChunkedAdjacency(g.src, g.dst, n, n, **options)
            self._adjacency[self_loops] = (forward, transposed, inverse_sqrt_degrees(forward.degrees),
                                           inverse_sqrt_degrees(transposed.degrees))
        return self._adjacency[self_loops]

    def in_degrees(self) -> Tensor:
        """``[N]`` int64 in-degrees without self-loops."""
        return torch.from_numpy(self.adjacency(False)[0].degrees)

    def aggregate(self, layer: Stages, source: Any, out: Any, transposed: bool = False,
                  consume: bool = False) -> Any:
        """``out = Agg(source)`` (or its transpose) for ``layer``'s aggregation; ``source`` is a tensor,
        a NodeFile or SparseRows (see ``reader_of``). ``consume``: a tensor ``source`` may be overwritten
        (the transposed mean divides it by the degrees in place instead of into a copy)."""
        spec = layer.aggregation
        forward, backward, inv_in, inv_out = self.adjacency(spec.self_loops)
        adjacency = backward if transposed else forward
        read = reader_of(source)
        if transposed and spec.reduce == "mean":  # d mean / d m: divide by the destination's degree first
            degrees = torch.from_numpy(forward.degrees).clamp(min=1).to(torch.float32).unsqueeze(-1)
            plain, fresh = read, consume or not isinstance(source, Tensor)  # reads of files / sparse rows are new
            read = lambda c0, c1: (plain(c0, c1).div_(degrees[c0:c1]) if fresh
                                   else plain(c0, c1) / degrees[c0:c1])
        factors = {}
        if spec.gcn:
            factors = {"inv_row": inv_out, "inv_col": inv_in} if transposed else {"inv_row": inv_in, "inv_col": inv_out}
        return adjacency.aggregate(read, out, mean=spec.reduce == "mean" and not transposed, **factors)


    def aggregate_rows(self, layer: Stages, source: Tensor, r0: int, r1: int) -> Tensor:
        """Rows ``[r0, r1)`` of ``Agg(source)`` (forward direction), computed now: ``[r1 - r0, width]``."""
        spec = layer.aggregation
        forward, _, inv_in, inv_out = self.adjacency(spec.self_loops)
        factors = {"inv_row": inv_in, "inv_col": inv_out} if spec.gcn else {}
        return forward.aggregate_rows(reader_of(source), r0, r1, mean=spec.reduce == "mean", **factors)


__all__ = ["ChunkedAdjacency", "StreamedGraph", "TileReader", "chunk_bounds", "inverse_sqrt_degrees"]
