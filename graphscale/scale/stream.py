"""Full-batch training beyond memory: a conv stack streamed over adjacency chunks (after NGra).

NGra (Ma et al., "NeuGraph: Parallel Deep Neural Network Computation on Large Graphs", USENIX ATC 2019)
trains full-batch GNNs on graphs whose edges and activations exceed device memory: vertex data is cut
into intervals, the adjacency into chunks, and a layer runs chunk by chunk, streaming what does not fit.
Here the device is the CPU and the limit a byte budget for the process's peak RSS
(``train.memory_budget`` / ``--memory-budget``). The same ``nn.Module`` is trained; only its execution
changes, and the outputs and gradients equal the unchunked run's up to the order of float sums (GCN
outputs with destination-row chunks are bit-identical; parameter gradients summed chunk by chunk differ
in the last bits; the tests check both).

Design
------
**Layers as SAGA stages.** Every conv layer with a sum or mean aggregation declares its stages once
(``layer.stages()``, :mod:`graphscale.nn.conv.stages`: GCN, GraphSAGE mean/gcn; its own ``forward`` runs
the same functions): a row-local ``pre`` (``m = h W^T`` or ``m = h``), an aggregation (sum or mean, optional self-loops and GCN weights) and a row-local ``post``
(``out = f(a, h)``: bias, root term, normalisation). A stack of ``L`` layers then reads

    h_0 = dropout(x);  m_k = pre_k(h_k);  A_k = Agg_k(m_k);  z_k = post_k(A_k, h_k);  h_{k+1} = relu-dropout(z_k)

Everything but ``Agg_k`` is row-local, so any rows of ``h_k`` can be recomputed from the same rows of
``x, A_0 .. A_{k-1}`` alone. The executor therefore **materialises only the aggregated tensors**
``A_k [N, w_k]`` (``w_k`` the narrow side by NGra's dataflow rule: 100 and 47 columns for a
100 -> 256 -> 47 GCN, never the 256-wide hidden layer), the aggregation input ``m_k`` while it is being
aggregated, and in backward the gradients ``G_M_k`` of the aggregation inputs.

**Forward.** For ``k = 0 .. L-1``: fill ``m_k`` in row chunks (recomputing ``h_k`` from the stored ``A``),
aggregate it into ``A_k`` over the adjacency blocks, free ``m_k``. ``A_0`` of a constant input (no input
dropout, no projection before the first aggregation) is computed once and reused by every epoch. The
output is computed for the requested rows only (the training rows), and of ``A_{L-1}`` only those rows
are kept, so the ``[N, C]`` logits and their gradient never exist in training.

**Backward** (a custom autograd function, so ``loss.backward()`` and the optimizer are unchanged). With
``G_M_j`` known for ``j > k``, the gradient ``G_A_k`` of each row chunk comes from recomputing the
chunk's stages after ``A_k`` under autograd (``torch.autograd.grad`` w.r.t. the chunk of ``A_k``); then
``G_M_k = Agg_k^T(G_A_k)`` streams over the transposed adjacency. ``A_k`` that depend on no parameter
(``A_0`` of a constant input) get no gradient at all. A last pass recomputes every chunk once more with
the parameters under autograd and feeds all ``G_M_k`` and the output gradient: that gives the parameter
gradients (recompute, as in activation checkpointing, instead of storing ``[N, hidden]`` activations).
Dropout masks are hashes of ``(seed, element index)``, identical to :func:`graphscale.nn.functional.dropout`
and reproducible for any rows, so recomputed chunks see the masks of the forward pass.

**Adjacency** (:mod:`.stream_adjacency`). Destination-row chunks of about ``edges_per_block`` edges
(CSC for forward, CSR for the transpose), optionally cut again into source-column tiles; column ids are
int32 and edge weights are never stored (GCN weights are ``inv_col[c] * inv_row[r]`` per block, bit-equal
to ``gcn_norm``). Blocks run through the SAGA gSpMM kernels (``saga/kernels/cpu_kernels.py``). The
column ids stay in memory or go to files read block by block (then only the page cache holds them).

**Plan** (:mod:`.stream_plan`). From the budget and the memory already in use: everything in memory if
it fits, else adjacency on disk, else also the aggregation inputs on disk with ``2..64`` source-column
tiles (the aggregation input is then read one tile at a time: NGra's source chunks), else also the
stored ``A_k`` / ``G_M_k`` on disk (read and written one row chunk at a time; :mod:`.stream_io`). Chunk
sizes take the rest. The parameters and optimizer state are not counted (they are small for these
models). Spilled files go to the system temp folder (``$TMPDIR``) and are removed with their objects.

Shortcuts (:class:`~graphscale.nn.conv.stages.Stages`): a layer whose ``post`` is affine in ``A`` gives the last ``G_A`` from the
output gradient directly; a GraphSAGE last layer returns its root term with its aggregation input (one GEMM),
kept at the output rows, so the hidden rows are recomputed only in the parameter pass. A plan with
``cache_constant=False`` stores no ``A_0`` at all and aggregates the rows each chunk needs from ``x``.
Between phases the freed heap is handed back to the OS (``malloc_trim``).

Epoch time and peak RSS against PyG and against the unchunked model (``graphscale-stream`` in
``benchmarks/full_batch.py``, the budgeted runs of ``benchmarks/products_full_batch.py``): ``benchmarks/RESULTS.md``.

Limits: CPU tensors in float32; the input ``x`` gets no gradient. Layers without a sum / mean stage split
(max aggregation, attention, GIN) stream block-wise instead (:mod:`.stream_blocks`: destination-row
chunks through the layer's own ``forward``); ``graphscale train --memory-budget`` picks the executor.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..nn.conv.stages import RowContext, Stages
from .stream_adjacency import StreamedGraph
from .stream_io import (
    AggregatedRows,
    NodeFile,
    SparseRows,
    check_input,
    gather_rows,
    local_rows,
    positions,
    rows_of,
    sorted_rows,
)
from .stream_layers import DropSite, split_layer
from .stream_plan import ModelShape, StreamPlan, plan_for_budget, release_free_memory

__all__ = ["StreamPlan", "StreamedGraph", "StreamedStack", "model_shape", "plan_for_budget"]


def model_shape(model: nn.Module, input_dim: int) -> tuple[list[Stages], ModelShape]:
    """The streamed layers of a ``ConvStack`` and the shape the plan needs.

    Raises:
        ConfigError: A model that is not a stack of streamable conv layers.
    """
    convs = getattr(model, "convs", None)
    if convs is None or not hasattr(model, "dropout") or not hasattr(model, "input_dropout"):
        raise ConfigError(f"train.memory_budget: expected a stack of conv layers (model gcn or sage), got "
                          f"{type(model).__name__}. Drop train.memory_budget for this model.")
    layers = [split_layer(conv, "train.memory_budget") for conv in convs]
    needs = [k > 0 or layers[0].pre_has_params for k in range(len(layers))]
    allocates = [k > 0 or layers[0].pre_has_params or model.input_dropout > 0 for k in range(len(layers))]
    shape = ModelShape(input_dim, tuple(lay.width for lay in layers), tuple(lay.out_dim for lay in layers),
                       tuple(needs), tuple(allocates), len({lay.aggregation.self_loops for lay in layers}),
                       model.input_dropout > 0)
    return layers, shape


@dataclass
class _Pass:
    """What one forward pass leaves for its backward."""

    x: Tensor
    sites: list[DropSite]
    aggregated: list[Tensor | None]
    out_rows: Tensor | None = None          # sorted output rows (None: all rows)
    last_rows: Tensor | None = None         # A_{L-1} at out_rows
    root_rows: Tensor | None = None         # the last layer's root term at the output rows (pre_root layers)
    grads_m: list[Any] = field(default_factory=list)


class StreamedStack:
    """Runs a ``ConvStack`` (GCN / GraphSAGE layers) over a :class:`StreamedGraph`, chunk by chunk.

    Call it like the model: ``runner(x)`` gives ``[N, C]`` logits, ``runner(x, rows)`` the logits of
    ``rows`` only (what training needs). With autograd enabled the result is differentiable w.r.t. the
    model's parameters; ``model.train()`` / ``model.eval()`` switch dropout as usual.

    Shapes:
        x: ``[N, F_in]`` float32 (CPU); rows: optional ``[R]`` int64; returns ``[N or R, C]``.
    """

    def __init__(self, model: nn.Module, graph: StreamedGraph, input_dim: int) -> None:
        self.model, self.graph = model, graph
        self.layers, self.shape = model_shape(model, input_dim)
        self.fuse_relu = model.activation is torch.nn.functional.relu
        self._cache: tuple[Any, int, Tensor] | None = None
        for loops in dict.fromkeys(lay.aggregation.self_loops for lay in self.layers):
            graph.adjacency(loops)  # built now, not inside the first epoch
        self._in_degrees = graph.in_degrees() if any(lay.post_uses_degrees for lay in self.layers) else None

    # -- public ---------------------------------------------------------------------------------------------
    def __call__(self, x: Tensor, rows: Tensor | None = None) -> Tensor:
        check_input(x, self.graph.num_nodes, "StreamedStack")
        rows, inverse = sorted_rows(rows, self.graph.num_nodes, "StreamedStack")
        params = [p for p in self.model.parameters() if p.requires_grad]
        if torch.is_grad_enabled() and params:
            out = _Streamed.apply(self, x, rows, *params)
        else:
            out = self._forward(x, rows, self.model.training, keep=False)[0]
        return out if inverse is None else out.index_select(0, inverse)

    # -- row-local recomputation ---------------------------------------------------------------------------
    def _between(self, k: int, z: Tensor, sites: list[DropSite], ids: Tensor) -> Tensor:
        """``h_{k+1}`` rows from ``z_k`` rows: relu + dropout (or the stack's activation, then dropout)."""
        return sites[k + 1](z if self.fuse_relu else self.model.activation(z), ids)

    def _context(self, ids: Tensor) -> RowContext:
        degrees = self._in_degrees
        return RowContext(degrees.index_select(0, ids) if degrees is not None else None)

    def _inputs(self, st: _Pass, sel: slice, ids: Tensor, upto: int) -> Tensor:
        """Rows ``sel`` of ``h_upto`` (the input of layer ``upto``) from ``x`` and ``A_0 .. A_{upto-1}``."""
        h = st.sites[0](st.x[sel], ids)
        for k in range(upto):
            layer = self.layers[k]
            z = layer.post(rows_of(st.aggregated[k], sel), h if layer.post_uses_input else None, self._context(ids))
            h = self._between(k, z, st.sites, ids)
        return h

    def _batches(self, total: int):
        step = max(1, self.graph.plan.rows_per_chunk)
        for r0 in range(0, total, step):
            r1 = min(total, r0 + step)
            yield slice(r0, r1), torch.arange(r0, r1)

    def _new_input(self, width: int) -> Tensor | NodeFile:
        """An aggregation input ``[N, width]``: on disk with ``spill_inputs`` (read one tile at a time)."""
        if self.graph.plan.spill_inputs:
            return NodeFile(self.graph.num_nodes, width, self.graph.plan.folder())
        return torch.empty(self.graph.num_nodes, width)

    def _new_node(self, width: int) -> Tensor | NodeFile:
        """A stored node tensor (``A_k``, ``G_M_k``) ``[N, width]``: on disk with ``spill_nodes``."""
        if self.graph.plan.spill_nodes:
            return NodeFile(self.graph.num_nodes, width, self.graph.plan.folder())
        return torch.empty(self.graph.num_nodes, width)

    # -- forward ------------------------------------------------------------------------------------------------
    def _forward(self, x: Tensor, rows: Tensor | None, training: bool, keep: bool) -> tuple[Tensor, _Pass]:
        n, model, layers = x.shape[0], self.model, self.layers
        sites = [DropSite.draw(model.input_dropout, False, (n, x.shape[1]), x.dtype, training)]
        sites += [DropSite.draw(model.dropout, self.fuse_relu, (n, lay.out_dim), x.dtype, training)
                  for lay in layers[:-1]]
        st = _Pass(x, sites, [None] * len(layers), rows)
        for k, layer in enumerate(layers):
            if k == 0 and not layer.pre_has_params and sites[0].p == 0.0:
                st.aggregated[0] = self._constant_first(x, layer)
                continue
            m = self._new_input(layer.width)
            with_root = k == len(layers) - 1 and layer.pre_root is not None
            roots = []
            for sel, ids in self._batches(n):
                h = self._inputs(st, sel, ids, k)
                if with_root:  # m and the root term from one GEMM; r kept at the output rows only
                    m[sel], r = layer.pre_root(h)
                    roots.append(r if rows is None else r.index_select(0, local_rows(rows, sel)))
                else:
                    m[sel] = layer.pre(h)
                del h
            if with_root:
                st.root_rows = torch.cat(roots) if roots else torch.empty(0, layer.out_dim)
                del roots
            st.aggregated[k] = self.graph.aggregate(layer, m, self._new_node(layer.width))
            del m
        last, final = len(layers) - 1, layers[-1]
        a_last = st.aggregated[last]
        if rows is None:
            out = torch.empty(n, final.out_dim)
            for sel, ids in self._batches(n):
                r = st.root_rows[sel] if st.root_rows is not None else None
                h = self._inputs(st, sel, ids, last) if final.post_uses_input and r is None else None
                out[sel] = final.finish(rows_of(a_last, sel), h, r, self._context(ids))
        else:
            st.last_rows = gather_rows(a_last, rows, self._batches(n))
            out = torch.cat([self._output_rows(st, sel, ids, st.last_rows) for sel, ids in self._batches(n)]
                            or [torch.empty(0, final.out_dim)])
            if keep:  # A_{L-1} is needed at the output rows only
                st.aggregated[last] = None
        if keep:
            release_free_memory()
        return out, st

    def _constant_first(self, x: Tensor, layer: Stages) -> Any:
        """``A_0 = Agg_0(x)``, cached while ``x`` is the same unmodified tensor (rows recomputed on demand
        when the plan does not cache it)."""
        if not self.graph.plan.cache_constant:
            return AggregatedRows(self.graph, layer, x)
        cache = self._cache
        if cache is not None and cache[0]() is x and cache[1] == x._version:
            return cache[2]
        self._cache = None
        out = self.graph.aggregate(layer, x, self._new_node(layer.width))
        self._cache = (weakref.ref(x), x._version, out)
        return out

    def _output_rows(self, st: _Pass, sel: slice, ids: Tensor, a_rows: Tensor) -> Tensor:
        """Output of the requested rows falling into ``sel`` (``a_rows``: ``A_{L-1}`` at all requested rows)."""
        p0, p1 = positions(st.out_rows, sel)
        final = self.layers[-1]
        if p1 == p0:
            return a_rows.new_empty(0, final.out_dim)
        r = st.root_rows[p0:p1] if st.root_rows is not None else None
        h = None
        if final.post_uses_input and r is None:
            h = self._inputs(st, sel, ids, len(self.layers) - 1).index_select(0, st.out_rows[p0:p1] - sel.start)
        return final.finish(a_rows[p0:p1], h, r, self._context(st.out_rows[p0:p1]))

    # -- backward -----------------------------------------------------------------------------------------------
    def _recompute(self, st: _Pass, sel: slice, ids: Tensor, grad_out: Tensor, start: int,
                   leaf: Tensor | None) -> list[tuple[Tensor, Tensor]]:
        """``(output, gradient)`` pairs of rows ``sel`` from layer ``start`` on, under autograd: every
        later aggregation input ``m_j`` with ``G_M_j``, and the output rows with ``grad_out``. ``leaf``
        replaces the rows of ``A_start`` (when the gradient w.r.t. them is wanted)."""
        layers, last, pairs = self.layers, len(self.layers) - 1, []
        h = None
        if start > 0 and layers[start].post_uses_input:  # h_start is read by post_start only
            with torch.no_grad():
                h = self._inputs(st, sel, ids, start)
        if start == 0:
            h = st.sites[0](st.x[sel], ids)
            if st.grads_m[0] is not None and leaf is None:
                pairs.append((layers[0].pre(h), rows_of(st.grads_m[0], sel)))
        root = None  # the last layer's root term of these rows, when it comes with its aggregation input
        for k in range(start, last):
            layer = layers[k]
            a = leaf if (k == start and leaf is not None) else rows_of(st.aggregated[k], sel)
            h = self._between(k, layer.post(a, h if layer.post_uses_input else None, self._context(ids)), st.sites, ids)
            if k + 1 == last and layers[last].pre_root is not None:
                m, root = layers[last].pre_root(h)
            else:
                m = layers[k + 1].pre(h)
            pairs.append((m, rows_of(st.grads_m[k + 1], sel)))
        p0, p1 = positions(st.out_rows, sel) if st.out_rows is not None else (sel.start, sel.stop)
        if p1 > p0:
            final = layers[last]
            if st.out_rows is not None:
                local = st.out_rows[p0:p1] - sel.start
                a = leaf if (start == last and leaf is not None) else st.last_rows[p0:p1]
                r = root.index_select(0, local) if root is not None else None
                h_out = h.index_select(0, local) if final.post_uses_input and r is None else None
                z = final.finish(a, h_out, r, self._context(st.out_rows[p0:p1]))
            else:
                a = leaf if (start == last and leaf is not None) else rows_of(st.aggregated[last], sel)
                z = final.finish(a, h, root, self._context(ids))
            pairs.append((z, grad_out[p0:p1]))
        return pairs

    def _backward(self, st: _Pass, grad_out: Tensor, params: list[Tensor]) -> list[Tensor | None]:
        n, layers, last = st.x.shape[0], self.layers, len(self.layers) - 1
        grad_out = grad_out.contiguous()
        st.grads_m = [None] * len(layers)
        for k in range(last, -1, -1):
            if not self.shape.needs_grad[k]:
                continue
            if k == last and layers[k].post_grad_a is not None:  # affine post: G_A = post_grad_a(G_out)
                grad_last = layers[k].post_grad_a(grad_out)
                grad_a = SparseRows(st.out_rows, grad_last, n) if st.out_rows is not None else grad_last
                st.grads_m[k] = self.graph.aggregate(layers[k], grad_a, self._new_node(layers[k].width),
                                                     transposed=True, consume=grad_last is not grad_out)
                del grad_a, grad_last
                release_free_memory()
                continue
            if k == last and st.out_rows is not None:  # G_A_{L-1} lives on the output rows only
                grad_a: Any = SparseRows(st.out_rows, torch.empty(st.out_rows.numel(), layers[k].width), n)
                target = grad_a.values
            else:
                grad_a = self._new_input(layers[k].width)
                target = None
            for sel, ids in self._batches(n):
                if k == last and st.out_rows is not None:
                    p0, p1 = positions(st.out_rows, sel)
                    if p1 == p0:
                        continue
                    leaf = st.last_rows[p0:p1].detach().requires_grad_()
                else:
                    leaf = rows_of(st.aggregated[k], sel).detach().requires_grad_()
                with torch.enable_grad():
                    pairs = self._recompute(st, sel, ids, grad_out, k, leaf)
                    outs, grads = zip(*pairs)
                    (g,) = torch.autograd.grad(outs, [leaf], grads, allow_unused=True)
                g = torch.zeros_like(leaf) if g is None else g
                if target is not None:
                    target[p0:p1] = g
                else:
                    grad_a[sel] = g
            st.grads_m[k] = self.graph.aggregate(layers[k], grad_a, self._new_node(layers[k].width),
                                                 transposed=True, consume=True)
            del grad_a, target
        totals: list[Tensor | None] = [None] * len(params)
        for sel, ids in self._batches(n):
            with torch.enable_grad():
                pairs = self._recompute(st, sel, ids, grad_out, 0, None)
                if not pairs:
                    continue
                outs, grads = zip(*pairs)
                part = torch.autograd.grad(outs, params, grads, allow_unused=True)
            for i, g in enumerate(part):
                if g is not None:
                    totals[i] = g if totals[i] is None else totals[i].add_(g)
        release_free_memory()
        return totals


class _Streamed(torch.autograd.Function):
    """Streamed forward; backward recomputes chunks (parameter gradients returned, x gets none)."""

    @staticmethod
    def forward(ctx, runner: StreamedStack, x: Tensor, rows: Tensor | None, *params: Tensor) -> Tensor:  # type: ignore[override]
        out, state = runner._forward(x, rows, runner.model.training, keep=True)
        ctx.runner, ctx.state, ctx.params = runner, state, params
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        state, ctx.state = ctx.state, None  # free A_k, G_M_k as soon as backward ends
        grads = ctx.runner._backward(state, grad, list(ctx.params))
        del state
        return (None, None, None, *grads)
