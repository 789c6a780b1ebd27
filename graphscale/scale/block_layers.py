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
from ..graph import Block, Graph, add_self_loops
from ..nn.conv import GATConv, GATv2Conv, GCNConv, GINConv, SAGEConv
from ..nn.conv.normalization import symmetric_norm, with_self_loops
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
        graph: The full graph (CPU); GCN layers read their normalisation from it.
        where, instead: For the error on another model.

    Shapes:
        block: ``src_ids`` / ``dst_ids`` / ``edge_ids`` of the full graph set; h: ``[N_src, F_i]``;
        returns ``[N_dst, F_{i+1}]``.

    Raises:
        ConfigError: A model that is not such a ``ConvStack``.
    """

    def __init__(self, model: nn.Module, graph: Graph, *, where: str, instead: str) -> None:
        self.model = check_block_model(model, where, instead)
        self.graph = graph
        self._gcn: dict[int, tuple[GCNConv, Graph]] = {}
        for i, conv in enumerate(self.model.convs):
            if isinstance(conv, GCNConv) and conv.normalize:
                self._gcn[i] = (_gcn_twin(conv), add_self_loops(graph) if conv.add_self_loops else graph)

    def __len__(self) -> int:
        return len(self.model.convs)

    def __call__(self, i: int, block: Block, h: Tensor) -> Tensor:
        conv = self.model.convs[i]
        if i not in self._gcn:
            return conv(block, h)
        twin, full_graph = self._gcn[i]
        norm = symmetric_norm(full_graph, h.dtype)  # [E (+ N)] full-graph weights, cached per dtype
        weight = norm[block.edge_ids.cpu()]
        graph = block
        if conv.add_self_loops:
            graph = with_self_loops(block)
            weight = torch.cat([weight, norm[self.graph.num_edges + block.dst_ids.cpu()]])
        return twin(graph, h, edge_weight=weight.to(h.device))


__all__ = ["BLOCK_LAYERS", "BlockLayers", "check_block_model"]
