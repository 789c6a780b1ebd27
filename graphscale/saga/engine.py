"""The SAGA call: Scatter, ApplyEdge, Gather, ApplyVertex as one function.

Fused path: builtin ApplyEdge + builtin Gather run as one gSpMM / gSDDMM kernel; no ``[E, F]`` message
tensor exists. Fallback: a Python callable ApplyEdge runs over chunks of edges in destination order,
each chunk sized from a memory budget and reduced before the next one is built; when gradients are
needed the chunks are recomputed in backward (activation checkpointing), so the fallback never holds
``E x F`` messages at once either. Both paths are tested equal, values and gradients.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from itertools import pairwise

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ..config.registry import did_you_mean
from ..errors import ConfigError, ShapeError
from ..graph import Graph
from . import fn
from .edges import Edges, Features
from .kernels import reference
from .ops import gsddmm, gspmm

EdgeFunction = Callable[[Edges], Tensor]
DEFAULT_MEMORY_BUDGET = 512 * 2**20


def _resolve_gather(gather) -> str | None:
    if gather is None:
        return None
    if isinstance(gather, fn.BuiltinReducer):
        return gather.name
    if isinstance(gather, str) and gather.lower() in fn.REDUCERS:
        return gather.lower()
    raise ConfigError(f"saga: expected gather in sum/mean/max/min (or fn.sum ...), got {gather!r}."
                      f"{did_you_mean(str(gather).lower(), list(fn.REDUCERS))}")


def _resolve_apply_edge(apply_edge):
    if isinstance(apply_edge, str):
        if apply_edge not in fn.EDGE_FUNCTIONS:
            raise ConfigError(f"saga: expected a builtin edge function among {sorted(fn.EDGE_FUNCTIONS)}, got "
                              f"{apply_edge!r}.{did_you_mean(apply_edge, list(fn.EDGE_FUNCTIONS))}")
        return fn.EDGE_FUNCTIONS[apply_edge]
    if isinstance(apply_edge, fn.BuiltinEdgeFunction) or callable(apply_edge):
        return apply_edge
    raise ConfigError(f"saga: expected apply_edge to be a builtin (fn.copy_src ...) or a callable, got {apply_edge!r}.")


def builtin_as_callable(builtin: fn.BuiltinEdgeFunction) -> EdgeFunction:
    """The plain-Python equivalent of a builtin edge function (used by the fallback and in tests)."""
    def slot(edges: Edges, name: str | None):
        return None if name is None else {"src": lambda: edges.src, "dst": lambda: edges.dst,
                                          "edge": lambda: edges.data}[name]()

    def run(edges: Edges) -> Tensor:
        return reference.binary(builtin.op, slot(edges, builtin.lhs), slot(edges, builtin.rhs))

    return run


def saga(
    graph: Graph,
    *,
    src: Features = None,
    dst: Features = None,
    edge: Features = None,
    apply_edge: fn.BuiltinEdgeFunction | EdgeFunction | str = fn.copy_src,
    gather: fn.BuiltinReducer | str | None = "sum",
    apply_vertex: Callable[[Tensor], Tensor] | None = None,
    memory_budget: int | None = None,
    fused: bool = True,
) -> Tensor:
    """Run one round of message passing.

    Args:
        graph: ``Graph``/``Block``/``BatchedGraph`` with ``N_src`` source and ``N_dst`` destination nodes.
        src: Scatter: source-node features an edge may read (``[N_src, *]`` or a dict of them).
        dst: Scatter: destination-node features (``[N_dst, *]`` or a dict).
        edge: Scatter: edge features in edge order (``[E, *]`` or a dict).
        apply_edge: A builtin from ``graphscale.fn`` (fused) or any callable ``Edges -> [E_c, *]``.
        gather: "sum", "mean", "max", "min" (or ``fn.sum`` ...); None returns the per-edge values.
        apply_vertex: Optional callable on the gathered ``[N_dst, *]`` result.
        memory_budget: Bytes the fallback may spend per edge chunk (default 512 MiB, or
            ``GRAPHSCALE_SAGA_MEMORY``).
        fused: Set False to run a builtin through the generic fallback (debugging, parity tests).

    Returns:
        ``[N_dst, *]`` gathered node values, or ``[E, *]`` edge values when ``gather`` is None.

    Raises:
        ShapeError: Wrong operand rows or a user function returning the wrong number of rows.
    """
    reduce = _resolve_gather(gather)
    apply_edge = _resolve_apply_edge(apply_edge)
    if isinstance(apply_edge, fn.BuiltinEdgeFunction) and fused and not _has_dicts(src, dst, edge):
        out = _fused(graph, apply_edge, reduce, src, dst, edge)
    else:
        if isinstance(apply_edge, fn.BuiltinEdgeFunction):
            _check_slots(apply_edge, src, dst, edge)
            apply_edge = builtin_as_callable(apply_edge)
        _check_feature_rows(graph, src, dst, edge)
        out = _fallback(graph, apply_edge, reduce, src, dst, edge, memory_budget)
    if apply_vertex is not None:
        if reduce is None:
            raise ShapeError("saga: apply_vertex needs a gather; with gather=None the result is per edge.")
        out = apply_vertex(out)
    return out


def _has_dicts(*features: Features) -> bool:
    return any(isinstance(f, Mapping) for f in features)


def _check_slots(builtin: fn.BuiltinEdgeFunction, src: Features, dst: Features, edge: Features) -> None:
    given = {"src": src, "dst": dst, "edge": edge}
    for slot in (builtin.lhs, builtin.rhs):
        if slot is not None and given[slot] is None:
            raise ShapeError(f"saga: {builtin!r} reads {slot} features, got {slot}=None. Pass saga(..., {slot}=tensor).")


def _check_feature_rows(graph: Graph, src: Features, dst: Features, edge: Features) -> None:
    expected = {"src": graph.num_src_nodes, "dst": graph.num_dst_nodes, "edge": graph.num_edges}
    for name, features in (("src", src), ("dst", dst), ("edge", edge)):
        items = features.items() if isinstance(features, Mapping) else [(None, features)]
        for key, value in items:
            if value is not None and (value.dim() == 0 or value.shape[0] != expected[name]):
                label = name if key is None else f"{name}[{key!r}]"
                raise ShapeError(
                    f"saga: expected {label} with {expected[name]} rows, got shape {tuple(value.shape)}."
                )


def _fused(graph: Graph, builtin: fn.BuiltinEdgeFunction, reduce: str | None,
           src: Tensor | None, dst: Tensor | None, edge: Tensor | None) -> Tensor:
    _check_slots(builtin, src, dst, edge)
    given = {"src": src, "dst": dst, "edge": edge, None: None}
    lhs, rhs = given[builtin.lhs], given[builtin.rhs]
    if builtin.kernel == "spmm":
        if reduce is not None:
            return gspmm(graph, builtin.op, reduce, lhs, rhs)
        return gsddmm(graph, builtin.op, lhs, rhs, builtin.lhs or "src", builtin.rhs or "edge")
    values = gsddmm(graph, builtin.op, lhs, rhs, builtin.lhs, builtin.rhs)
    return values if reduce is None else gspmm(graph, "copy_rhs", reduce, None, values)


def _row_bytes(features: Features) -> int:
    if features is None:
        return 0
    tensors = features.values() if isinstance(features, Mapping) else [features]
    return sum(t[0].numel() * t.element_size() if t.shape[0] else 0 for t in tensors)


def _chunk_bounds(indptr: Tensor, edges_per_chunk: int) -> list[tuple[int, int]]:
    """Split destination rows into runs of about ``edges_per_chunk`` edges (rows never split)."""
    num_rows = indptr.numel() - 1
    total = int(indptr[-1])
    if total <= edges_per_chunk:
        return [(0, num_rows)]
    targets = torch.arange(edges_per_chunk, total, edges_per_chunk, dtype=torch.int64)
    cuts = torch.searchsorted(indptr.cpu(), targets, right=True) - 1
    bounds = sorted({0, *cuts.clamp(0, num_rows).tolist(), num_rows})
    return [(a, b) for a, b in pairwise(bounds) if b > a]


def _fallback(graph: Graph, user_fn: EdgeFunction, reduce: str | None, src: Features, dst: Features,
              edge: Features, memory_budget: int | None) -> Tensor:
    budget = memory_budget or int(os.environ.get("GRAPHSCALE_SAGA_MEMORY", DEFAULT_MEMORY_BUDGET))
    per_edge = 4 * (_row_bytes(src) + _row_bytes(dst) + _row_bytes(edge)) + 32
    edges_per_chunk = max(1024, budget // per_edge)
    indptr, csc_src, csc_eids = graph.csc()

    def run_chunk(row_lo: int, row_hi: int, *_tensors: Tensor) -> Tensor:
        lo, hi = int(indptr[row_lo]), int(indptr[row_hi])
        counts = indptr[row_lo:row_hi + 1].diff()
        local_dst = torch.repeat_interleave(torch.arange(row_hi - row_lo, device=graph.device), counts)
        edges = Edges(csc_src[lo:hi].long(), local_dst + row_lo, csc_eids[lo:hi], src, dst, edge)
        messages = user_fn(edges)
        if not isinstance(messages, Tensor) or messages.dim() == 0 or messages.shape[0] != hi - lo:
            got = tuple(messages.shape) if isinstance(messages, Tensor) else type(messages).__name__
            raise ShapeError(
                f"saga.apply_edge: expected one row per edge ({hi - lo} rows in this chunk of "
                f"{graph.num_edges} edges), got {got}. Return a message per edge; reduction happens in gather=."
            )
        if reduce is None:
            return messages
        return reference.scatter(messages, local_dst, row_hi - row_lo, reduce)

    bounds = _chunk_bounds(indptr, edges_per_chunk)
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for f in (src, dst, edge) if f is not None
        for t in (f.values() if isinstance(f, Mapping) else [f]))
    leaves = [t for f in (src, dst, edge) if f is not None for t in (f.values() if isinstance(f, Mapping) else [f])]
    pieces = []
    for row_lo, row_hi in bounds:
        if needs_grad and len(bounds) > 1:
            pieces.append(checkpoint(run_chunk, row_lo, row_hi, *leaves, use_reentrant=False))
        else:
            pieces.append(run_chunk(row_lo, row_hi))
    if not pieces:  # graph without destination rows
        return _empty_result(graph, user_fn, reduce, src, dst, edge)
    out = torch.cat(pieces) if len(pieces) > 1 else pieces[0]
    if reduce is None:  # per-edge values came in CSC order: put them back in edge order
        restored = torch.empty_like(out)
        restored[csc_eids] = out
        return restored
    return out


def _empty_result(graph: Graph, user_fn: EdgeFunction, reduce: str | None, src: Features, dst: Features,
                  edge: Features) -> Tensor:
    empty = torch.zeros(0, dtype=torch.int64, device=graph.device)
    messages = user_fn(Edges(empty, empty, empty, src, dst, edge))
    rows = graph.num_edges if reduce is None else graph.num_dst_nodes
    return messages.new_zeros((rows, *messages.shape[1:]))
