"""Mini-batch node classification: neighbour sampling, ClusterGCN or GraphSAINT batches, full-graph evaluation.

One run (one seed) of :func:`train_minibatch` trains a ``build_node_model`` model on batches from a
``NodeLoader`` over the training nodes (background sampling threads), evaluates on the *full* graph after
every epoch (full-batch, or layer-wise in chunks for large graphs) and keeps the epoch chosen on validation
by :class:`~graphscale.train.loop.EpochSelector`, with early stopping after ``train.patience`` epochs.
The result has the keys of a run of :func:`graphscale.train.node.train_node`.

Samplers (``SamplerConfig.name``, the ``sampler`` section of :mod:`graphscale.config.schema`): ``neighbor``
(per-layer fanouts, ``fanouts[0]`` for the seeds), ``cluster`` (METIS clusters, cached next to the dataset),
``saint-node``, ``saint-edge``, ``saint-rw`` (GraphSAINT with loss and aggregation normalisation: the
aggregation weights reach the layers as ``edge_weight`` for SAGE with the mean aggregator and for GCN; other
models get the loss normalisation only), ``shadow`` (ShaDow-GNN: one subgraph per target, the model's readout
at the target, evaluated on the targets' subgraphs: :mod:`graphscale.train.shadow`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import seed as seed_everything
from ..config import SamplerConfig, TrainConfig
from ..config.registry import did_you_mean
from ..datasets.base import NodeDataset
from ..errors import ConfigError, warn_once
from ..graph import Graph
from ..loader import NodeLoader
from ..nn.conv import GCNConv, SAGEConv
from ..nn.embedding import NodeEmbedding
from ..nn.models import ConvStack, build_node_model
from ..sampling import (
    ClusterSampler,
    NeighborSampler,
    SaintEdgeSampler,
    SaintNodeSampler,
    SaintRandomWalkSampler,
    cluster_cache_dir,
)
from .loop import Checkpoints, EpochHook, EpochSelector, Task, fit, single_run
from .node import check_single_label, node_metrics, node_result, node_split
from .optim import build_optimizer, build_scheduler
from .runtime import resolve_device

SAMPLERS = ("neighbor", "cluster", "saint-node", "saint-edge", "saint-rw", "shadow")  # what train_minibatch runs
LAYERWISE_EXACT = (SAGEConv,)  # layers whose output on a full-neighbourhood block equals the full-graph one


def message_passing_layers(model: nn.Module) -> int:
    """Blocks a model consumes: its conv layers (``ConvStack``), GatedGCN layers, else 1 (APPNP, SGC)."""
    for name in ("convs", "layers"):
        layers = getattr(model, name, None)
        if isinstance(layers, nn.ModuleList):
            return len(layers)
    return 1


def saint_aggregation(model: nn.Module) -> str | None:
    """GraphSAINT edge-weight mode the model can use: "mean" (SAGE mean), "none" (GCN) or None."""
    convs = list(model.convs) if isinstance(model, ConvStack) else []
    if convs and all(isinstance(c, SAGEConv) and c.aggregator == "mean" for c in convs):
        return "mean"
    if convs and all(isinstance(c, GCNConv) for c in convs):
        return "none"
    return None


def neighbor_fanouts(cfg: SamplerConfig, model: nn.Module) -> list[int]:
    """``sampler.fanouts``, or the default for the model's depth ([25, 10] for two layers, else 10 per layer).

    Raises:
        ConfigError: Fanouts not one per message-passing layer.
    """
    layers = message_passing_layers(model)
    fanouts = list(cfg.fanouts or ([25, 10] if layers == 2 else [10] * layers))
    if len(fanouts) != layers:
        raise ConfigError(f"sampler.fanouts: expected {layers} fanouts (one per message-passing layer), got "
                          f"{fanouts}.")
    return fanouts


def build_loader(cfg: SamplerConfig, dataset: NodeDataset, train_ids: Tensor, model: nn.Module,
                 seed: int) -> tuple[NodeLoader, bool]:
    """The training ``NodeLoader`` of ``cfg`` and whether batches carry aggregation edge weights."""
    graph, num_nodes = dataset.graph, dataset.num_nodes
    batch_size: int | None = None
    use_edge_weight = False
    if cfg.name == "neighbor":
        sampler: Any = NeighborSampler(graph, neighbor_fanouts(cfg, model), replace=cfg.replace, edge_weight=None)
        batch_size = cfg.batch_size
    elif cfg.name == "cluster":
        num_parts = cfg.num_parts or min(max(4, num_nodes // 150), num_nodes)
        cache = cfg.cache_dir if cfg.cache_dir is not None else cluster_cache_dir(dataset.name)
        mode = None
        if cfg.cluster_norm == "unbiased" and (mode := saint_aggregation(model)) is None:
            raise ConfigError(f"sampler.cluster_norm: 'unbiased' needs SAGE (mean) or GCN layers, got "
                              f"{type(model).__name__}. Use cluster_norm: batch.")
        sampler = ClusterSampler(graph, num_parts, cache_dir=cache, metis_seed=0, aggregation=mode)
        batch_size = cfg.clusters_per_batch or min(20, max(1, sampler.num_parts // 4))
        use_edge_weight = mode is not None
    else:
        mode = saint_aggregation(model)
        if mode is None:
            warn_once(f"train_minibatch: GraphSAINT aggregation normalisation needs SAGE (mean) or GCN layers; "
                      f"{type(model).__name__} gets the loss normalisation only.")
        options = {"coverage": cfg.coverage, "aggregation": mode or "mean", "seed": seed}
        if cfg.name == "saint-node":
            sampler = SaintNodeSampler(graph, cfg.budget or max(64, num_nodes // 5), **options)
        elif cfg.name == "saint-edge":
            sampler = SaintEdgeSampler(graph, cfg.budget or max(32, num_nodes // 10), **options)
        else:
            sampler = SaintRandomWalkSampler(graph, cfg.num_roots or max(16, num_nodes // 10), cfg.walk_length,
                                             **options)
        use_edge_weight = mode is not None
    loader = NodeLoader(sampler, train_ids, batch_size, shuffle=True, seed=seed, num_workers=cfg.num_workers,
                        prefetch=cfg.prefetch)
    return loader, use_edge_weight


def check_layerwise(model: nn.Module) -> None:
    """Raise ConfigError unless ``model`` is a ``ConvStack`` of SAGE layers (layer-wise evaluation is exact)."""
    if not isinstance(model, ConvStack) or not all(isinstance(c, LAYERWISE_EXACT) for c in model.convs):
        raise ConfigError(f"sampler.eval: expected a SAGE model for layer-wise evaluation, got "
                          f"{type(model).__name__}. Use eval='full'.")


@torch.no_grad()
def layerwise_inference(model: ConvStack, graph: Graph, x: Tensor, batch_size: int,
                        device: torch.device | None = None) -> Tensor:
    """Full-graph logits one layer at a time, ``batch_size`` destination nodes per step (DGL's pattern).

    Each step runs a layer on the full in-neighbourhood block of a chunk, so memory grows with the chunk,
    not the graph; the output equals ``model(graph, x)`` for layers normalised by the destination only
    (SAGE). Call under ``model.eval()``.

    Shapes:
        x: ``[N, F_in]`` (on the CPU); returns ``[N, F_out]`` on the CPU.

    Raises:
        ConfigError: A model that is not a ``ConvStack`` of SAGE layers.
    """
    check_layerwise(model)
    device = device or next(model.parameters()).device
    h = x
    chunks = torch.arange(graph.num_nodes).split(batch_size)
    full_neighbourhood = NeighborSampler(graph, [-1])
    for i, conv in enumerate(model.convs):
        out = None
        for chunk in chunks:
            (block,) = full_neighbourhood.sample_blocks(chunk)
            part = conv(block.to(device), h[block.src_ids].to(device))
            if i < len(model.convs) - 1:
                part = model.activation(part)
            if out is None:
                out = torch.empty(graph.num_nodes, part.shape[1], dtype=part.dtype)
            out[chunk] = part.cpu()
        h = out
    return h


def train_minibatch(dataset: NodeDataset, model_name: str, hparams: dict[str, Any] | None,
                    sampler_cfg: SamplerConfig | dict[str, Any] | str | None, train_cfg: TrainConfig, seed: int, *,
                    run: int = 0, split: int | None = None, progress: bool = False,
                    on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train and evaluate one mini-batch run.

    Args:
        dataset: Single-label node-classification dataset.
        model_name: ``build_node_model`` name (sage, gcn, gat ...).
        hparams: Model hyper-parameters.
        sampler_cfg: ``SamplerConfig`` (or a dict of its fields / a sampler name).
        train_cfg: Epochs, optimizer, lr, weight decay, patience, selection metric, device.
        seed: Seed of the model initialisation, the split (datasets without one) and every batch.
        run: Run number (picks published split ``run % S`` when ``split`` is None).
        split: Published split index to use.
        progress: Show a tqdm bar on stderr.
        on_epoch: Called after each epoch with ``{"run", "epoch", train_loss, train_acc, val_loss, val_acc,
            test_acc}``.

    Returns:
        ``run, seed, split, best_epoch, epochs_run, test_acc, val_acc, val_loss, train_acc, last_test_acc,
        epoch_time_s`` (mean training time of an epoch after the first), ``warmup_time_s`` (the first,
        including numba compilation), ``train_time_s``.

    Raises:
        ConfigError: Multi-label data, a bad sampler config or model name, fanouts not matching the layers.
    """
    name = SamplerConfig.from_any(sampler_cfg).name
    return single_run(minibatch_run, train_cfg.epochs, f"train {dataset.name}/{model_name}/{name}", progress,
                      dataset=dataset, model_name=model_name, hparams=hparams, sampler_cfg=sampler_cfg,
                      train_cfg=train_cfg, seed=seed, run=run, split=split, on_epoch=on_epoch)


def minibatch_run(dataset: NodeDataset, model_name: str, hparams: dict[str, Any] | None,
                  sampler_cfg: SamplerConfig | dict[str, Any] | str | None, train_cfg: TrainConfig, seed: int, *,
                  run: int, split: int | None, saved: dict[str, Any] | None = None,
                  checkpoints: Checkpoints | None = None, bar: Any = None, on_epoch: EpochHook | None = None,
                  node_embedding: int = 0) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """:func:`train_minibatch` on the training engine: ``(result, curves)``, resumable from ``saved``; with
    ``node_embedding`` D > 0, D learnable rows per node are appended to the features
    (:class:`~graphscale.nn.embedding.NodeEmbedding`, row-sparse Adam at ``train_cfg.lr``)."""
    check_single_label(dataset)
    cfg = SamplerConfig.from_any(sampler_cfg)
    if cfg.name not in SAMPLERS:
        hint = " Use train_gas for gas." if cfg.name == "gas" else " Use train_node for full-batch training."
        raise ConfigError(f"train_minibatch: expected sampler.name in {SAMPLERS}, got {cfg.name!r}.{hint}"
                          f"{did_you_mean(cfg.name, SAMPLERS)}")
    device = resolve_device(train_cfg.device)
    seed_everything(seed)
    split_index, masks = node_split(dataset, run, seed, split)
    x, y = dataset.x.float(), dataset.y.long()
    embedding, extra_fields = None, {}
    if cfg.name == "shadow":  # per-target subgraphs, evaluated on subgraphs too (train/shadow.py)
        from .shadow import shadow_parts

        model, loader, evaluate, extra_fields = shadow_parts(dataset, model_name, hparams, cfg, masks, x, y, device,
                                                             seed, node_embedding)
        use_edge_weight = False
    else:
        model = build_node_model(model_name, dataset.num_features + node_embedding, dataset.num_classes,
                                 **(hparams or {})).to(device)
        if cfg.eval == "layerwise":
            check_layerwise(model)
        loader, use_edge_weight = build_loader(cfg, dataset, masks[0].nonzero().view(-1), model, seed)
        embedding = NodeEmbedding(dataset.num_nodes, node_embedding, seed, train_cfg.lr) if node_embedding else None
        evaluate = full_graph_evaluation(model, dataset, cfg, x, y, masks, device, embedding)
    optimizer = build_optimizer(model, train_cfg)

    def train_epoch(epoch: int) -> dict[str, float]:
        loader.set_epoch(epoch)  # epoch e's batches are fixed by (seed, e): a resumed run draws the same ones
        loss_sum, batches = _train_epoch(model, loader, optimizer, x, y, device, use_edge_weight, embedding)
        return {"train_loss": loss_sum / max(batches, 1)}

    task = Task(model, optimizer, build_scheduler(optimizer, train_cfg), train_epoch, evaluate, device,
                selector=EpochSelector(train_cfg.select, train_cfg.patience),
                extra_state=embedding.state if embedding else None,
                load_extra_state=embedding.load if embedding else None)
    return fit(task, train_cfg.epochs, lambda fitted: {**node_result(run, seed, split_index, fitted), **extra_fields},
               checkpoints=checkpoints, saved=saved, bar=bar, tags={"run": run}, on_epoch=on_epoch)


def full_graph_evaluation(model: nn.Module, dataset: NodeDataset, cfg: SamplerConfig, x: Tensor, y: Tensor,
                          masks: tuple[Tensor, ...], device: torch.device,
                          embedding: NodeEmbedding | None = None) -> Callable[[], dict[str, float]]:
    """The evaluation of the sampled trainers: full-graph logits (``sampler.eval`` full, on ``device``, or
    layer-wise in chunks), then :func:`~graphscale.train.node.node_metrics`; ``embedding``'s current rows are
    appended to the features."""
    full_graph, full_x = (dataset.graph.to(device), x.to(device)) if cfg.eval == "full" else (dataset.graph, x)

    def evaluate() -> dict[str, float]:
        inputs = full_x if embedding is None else embedding.all(full_x)
        logits = (model(full_graph, inputs) if cfg.eval == "full"
                  else layerwise_inference(model, dataset.graph, inputs, cfg.eval_batch_size, device)).cpu()
        return node_metrics(logits, y, masks)

    return evaluate


def _train_epoch(model: nn.Module, loader: NodeLoader, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor,
                 device: torch.device, use_edge_weight: bool,
                 embedding: NodeEmbedding | None = None) -> tuple[float, int]:
    """One pass over the loader; returns the summed batch losses and the number of batches."""
    model.train()
    total, count = 0.0, 0
    for batch in loader:
        if batch.output_ids.numel() == 0:
            continue  # a subgraph without training nodes: nothing to learn from
        graph = [b.to(device) for b in batch.graph] if isinstance(batch.graph, list) else batch.graph.to(device)
        x_in = x[batch.input_ids].to(device, non_blocking=True)
        if embedding is not None:
            x_in = embedding.inputs(x_in, batch.input_ids)
        target = y[batch.output_ids].to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        if use_edge_weight and batch.edge_weight is not None:
            logits = model(graph, x_in, edge_weight=batch.edge_weight.to(device))
        else:
            logits = model(graph, x_in)
        if batch.output_index is not None:
            logits = logits[batch.output_index.to(device)]
        if batch.loss_weight is not None:
            losses = F.cross_entropy(logits, target, reduction="none")
            loss = (losses * batch.loss_weight.to(device)).sum()
        else:
            loss = F.cross_entropy(logits, target)
        loss.backward()
        optimizer.step()
        if embedding is not None:
            embedding.step()
        total += loss.item()
        count += 1
    return total, count
