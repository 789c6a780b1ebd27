"""ShaDow-GNN training parts for the mini-batch trainer (Zeng et al., NeurIPS 2021).

``sampler.name: shadow`` runs through :func:`graphscale.train.minibatch.minibatch_run` and the training engine
like every sampler; this module supplies its three parts:

* the model: the ``build_node_model`` model of ``model.name`` (any depth: ShaDow runs more layers than the
  scope has hops) wrapped in :class:`~graphscale.nn.shadow.ShadowNet` (``sampler.shadow_readout``);
* the training loader: ``sampler.batch_size`` training targets per batch, each with its own subgraph
  (:class:`~graphscale.sampling.shadow.ShadowSampler`), fresh khop draws every epoch;
* the evaluation, on subgraphs too (ShaDow infers on each target's subgraph, never on the full graph): the
  scopes of the validation and test nodes and of a fixed sample of at most ``EVAL_TRAIN_NODES`` training
  nodes (``train_acc`` is measured on that sample) are drawn once with a fixed seed and reused every epoch,
  so every epoch is evaluated on the same subgraphs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import SamplerConfig
from ..datasets.base import NodeDataset
from ..errors import ConfigError
from ..loader import NodeLoader
from ..nn.models import NODE_MODELS, build_node_model
from ..nn.shadow import ShadowNet
from ..sampling.base import MiniBatch
from ..sampling.rng import mix_seed
from ..sampling.shadow import ShadowSampler
from .node import node_metrics

EVAL_TRAIN_NODES = 2048  # training nodes whose subgraphs measure train_acc at every evaluation
EVAL_SALT = 0x5AD0  # the evaluation scopes' seed is mix_seed(run seed, EVAL_SALT)


def shadow_model(model_name: str, hparams: dict[str, Any] | None, in_dim: int, num_classes: int,
                 readout: str) -> ShadowNet:
    """``model_name`` (node registry) inside a :class:`ShadowNet` with ``readout``: the base model outputs the
    logits (``target``) or ``hidden_dim`` features (the model's default when unset) for the pooled readouts.

    Raises:
        ConfigError: Unknown model, hparam or readout.
    """
    hparams = dict(hparams or {})
    if readout == "target":
        return ShadowNet(build_node_model(model_name, in_dim, num_classes, **hparams), "target")
    spec = NODE_MODELS.get(model_name, where="build_node_model")
    hidden = int(hparams.get("hidden_dim", spec.defaults.get("hidden_dim", 64)))
    base = build_node_model(model_name, in_dim, hidden, **hparams)
    dropout = float(hparams.get("dropout", spec.defaults.get("dropout", 0.0)))
    return ShadowNet(base, readout, hidden_dim=hidden, out_dim=num_classes, dropout=dropout)


def shadow_sampler(cfg: SamplerConfig, dataset: NodeDataset) -> ShadowSampler:
    """The :class:`ShadowSampler` of ``cfg`` (fanouts null: ``[10, 10]``)."""
    return ShadowSampler(dataset.graph, cfg.shadow_method, fanouts=cfg.fanouts or [10, 10], topk=cfg.ppr_topk,
                         alpha=cfg.ppr_alpha, eps=cfg.ppr_eps)


def check_shadow(cfg: SamplerConfig, node_embedding: int) -> None:
    """Raise ConfigError for settings ShaDow cannot run: layer-wise evaluation, learnable node embeddings."""
    if cfg.eval != "full":
        raise ConfigError(f"sampler.eval: expected full for shadow (it always evaluates on the targets' "
                          f"subgraphs), got {cfg.eval!r}. Drop sampler.eval.")
    if node_embedding:
        raise ConfigError(f"data.node_embedding: expected 0 for sampler shadow (a node appears in many subgraphs of "
                          f"a batch), got {node_embedding}. Use sampler neighbor for learnable embeddings.")


def shadow_parts(dataset: NodeDataset, model_name: str, hparams: dict[str, Any] | None, cfg: SamplerConfig,
                 masks: tuple[Tensor, ...], x: Tensor, y: Tensor, device: torch.device, seed: int,
                 node_embedding: int = 0) -> tuple[nn.Module, NodeLoader, Callable[[], dict[str, float]],
                                                   dict[str, float]]:
    """``(model on device, training loader, evaluate, fields)`` of one ShaDow run (see the module docstring);
    ``fields`` go into the run's result: ``subgraph_nodes`` and ``subgraph_edges``, the mean size of the
    evaluation subgraphs.

    Raises:
        ConfigError: See :func:`check_shadow`; a bad model name or hparam.
    """
    check_shadow(cfg, node_embedding)
    model = shadow_model(model_name, hparams, dataset.num_features, dataset.num_classes,
                         cfg.shadow_readout).to(device)
    sampler = shadow_sampler(cfg, dataset)
    loader = NodeLoader(sampler, masks[0].nonzero().view(-1), cfg.batch_size, shuffle=True, seed=seed,
                        num_workers=cfg.num_workers, prefetch=cfg.prefetch)
    batches, metric_masks = evaluation_batches(sampler, masks, cfg.eval_batch_size, mix_seed(seed, EVAL_SALT))
    targets = sum(int(b.output_ids.numel()) for b in batches)
    fields = {"subgraph_nodes": sum(int(b.input_ids.numel()) for b in batches) / max(targets, 1),
              "subgraph_edges": sum(b.graph.num_edges for b in batches) / max(targets, 1)}
    return model, loader, subgraph_evaluation(model, batches, metric_masks, x, y, device), fields


def evaluation_targets(masks: tuple[Tensor, ...], seed: int) -> tuple[np.ndarray, tuple[Tensor, ...]]:
    """Targets evaluated every epoch (validation, test and at most ``EVAL_TRAIN_NODES`` training nodes drawn
    with ``seed``) and the masks metrics use (the training mask cut to that sample).

    Shapes:
        masks: three ``[N]`` bool; returns ``[T]`` int64 ids and three ``[N]`` bool.
    """
    train_mask, val_mask, test_mask = masks
    train_ids = train_mask.nonzero().view(-1).numpy()
    if train_ids.shape[0] > EVAL_TRAIN_NODES:
        train_ids = np.sort(np.random.default_rng(seed).choice(train_ids, EVAL_TRAIN_NODES, replace=False))
    train_sample = torch.zeros_like(train_mask)
    train_sample[torch.from_numpy(train_ids)] = True
    targets = (train_sample | val_mask | test_mask).nonzero().view(-1).numpy()
    return targets, (train_sample, val_mask, test_mask)


def evaluation_batches(sampler: ShadowSampler, masks: tuple[Tensor, ...], batch_size: int,
                       seed: int) -> tuple[list[MiniBatch], tuple[Tensor, ...]]:
    """``(batches, metric masks)``: the subgraph batches of the evaluation targets (:func:`evaluation_targets`),
    ``batch_size`` targets each, drawn once with ``seed``."""
    targets, metric_masks = evaluation_targets(masks, seed)
    return [sampler.sample(targets[i:i + batch_size], seed)
            for i in range(0, targets.shape[0], batch_size)], metric_masks


def subgraph_evaluation(model: nn.Module, batches: list[MiniBatch], masks: tuple[Tensor, ...], x: Tensor,
                        y: Tensor, device: torch.device) -> Callable[[], dict[str, float]]:
    """``evaluate() -> node_metrics`` of ``model`` on the targets' subgraphs of ``batches``; rows of other nodes
    stay zero and count in no metric.

    Shapes:
        x: ``[N, F_in]`` (on the CPU); y: ``[N]``.
    """

    def evaluate() -> dict[str, float]:
        outputs = [(batch.output_ids, model(batch.graph.to(device), x[batch.input_ids].to(device)).cpu())
                   for batch in batches]  # [B, C] per batch
        logits = torch.zeros(x.shape[0], outputs[0][1].shape[1] if outputs else 1)
        for ids, out in outputs:
            logits[ids] = out
        return node_metrics(logits, y, masks)

    return evaluate


__all__ = ["EVAL_TRAIN_NODES", "check_shadow", "evaluation_batches", "evaluation_targets", "shadow_model", "shadow_parts",
           "shadow_sampler", "subgraph_evaluation"]
