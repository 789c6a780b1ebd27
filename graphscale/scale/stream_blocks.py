"""Block-wise streamed execution: any layer of the zoo under a memory budget, through its own ``forward``.

The stage-split executor (:mod:`.stream`) keeps only aggregated tensors and streams the adjacency in
tiles, which needs a layer whose aggregation is a sum or a mean it can accumulate tile by tile (GCN,
GraphSAGE mean / gcn). Every other layer of the zoo (attention, max-pooling, GIN) runs here: its
per-destination reduction (an edge softmax, a max) needs all in-edges of a destination at once, so the
graph is cut into **destination-row chunks** of about ``edges_per_chunk`` in-edges, and each chunk runs as
one full-neighbourhood ``Block`` (``to_block``: every in-edge of the chunk's rows) through the layer's own
``forward`` (:class:`.block_layers.BlockLayers`), exact for those rows. Edge tensors (``[E, H]``
attention logits, weights, their gradients) thus exist for one chunk at a time.

Stored between layers: the pre-activation outputs ``Z_k [N, F_k]`` of the hidden layers. Backward is a
custom autograd function (``loss.backward()`` and the optimizer are unchanged): for ``k = L-1 .. 0`` each
chunk is recomputed under autograd from the stored ``Z_{k-1}`` rows of its sources, and one
``torch.autograd.grad`` gives the parameter gradients and the sources' ``G_Z_{k-1}`` (scattered by
source id), so the backward holds two gradient tensors ``[N, F]`` at most. Each chunk's random-number
state is saved in the forward pass and restored for its recomputation, so a layer's own dropouts
(GAT's feature and attention dropout) draw the same masks in both passes. The dropouts between layers
are hash masks of the element index (:class:`.stream_layers.DropSite`), identical for any rows.

Equal to the unchunked model: outputs and gradients up to the order of float sums, in evaluation and in
training without a layer's own dropout; with GAT's feature / attention dropout the masks are drawn
per chunk (same distribution, other draws than one unchunked call). The plan
(:func:`plan_blocks`) sizes chunks from the budget minus the stored ``Z_k`` and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..graph import Graph, to_block
from ..nn.conv import GATConv, GATv2Conv
from . import stream_plan
from .block_layers import BlockLayers, check_block_model
from .stream_io import check_input, sorted_rows
from .stream_layers import DropSite
from .stream_plan import MARGIN, _size, current_rss_bytes, release_free_memory

INSTEAD = "Drop train.memory_budget for this model."


@dataclass(frozen=True)
class BlockPlan:
    """Chunk size of the block-wise executor.

    Attributes:
        edges_per_chunk: Target in-edges (self-loops counted) per destination-row chunk.
        budget: The byte budget it was made for (None: explicit size).
        estimate: Estimated bytes by item (for reports).
    """

    edges_per_chunk: int = 1 << 20
    budget: int | None = None
    estimate: dict[str, Any] = field(default_factory=dict, compare=False)


def _layer_sizes(model: nn.Module, input_dim: int) -> list[tuple[int, int, int]]:
    """``(F_in, F_out, heads)`` per conv layer (``F_out``: the layer's output width)."""
    sizes, width = [], input_dim
    for conv in model.convs:
        heads = conv.num_heads if isinstance(conv, (GATConv, GATv2Conv)) else 1
        out = conv.out_dim * (heads if getattr(conv, "concat", False) else 1)
        sizes.append((width, out, heads))
        width = out
    return sizes


def plan_blocks(budget: int, num_nodes: int, num_edges: int, model: nn.Module, input_dim: int, *,
                base: int | None = None, where: str = "train.memory_budget") -> BlockPlan:
    """The :class:`BlockPlan` whose estimated peak fits ``budget`` bytes (the whole process, as
    :func:`.stream_plan.plan_for_budget`).

    Node state (float32): the hidden outputs ``Z_k`` plus, in backward, two gradient tensors of the widest
    layer (or, in evaluation, the ``[N, C]`` output). A chunk of ``e`` edges reads at most ``e`` source
    rows: per edge ``4 x (4 F_in + 4 F_out)`` bytes of gathered, projected and gradient rows plus
    ``4 x 16 H`` of edge tensors and 64 of indices, for the widest layer. Temporaries are capped at
    ``4 x MAX_TEMP``.

    Raises:
        ConfigError: A model that does not run block-wise, or a budget whose node state alone leaves less
            than a minimal chunk.
    """
    check_block_model(model, where, INSTEAD)
    base = current_rss_bytes() if base is None else base
    sizes = _layer_sizes(model, input_dim)
    hidden = sum(out for _, out, _ in sizes[:-1])
    widest = max(out for _, out, _ in sizes)
    node = 4 * num_nodes * (hidden + max(2 * widest, sizes[-1][1]))
    structures = 24 * (num_edges + num_nodes)  # the graph's CSC (built once) and its in-degrees
    per_edge = max(64 + 16 * (f_in + f_out) + 64 * heads for f_in, f_out, heads in sizes)
    free = budget - base - MARGIN - budget * 3 // 100 - node - structures
    estimate = {"base": base, "node_state": node, "structures": structures}
    if free < stream_plan.MIN_TEMP:
        needed = budget - free + stream_plan.MIN_TEMP
        raise ConfigError(f"{where}: expected a budget the streamed model fits in, got {_size(budget)} but it "
                          f"needs about {_size(needed)} ({_size(base)} already in use, {num_nodes} nodes, "
                          f"{num_edges} edges). Raise the budget or lower model.hidden_dim.")
    # larger chunks stop paying off: at most 4 x MAX_TEMP of temporaries (with a limit that high, per-chunk
    # overhead is well under 1% of a chunk's work)
    edges = max(stream_plan.MIN_BLOCK_EDGES, min(free, 4 * stream_plan.MAX_TEMP) // per_edge)
    estimate.update(temporaries=edges * per_edge, peak=base + node + structures + edges * per_edge + MARGIN)
    return BlockPlan(edges_per_chunk=int(edges), budget=budget, estimate=estimate)


@dataclass
class _Pass:
    """What one forward pass leaves for its backward."""

    x: Tensor
    sites: list[DropSite]
    hidden: list[Tensor]                              # Z_k [N, F_k], k < L-1
    out_rows: Tensor | None                           # sorted output rows (None: all)
    states: list[list[Tensor | None]] = field(default_factory=list)   # RNG state per layer and chunk


class BlockwiseStack:
    """Runs a ``ConvStack`` of :data:`.block_layers.BLOCK_LAYERS` layers over destination-row chunks.

    Call it like the model: ``runner(x)`` gives ``[N, C]`` logits, ``runner(x, rows)`` the logits of
    ``rows`` only. With autograd enabled the result is differentiable w.r.t. the model's parameters.

    Shapes:
        x: ``[N, F_in]`` float32 (CPU); rows: optional ``[R]`` int64; returns ``[N or R, C]``.
    """

    def __init__(self, model: nn.Module, graph: Graph, plan: BlockPlan) -> None:
        self.layers = BlockLayers(model, graph, where="train.memory_budget", instead=INSTEAD)
        self.model, self.graph, self.plan = self.layers.model, graph, plan
        self.fuse_relu = self.model.activation is F.relu
        self._cost = graph.in_degrees() + 1  # edges a row brings into its block (the self-loop counted)

    def __call__(self, x: Tensor, rows: Tensor | None = None) -> Tensor:
        check_input(x, self.graph.num_nodes, "BlockwiseStack")
        rows, inverse = sorted_rows(rows, self.graph.num_nodes, "BlockwiseStack")
        params = [p for p in self.model.parameters() if p.requires_grad]
        if torch.is_grad_enabled() and params:
            out = _Blockwise.apply(self, x, rows, *params)
        else:
            out = self._forward(x, rows, keep=False)[0]
        return out if inverse is None else out.index_select(0, inverse)

    # -- pieces -------------------------------------------------------------------------------------------
    def chunks(self, rows: Tensor | None) -> list[Tensor]:
        """``rows`` (sorted; None: all nodes) cut into consecutive pieces of about ``edges_per_chunk``
        in-edges each (a row with more is a piece of its own)."""
        rows = torch.arange(self.graph.num_nodes) if rows is None else rows
        if rows.numel() == 0:
            return []
        ends = torch.cumsum(self._cost.index_select(0, rows), 0)
        step = max(1, self.plan.edges_per_chunk)
        marks = torch.arange(step, max(step, int(ends[-1])), step)
        cuts = torch.searchsorted(ends, marks, right=True).unique()
        bounds = [0, *[int(c) for c in cuts if 0 < int(c) < rows.numel()], rows.numel()]
        return [rows[a:b] for a, b in pairwise(bounds) if b > a]

    def _input(self, st: _Pass, k: int, ids: Tensor, z: Tensor | None = None) -> Tensor:
        """Rows ``ids`` of layer ``k``'s input: dropout of ``x`` (k = 0), else activation and dropout of
        ``Z_{k-1}`` (``z``: those rows, when they must carry a gradient)."""
        if k == 0:
            return st.sites[0](st.x.index_select(0, ids), ids)
        z = st.hidden[k - 1].index_select(0, ids) if z is None else z
        return st.sites[k](z if self.fuse_relu else self.model.activation(z), ids)

    # -- forward ------------------------------------------------------------------------------------------
    def _forward(self, x: Tensor, rows: Tensor | None, keep: bool) -> tuple[Tensor, _Pass]:
        n, model, training = x.shape[0], self.model, self.model.training
        sizes = _layer_sizes(model, x.shape[1])
        sites = [DropSite.draw(model.input_dropout, False, (n, x.shape[1]), x.dtype, training)]
        sites += [DropSite.draw(model.dropout, self.fuse_relu, (n, out), x.dtype, training) for _, out, _ in sizes[:-1]]
        st = _Pass(x, sites, [], rows)
        last = len(sizes) - 1
        out = x.new_empty(0)
        for k, (_, width, _) in enumerate(sizes):
            targets = rows if k == last else None
            out = x.new_empty(n if targets is None else targets.numel(), width)
            states: list[Tensor | None] = []
            start = 0
            with torch.no_grad():
                for chunk in self.chunks(targets):
                    block = to_block(self.graph, chunk)
                    states.append(torch.get_rng_state() if keep and training else None)
                    out[start:start + chunk.numel()] = self.layers(k, block, self._input(st, k, block.src_ids))
                    start += chunk.numel()
            st.states.append(states)
            if k < last:
                st.hidden.append(out)
        if not keep:
            st.hidden = []
        release_free_memory()
        return out, st

    # -- backward -----------------------------------------------------------------------------------------
    def _backward(self, st: _Pass, grad_out: Tensor, params: list[Tensor]) -> list[Tensor | None]:
        totals: list[Tensor | None] = [None] * len(params)
        grad = grad_out.contiguous()
        for k in range(len(self.layers) - 1, -1, -1):
            grad_prev = torch.zeros_like(st.hidden[k - 1]) if k > 0 else None
            start = 0
            for chunk, state in zip(self.chunks(st.out_rows if k == len(self.layers) - 1 else None), st.states[k]):
                block = to_block(self.graph, chunk)
                ids = block.src_ids
                g_rows = grad[start:start + chunk.numel()]
                start += chunk.numel()
                with torch.enable_grad(), torch.random.fork_rng(devices=[]):
                    if state is not None:
                        torch.set_rng_state(state)
                    z = st.hidden[k - 1].index_select(0, ids).requires_grad_() if k > 0 else None
                    out = self.layers(k, block, self._input(st, k, ids, z))
                    inputs = ([z] if z is not None else []) + params
                    part = torch.autograd.grad(out, inputs, g_rows, allow_unused=True)
                if z is not None:
                    g_z, part = part[0], part[1:]
                    if g_z is not None:
                        grad_prev.index_add_(0, ids, g_z)
                for i, g in enumerate(part):
                    if g is not None:
                        totals[i] = g if totals[i] is None else totals[i].add_(g)
            if k > 0:
                st.hidden[k - 1] = st.hidden[k - 1][:0]  # Z_{k-1} is read for the last time
            grad = grad_prev
            release_free_memory()
        return totals


class _Blockwise(torch.autograd.Function):
    """Block-wise forward; backward recomputes chunks (parameter gradients returned, x gets none)."""

    @staticmethod
    def forward(ctx, runner: BlockwiseStack, x: Tensor, rows: Tensor | None, *params: Tensor) -> Tensor:  # type: ignore[override]
        out, state = runner._forward(x, rows, keep=True)
        ctx.runner, ctx.state, ctx.params = runner, state, params
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        state, ctx.state = ctx.state, None
        grads = ctx.runner._backward(state, grad, list(ctx.params))
        del state
        return (None, None, None, *grads)


__all__ = ["BlockPlan", "BlockwiseStack", "plan_blocks"]
