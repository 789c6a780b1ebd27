"""Full-batch node classification (GCN / GAT / APPNP / SGC / GraphSAGE on public splits): one step per epoch
on the whole graph, evaluation on the whole graph.

With ``train.memory_budget`` (``--memory-budget 6GB``) the same model trains streamed
(:mod:`graphscale.scale.stream`): the adjacency runs in destination-row chunks under the budget, the
loss reads the logits of the training rows only, and evaluation streams too. GCN and GraphSAGE (mean / gcn)
stacks stream as SAGA stages over adjacency tiles; GAT, GATv2, GIN and GraphSAGE pool run their own layers
on destination-row blocks (:mod:`graphscale.scale.stream_blocks`). The results equal the unchunked run's up
to float rounding (and, for GAT's own dropouts, up to the draws of the masks).

Edge weights of the dataset (``NodeDataset.edge_weight``, the weight column of a custom ``edges.csv``) reach
the models that can use them (:func:`graphscale.nn.models.edge_weight_use`): GCN, APPNP and SGC normalise the
weighted adjacency, GraphSAGE with the mean aggregator takes the weighted mean. Other models warn once that
the weights are ignored. The summary's ``edge_weight`` says ``used``, ``ignored`` or ``none``. Streamed
training takes no edge weights yet (a ConfigError says so, unless every weight is 1).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import seed as seed_everything
from ..config import RunConfig
from ..datasets.base import NodeDataset
from ..errors import ConfigError, warn_once
from ..scale.stream_plan import StreamPlan
from .loop import Checkpoints, EpochHook, EpochSelector, Task, fit
from .node import build_model, located, node_metrics, node_result, node_split
from .optim import build_optimizer, build_scheduler


class _Streaming:
    """The streamed execution of ``train.memory_budget``: one chunked graph, planned from the first model
    and shared by every run."""

    def __init__(self, cfg: RunConfig, graph: Any, x: torch.Tensor, device: torch.device) -> None:
        from ..config import parse_size

        if device.type != "cpu":
            raise ConfigError(f"train.memory_budget: expected training on the CPU, got device {device}"
                              f"{cfg.where('train.memory_budget')}. Streamed training runs on the CPU; use "
                              "--device cpu, or drop --memory-budget.")
        self.budget = parse_size(cfg.train.memory_budget)
        self.cfg, self.graph, self.x = cfg, graph, x
        self.plan: Any = None            # StreamPlan or BlockPlan, made for the first model, shared by all runs
        self.streamed_graph: Any = None  # the tiled adjacency of the stage executor

    def runner(self, model: torch.nn.Module) -> Any:
        """The streamed executor of ``model`` (:mod:`graphscale.scale.streaming`: SAGA stages over adjacency
        tiles for GCN / GraphSAGE mean, the layers on destination-row blocks for GAT, GATv2, GIN, SAGE pool)."""
        from ..scale.stream import StreamedGraph
        from ..scale.streaming import plan_streaming, streamed_model

        try:
            if self.plan is None:
                self.plan = plan_streaming(model, self.graph, self.x.shape[1], self.budget,
                                           spill=self.cfg.train.memory_spill)
                if isinstance(self.plan, StreamPlan):
                    self.streamed_graph = StreamedGraph(self.graph, self.plan)
            return streamed_model(model, self.graph, self.x, plan=self.plan, streamed_graph=self.streamed_graph)
        except ConfigError as err:
            raise located(err, self.cfg, "train.memory_budget") from None

    def summary(self) -> dict[str, Any]:
        from ..scale.streaming import plan_summary

        out = {"memory_budget": self.cfg.train.memory_budget}
        return out if self.plan is None else {**out, "stream_plan": plan_summary(self.plan)}


def _edge_weights(cfg: RunConfig, dataset: NodeDataset, graph: Any, device: torch.device,
                  streamed: bool) -> tuple[torch.Tensor | None, str]:
    """The dataset's edge weights as the model of ``cfg`` takes them (None: no weights, or a model that
    cannot use them, or all-one weights in streamed training) and the summary's ``edge_weight``: ``used``,
    ``ignored`` or ``none``.

    Raises:
        ConfigError: Weights other than all ones with streamed training.
        ShapeError, DatasetError: Weights of the wrong shape, or NaN, infinite or negative ones.
    """
    from ..nn.models import EDGE_WEIGHT_MODELS, edge_weight_use, model_edge_weight

    if dataset.edge_weight is None:
        return None, "none"
    probe = build_model(cfg, dataset.num_features, dataset.num_classes)  # which layers the runs will have
    if edge_weight_use(probe) is None:
        warn_once(f"model {cfg.model.name!r} cannot use edge weights: the dataset's edge weights (the weight "
                  f"column of edges.csv) are ignored. Models that use them: {EDGE_WEIGHT_MODELS}.")
        return None, "ignored"
    weight = model_edge_weight(probe, graph, dataset.edge_weight.to(device))
    if streamed:
        if not bool((dataset.edge_weight == 1).all()):
            raise ConfigError(
                f"train.memory_budget: expected a dataset without edge weights for streamed training, got edge "
                f"weights (the weight column of edges.csv) for model {cfg.model.name!r}"
                f"{cfg.where('train.memory_budget')}. Edge weights are not supported with --memory-budget yet: "
                "drop --memory-budget, or the weight column.")
        weight = None  # all ones: the unweighted stream computes the same
    return weight, "used"


class FullBatch:
    """The full-batch trainer of one dataset and config: the graph, features and labels on the device, the
    edge weights and the streaming plan shared by its runs."""

    def __init__(self, cfg: RunConfig, dataset: NodeDataset, device: torch.device) -> None:
        self.cfg, self.dataset, self.device = cfg, dataset, device
        self.graph = dataset.graph.to(device)
        self.x, self.y = dataset.x.float().to(device), dataset.y.long().to(device)
        streamed = cfg.train.memory_budget is not None
        self.streaming = _Streaming(cfg, self.graph, self.x, device) if streamed else None
        self.weight, self.edge_weight = _edge_weights(cfg, dataset, self.graph, device, streamed)

    def summary(self) -> dict[str, Any]:
        """The summary keys of the runs: ``edge_weight`` and, streamed, the budget and the plan."""
        return {"edge_weight": self.edge_weight, **(self.streaming.summary() if self.streaming is not None else {})}

    def run(self, seed: int, *, run: int, split: int | None, saved: dict[str, Any] | None = None,
            checkpoints: Checkpoints | None = None, bar: Any = None,
            on_epoch: EpochHook | None = None) -> tuple[dict[str, Any], dict[str, list[float]]]:
        """One run (seed ``seed``): ``(result, curves)``."""
        cfg, graph, x, y, weight = self.cfg, self.graph, self.x, self.y, self.weight
        seed_everything(seed)
        split_index, masks = node_split(self.dataset, run, seed, split)
        masks = tuple(m.to(self.device) for m in masks)
        train_mask = masks[0]
        model = build_model(cfg, self.dataset.num_features, self.dataset.num_classes).to(self.device)
        runner = self.streaming.runner(model) if self.streaming is not None else None
        train_rows = train_mask.nonzero().view(-1)

        def forward() -> torch.Tensor:  # full-graph logits, with the dataset's edge weights where the model uses them
            return model(graph, x) if weight is None else model(graph, x, edge_weight=weight)

        def train_epoch(epoch: int) -> dict[str, float]:
            optimizer.zero_grad(set_to_none=True)
            if runner is None:
                loss = F.cross_entropy(forward()[train_mask], y[train_mask])
            else:  # streamed: logits of the training rows only
                loss = F.cross_entropy(runner(x, train_rows), y[train_rows])
            loss.backward()
            optimizer.step()
            return {"train_loss": loss.item()}

        optimizer = build_optimizer(model, cfg.train)
        task = Task(model, optimizer, build_scheduler(optimizer, cfg.train), train_epoch,
                    lambda: node_metrics(forward() if runner is None else runner(x), y, masks), self.device,
                    selector=EpochSelector(cfg.train.select, cfg.train.patience))
        if checkpoints is not None:
            checkpoints.header.update(seed=seed, split=split_index)
        from .quant import integer_metrics

        def result(fitted: Any) -> dict[str, Any]:  # + the integer model's figures under train.quant (GCN)
            return {**node_result(run, seed, split_index, fitted), **integer_metrics(model, graph, x, y, masks)}

        return fit(task, cfg.train.epochs, result,
                   checkpoints=checkpoints, saved=saved, bar=bar, tags={"run": run}, on_epoch=on_epoch)
