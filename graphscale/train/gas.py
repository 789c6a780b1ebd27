"""GNNAutoScale training (Fey et al., ICML 2021): ClusterGCN batches with historical embeddings
(:mod:`graphscale.scale.gas`), full-graph evaluation, on the training engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import seed as seed_everything
from ..config import SamplerConfig, TrainConfig
from ..datasets.base import NodeDataset
from ..loader import NodeLoader
from ..nn.models import build_node_model
from ..sampling import cluster_cache_dir
from ..scale.gas import GASModel, GASSampler, batch_features, check_gas_model, gas_sampler_config
from .loop import Checkpoints, EpochHook, EpochSelector, Task, fit, single_run
from .minibatch import check_layerwise, full_graph_evaluation
from .node import check_single_label, node_result, node_split
from .optim import build_optimizer, build_scheduler
from .runtime import resolve_device


def train_gas(dataset: NodeDataset, model_name: str, hparams: dict[str, Any] | None,
              sampler_cfg: SamplerConfig | dict[str, Any] | str | None, train_cfg: TrainConfig, seed: int, *,
              run: int = 0, split: int | None = None, progress: bool = False,
              on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train and evaluate one GNNAutoScale run (ClusterGCN batches with historical embeddings).

    The histories are filled by one evaluation-mode pass over every batch before the first epoch (as in
    the GAS reference code); every epoch then visits each cluster group once, and a batch without
    training nodes still runs (without gradient) to refresh its nodes' histories. Evaluation is on the
    full graph after every epoch, with the epoch selection and early stopping of ``train_minibatch``.

    Args:
        dataset: Single-label node-classification dataset.
        model_name: gcn, sage, gat, gatv2 or gin (``build_node_model`` name).
        hparams: Model hyper-parameters.
        sampler_cfg: "gas", or a ``SamplerConfig`` / dict named "gas" or "cluster" (``num_parts``,
            ``clusters_per_batch``, ``cache_dir``, ``num_workers``, ``prefetch``, ``eval``).
        train_cfg: Epochs, optimizer, lr, weight decay, patience, selection metric, device.
        seed: Seed of the model initialisation, the split (datasets without one) and the cluster grouping.
        run, split, progress, on_epoch: As in :func:`graphscale.train.minibatch.train_minibatch`.

    Returns:
        The keys of ``train_minibatch``'s result: ``run, seed, split, best_epoch, epochs_run, test_acc,
        val_acc, val_loss, train_acc, last_test_acc, epoch_time_s, warmup_time_s, train_time_s``.

    Raises:
        ConfigError: Multi-label data, a model GAS cannot run, a bad sampler config.
    """
    return single_run(gas_run, train_cfg.epochs, f"train {dataset.name}/{model_name}/gas", progress,
                      dataset=dataset, model_name=model_name, hparams=hparams, sampler_cfg=sampler_cfg,
                      train_cfg=train_cfg, seed=seed, run=run, split=split, on_epoch=on_epoch)


def gas_run(dataset: NodeDataset, model_name: str, hparams: dict[str, Any] | None,
            sampler_cfg: SamplerConfig | dict[str, Any] | str | None, train_cfg: TrainConfig, seed: int, *,
            run: int, split: int | None, saved: dict[str, Any] | None = None, checkpoints: Checkpoints | None = None,
            bar: Any = None, on_epoch: EpochHook | None = None) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """:func:`train_gas` on the training engine: ``(result, curves)``, resumable from ``saved`` (the
    histories are checkpointed with the model)."""
    check_single_label(dataset)
    cfg = gas_sampler_config(sampler_cfg)
    device = resolve_device(train_cfg.device)
    seed_everything(seed)
    split_index, masks = node_split(dataset, run, seed, split)
    x, y = dataset.x.float(), dataset.y.long()
    model = build_node_model(model_name, dataset.num_features, dataset.num_classes, **(hparams or {})).to(device)
    check_gas_model(model)
    if cfg.eval == "layerwise":
        check_layerwise(model)
    num_parts = cfg.num_parts or min(max(4, dataset.num_nodes // 150), dataset.num_nodes)
    cache = cfg.cache_dir if cfg.cache_dir is not None else cluster_cache_dir(dataset.name)
    sampler = GASSampler(dataset.graph, num_parts, cache_dir=cache, metis_seed=0)
    groups = cfg.clusters_per_batch or min(20, max(1, sampler.num_parts // 4))
    options = {"seed": seed, "num_workers": cfg.num_workers, "prefetch": cfg.prefetch}
    loader = NodeLoader(sampler, masks[0].nonzero().view(-1), groups, shuffle=True, **options)
    gas = GASModel(model, dataset.graph, device)
    if gas.histories and len(loader) > 1 and saved is None:
        gas.fill(NodeLoader(sampler, None, groups, shuffle=False, **options), x)
    optimizer = build_optimizer(model, train_cfg)

    def train_epoch(epoch: int) -> dict[str, float]:
        loader.set_epoch(epoch)
        loss_sum, batches = _train_epoch(gas, loader, optimizer, x, y, device)
        return {"train_loss": loss_sum / max(batches, 1)}

    def histories() -> dict[str, Any]:
        return {str(layer): h.emb.clone() for layer, h in enumerate(gas.histories) if h is not None}

    def load_histories(state: dict[str, Any], epoch: int) -> None:
        del epoch
        for layer, emb in state.items():
            gas.history(int(layer), emb.shape[1]).emb.copy_(emb)

    task = Task(model, optimizer, build_scheduler(optimizer, train_cfg), train_epoch,
                full_graph_evaluation(model, dataset, cfg, x, y, masks, device), device,
                selector=EpochSelector(train_cfg.select, train_cfg.patience), extra_state=histories,
                load_extra_state=load_histories)
    return fit(task, train_cfg.epochs, lambda fitted: node_result(run, seed, split_index, fitted),
               checkpoints=checkpoints, saved=saved, bar=bar, tags={"run": run}, on_epoch=on_epoch)


def _train_epoch(gas: GASModel, loader: NodeLoader, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor,
                 device: torch.device) -> tuple[float, int]:
    """One pass over the cluster groups; returns the summed batch losses and the number of batches with a loss."""
    gas.model.train()
    total, count = 0.0, 0
    for batch in loader:
        (block,) = batch.graph
        block = block.to(device)
        x_in = batch_features(x, batch.input_ids, device)
        if batch.output_ids.numel() == 0:
            with torch.no_grad():
                gas(block, x_in)  # no training node: only refresh the histories
            continue
        optimizer.zero_grad(set_to_none=True)
        logits = gas(block, x_in)[batch.output_index.to(device)]
        loss = F.cross_entropy(logits, y[batch.output_ids].to(device, non_blocking=True))
        loss.backward()
        optimizer.step()
        total += loss.item()
        count += 1
    return total, count
