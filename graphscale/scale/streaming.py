"""The entry to streamed full-batch execution: the executor that fits a model, planned from a byte budget.

A ``ConvStack`` whose layers all declare SAGA stages with a sum or mean aggregation (GCN, GraphSAGE mean /
gcn) runs as stages over adjacency tiles (:class:`.stream.StreamedStack`, the cheaper executor: it stores
only aggregated tensors and can spill to disk); a stack of other block-exact layers (GAT, GATv2, GIN,
GraphSAGE pool) runs block-wise (:class:`.stream_blocks.BlockwiseStack`). ``graphscale train --memory-budget``
and :func:`streamed_model` pick the same way.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ..errors import ConfigError
from ..graph import Graph
from .stream import StreamedGraph, StreamedStack, model_shape
from .stream_blocks import BlockPlan, BlockwiseStack, plan_blocks
from .stream_plan import StreamPlan, plan_for_budget


def has_stage_split(model: nn.Module) -> bool:
    """Whether every layer of ``model`` declares stages the tiled executor runs."""
    try:
        model_shape(model, 1)
    except ConfigError:
        return False
    return True


def plan_streaming(model: nn.Module, graph: Graph, input_dim: int, budget: int, *, spill: bool = True,
                   where: str = "train.memory_budget") -> StreamPlan | BlockPlan:
    """The plan of the executor that fits ``model`` (see the module docstring) under ``budget`` bytes.

    Raises:
        ConfigError: A model neither executor runs, or a budget too small.
    """
    if has_stage_split(model):
        _, shape = model_shape(model, input_dim)
        return plan_for_budget(budget, graph.num_nodes, graph.num_edges, shape, spill=spill, where=where)
    return plan_blocks(budget, graph.num_nodes, graph.num_edges, model, input_dim, where=where)


def streamed_model(model: nn.Module, graph: Graph, x: Tensor, budget: int | None = None, *,
                   plan: StreamPlan | BlockPlan | None = None,
                   streamed_graph: StreamedGraph | None = None) -> StreamedStack | BlockwiseStack:
    """The streamed executor of ``model`` on ``graph``, planned from ``budget`` bytes (or given ``plan``, or
    the tiled adjacency ``streamed_graph`` of an earlier model, which carries its plan).

    Raises:
        ConfigError: The model does not stream, no budget or plan was given, or the budget is too small.
    """
    if streamed_graph is None:
        if plan is None:
            if budget is None:
                raise ConfigError("streamed_model: expected a budget or a plan, got neither.")
            plan = plan_streaming(model, graph, x.shape[1], budget)
        if isinstance(plan, BlockPlan):
            return BlockwiseStack(model, graph, plan)
        streamed_graph = StreamedGraph(graph, plan)
    return StreamedStack(model, streamed_graph, x.shape[1])


def plan_summary(plan: Any) -> dict[str, Any]:
    """The summary's ``stream_plan``: the executor, its chunk sizes and the estimated bytes (MiB)."""
    estimate = {k: round(v / 2**20, 1) for k, v in plan.estimate.items()}
    if isinstance(plan, BlockPlan):
        return {"executor": "blocks", "edges_per_chunk": plan.edges_per_chunk, "estimate_mb": estimate}
    return {"executor": "stages", "rows_per_chunk": plan.rows_per_chunk, "edges_per_block": plan.edges_per_block,
            "col_tiles": plan.col_tiles, "spill_adjacency": plan.spill_adjacency, "spill_inputs": plan.spill_inputs,
            "spill_nodes": plan.spill_nodes, "cache_constant": plan.cache_constant, "estimate_mb": estimate}


__all__ = ["has_stage_split", "plan_streaming", "plan_summary", "streamed_model"]
