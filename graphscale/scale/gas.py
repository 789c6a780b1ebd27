"""GNNAutoScale (Fey et al., ICML 2021, arXiv:2106.05609): historical embeddings over ClusterGCN batches.

A batch is a group of METIS clusters; its *computation graph* is one ``Block`` holding every in-edge of
the batch's nodes, so its source nodes are the batch (first, as destinations) plus their 1-hop
out-of-batch in-neighbours (the *halo*). Layer ``l`` runs on that block: the batch rows of its input are
the previous layer's outputs (with gradient), the halo rows are *pulled* from history ``l - 1`` (constants,
no gradient); the layer's output for the batch is *pushed* to history ``l`` on the CPU. Every layer is
thus exact up to the staleness of the halo's embeddings, and the device holds O(batch + halo) rows,
independent of the number of nodes. With one cluster the halo is empty and training equals full-batch
training step for step.

``History``: one ``[N, F_l]`` buffer per hidden layer, on the CPU (page-locked when the model is on a GPU,
with a page-locked staging buffer for asynchronous pulls). ``GASModel`` wraps an unchanged ``ConvStack``
(GCN, SAGE, GAT, GATv2, GIN layers): layers whose output for a node depends only on its in-edges run as
they are on the block; GCN layers, whose normalisation reads the *source's* degree, run with the
full-graph ``gcn_norm`` weights of the block's edges (a twin layer sharing the parameters; both in
:mod:`.block_layers`, shared with the block-wise streamed executor). The training
run is :func:`graphscale.train.gas.train_gas`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import SamplerConfig
from ..errors import ConfigError, ShapeError
from ..graph import Block, Graph
from ..loader import NodeLoader
from ..nn.functional import dropout as fast_dropout
from ..nn.models import ConvStack
from ..sampling import ClusterSampler, NeighborSampler
from ..sampling.base import MiniBatch
from .block_layers import BLOCK_LAYERS, BlockLayers, check_block_model

GAS_LAYERS = BLOCK_LAYERS


class History:
    """Historical embeddings of one layer: ``[num_nodes, dim]`` on the CPU, filled by ``push``.

    Args:
        num_nodes: Rows (nodes of the full graph).
        dim: Embedding width ``F``.
        device: Where ``pull`` delivers rows; with a CUDA device the buffer and a staging buffer are
            page-locked and pulls copy asynchronously.
        dtype: Storage dtype.

    Shapes:
        pull: ids ``[B]`` -> ``[B, F]`` on ``device``; push: values ``[B, F]``, ids ``[B]``.
    """

    def __init__(self, num_nodes: int, dim: int, *, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.device = torch.device(device)
        self.pinned = self.device.type == "cuda"
        self.emb = torch.zeros(num_nodes, dim, dtype=dtype, pin_memory=self.pinned)
        self._staging: Tensor | None = None
        self._copied: Any = None  # CUDA event of the last asynchronous pull out of the staging buffer

    @property
    def dim(self) -> int:
        return int(self.emb.shape[1])

    def _check(self, ids: Tensor, values: Tensor | None, where: str) -> Tensor:
        if ids.dim() != 1:
            raise ShapeError(f"{where}: expected ids of shape [B], got {tuple(ids.shape)}.")
        if values is not None and (values.dim() != 2 or values.shape != (ids.shape[0], self.dim)):
            raise ShapeError(f"{where}: expected values of shape [{ids.shape[0]}, {self.dim}], got "
                             f"{tuple(values.shape)}.")
        return ids.detach().to("cpu", torch.int64)

    def pull(self, ids: Tensor) -> Tensor:
        """Rows ``ids`` on ``device`` (a constant: no gradient flows into the history)."""
        ids = self._check(ids, None, "History.pull")
        if not self.pinned:
            return self.emb.index_select(0, ids).to(self.device)
        if self._copied is not None:
            self._copied.synchronize()  # the previous asynchronous copy has left the staging buffer
        if self._staging is None or self._staging.shape[0] < ids.numel():
            self._staging = torch.empty(max(ids.numel(), 1024), self.dim, dtype=self.emb.dtype, pin_memory=True)
        rows = self._staging[: ids.numel()]
        torch.index_select(self.emb, 0, ids, out=rows)
        out = rows.to(self.device, non_blocking=True)
        self._copied = torch.cuda.Event()
        self._copied.record()
        return out

    def push(self, values: Tensor, ids: Tensor) -> None:
        """Store ``values`` (detached) as the rows ``ids``."""
        ids = self._check(ids, values, "History.push")
        self.emb.index_copy_(0, ids, values.detach().to("cpu", self.emb.dtype))

    def reset_(self) -> None:
        """Zero every row."""
        self.emb.zero_()


class GASSampler:
    """ClusterGCN groups of clusters, each with its 1-hop in-neighbourhood, as one ``Block`` per batch.

    Args:
        graph: The full graph (on the CPU).
        num_parts: METIS clusters (ignored when ``parts`` is given).
        parts: Precomputed ``[N]`` cluster ids.
        cache_dir: METIS cache folder.
        metis_seed: METIS random seed.

    ``plan`` groups ``batch_size`` clusters (the ``ClusterSampler`` plan); ``sample`` returns
    ``MiniBatch([block], block.src_ids, output_ids, output_index)``: the block has every in-edge of the
    batch nodes (``block.dst_ids``, cluster by cluster), its sources are the batch nodes then the halo;
    ``output_ids`` are the batch nodes among the plan's seeds (training nodes), at rows ``output_index``.
    """

    def __init__(self, graph: Graph, num_parts: int | None = None, *, parts: Any = None,
                 cache_dir: Any = None, metis_seed: int = 0) -> None:
        self.clusters = ClusterSampler(graph, num_parts, parts=parts, cache_dir=cache_dir, metis_seed=metis_seed)
        self.neighbourhood = NeighborSampler(graph, [-1])
        self.num_nodes = graph.num_nodes
        self.num_parts = self.clusters.num_parts

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        return self.clusters.plan(seeds, batch_size, shuffle, rng)

    def sample(self, item: tuple[np.ndarray, np.ndarray, float], seed: int) -> MiniBatch:
        clusters, mask, _ = item
        nodes = self.clusters.nodes_of(clusters)
        (block,) = self.neighbourhood.sample_blocks(nodes, seed)
        output_index = np.flatnonzero(mask[nodes])
        return MiniBatch([block], block.src_ids, torch.from_numpy(nodes[output_index]),
                         torch.from_numpy(output_index))


class GASModel:
    """Runs an unchanged ``ConvStack`` on GAS batches with per-layer histories.

    Args:
        model: A ``ConvStack`` of GCN, SAGE, GAT, GATv2 or GIN layers (its parameters are the trained ones).
        graph: The full graph (CPU); GCN layers read their full-graph normalisation from it.
        device: The model's device (histories stay on the CPU).

    Raises:
        ConfigError: A model that is not such a ``ConvStack``.
    """

    def __init__(self, model: nn.Module, graph: Graph, device: torch.device | str = "cpu") -> None:
        self.layers = BlockLayers(model, graph, where="train_gas", instead="Use --sampler cluster for other models.")
        self.model: ConvStack = self.layers.model
        self.graph, self.device = graph, torch.device(device)
        self.histories: list[History | None] = [None] * (len(self.model.convs) - 1)

    def history(self, layer: int, dim: int) -> History:
        """History of layer ``layer``'s output (allocated at the first push, when its width is known)."""
        buffer = self.histories[layer]
        if buffer is None:
            buffer = History(self.graph.num_nodes, dim, device=self.device)
            self.histories[layer] = buffer
        return buffer

    def forward(self, block: Block, x_in: Tensor, *, push: bool = True) -> Tensor:
        """Logits of the batch nodes; hidden outputs are pushed, halo inputs pulled.

        Args:
            block: A ``GASSampler`` block on the model's device (``src_ids``/``dst_ids``/``edge_ids`` set).
            x_in: Input features of ``block.src_ids``.
            push: Store the batch's hidden outputs in the histories.

        Shapes:
            x_in: ``[N_src, F_in]``; returns ``[N_dst, F_out]``.
        """
        model, training = self.model, self.model.training
        num_dst = block.num_dst_nodes
        halo = block.src_ids[num_dst:]
        fuse_relu = model.activation is F.relu
        h = fast_dropout(x_in, model.input_dropout, training)
        for i in range(len(model.convs)):
            if i > 0:
                history = self.history(i - 1, h.shape[1])
                if push:
                    history.push(h, block.dst_ids)
                h = torch.cat([h, history.pull(halo).to(h.dtype)])  # [N_src, F]: batch rows, then halo rows
                if not fuse_relu:
                    h = model.activation(h)
                h = fast_dropout(h, model.dropout, training, relu=fuse_relu)
            h = self.layers(i, block, h)  # [N_dst, F_i]
        return h

    __call__ = forward

    @torch.no_grad()
    def fill(self, loader: NodeLoader, x: Tensor) -> None:
        """One pass over ``loader`` in evaluation mode pushing every batch (warms the histories up).

        Shapes:
            x: ``[N, F_in]`` features of the full graph (CPU).
        """
        was_training = self.model.training
        self.model.eval()
        try:
            for batch in loader:
                (block,) = batch.graph
                self.forward(block.to(self.device), batch_features(x, batch.input_ids, self.device))
        finally:
            self.model.train(was_training)


def batch_features(x: Tensor, ids: Tensor, device: torch.device) -> Tensor:
    """``x[ids]`` on ``device`` (``x`` on the CPU)."""
    return x.index_select(0, ids.cpu()).to(device, non_blocking=True)


def check_gas_model(model: nn.Module) -> None:
    """Raise ConfigError unless ``model`` is a ``ConvStack`` of layers GAS runs exactly (see GAS_LAYERS)."""
    check_block_model(model, "train_gas", "Use --sampler cluster for other models.")


def gas_sampler_config(value: SamplerConfig | dict[str, Any] | str | None) -> SamplerConfig:
    """The ClusterGCN settings of a GAS run: ``value`` named "gas" or "cluster" (no name / None: "gas").

    Used fields: ``num_parts``, ``clusters_per_batch``, ``cache_dir``, ``num_workers``, ``prefetch``,
    ``eval``, ``eval_batch_size``.

    Raises:
        ConfigError: Another sampler name, or an invalid field (see ``SamplerConfig.from_any``).
    """
    cfg = SamplerConfig.from_any("gas" if value is None else value, default_name="gas")
    if cfg.name not in ("gas", "cluster"):
        raise ConfigError(f"sampler.name: expected 'gas' (ClusterGCN batches with historical embeddings), got "
                          f"{cfg.name!r}. Use train_minibatch for other samplers.")
    return cfg


__all__ = ["GAS_LAYERS", "GASModel", "GASSampler", "History", "batch_features", "check_gas_model",
           "gas_sampler_config"]
