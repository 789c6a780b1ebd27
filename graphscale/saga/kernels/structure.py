"""The index structures the kernels run over: a graph compressed by row (``CompressedAdjacency``: CSC for
forward, its transpose CSR for backward), the segments of a segment op (``SegmentAdjacency``), and the
``Plan`` that views broadcast operands as ``[rows, H, F]``."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ...graph import Graph


class Plan(NamedTuple):
    """``[rows, H, F]`` view of two broadcasting operands; ``lhs_h``/``lhs_f`` are 1 or ``H``/``F``."""

    num_heads: int
    num_feats: int
    lhs_h: int
    lhs_f: int
    rhs_h: int
    rhs_f: int
    out_shape: tuple

    def strides(self) -> tuple[int, int, int, int]:
        """Element strides ``(lhs_hs, lhs_fs, rhs_hs, rhs_fs)`` of head / feature inside a flat row."""
        return (self.lhs_f if self.lhs_h == self.num_heads else 0, 1 if self.lhs_f == self.num_feats else 0,
                self.rhs_f if self.rhs_h == self.num_heads else 0, 1 if self.rhs_f == self.num_feats else 0)


def _part_ok(part: tuple, out_part: tuple) -> bool:
    return part == out_part or all(d == 1 for d in part)


def make_plan(lhs_shape: tuple | None, rhs_shape: tuple | None, dot: bool = False) -> Plan | None:
    """Split aligned feature shapes into ``(H, F)``; None when no split fits both operands."""
    shapes = [tuple(s) for s in (lhs_shape, rhs_shape) if s is not None]
    full = tuple(max(dims) if min(dims) else 0 for dims in zip(*shapes))  # aligned, checked by ops.py
    n = len(full)
    splits = [max(n - 1, 0)] if dot else range(n + 1)
    for k in splits:
        if all(_part_ok(s[:k], full[:k]) and _part_ok(s[k:], full[k:]) for s in shapes):
            heads, feats = math.prod(full[:k]), math.prod(full[k:])
            lh, lf = (math.prod(lhs_shape[:k]), math.prod(lhs_shape[k:])) if lhs_shape is not None else (1, 1)
            rh, rf = (math.prod(rhs_shape[:k]), math.prod(rhs_shape[k:])) if rhs_shape is not None else (1, 1)
            out = (*full[:-1], 1) if dot and n else ((1,) if dot else full)
            return Plan(heads, feats, lh, lf, rh, rf, out)
    return None


class CompressedAdjacency:
    """Edges ``e: col[e] -> row[e]`` compressed by row; reductions write one value per row.

    For a graph rows are destinations and columns sources (CSC); ``t()`` is the reverse graph (CSR).
    """

    def __init__(self, graph: Graph, transposed: bool = False) -> None:
        self.graph, self.transposed = graph, transposed
        self.num_rows = graph.num_src_nodes if transposed else graph.num_dst_nodes
        self.num_cols = graph.num_dst_nodes if transposed else graph.num_src_nodes
        self.num_edges = graph.num_edges
        self.device = graph.device

    def compressed(self) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``(indptr [R+1] int64, col ids [E] in row order, edge ids [E] int64)``."""
        return self.graph.csr() if self.transposed else self.graph.csc()

    def row_ids(self) -> Tensor:
        """``[E]`` row of every edge, in edge order."""
        return self.graph.src if self.transposed else self.graph.dst

    def col_ids(self) -> Tensor:
        return self.graph.dst if self.transposed else self.graph.src

    def degrees(self) -> Tensor:
        """``[R]`` int64 edges per row."""
        return self.graph.out_degrees() if self.transposed else self.graph.in_degrees()

    def t(self) -> CompressedAdjacency:
        return CompressedAdjacency(self.graph, not self.transposed)


class SegmentAdjacency:
    """Rows = segments of ``data`` rows: consecutive ranges (``ptr``), or groups of ``perm`` (sorted ids)."""

    def __init__(self, ptr: Tensor, perm: Tensor | None = None, index: Tensor | None = None) -> None:
        self.ptr, self.perm, self.index = ptr, perm, index
        self.num_rows, self.num_cols = ptr.numel() - 1, 0
        self.num_edges = int(ptr[-1]) if ptr.numel() else 0
        self.device = ptr.device

    def compressed(self) -> tuple[Tensor, None, Tensor | None]:
        return self.ptr, None, self.perm

    def row_ids(self) -> Tensor:
        if self.index is None:
            counts = self.degrees()
            self.index = torch.repeat_interleave(torch.arange(self.num_rows, device=self.device), counts)
        return self.index

    def degrees(self) -> Tensor:
        return self.ptr.diff()
