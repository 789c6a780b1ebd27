"""A conv stack's own layers run on Blocks, each exact for the Block's destination nodes.

A Block holding *every* in-edge of its destination nodes (a full-neighbourhood layer: ``to_block``, a GAS
batch) gives those destinations the same output as the full graph does, for every layer whose output at
``v`` reads only ``v``'s in-edges and their sources: GraphSAGE (all aggregators), GAT, GATv2, GIN. GCN
also reads the *source's* degree, so it runs as a twin layer sharing the parameters, without its own
normalisation, on the full graph's ``gcn_norm`` weights of the block's edges.

GNNAutoScale (:mod:`.gas`) runs a batch's layers this way, and so does the block-wise streamed executor
(:mod:`.stream_blocks`): both call the layer's own ``forward`` (its SAGA stages, written once in
``graphscale.nn.conv``) and re-implement none of its math.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..graph import Block, Graph
from ..nn.conv import GATConv, GATv2Conv, GCNConv, GINConv, SAGEConv
from ..nn.conv.normalization import with_self_loops
from ..nn.models import ConvStack

BLOCK_LAYERS = (GCNConv, SAGEConv, GATConv, GATv2Conv, GINConv)


def check_block_model(model: nn.Module, where: str, instead: str) -> ConvStack:
    """``model`` as a ``ConvStack`` of :data:`BLOCK_LAYERS`.

    Raises:
        ConfigError: Another model (``instead`` says what to use then).
    """
    if not isinstance(model, ConvStack) or not all(isinstance(c, BLOCK_LAYERS) for c in model.convs):
        names = sorted(c.__name__ for c in BLOCK_LAYERS)
        raise ConfigError(f"{where}: expected a ConvStack of {names} layers (models gcn, sage, gat, gatv2, gin), "
                          f"got {type(model).__name__}. {instead}")
    return model


def _gcn_twin(conv: GCNConv) -> GCNConv:
    """A GCN layer without its own normalisation or self-loops, sharing ``conv``'s parameters."""
    with torch.random.fork_rng(devices=[]):  # its own (discarded) initialisation must not shift the seed
        twin = GCNConv(conv.in_dim, conv.out_dim, add_self_loops=False, normalize=False, bias=conv.bias is not None)
    twin.linear = conv.linear
    twin.bias = conv.bias
    return twin


class BlockLayers:
    """``layers(i, block, h)``: layer ``i`` of ``model`` on ``block``, exact for the block's destinations.

    Args:
        model: A ``ConvStack`` of :data:`BLOCK_LAYERS`.
        graph: The full graph; GCN layers read their normalisation from its degrees (blocks carrying full-graph
            ``src_ids`` / ``dst_ids``).
        degrees: Instead of ``graph``: ``(out_degrees, in_degrees)`` (without self-loops) indexed by the ids
            blocks carry (a partition's local ids: :mod:`graphscale.distributed.halo`).
        where, instead: For the error on another model.

    Shapes:
        block: ``src_ids`` / ``dst_ids`` set; h: ``[N_src, F_i]``; returns ``[N_dst, F_{i+1}]``.

    Raises:
        ConfigError: A model that is not such a ``ConvStack``.
    """

    def __init__(self, model: nn.Module, graph: Graph | None = None, *, where: str, instead: str,
                 degrees: tuple[Tensor, Tensor] | None = None) -> None:
        self.model = check_block_model(model, where, instead)
        if degrees is None:
            degrees = (graph.out_degrees(), graph.in_degrees())
        self.degrees = degrees
        self._twins = {i: _gcn_twin(conv) for i, conv in enumerate(self.model.convs)
                       if isinstance(conv, GCNConv) and conv.normalize}
        self._inverse: dict[tuple[bool, torch.dtype], tuple[Tensor, Tensor]] = {}

    def __len__(self) -> int:
        return len(self.model.convs)

    def _inverse_sqrt(self, loops: bool, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``deg^-1/2`` of the sources' out-degrees and the destinations' in-degrees (0 for degree 0), with
        the self-loop counted when ``loops``: the factors of ``gcn_norm`` on the full graph."""
        key = (loops, dtype)
        if key not in self._inverse:
            pair = []
            for degree in self.degrees:
                degree = degree.to(dtype) + (1.0 if loops else 0.0)
                pair.append(degree.pow(-0.5).masked_fill_(degree == 0, 0.0))
            self._inverse[key] = (pair[0], pair[1])
        return self._inverse[key]

    def __call__(self, i: int, block: Block, h: Tensor) -> Tensor:
        conv = self.model.convs[i]
        if i not in self._twins:
            return conv(block, h)
        dtype = h.dtype if h.dtype == torch.float64 else torch.float32
        inv_out, inv_in = self._inverse_sqrt(conv.add_self_loops, dtype)
        src_ids, dst_ids = block.src_ids.cpu().long(), block.dst_ids.cpu().long()
        weight = inv_out[src_ids[block.src.cpu().long()]] * inv_in[dst_ids[block.dst.cpu().long()]]
        graph = block
        if conv.add_self_loops:
            graph = with_self_loops(block)
            weight = torch.cat([weight, inv_out[dst_ids] * inv_in[dst_ids]])
        return self._twins[i](graph, h, edge_weight=weight.to(h.device, h.dtype))


__all__ = ["BLOCK_LAYERS", "BlockLayers", "check_block_model"]
