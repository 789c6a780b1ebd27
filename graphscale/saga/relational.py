"""Multi-relation message passing: one matmul per relation type, one fused gather, no per-edge weights.

A relational layer (R-GCN, HGT) transforms the source of every edge with its relation's weight,
``m_e = W_{r(e)} x_{src(e)}``, and gathers at the destination. Done per edge this costs ``E x F`` messages (and
``E x F x F`` if the weights were indexed per edge). The fused path here instead:

1. takes the distinct ``(relation, source)`` pairs of the graph (``P <= min(E, R x N)``), sorted by relation, so
   every relation owns one contiguous segment of pair rows (:func:`relation_pairs`, cached on the graph);
2. runs one dense matmul per relation on its segment (:func:`segment_mm`: DGL's ``segment_mm``; with the pair
   rows gathered from the node features this is ``gather_mm``);
3. gathers the transformed pairs into the destinations with one fused ``saga()`` call on the *pair graph*
   (edges ``pair(e) -> dst(e)`` sorted by destination, so the per-edge normaliser is read in order; a caller's
   edge data is permuted with ``edge_order``).

:func:`relational_saga` is tested equal to the per-relation loop of ``saga()`` calls, values and gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ShapeError
from ..graph import Graph
from . import fn
from .engine import saga
from .kernels import block_mm


def _segment_bounds(seglens: Sequence[int]) -> list[tuple[int, int, int]]:
    out, start = [], 0
    for r, length in enumerate(seglens):
        if length:
            out.append((r, start, start + length))
        start += length
    return out


def _mm(x: Tensor, w: Tensor) -> Tensor:
    """``x [m, Fin] @ w [Fin, Fout]`` or per head ``x [m, H, Fin] @ w [H, Fin, Fout]``."""
    return x @ w if x.dim() == 2 else torch.einsum("mhi,hio->mho", x, w)


class _SegmentMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bounds: list[tuple[int, int, int]], lengths: list[int]) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.bounds, ctx.lengths = bounds, lengths
        if block_mm.supported(x, weight):  # per-head blocks on the CPU: one numba pass, not a bmm per relation
            return block_mm.block_mm(x, weight, lengths)
        out = x.new_empty((*x.shape[:-1], weight.shape[-1]))  # the segments cover every row
        for r, lo, hi in bounds:
            out[lo:hi] = _mm(x[lo:hi], weight[r])
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = None
        if block_mm.supported(x, weight):
            if ctx.needs_input_grad[0]:
                grad_x = block_mm.block_mm(grad, weight, ctx.lengths, transpose=True)
            if ctx.needs_input_grad[1]:
                grad_w = block_mm.block_weight_grad(x, grad, ctx.lengths, weight.shape[0])
            return grad_x, grad_w, None, None
        if ctx.needs_input_grad[0]:
            grad_x = torch.empty_like(x)
            for r, lo, hi in ctx.bounds:
                grad_x[lo:hi] = _mm(grad[lo:hi], weight[r].transpose(-1, -2))
        if ctx.needs_input_grad[1]:
            grad_w = torch.zeros_like(weight)
            for r, lo, hi in ctx.bounds:
                if x.dim() == 2:
                    grad_w[r] = x[lo:hi].t() @ grad[lo:hi]
                else:
                    grad_w[r] = torch.einsum("mhi,mho->hio", x[lo:hi], grad[lo:hi])
        return grad_x, grad_w, None, None


def segment_mm(x: Tensor, weight: Tensor, seglens: Sequence[int] | Tensor) -> Tensor:
    """Rows of ``x`` in consecutive segments, segment ``r`` multiplied by ``weight[r]``.

    Shapes:
        x: ``[M, F_in]`` (or ``[M, H, F_in]``: one matrix per head / diagonal block);
        weight: ``[R, F_in, F_out]`` (or ``[R, H, F_in, F_out]``); seglens: ``[R]`` summing to ``M``;
        return: ``[M, F_out]`` (or ``[M, H, F_out]``).

    The backward is two segment matmuls as well (``grad_x = grad W_r^T``, ``grad_W_r = x_r^T grad``); only ``x``
    and ``weight`` are saved.
    """
    lengths = [int(v) for v in (seglens.tolist() if isinstance(seglens, Tensor) else seglens)]
    if len(lengths) != weight.shape[0] or sum(lengths) != x.shape[0]:
        raise ShapeError(f"segment_mm: expected {weight.shape[0]} segment lengths summing to {x.shape[0]} rows, got "
                         f"{len(lengths)} summing to {sum(lengths)}.")
    if x.dim() != weight.dim() - 1 or x.shape[1:-1] != weight.shape[1:-2] or x.shape[-1] != weight.shape[-2]:
        raise ShapeError(f"segment_mm: expected x [M, (H,) F_in] and weight [R, (H,) F_in, F_out] to agree, got "
                         f"{tuple(x.shape)} and {tuple(weight.shape)}.")
    return _SegmentMM.apply(x, weight, _segment_bounds(lengths), lengths)


def gather_mm(x: Tensor, index: Tensor, weight: Tensor, seglens: Sequence[int] | Tensor) -> Tensor:
    """``segment_mm(x[index], weight, seglens)``: rows gathered from ``x`` (``index`` grouped by segment)."""
    return segment_mm(x.index_select(0, index.long()), weight, seglens)


@dataclass(frozen=True)
class RelationPairs:
    """The distinct ``(relation, source)`` pairs of a graph with typed edges.

    Attributes:
        pair_src: ``[P]`` int64 source node of each pair, sorted by relation then source.
        pair_counts: Pairs per relation (``[R]`` segment lengths of :func:`segment_mm`).
        graph: The pair graph: ``P`` sources, the graph's destinations, one edge ``pair(e) -> dst(e)`` per edge
            ``e``, sorted by destination: its edge ``i`` is the graph's edge ``edge_order[i]``.
        degree: ``[E]`` float32 ``c_{dst,r}`` of the pair graph's edges: the destination's in-degree within the
            edge's relation (R-GCN's normaliser is its reciprocal, :meth:`norm`).
        edge_order: ``[E]`` int64 the graph's edge id of every pair-graph edge (``edge_data[edge_order]``).
    """

    pair_src: Tensor
    pair_counts: list[int]
    graph: Graph
    degree: Tensor
    edge_order: Tensor

    def norm(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """``[E]`` ``1 / c_{dst,r}`` in ``dtype``."""
        return self.degree.to(dtype).reciprocal()


def _build_pairs(graph: Graph, edge_type: Tensor, num_relations: int) -> RelationPairs:
    rel = edge_type.long()
    src, dst = graph.src.long(), graph.dst.long()
    uniq, pair_of_edge = torch.unique(rel * graph.num_src_nodes + src, return_inverse=True)
    pair_rel = torch.div(uniq, max(graph.num_src_nodes, 1), rounding_mode="floor")
    counts = torch.bincount(pair_rel, minlength=num_relations).tolist()
    dst_key = torch.unique(rel * graph.num_dst_nodes + dst, return_inverse=True)[1]
    in_degree = torch.bincount(dst_key).to(torch.float32)
    # the pair graph's edges in destination order: its CSC edge ids are then 0..E-1 and the gather reads the
    # per-edge normaliser sequentially (edge data of the caller's graph is permuted by ``edge_order``)
    order = torch.sort(dst, stable=True).indices
    pair_graph = Graph._trusted(pair_of_edge[order], dst[order], int(uniq.numel()), graph.num_dst_nodes)
    return RelationPairs(uniq - pair_rel * graph.num_src_nodes, counts, pair_graph, in_degree[dst_key][order],
                         order)


def relation_pairs(graph: Graph, edge_type: Tensor, num_relations: int) -> RelationPairs:
    """:class:`RelationPairs` of ``graph`` typed by ``edge_type [E]`` (ids in ``[0, num_relations)``), cached on
    the graph for this ``edge_type`` tensor.

    Raises:
        ShapeError: ``edge_type`` of another length than the edges, or ids out of range.
    """
    if edge_type.dim() != 1 or edge_type.numel() != graph.num_edges:
        raise ShapeError(f"relation_pairs: expected edge_type [{graph.num_edges}] (one relation id per edge), got "
                         f"{tuple(edge_type.shape)}.")
    if edge_type.numel() and (int(edge_type.min()) < 0 or int(edge_type.max()) >= num_relations):
        raise ShapeError(f"relation_pairs: expected relation ids in [0, {num_relations}), got range "
                         f"[{int(edge_type.min())}, {int(edge_type.max())}].")
    held = graph._cache.get("relation_pairs")
    if held is not None and held[0] is edge_type and held[1] == num_relations:
        return held[2]
    pairs = _build_pairs(graph, edge_type, num_relations)
    graph._cache["relation_pairs"] = (edge_type, num_relations, pairs)
    return pairs


def relational_saga(graph: Graph, x: Tensor, weight: Tensor, edge_type: Tensor, *, norm: str | Tensor = "right",
                    gather: str = "sum") -> Tensor:
    """``out_v = gather_{e: u -> v} c_e W_{r(e)} x_u`` in one matmul per relation and one fused gather.

    Args:
        graph: ``Graph`` / ``Block`` with ``N_src`` sources and ``N_dst`` destinations.
        x: ``[N_src, F_in]`` source features (or ``[N_src, H, F_in]`` per head / diagonal block).
        weight: ``[R, F_in, F_out]`` one matrix per relation (or ``[R, H, F_in, F_out]``).
        edge_type: ``[E]`` relation id of every edge.
        norm: ``"right"`` (``c_e = 1 / c_{v,r}``, R-GCN), ``"none"`` (1) or an ``[E]`` tensor of edge weights.
        gather: ``sum``, ``mean``, ``max`` or ``min`` over the in-edges.

    Returns:
        ``[N_dst, F_out]`` (or ``[N_dst, H, F_out]``).
    """
    if x.shape[0] != graph.num_src_nodes:
        raise ShapeError(f"relational_saga: expected x with {graph.num_src_nodes} rows (source nodes), got shape "
                         f"{tuple(x.shape)}.")
    pairs = relation_pairs(graph, edge_type, weight.shape[0])
    transformed = gather_mm(x, pairs.pair_src, weight, pairs.pair_counts)
    if isinstance(norm, Tensor):
        coef = norm[pairs.edge_order]
    elif norm == "right":
        coef = pairs.norm(transformed.dtype)
    elif norm == "none":
        return saga(pairs.graph, src=transformed, apply_edge=fn.copy_src, gather=gather)
    else:
        raise ShapeError(f"relational_saga: expected norm 'right', 'none' or an [E] tensor, got {norm!r}.")
    if transformed.dim() == 3:
        coef = coef.view(-1, 1, 1) if coef.dim() == 1 else coef
    return saga(pairs.graph, src=transformed, edge=coef, apply_edge=fn.src_mul_edge, gather=gather)


__all__ = ["RelationPairs", "gather_mm", "relation_pairs", "relational_saga", "segment_mm"]
