"""Memory plan of a streamed full-batch model: chunk sizes and what goes to disk, from a byte budget.

The budget covers the whole process (its peak resident memory), so the plan starts from what the process
already holds (``base``: interpreter, dataset, model) and adds, for ``N`` nodes, ``E`` edges, aggregation
widths ``w_k`` and output width ``C`` (float32, bytes):

* node state, the largest of the three phases (``4 N`` bytes per column):
  forward ``sum_k w_k + max(M_k) (+ C in evaluation)``, backward
  ``sum_{k<L-1} w_k + sum_{k needing grad} w_k (G_M) + max_k w_k (G_A)``, plus a cached evaluation
  ``A_0`` when the input dropout makes the training one differ;
* structures: degrees and GCN factors, ``~16 N`` bytes per direction, plus the row pointers (``8 N`` per
  direction and tile) unless the adjacency is spilled;
* the adjacency column ids, ``4 (E + N)`` per direction, unless spilled to disk;
* temporaries of one row chunk and one edge block (``temp`` bytes each).

Candidates are tried cheapest first: everything in memory; adjacency on disk; then adjacency on disk
and the aggregation inputs (``M_k`` forward, ``G_A_k`` backward) on disk too, read one source-column tile
at a time, with 2, 4, ... 64 tiles; then the stored node tensors (``A_k``, ``G_M_k``) on disk as well,
read and written one row chunk at a time (resident: the ``[N, C]`` evaluation output and the chunks). The plan is the first candidate that fits with roomy chunks (at least
``GOOD_TEMP`` bytes: tiny chunks cost more in per-chunk overhead than a page-cache read of the adjacency),
else the first that fits at all; if none does, a ConfigError says how much the smallest one needs.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError
from ..heap import release_free_memory

MIN_TEMP = 8 << 20        # bytes of a row chunk / edge block at the least
GOOD_TEMP = 64 << 20      # a candidate leaving less than this per chunk is taken only if nothing else fits
MAX_TEMP = 256 << 20      # and at most (larger chunks stop paying off)
MIN_BLOCK_EDGES = 1024    # smallest adjacency block
EDGE_BYTES = 24           # per block entry: column id 4, GCN weight 4, edge id 8, slack 8
MARGIN = 96 << 20         # allocator slack on top of 3% of the budget


@dataclass(frozen=True)
class StreamPlan:
    """How a streamed model runs.

    Attributes:
        rows_per_chunk: Node rows per dense chunk (row-local layer parts, recomputation in backward).
        edges_per_block: Target edges per adjacency block (destination-row chunk x source-column tile).
        col_tiles: Source-column tiles (1 = destination-row chunks only).
        spill_adjacency: Adjacency column ids in files under ``spill_dir`` (read per block) instead of memory.
        spill_inputs: Aggregation inputs written to files and read one source tile at a time.
        spill_nodes: The stored node tensors (``A_k``, ``G_M_k``) in files too, read and written by row chunk.
        spill_dir: Folder for the spilled files (default: the system temp folder).
        cache_constant: Keep ``A_0`` of a constant first-layer input (``[N, F_in]``, computed once and reused
            by every epoch). False recomputes the rows of ``A_0`` each chunk needs from ``x`` (one more
            ``F_in``-wide gSpMM per forward pass and per backward pass, ``4 N F_in`` bytes less resident).
        budget: The byte budget this plan was made for (None: explicit sizes).
        estimate: Estimated bytes by item (for reports).
    """

    rows_per_chunk: int = 65536
    edges_per_block: int = 1 << 22
    col_tiles: int = 1
    spill_adjacency: bool = False
    spill_inputs: bool = False
    spill_nodes: bool = False
    spill_dir: str | None = None
    cache_constant: bool = True
    budget: int | None = None
    estimate: dict[str, Any] = field(default_factory=dict, compare=False)

    def folder(self) -> str:
        return self.spill_dir or tempfile.gettempdir()


def current_rss_bytes() -> int:
    """Resident memory of this process now (``/proc/self/statm``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True)
class ModelShape:
    """What the plan needs to know of a model: per layer aggregation width, output width, whether
    the layer's aggregation input needs a gradient, whether its aggregation uses self-loops."""

    input_dim: int
    widths: tuple[int, ...]
    out_dims: tuple[int, ...]
    needs_grad: tuple[bool, ...]
    allocates_input: tuple[bool, ...]   # M_k is a new tensor (not x itself)
    loop_variants: int = 1              # adjacency variants (with / without self-loops) in use
    input_dropout: bool = False


def constant_first(shape: ModelShape) -> bool:
    """Whether ``A_0`` aggregates the raw input itself (no projection first, no input dropout)."""
    return not shape.allocates_input[0] and not shape.needs_grad[0]


def _node_columns(shape: ModelShape, spill_inputs: bool, spill_nodes: bool = False,
                  cache_constant: bool = True) -> float:
    widths, last = shape.widths, len(shape.widths) - 1
    if spill_nodes:  # only the [N, C] evaluation output stays in memory
        return shape.out_dims[-1]
    if not cache_constant and constant_first(shape):  # A_0 rows are recomputed, never stored
        widths = (0, *widths[1:])
    transient_m = max([w for w, new in zip(widths, shape.allocates_input) if new] or [0])
    transient_g = max([w for w, need in zip(widths, shape.needs_grad) if need] or [0])
    if spill_inputs:
        transient_m = transient_g = 0
    forward = sum(widths) + max(transient_m, shape.out_dims[-1])  # m_k is freed before the [N, C] output
    backward = sum(widths[:last]) + sum(w for w, need in zip(widths, shape.needs_grad) if need) + transient_g
    cached = widths[0] if shape.input_dropout else 0
    return max(forward, backward) + cached


def _row_bytes(shape: ModelShape) -> int:
    """Bytes per row of a dense chunk: inputs, every layer's widths, autograd copies (x4)."""
    return 16 * (shape.input_dim + sum(shape.widths) + 2 * sum(shape.out_dims))


def plan_for_budget(budget: int, num_nodes: int, num_edges: int, shape: ModelShape, *, base: int | None = None,
                    spill_dir: str | None = None, spill: bool = True,
                    where: str = "train.memory_budget") -> StreamPlan:
    """The cheapest :class:`StreamPlan` whose estimated peak fits ``budget`` bytes.

    Args:
        budget: Peak resident bytes allowed for the whole process.
        num_nodes, num_edges: Graph size (edges without self-loops).
        shape: The model's layer widths.
        base: Bytes the process holds before streaming starts (default: its resident memory now).
        spill_dir: Folder for spilled files.
        spill: Allow plans that put data on disk; False tries only in-memory plans (``A_0`` cached, then
            recomputed per chunk).
        where: Config key named in errors.

    Raises:
        ConfigError: When even the smallest plan needs more than ``budget``.
    """
    base = current_rss_bytes() if base is None else base
    n, e_loops = num_nodes, num_edges + num_nodes
    free = budget - base - MARGIN - budget * 3 // 100
    build_transient = 8 * e_loops + 16 * n
    candidates = []
    tiled = [(True, t, False) for t in (2, 4, 8, 16, 32, 64)] + [(True, t, True) for t in (2, 4, 8, 16, 32, 64)]
    options = [(False, 1, False, True), (True, 1, False, True)] + [(*t, True) for t in tiled]
    if not spill:
        options = [(False, 1, False, True)] + ([(False, 1, False, False)] if constant_first(shape) else [])
    for spill_adjacency, tiles, spill_nodes, cache_constant in options:
        spill_inputs = tiles > 1
        node = 4 * n * _node_columns(shape, spill_inputs, spill_nodes, cache_constant)
        structures = shape.loop_variants * 2 * (8 * n + (0 if spill_adjacency else 8 * n)) + 16 * n
        adjacency = 0 if spill_adjacency else shape.loop_variants * 2 * 4 * e_loops
        tile_buffer = (4 * max(shape.widths) * (n // tiles + 1)) if spill_inputs else 0
        fixed = int(node + structures + adjacency + tile_buffer)
        temp = min(MAX_TEMP, max(MIN_TEMP, (free - fixed) // 3))
        setup = structures + adjacency + build_transient
        estimate = {"base": base, "node_state": int(node), "structures": structures, "adjacency": adjacency,
                    "tile_buffer": tile_buffer, "temporaries": 2 * temp,
                    "peak": int(base + max(fixed + 2 * temp, setup) + MARGIN)}
        fits = fixed + 2 * temp <= free and setup <= free
        candidates.append((fits, temp, estimate, StreamPlan(
            rows_per_chunk=max(1, temp // _row_bytes(shape)), edges_per_block=max(MIN_BLOCK_EDGES, temp // EDGE_BYTES),
            col_tiles=tiles, spill_adjacency=spill_adjacency, spill_inputs=spill_inputs, spill_nodes=spill_nodes,
            spill_dir=spill_dir, cache_constant=cache_constant, budget=budget, estimate=estimate)))
    for roomy in (True, False):  # first the cheapest plan with roomy chunks, then any plan that fits
        for fits, temp, _, plan in candidates:
            if fits and (temp >= GOOD_TEMP or not roomy):
                return plan
    needed = min(c[2]["peak"] - base - MARGIN for c in candidates) + (budget - free)
    raise ConfigError(f"{where}: expected a budget the streamed model fits in, got {_size(budget)} but it "
                      f"needs about {_size(needed)} ({_size(base)} already in use, {n} nodes, "
                      f"{num_edges} edges). Raise the budget or lower model.hidden_dim.")


def _size(num_bytes: float) -> str:
    """``num_bytes`` in the largest unit that keeps it >= 1 (B, KiB, MiB, GiB)."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(num_bytes) >= scale:
            return f"{num_bytes / scale:.2f} {unit}"
    return f"{num_bytes:.0f} B"


def with_sizes(plan: StreamPlan, **sizes: Any) -> StreamPlan:
    """``plan`` with some fields replaced (tests force several chunks and tiles on small graphs)."""
    return replace(plan, **sizes)


__all__ = ["ModelShape", "StreamPlan", "constant_first", "current_rss_bytes", "plan_for_budget", "release_free_memory", "with_sizes"]
