"""Training of R-GCN link prediction (:mod:`graphscale.kge.rgcn`) on the one training engine, as Schlichtkrull et
al. (2018, sec. 5) train it.

Every step takes ``rgcn.graph_batch_size`` training triples (an epoch is a shuffled pass over the training
triples, cut into ``ceil(M / graph_batch_size)`` near-equal batches), relabels their entities to the step's
``n`` nodes, and builds the message-passing graph from the triples kept by edge dropout (``rgcn.edge_dropout``,
both directions of a triple together, before the ``1 / c_{i,r}`` normalisation), each with its inverse typed
``r + R``; the self-loop term of ``rgcn.self_loop_dropout`` of the nodes is dropped. The encoder runs on that
graph; all the batch's triples are positives, and each has ``train.negatives`` corruptions (head or tail, with
probability 1/2, replaced by one of the step's ``n`` entities). The loss is binary cross-entropy over
positives and negatives plus ``rgcn.regularization`` times the mean squares of the step's entity
representations and of the relation vectors; Adam at ``train.lr`` with the gradient norm clipped to
``rgcn.grad_clip``.

Checkpoints, ``progress.jsonl``, ``--resume`` (bit for bit: every draw comes from the trainer's generator or
the checkpointed global RNGs) and ``train.max_time_s`` are those of ``graphscale kg``
(:func:`graphscale.kge.train.fit_epochs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ConfigError, GraphscaleError
from ..train.loop import Task
from .config import KGConfig
from .model import KGEModel
from .rgcn import RGCNLinkPredictor, message_graph
from .train import fit_epochs

# train settings of the embedding models that R-GCN training does not have: (key, what it must be, why)
_NOT_FOR_RGCN = (
    ("partitions", 1, "the encoder needs every entity of a step's graph in one table"),
    ("negative_mode", "shared", "negatives are drawn per positive among the step's entities"),
    ("loss", "nssa", "the loss is binary cross-entropy (rgcn.regularization sets its L2 term)"),
    ("optimizer", "adam", "R-GCN trains with dense Adam"),
    ("regularizer", "none", "set rgcn.regularization instead"),
    ("subsampling", False, "triples are sampled uniformly"),
    ("corruption", "uniform", "heads and tails are corrupted with probability 1/2"),
    ("lr_schedule", "constant", "the learning rate is constant"),
    ("warmup_epochs", 0.0, "the learning rate is constant"),
)


def check_rgcn_config(cfg: KGConfig) -> None:
    """Reject settings that do not apply to ``model.name: rgcn``.

    Raises:
        ConfigError: One line naming the key, its value and the fix.
    """
    for key, wanted, why in _NOT_FOR_RGCN:
        value = getattr(cfg.train, key)
        if value != wanted:
            raise ConfigError(f"train.{key}: expected {wanted!r} with model.name rgcn ({why}), got {value!r}. "
                              f"Remove the setting or pass train.{key}={wanted}.")
    if cfg.model.reciprocal:
        raise ConfigError("model.reciprocal: expected false with model.name rgcn (the encoder adds inverse "
                          "relations itself), got true. Remove the setting.")
    if cfg.model.dim % cfg.rgcn.num_blocks:
        raise ConfigError(f"rgcn.num_blocks: expected a divisor of model.dim ({cfg.model.dim}), got "
                          f"{cfg.rgcn.num_blocks}. Pick blocks that split the hidden size evenly (500 / 100).")


def build_rgcn(cfg: KGConfig, num_entities: int, num_relations: int) -> RGCNLinkPredictor:
    """The model ``cfg`` describes (``model.dim`` hidden units, the ``rgcn`` section, ``train.seed``)."""
    check_rgcn_config(cfg)
    rc = cfg.rgcn
    return RGCNLinkPredictor(num_entities, num_relations, cfg.model.dim, layers=rc.layers,
                             num_blocks=rc.num_blocks, dropout=rc.dropout, seed=cfg.train.seed)


class RGCNEpochs:
    """The trainer's state (model, Adam, generator, step counter, the whole training graph for evaluation) and
    its epoch of graph-batch steps."""

    def __init__(self, model: RGCNLinkPredictor, triples: torch.Tensor, cfg: KGConfig,
                 device: torch.device) -> None:
        self.model, self.cfg, self.device = model.to(device), cfg, device
        self.triples = triples.long()
        self.step, self.bar, self.ranks = 0, None, None
        self.steps_per_epoch = math.ceil(self.triples.shape[0] / cfg.rgcn.graph_batch_size)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
        self.generator = torch.Generator().manual_seed(cfg.train.seed)
        self._full: tuple[Any, torch.Tensor] | None = None

    def full_graph(self) -> tuple[Any, torch.Tensor]:
        """The message-passing graph of every training triple on the device, with its edge types (built once:
        the relation pairs are cached on it for this edge-type tensor)."""
        if self._full is None:
            graph, edge_type = message_graph(self.triples, self.model.num_entities, self.model.num_relations)
            self._full = graph.to(self.device), edge_type.to(self.device)
        return self._full

    def as_kge(self) -> KGEModel:
        """The DistMult scorer of the current encoder on the whole training graph (on the CPU)."""
        return self.model.as_kge(*self.full_graph())

    def run(self, epoch: int) -> dict[str, Any]:
        """One shuffled pass over the training triples: ``{"loss", "lr", "step"}``."""
        del epoch
        order = torch.randperm(self.triples.shape[0], generator=self.generator)
        total = 0.0
        for batch in order.tensor_split(self.steps_per_epoch):
            total += self.train_step(self.triples[batch])
            if self.bar is not None:
                self.bar.update(1)
        loss = total / self.steps_per_epoch
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}")
        return {"loss": loss, "lr": self.cfg.train.lr, "step": self.step}

    def sample(self, batch: torch.Tensor) -> dict[str, Any]:
        """A step's inputs from ``batch [B, 3]`` training triples: the entities ``nodes [n]``, the relabelled
        positives ``[B, 3]``, the corruptions (``candidates [B * k]`` replacing the head where ``head [B * k]``,
        else the tail; :meth:`negatives`), the message graph and the self-loop mask ``[n, 1]``."""
        rc, g = self.cfg.rgcn, self.generator
        nodes, local = torch.unique(batch[:, [0, 2]], return_inverse=True)
        n, size = int(nodes.numel()), batch.shape[0]
        positives = torch.stack([local[:, 0], batch[:, 1], local[:, 1]], dim=1)
        kept = torch.rand(size, generator=g) >= rc.edge_dropout
        graph, edge_type = message_graph(positives[kept], n, self.model.num_relations)
        loop_keep = (torch.rand(n, 1, generator=g) >= rc.self_loop_dropout).float()
        k = self.cfg.train.negatives
        candidates = torch.randint(n, (size * k,), generator=g)
        head = torch.rand(size * k, generator=g) < 0.5
        return {"nodes": nodes, "positives": positives, "candidates": candidates, "head": head, "graph": graph,
                "edge_type": edge_type, "self_loop_keep": loop_keep}

    @staticmethod
    def negatives(sample: dict[str, Any]) -> torch.Tensor:
        """The corrupted triples ``[B * k, 3]`` of a :meth:`sample` (corruption ``m`` of positive ``m mod B``)."""
        positives, head, candidates = sample["positives"], sample["head"], sample["candidates"]
        negatives = positives.repeat(candidates.shape[0] // max(positives.shape[0], 1), 1)
        negatives[:, 0] = torch.where(head, candidates, negatives[:, 0])
        negatives[:, 2] = torch.where(head, negatives[:, 2], candidates)
        return negatives

    def train_step(self, batch: torch.Tensor) -> float:
        """One optimiser step on ``batch [B, 3]``; returns the loss."""
        rc, device = self.cfg.rgcn, self.device
        s = self.sample(batch)
        self.step += 1
        entity = self.model.encode(s["graph"].to(device), s["edge_type"].to(device), s["nodes"].to(device),
                                   s["self_loop_keep"].to(device), generator=self.generator)
        scores = self.model.score_corrupted(entity, s["positives"].to(device), s["candidates"].to(device),
                                            s["head"].to(device))
        labels = torch.zeros(scores.shape[0], device=device)
        labels[:s["positives"].shape[0]] = 1.0
        loss = F.binary_cross_entropy_with_logits(scores, labels)
        if rc.regularization > 0:
            loss = loss + rc.regularization * (entity.pow(2).mean() + self.model.relation.pow(2).mean())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if rc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), rc.grad_clip)
        self.optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise GraphscaleError(f"kg rgcn train: expected a finite loss, got {value} at step {self.step}. "
                                  "Lower train.lr or rgcn.grad_clip.")
        return value

    def state(self) -> dict[str, Any]:
        return {"step": self.step}

    def load(self, state: dict[str, Any], epoch: int) -> None:
        del epoch
        self.step = int(state["step"])


def train_rgcn(model: RGCNLinkPredictor, triples: torch.Tensor, cfg: KGConfig, *, device: torch.device,
               out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
               on_epoch: Callable[[dict[str, Any]], None] | None = None,
               validate: Callable[[KGEModel], dict[str, float]] | None = None) -> tuple[dict[str, Any], KGEModel]:
    """Train ``model`` on ``triples [M, 3]`` (train split) as ``cfg`` says, on the engine with ``graphscale kg``'s
    checkpoints, progress log, resume and time limit (:func:`graphscale.kge.train.fit_epochs`).

    ``validate(kge) -> metrics`` runs every ``train.eval_every`` epochs on the DistMult scorer of the encoder's
    full-graph representations. Returns ``(result, that scorer after training)``; ``result`` holds
    ``epochs_done, steps, train_time_s, triples_per_s, history, complete, steps_per_epoch, num_partitions``.
    """
    check_rgcn_config(cfg)
    epochs = RGCNEpochs(model, triples, cfg, device)

    def evaluate() -> dict[str, Any]:
        return {"valid": validate(epochs.as_kge())}

    task = Task(model, epochs.optimizer, None, epochs.run, evaluate, device, extra_state=epochs.state,
                load_extra_state=epochs.load, generator=epochs.generator)
    result = fit_epochs(task, epochs, cfg, validating=validate is not None, out_dir=out_dir, resume=resume,
                        progress=progress, on_epoch=on_epoch, log=True)
    spent = result["train_time_s"]
    result["triples_per_s"] = result["epochs_done"] * triples.shape[0] / spent if spent > 0 else 0.0
    result["num_partitions"] = 1
    model.to("cpu")
    epochs.device = torch.device("cpu")
    epochs._full = None
    return result, epochs.as_kge()


__all__ = ["RGCNEpochs", "build_rgcn", "check_rgcn_config", "train_rgcn"]
