"""PPRGo training (Bojchevski et al., KDD 2020) on the training engine: three timed phases per run.

1. **PPR** (``ppr_s``): top-``k`` approximate personalised PageRank rows by push
   (:func:`graphscale.sampling.ppr.ppr_topk_graph`, along in-edges, the message-passing direction) of the
   training and validation nodes only, as in the paper; reused by later runs on the same graph and split.
2. **Training** (``train_s``): :func:`~graphscale.train.loop.fit` with a ``Task`` whose epoch draws shuffled
   batches of ``batch_size`` training nodes, gathers the features of their top-``k`` lists (each distinct node
   once: its MLP output and dropout are shared by the lists it appears in) and minimises the cross-entropy of ``Z_i = sum_j pi_ij MLP(x_j)`` (:meth:`graphscale.nn.pprgo.PPRGo.aggregate`); the
   evaluation after each epoch scores the validation nodes the same way (epoch selection, early stopping).
3. **Inference** (``inference_s``): ``MLP(x)`` of all nodes in batches, then ``K`` propagation steps
   (``inference: propagate``, the paper's) or the top-``k`` PPR rows of every node (``inference: topk``); the
   reported train / val / test accuracies are those of this prediction.

Each phase's end records the process's peak RSS so far (``*_peak_rss_mb``, monotone).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import seed as seed_everything
from ..config import TrainConfig
from ..datasets.base import NodeDataset
from ..graph import Graph
from ..nn.models import NODE_MODELS, resolve_hparams
from ..nn.pprgo import PPRGo, ppr_propagate
from ..sampling.ppr import ppr_topk_graph
from .loop import Checkpoints, EpochHook, EpochSelector, Fitted, Task, fit
from .metrics import accuracy, peak_rss_mb
from .node import check_single_label, node_metrics, node_split
from .optim import build_optimizer, build_scheduler
from .runtime import resolve_device

ROWS_PER_CHUNK = 1 << 16  # neighbour rows (or nodes at inference) per evaluation chunk
_CACHE: dict[str, Any] = {}  # the last PPR lists computed: {"key": ..., "lists": ..., "seconds": ...}


class NeighborLists:
    """Top-k PPR lists of ``R`` roots as tensors: ``ptr [R+1]``, ``neighbors [M]`` int64, ``scores [M]`` float32."""

    def __init__(self, ptr: np.ndarray, neighbors: np.ndarray, scores: np.ndarray) -> None:
        self.ptr, self.neighbors = torch.from_numpy(ptr), torch.from_numpy(neighbors)
        self.scores = torch.from_numpy(scores)

    def take(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Lists of roots ``rows [B]`` (positions in ``[0, R)``): ``(ptr [B+1], neighbors [M_B], scores [M_B])``."""
        starts, counts = self.ptr[rows], self.ptr[rows + 1] - self.ptr[rows]
        ptr = torch.zeros(rows.numel() + 1, dtype=torch.int64)
        torch.cumsum(counts, 0, out=ptr[1:])
        flat = torch.repeat_interleave(starts - ptr[:-1], counts) + torch.arange(int(ptr[-1]))
        return ptr, self.neighbors[flat], self.scores[flat]


def ppr_lists(graph: Graph, roots: Tensor, hp: dict[str, Any]) -> tuple[NeighborLists, float]:
    """The top-k PPR lists of ``roots`` and the seconds computing them took (0.0 when reused)."""
    key = (id(graph), graph.num_nodes, graph.num_edges, hash(roots.numpy().tobytes()), hp["alpha"], hp["ppr_eps"],
           hp["ppr_topk"], hp["ppr_norm"])
    if _CACHE.get("key") == key:
        return _CACHE["lists"], 0.0
    began = time.perf_counter()
    lists = NeighborLists(*ppr_topk_graph(graph, roots, alpha=hp["alpha"], eps=hp["ppr_eps"], topk=hp["ppr_topk"],
                                          normalization=hp["ppr_norm"]))
    _CACHE.clear()
    _CACHE.update(key=key, lists=lists)
    return lists, time.perf_counter() - began


@torch.no_grad()
def _logits(model: PPRGo, x: Tensor, lists: NeighborLists, rows: Tensor, device: torch.device) -> Tensor:
    """Evaluation-mode ``model.aggregate`` of the roots at ``rows``, in chunks of about ``ROWS_PER_CHUNK``
    neighbour rows; the MLP runs once per distinct neighbour of a chunk (no dropout: rows of one node agree)."""
    per_chunk = max(1, ROWS_PER_CHUNK // max(model.ppr_topk, 1))
    out = []
    for part in rows.split(per_chunk):
        out.append(_aggregate(model, x, *lists.take(part), device).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, model.linears[-1].out_features)


def _aggregate(model: PPRGo, x: Tensor, ptr: Tensor, neighbors: Tensor, scores: Tensor,
               device: torch.device) -> Tensor:
    """``model.aggregate`` of one batch of lists, the MLP run once per distinct neighbour."""
    distinct, inverse = torch.unique(neighbors, return_inverse=True)
    return model.aggregate(x[distinct].to(device), scores.to(device), ptr.to(device), inverse.to(device))


@torch.no_grad()
def infer(model: PPRGo, graph: Graph, x: Tensor, device: torch.device) -> Tensor:
    """Evaluation-mode logits of every node (PPRGo's inference; see the module docstring).

    Shapes:
        x: ``[N, F_in]``; returns ``[N, C]`` on the CPU.
    """
    model.eval()
    if model.inference == "topk":
        lists, _ = ppr_lists(graph, torch.arange(graph.num_nodes), {
            "alpha": model.alpha, "ppr_eps": model.ppr_eps, "ppr_topk": model.ppr_topk, "ppr_norm": model.ppr_norm})
        return _logits(model, x, lists, torch.arange(graph.num_nodes), device)
    h = torch.cat([model.mlp(part.to(device)) for part in x.split(ROWS_PER_CHUNK)])  # [N, C]
    return ppr_propagate(graph.to(device), h, model.alpha, model.K, model.ppr_norm).float().cpu()


def pprgo_run(dataset: NodeDataset, hparams: dict[str, Any] | None, train_cfg: TrainConfig, seed: int, *, run: int,
              split: int | None, saved: dict[str, Any] | None = None, checkpoints: Checkpoints | None = None,
              bar: Any = None, on_epoch: EpochHook | None = None) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """One PPRGo run (PPR, training, inference) on the training engine: ``(result, curves)``.

    Returns:
        The run's result: ``test_acc``, ``val_acc``, ``val_loss``, ``train_acc`` of the inference, ``select_val_acc``
        (the top-k validation accuracy of the kept epoch), ``best_epoch``, ``epochs_run``, the epoch timings and
        ``ppr_s``, ``train_s``, ``inference_s`` with ``ppr_peak_rss_mb``, ``train_peak_rss_mb``,
        ``inference_peak_rss_mb``, ``ppr_roots`` and ``ppr_neighbors`` (mean list length).
    """
    check_single_label(dataset)
    hp = resolve_hparams("model pprgo", NODE_MODELS.get("pprgo"), dict(hparams or {}))
    device = resolve_device(train_cfg.device)
    seed_everything(seed)
    split_index, masks = node_split(dataset, run, seed, split)
    train_ids, val_ids = masks[0].nonzero().view(-1), masks[1].nonzero().view(-1)
    lists, ppr_s = ppr_lists(dataset.graph, torch.cat([train_ids, val_ids]), hp)
    ppr_rss = peak_rss_mb()
    y, x = dataset.y.long(), dataset.x
    model = PPRGo(dataset.num_features, dataset.num_classes, **hp).to(device)
    optimizer = build_optimizer(model, train_cfg)
    num_train = train_ids.numel()
    batch_size = hp["batch_size"] or max(num_train, 1)

    def train_epoch(epoch: int) -> dict[str, float]:
        order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(num_train))
        loss_sum, correct = 0.0, 0
        for rows in order.split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            logits = _aggregate(model, x, *lists.take(rows), device)
            target = y[train_ids[rows]].to(device)
            loss = F.cross_entropy(logits, target)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * rows.numel()
            correct += int((logits.argmax(1) == target).sum())
        return {"train_loss": loss_sum / max(num_train, 1), "train_acc": correct / max(num_train, 1)}

    def evaluate() -> dict[str, float]:
        logits = _logits(model, x, lists, torch.arange(num_train, num_train + val_ids.numel()), device)
        target = y[val_ids]
        loss = float(F.cross_entropy(logits, target)) if target.numel() else 0.0
        return {"val_loss": loss, "val_acc": accuracy(logits, target)}

    began = time.perf_counter()

    def result(fitted: Fitted) -> dict[str, Any]:
        train_s, train_rss = time.perf_counter() - began, peak_rss_mb()
        start = time.perf_counter()
        metrics = node_metrics(infer(model, dataset.graph, x, device), y, masks)
        return {"run": run, "seed": seed, "split": split_index, "best_epoch": fitted.best["epoch"],
                "epochs_run": fitted.epochs_run, **metrics, "select_val_acc": fitted.best["val_acc"],
                **fitted.timing(), "ppr_s": ppr_s, "train_s": train_s, "inference_s": time.perf_counter() - start,
                "ppr_peak_rss_mb": ppr_rss, "train_peak_rss_mb": train_rss, "inference_peak_rss_mb": peak_rss_mb(),
                "ppr_roots": int(lists.ptr.numel() - 1),
                "ppr_neighbors": float(lists.neighbors.numel() / max(lists.ptr.numel() - 1, 1))}

    task = Task(model, optimizer, build_scheduler(optimizer, train_cfg), train_epoch, evaluate, device,
                selector=EpochSelector(train_cfg.select, train_cfg.patience))
    return fit(task, train_cfg.epochs, result, checkpoints=checkpoints, saved=saved, bar=bar, tags={"run": run},
               on_epoch=on_epoch)


PHASE_KEYS = ("ppr_s", "train_s", "inference_s", "ppr_peak_rss_mb", "train_peak_rss_mb", "inference_peak_rss_mb",
              "ppr_roots", "ppr_neighbors")


def pprgo_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Summary keys of PPRGo runs: each phase's seconds and peak RSS from the first run (the one that computed
    the PPR lists), ``end_to_end_s`` (their sum), and ``select_val_acc`` averaged over runs."""
    if not runs:
        return {}
    first = runs[0]
    out = {key: first.get(key) for key in PHASE_KEYS}
    if all(first.get(k) is not None for k in ("ppr_s", "train_s", "inference_s")):
        out["end_to_end_s"] = first["ppr_s"] + first["train_s"] + first["inference_s"]
    values = [r["select_val_acc"] for r in runs if r.get("select_val_acc") is not None]
    out["select_val_acc"] = sum(values) / len(values) if values else None
    return out


__all__ = ["NeighborLists", "infer", "ppr_lists", "pprgo_run", "pprgo_summary"]
