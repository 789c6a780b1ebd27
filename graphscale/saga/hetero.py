"""Message passing on a :class:`~graphscale.graph.hetero.HeteroGraph`: one ``saga()`` call per relation, the
results combined per destination type (DGL's ``multi_update_all``; PyG's ``HeteroConv`` aggregation).

For the common relational case (one weight matrix per relation, R-GCN and HGT) the fused path is
:func:`graphscale.saga.relational.relational_saga` on the homogeneous view; this module is the general one: any
builtin or callable edge function per relation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from ..config.registry import did_you_mean
from ..errors import ConfigError, ShapeError
from ..graph.hetero import EdgeType, HeteroGraph
from . import fn
from .engine import saga

CROSS_REDUCERS = ("sum", "mean", "max", "min", "stack")


def combine(per_relation: Mapping[str, list[Tensor]], cross_reduce: str) -> dict[str, Tensor]:
    """Combine the results of the relations into each destination type: ``sum``, ``mean``, ``max``, ``min`` or
    ``stack`` (``[N_dst, R_t, *]``, relations in order).

    Raises:
        ConfigError: Another reducer name.
    """
    if cross_reduce not in CROSS_REDUCERS:
        raise ConfigError(f"hetero_saga: expected cross_reduce among {list(CROSS_REDUCERS)}, got {cross_reduce!r}."
                          f"{did_you_mean(str(cross_reduce), list(CROSS_REDUCERS))}")
    out = {}
    for ntype, values in per_relation.items():
        if len(values) == 1 and cross_reduce != "stack":
            out[ntype] = values[0]
            continue
        stacked = torch.stack(values, dim=1)
        if cross_reduce == "sum":
            out[ntype] = stacked.sum(1)
        elif cross_reduce == "mean":
            out[ntype] = stacked.mean(1)
        elif cross_reduce == "max":
            out[ntype] = stacked.max(1).values
        elif cross_reduce == "min":
            out[ntype] = stacked.min(1).values
        else:
            out[ntype] = stacked
    return out


def _per_type(features: Mapping[str, Any] | None, ntype: str) -> Any:
    return None if features is None else features.get(ntype)


def hetero_saga(
    graph: HeteroGraph,
    *,
    src: Mapping[str, Tensor] | None = None,
    dst: Mapping[str, Tensor] | None = None,
    edge: Mapping[EdgeType | str, Tensor] | None = None,
    apply_edge: fn.BuiltinEdgeFunction | Callable | str | Mapping[EdgeType | str, Any] = fn.copy_src,
    gather: str = "sum",
    cross_reduce: str = "sum",
    etypes: list[EdgeType | str] | None = None,
) -> dict[str, Tensor]:
    """One round of message passing over every relation (or ``etypes``), combined per destination type.

    Args:
        graph: A ``HeteroGraph`` or ``HeteroBlock``.
        src: ``{ntype: [N_src_t, *]}`` source features an edge may read (types a relation does not read may be
            left out).
        dst: ``{ntype: [N_dst_t, *]}`` destination features.
        edge: ``{etype: [E_r, *]}`` edge features per relation (canonical type or unique relation name).
        apply_edge: One edge function for every relation, or ``{etype: edge function}``.
        gather: Reduction over each relation's in-edges.
        cross_reduce: Combination of the relations that reach one destination type (``sum``, ``mean``, ``max``,
            ``min``, ``stack``).

    Returns:
        ``{dst_type: [N_dst_t, *]}`` for every destination type some chosen relation reaches.

    Raises:
        ShapeError: A relation reads a node type's features that were not given.
    """
    chosen = graph.canonical_etypes if etypes is None else [graph.to_canonical(e) for e in etypes]
    edge_by_type = {graph.to_canonical(k): v for k, v in (edge or {}).items()}
    functions = ({graph.to_canonical(k): v for k, v in apply_edge.items()} if isinstance(apply_edge, Mapping)
                 else None)
    per_relation: dict[str, list[Tensor]] = {}
    for etype in chosen:
        function = apply_edge if functions is None else functions.get(etype)
        if function is None:
            raise ShapeError(f"hetero_saga: expected an edge function for relation {etype}, got none in apply_edge.")
        reads = _reads(function)
        callable_fn = not isinstance(function, (str, fn.BuiltinEdgeFunction))
        src_x, dst_x = _per_type(src, etype[0]), _per_type(dst, etype[2])
        for slot, value, ntype in (("src", src_x, etype[0]), ("dst", dst_x, etype[2])):
            if slot in reads and value is None and not callable_fn:
                raise ShapeError(f"hetero_saga: relation {etype} reads {slot} features of node type {ntype!r}, got "
                                 f"none in {slot}=. Pass {slot}={{{ntype!r}: tensor, ...}}.")
        out = saga(graph[etype], src=src_x if "src" in reads else None, dst=dst_x if "dst" in reads else None,
                   edge=edge_by_type.get(etype), apply_edge=function, gather=gather)
        per_relation.setdefault(etype[2], []).append(out)
    ordered = {t: per_relation[t] for t in graph.ntypes if t in per_relation}
    return combine(ordered, cross_reduce)


def _reads(function: Any) -> set[str]:
    """The node sides a builtin reads (a callable may read either: pass what it needs)."""
    if isinstance(function, str):
        function = fn.EDGE_FUNCTIONS.get(function, function)
    if isinstance(function, fn.BuiltinEdgeFunction):
        return {slot for slot in (function.lhs, function.rhs) if slot in ("src", "dst")}
    return {"src", "dst"}


__all__ = ["CROSS_REDUCERS", "combine", "hetero_saga"]
