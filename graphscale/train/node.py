"""Full-batch node classification (GCN / GAT / APPNP / SGC / GraphSAGE protocol on public splits).

Protocol: for every run ``i`` (seed ``train.seed + i``) the model is trained on split
``data.split`` or, when that is null, on published split ``i % S`` of a multi-split dataset
(Geom-GCN sets have ``S = 10``); datasets without a split get a seeded 60/20/20 random split.
After each epoch the model is evaluated; the reported test accuracy is the one at the epoch chosen
by :class:`~graphscale.train.common.EpochSelector` on the validation set (never on test), and
training stops early after ``train.patience`` epochs without improvement.

With ``train.memory_budget`` (``--memory-budget 6GB``) the same model trains streamed
(:mod:`graphscale.scale.stream`): the adjacency runs in destination-row chunks under the budget, the
loss reads the logits of the training rows only, and evaluation streams too. GCN and GraphSAGE stacks
stream; the results equal the unchunked run's up to float rounding.

Edge weights of the dataset (``NodeDataset.edge_weight``, the weight column of a custom ``edges.csv``) reach
the models that can use them (:func:`graphscale.nn.models.edge_weight_use`): GCN, APPNP and SGC normalise the
weighted adjacency, GraphSAGE with the mean aggregator takes the weighted mean. Other models warn once that
the weights are ignored. The summary's ``edge_weight`` says ``used``, ``ignored`` or ``none``. Streamed
training takes no edge weights yet (a ConfigError says so, unless every weight is 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import seed as seed_everything
from ..config import RunConfig
from ..datasets.base import NodeDataset, random_split
from ..errors import ConfigError, warn_once
from .checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from .common import EpochSelector, build_optimizer, build_scheduler, check_resume, fingerprint, progress_bar
from .metrics import accuracy, mean_std

FORMAT = "graphscale-node-run/1"
EpochHook = Callable[[dict[str, Any]], None]


def _prepare(dataset: NodeDataset, cfg: RunConfig, device: torch.device) -> tuple[Any, torch.Tensor, torch.Tensor]:
    if dataset.y.dim() != 1:
        raise ConfigError(f"data.dataset: expected single-label classes y [N], got y of shape "
                          f"{tuple(dataset.y.shape)} ({dataset.name} is multi-label). Use an embedding "
                          "command for multi-label data.")
    x = dataset.x.float()
    if cfg.data.normalize_features:
        x = x / x.sum(dim=1, keepdim=True).clamp(min=1e-12)
    return dataset.graph.to(device), x.to(device), dataset.y.long().to(device)


def _split(dataset: NodeDataset, cfg: RunConfig, run: int, seed: int) -> tuple[int, tuple[torch.Tensor, ...]]:
    if dataset.num_splits == 0:
        return -1, random_split(dataset.num_nodes, seed=seed, labels=dataset.y)
    index = cfg.data.split if cfg.data.split is not None else run % dataset.num_splits
    if index >= dataset.num_splits:
        raise ConfigError(f"data.split: expected an index < {dataset.num_splits} ({dataset.name} has "
                          f"{dataset.num_splits} splits), got {index}{cfg.where('data.split')}.")
    return index, dataset.split(index)


def build_model(cfg: RunConfig, in_dim: int, out_dim: int, graph_task: bool = False,
                edge_dim: int | None = None) -> torch.nn.Module:
    """Model from the registry; a builder ConfigError gets the config location appended.

    ``edge_dim`` fills the ``edge_dim`` hparam of graph models that take edge features (gine, gatedgcn)
    when the config leaves it unset.
    """
    from ..nn import models

    hparams = dict(cfg.model.hparams)
    try:
        if graph_task:
            if edge_dim is not None and hparams.get("edge_dim") is None and uses_edge_attr(cfg):
                hparams["edge_dim"] = edge_dim
            return models.build_graph_model(cfg.model.name, in_dim, out_dim, **hparams)
        return models.build_node_model(cfg.model.name, in_dim, out_dim, **hparams)
    except ConfigError as err:
        raise located(err, cfg) from None


def located(err: ConfigError, cfg: RunConfig, key: str = "model.name") -> ConfigError:
    """``err`` with the config location of ``key`` appended (unless the message already names it)."""
    where, message = cfg.where(key), str(err)
    if not where or where.strip(" ()") in message:
        return ConfigError(message)
    return ConfigError(f"{message.rstrip('.')}{where}.")


def uses_edge_attr(cfg: RunConfig) -> bool:
    """Whether the graph model of ``cfg`` reads edge features (its builder takes ``edge_dim``)."""
    from ..nn import models

    try:
        return "edge_dim" in models.GRAPH_MODELS.get(cfg.model.name, where="model.name").defaults
    except ConfigError as err:
        raise located(err, cfg) from None


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
        self.streamed_graph: Any = None

    def runner(self, model: torch.nn.Module) -> Any:
        from ..scale.stream import StreamedGraph, StreamedStack, model_shape, plan_for_budget

        try:
            if self.streamed_graph is None:
                _, shape = model_shape(model, self.x.shape[1])
                plan = plan_for_budget(self.budget, self.graph.num_nodes, self.graph.num_edges, shape,
                                       spill=self.cfg.train.memory_spill)
                self.streamed_graph = StreamedGraph(self.graph, plan)
            return StreamedStack(model, self.streamed_graph, self.x.shape[1])
        except ConfigError as err:
            raise located(err, self.cfg, "train.memory_budget") from None

    def summary(self) -> dict[str, Any]:
        plan = self.streamed_graph.plan if self.streamed_graph is not None else None
        if plan is None:
            return {"memory_budget": self.cfg.train.memory_budget}
        return {"memory_budget": self.cfg.train.memory_budget,
                "stream_plan": {"rows_per_chunk": plan.rows_per_chunk, "edges_per_block": plan.edges_per_block,
                                "col_tiles": plan.col_tiles, "spill_adjacency": plan.spill_adjacency,
                                "spill_inputs": plan.spill_inputs, "spill_nodes": plan.spill_nodes,
                                "cache_constant": plan.cache_constant,
                                "estimate_mb": {k: round(v / 2**20, 1) for k, v in plan.estimate.items()}}}


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


def train_node(cfg: RunConfig, dataset: NodeDataset, device: torch.device, out_dir: Path | None = None,
               resume: bool = False, progress: bool = True, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Train ``train.seeds`` runs and summarise them.

    Args:
        cfg: Resolved config.
        dataset: Node-classification dataset (single-label ``y [N]``).
        device: Where to train.
        out_dir: Folder for ``checkpoints/run<i>.pt``; None disables checkpoints.
        resume: Continue from existing checkpoints (finished runs are not repeated).
        progress: Show a tqdm bar on stderr.
        on_epoch: Called after each epoch (and its checkpoint) with ``{"run", "epoch", metrics...}``.

    Returns:
        Summary with ``test_acc``/``val_acc`` means and stds, per-run results and training curves.
    """
    graph, x, y = _prepare(dataset, cfg, device)
    train_cfg = cfg.train
    streaming = _Streaming(cfg, graph, x, device) if train_cfg.memory_budget is not None else None
    edge_weight, edge_weight_status = _edge_weights(cfg, dataset, graph, device, streamed=streaming is not None)
    runs: list[dict[str, Any]] = []
    curves: list[dict[str, list[float]]] = []
    bar = progress_bar(train_cfg.seeds * train_cfg.epochs, f"train {dataset.name}/{cfg.model.name}", progress)
    try:
        for run in range(train_cfg.seeds):
            result, history = _train_one(cfg, dataset, graph, x, y, device, run, out_dir, resume, bar, on_epoch,
                                         streaming, edge_weight)
            runs.append(result)
            curves.append(history)
    finally:
        bar.close()
    test_mean, test_std = mean_std([r["test_acc"] for r in runs])
    val_mean, val_std = mean_std([r["val_acc"] for r in runs])
    epoch_times = [r["epoch_time_s"] for r in runs if r["epoch_time_s"] is not None]
    return {
        "task": "node", "test_acc": test_mean, "test_acc_std": test_std, "val_acc": val_mean, "val_acc_std": val_std,
        "train_acc": mean_std([r["train_acc"] for r in runs])[0],
        "epoch_time_s": sum(epoch_times) / len(epoch_times) if epoch_times else None,
        "warmup_time_s": runs[0]["warmup_time_s"] if runs else None,
        "epochs_run": [r["epochs_run"] for r in runs], "runs": runs, "curves": curves,
        "num_nodes": dataset.num_nodes, "num_edges": dataset.graph.num_edges, "num_classes": dataset.num_classes,
        "edge_weight": edge_weight_status, **(streaming.summary() if streaming is not None else {}),
    }


def _train_one(cfg: RunConfig, dataset: NodeDataset, graph: Any, x: torch.Tensor, y: torch.Tensor,
               device: torch.device, run: int, out_dir: Path | None, resume: bool, bar: Any,
               on_epoch: EpochHook | None, streaming: _Streaming | None = None,
               weight: torch.Tensor | None = None) -> tuple[dict[str, Any], dict[str, list[float]]]:
    train_cfg = cfg.train
    seed = train_cfg.seed + run
    ckpt_path = out_dir / "checkpoints" / f"run{run}.pt" if out_dir is not None else None
    saved = load_checkpoint(ckpt_path) if resume and ckpt_path is not None else None
    if saved is not None:
        check_resume(saved["config"], cfg, ckpt_path)
        if saved["done"]:
            bar.update(train_cfg.epochs)
            return saved["result"], saved["history"]

    seed_everything(seed)
    split_index, masks = _split(dataset, cfg, run, seed)
    train_mask, val_mask, test_mask = (m.to(device) & (y >= 0) for m in masks)
    model = build_model(cfg, dataset.num_features, dataset.num_classes).to(device)
    runner = streaming.runner(model) if streaming is not None else None

    def forward() -> torch.Tensor:  # full-graph logits, with the dataset's edge weights where the model uses them
        return model(graph, x) if weight is None else model(graph, x, edge_weight=weight)

    train_rows = train_mask.nonzero().view(-1)
    optimizer = build_optimizer(model, train_cfg)
    scheduler = build_scheduler(optimizer, train_cfg)
    selector = EpochSelector(train_cfg.select, train_cfg.patience)
    history: dict[str, list[float]] = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc",
                                                       "test_acc")}
    times: list[float] = []
    start = 0
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved["scheduler"] is not None:
            scheduler.load_state_dict(saved["scheduler"])
        selector.load_state_dict(saved["selector"])
        history, times, start = saved["history"], saved["times"], saved["epoch"]
        set_rng_state(saved["rng"])
        bar.update(start)

    def checkpoint(epoch: int, done: bool, result: dict[str, Any] | None = None) -> None:
        if ckpt_path is None:
            return
        save_atomic({"format": FORMAT, "config": fingerprint(cfg), "run": run, "seed": seed,
                     "split": split_index, "epoch": epoch, "done": done, "result": result,
                     "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict() if scheduler is not None else None,
                     "selector": selector.state_dict(), "history": history, "times": times,
                     "rng": rng_state()}, ckpt_path)

    stopped, epoch = False, start
    while not stopped and epoch < train_cfg.epochs:
        began = time.perf_counter()
        model.train()
        optimizer.zero_grad(set_to_none=True)
        if runner is None:
            logits = forward()
            loss = F.cross_entropy(logits[train_mask], y[train_mask])
        else:  # streamed: logits of the training rows only
            logits = runner(x, train_rows)
            loss = F.cross_entropy(logits, y[train_rows])
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - began)

        model.eval()
        with torch.no_grad():
            logits = forward() if runner is None else runner(x)
            metrics = {"train_loss": loss.item(), "train_acc": accuracy(logits, y, train_mask),
                       "val_loss": float(F.cross_entropy(logits[val_mask], y[val_mask])) if val_mask.any() else 0.0,
                       "val_acc": accuracy(logits, y, val_mask), "test_acc": accuracy(logits, y, test_mask)}
        for key, value in metrics.items():
            history[key].append(value)
        stopped = selector.update(epoch, metrics, model)
        epoch += 1
        if cfg.output.checkpoint_every > 0 and epoch % cfg.output.checkpoint_every == 0 and not stopped:
            checkpoint(epoch, done=False)
        bar.update(1)
        bar.set_postfix(run=run, val=f"{metrics['val_acc']:.3f}", best=f"{selector.best['val_acc']:.3f}")
        if on_epoch is not None:
            on_epoch({"run": run, "epoch": epoch - 1, **metrics})
    bar.update(train_cfg.epochs - epoch)

    best = selector.best
    result = {"run": run, "seed": seed, "split": split_index, "best_epoch": best["epoch"],
              "epochs_run": epoch, "test_acc": best["test_acc"], "val_acc": best["val_acc"],
              "val_loss": best["val_loss"], "train_acc": best["train_acc"],
              "last_test_acc": history["test_acc"][-1],
              "epoch_time_s": sum(times[1:]) / (len(times) - 1) if len(times) > 1 else (times[0] if times else None),
              "warmup_time_s": times[0] if times else None, "train_time_s": sum(times)}
    if selector.best_state is not None:
        model.load_state_dict(selector.best_state)
    checkpoint(epoch, done=True, result=result)
    return result, history
