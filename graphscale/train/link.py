"""Link prediction: ``train.seeds`` runs of GAE / VGAE / SAGE / GCN encoders on an edge split, and their summary.

Protocol per run ``i`` (seed ``train.seed + i``): the undirected edges are split 85 / 5 / 10 with held-out
negatives (:func:`graphscale.sampling.link.split_edges`, seeded by ``data.split_seed`` or the run's seed); the
encoder passes messages over the training edges only. Each epoch is one of:

* full batch, ``train.loss: sampled``: one step on every training pair against ``neg_per_pos`` negatives per
  pair drawn afresh (uniform destination corruption);
* full batch, ``train.loss: dense``: Kipf & Welling's reconstruction loss over all ``N^2`` pairs,
  ``norm * BCE(Z Z^T, A_train + I; pos_weight = (N^2 - |A|) / |A|)`` with ``norm = N^2 / (2 (N^2 - |A|))``;
* ``sampler: neighbor``: steps on :class:`~graphscale.loader.link.LinkLoader` batches (seed edges, their
  negatives drawn in the loader, Blocks of both endpoints' sampled neighbourhoods, seed edges excluded from
  message passing by ``sampler.exclude``).

VGAE adds ``(1 / N) KL``. After each epoch the encoder embeds all nodes on the training graph (evaluation mode;
VGAE: the means) and the valid / test pairs are scored: AUC, AP, Hits@K, MRR (:mod:`.link_metrics`). The kept
epoch has the best validation AUC (ties: lower validation loss); its test metrics are reported. Everything runs
through the one engine (:func:`graphscale.train.loop.fit` / ``run_seeds``): checkpoints and ``--resume``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import seed as seed_everything
from ..config.link import LinkConfig
from ..datasets.base import NodeDataset
from ..errors import ConfigError
from ..nn.link import LinkModel, build_link_model
from ..sampling.link import EdgeSplit, split_edges
from .link_metrics import link_metrics
from .loop import Checkpoints, EpochSelector, Fitted, Task, fit, run_seeds
from .metrics import mean_std
from .runtime import fingerprint

DENSE_MAX_NODES = 20000  # N^2 float32 logits: 1.6 GB at 20,000 nodes
METRICS = ("auc", "ap", "mrr")


def check_config(cfg: LinkConfig, num_nodes: int | None = None) -> None:
    """Raise ConfigError for combinations no run can train (before anything is written)."""
    if cfg.train.loss == "dense":
        if cfg.sampler.name != "none":
            raise ConfigError(f"train.loss: expected sampled with sampler {cfg.sampler.name!r} (the dense loss scores "
                              f"all N^2 pairs of the full graph), got dense{cfg.where('train.loss')}. Set "
                              "train.loss=sampled or sampler.name=none.")
        if cfg.model.decoder != "dot":
            raise ConfigError(f"train.loss: expected the dot decoder with the dense loss (Z Z^T), got decoder "
                              f"{cfg.model.decoder!r}{cfg.where('train.loss')}. Set model.decoder=dot or "
                              "train.loss=sampled.")
        if num_nodes is not None and num_nodes > DENSE_MAX_NODES:
            raise ConfigError(f"train.loss: expected a graph of at most {DENSE_MAX_NODES} nodes for the dense loss "
                              f"(N^2 logits), got {num_nodes}{cfg.where('train.loss')}. Set train.loss=sampled.")
    if cfg.sampler.name == "neighbor" and len(cfg.sampler.fanouts) != cfg.model.num_layers:
        raise ConfigError(f"sampler.fanouts: expected {cfg.model.num_layers} values (one per message-passing layer), "
                          f"got {cfg.sampler.fanouts}{cfg.where('sampler.fanouts')}.")
    if cfg.data.val_fraction + cfg.data.test_fraction >= 1.0:
        raise ConfigError(f"data.val_fraction: expected val_fraction + test_fraction < 1, got "
                          f"{cfg.data.val_fraction} + {cfg.data.test_fraction}{cfg.where('data.val_fraction')}.")
    if cfg.data.val_fraction <= 0.0:
        raise ConfigError(f"data.val_fraction: expected a validation share > 0 (epochs are selected on validation "
                          f"AUC), got {cfg.data.val_fraction}{cfg.where('data.val_fraction')}.")


def model_of(cfg: LinkConfig, in_dim: int) -> LinkModel:
    m = cfg.model
    return build_link_model(m.name, in_dim, hidden_dim=m.hidden_dim, out_dim=m.out_dim, num_layers=m.num_layers,
                            dropout=m.dropout, decoder=m.decoder, decoder_hidden=m.decoder_hidden,
                            decoder_layers=m.decoder_layers, decoder_dropout=m.decoder_dropout)


def pair_loss(model: LinkModel, z: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """``BCE(positives, 1) + BCE(negatives, 0)``, each the mean over its pairs (the PyG / Kipf sampled form)."""
    pos_logits, neg_logits = model.score(z, pos), model.score(z, neg)
    return (F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits))
            + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits)))


def dense_loss(z: torch.Tensor, positives: torch.Tensor, pos_weight: float, norm: float) -> torch.Tensor:
    """Kipf & Welling's weighted reconstruction loss over all ``N^2`` pairs of ``Z Z^T``:
    ``norm * mean_uv BCE(z_u . z_v, A_uv; pos_weight)`` for the 0/1 matrix ``A`` whose ones are ``positives``.

    Computed as ``sum_uv softplus(x_uv) + sum_(u,v) in A (pos_weight softplus(-x_uv) - softplus(x_uv))``, the same
    value as ``binary_cross_entropy_with_logits(Z Z^T, A, pos_weight=...)`` with one dense pass instead of several.

    Shapes:
        z: ``[N, D]``; positives: ``[P, 2]`` int64 distinct pairs (the ones of ``A``, both directions and the
        diagonal for ``A_train + I``); returns a scalar.
    """
    n = z.shape[0]
    total = F.softplus(z @ z.t()).sum()
    x = (z[positives[:, 0]] * z[positives[:, 1]]).sum(-1)
    total = total + (pos_weight * F.softplus(-x) - F.softplus(x)).sum()
    return norm * total / (n * n)


class LinkTrainer:
    """The link trainer of one dataset and config: features on the device, one split and model per run."""

    def __init__(self, cfg: LinkConfig, dataset: NodeDataset, device: torch.device) -> None:
        check_config(cfg, dataset.num_nodes)
        self.cfg, self.dataset, self.device = cfg, dataset, device
        self.x = dataset.x.float().to(device)

    def split(self, seed: int) -> EdgeSplit:
        data = self.cfg.data
        return split_edges(self.dataset.graph.to("cpu"), data.val_fraction, data.test_fraction,
                           seed=data.split_seed if data.split_seed is not None else seed)

    def run(self, run: int, saved: dict[str, Any] | None, checkpoints: Checkpoints,
            bar: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        cfg, device = self.cfg, self.device
        seed = cfg.train.seed + run
        split = self.split(seed)
        seed_everything(seed)
        model = model_of(cfg, self.dataset.num_features).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        graph = split.train_graph.to(device)
        generator = torch.Generator().manual_seed(seed)
        step = self._minibatch_epoch(model, optimizer, split, seed) if cfg.sampler.name == "neighbor" \
            else self._full_epoch(model, optimizer, split, graph, generator)
        held_out = {name: getattr(split, name).to(device) for name in ("val_pos", "val_neg", "test_pos", "test_neg")}

        def evaluate() -> dict[str, Any]:
            z = model(graph, self.x)
            scores = {name: model.score(z, pairs) for name, pairs in held_out.items()}
            out = {"val_loss": float(pair_loss(model, z, held_out["val_pos"], held_out["val_neg"]))}
            for part in ("val", "test"):
                out.update(link_metrics(scores[f"{part}_pos"].cpu(), scores[f"{part}_neg"].cpu(), cfg.eval.hits_at,
                                        prefix=f"{part}_"))
            return out

        task = Task(model, optimizer, None, step, evaluate, device,
                    selector=EpochSelector("val_acc", cfg.train.patience, score="val_auc", loss="val_loss"),
                    generator=generator, evaluate_every=cfg.eval.every)

        def result(fitted: Fitted) -> dict[str, Any]:
            best = fitted.best
            keep = {k: v for k, v in best.items() if k.startswith(("val_", "test_"))}
            return {"run": run, "seed": seed, "split_sizes": split.sizes(), "best_epoch": best["epoch"],
                    "epochs_run": fitted.epochs_run, **keep, "last_test_auc": fitted.history["test_auc"][-1],
                    **fitted.timing()}

        return fit(task, cfg.train.epochs, result, checkpoints=checkpoints, saved=saved, bar=bar,
                   tags={"run": run})

    def _full_epoch(self, model: LinkModel, optimizer: torch.optim.Optimizer, split: EdgeSplit, graph: Any,
                    generator: torch.Generator) -> Any:
        cfg, device, x = self.cfg, self.device, self.x
        pos = split.train_pos.to(device)
        num_nodes, k = split.num_nodes, cfg.train.neg_per_pos
        dense = cfg.train.loss == "dense"
        if dense:  # the ones of A_train + I: both directions of every training pair and the diagonal
            loops = torch.arange(num_nodes, device=device)
            ones = torch.cat([torch.stack([graph.src.long(), graph.dst.long()], 1), torch.stack([loops, loops], 1)])
            edges = float(ones.shape[0])
            pos_weight = (num_nodes * num_nodes - edges) / edges
            norm = num_nodes * num_nodes / (2.0 * (num_nodes * num_nodes - edges))

        def epoch(_: int) -> dict[str, Any]:
            optimizer.zero_grad()
            z = model(graph, x)
            if dense:
                loss = dense_loss(z, ones, pos_weight, norm)
            else:
                src = pos[:, 0].repeat_interleave(k)
                dst = torch.randint(0, num_nodes, (src.numel(),), generator=generator).to(device)
                loss = pair_loss(model, z, pos, torch.stack([src, dst], 1))
            loss = loss + model.kl_loss(num_nodes).to(device)
            loss.backward()
            optimizer.step()
            return {"train_loss": float(loss.detach())}

        return epoch

    def _minibatch_epoch(self, model: LinkModel, optimizer: torch.optim.Optimizer, split: EdgeSplit, seed: int) -> Any:
        from ..loader.link import LinkLoader, LinkSampler

        cfg, device, x = self.cfg, self.device, self.x
        sampler = LinkSampler(split.train_graph, split.train_pos, cfg.sampler.fanouts, neg_per_pos=cfg.train.neg_per_pos,
                              exclude=cfg.sampler.exclude)
        loader = LinkLoader(sampler, cfg.sampler.batch_size, seed=seed, num_workers=cfg.sampler.num_workers,
                            prefetch=cfg.sampler.prefetch, device=device if device.type == "cuda" else None)
        num_nodes = split.num_nodes

        def epoch(index: int) -> dict[str, Any]:
            loader.set_epoch(index)
            total, count = 0.0, 0
            for batch in loader:
                optimizer.zero_grad()
                z = model(batch.blocks, x[batch.input_ids.to(device)])
                loss = pair_loss(model, z, batch.pos_index, batch.neg_index) + model.kl_loss(num_nodes).to(device)
                loss.backward()
                optimizer.step()
                total, count = total + float(loss.detach()) * batch.pos_index.shape[0], count + batch.pos_index.shape[0]
            return {"train_loss": total / max(count, 1)}

        return epoch


def summarize(runs: list[dict[str, Any]], hits_at: list[int]) -> dict[str, Any]:
    """Means, stds and per-seed lists of the test and validation metrics over ``runs``."""
    out: dict[str, Any] = {}
    keys = [*METRICS, *(f"hits_at_{k}" for k in hits_at)]
    for part in ("test", "val"):
        for key in keys:
            values = [r[f"{part}_{key}"] for r in runs]
            mean, std = mean_std(values)
            out.update({f"{part}_{key}": mean, f"{part}_{key}_std": std})
            if part == "test" or key == "auc":
                out[f"per_seed_{part}_{key}"] = values
    times = [r["epoch_time_s"] for r in runs if r.get("epoch_time_s") is not None]
    out["epoch_time_s"] = sum(times) / len(times) if times else None
    out["epochs_run"] = [r["epochs_run"] for r in runs]
    out["best_epochs"] = [r["best_epoch"] for r in runs]
    return out


def train_link(cfg: LinkConfig, dataset: NodeDataset, device: torch.device, out_dir: Path | None = None,
               resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train ``train.seeds`` runs and summarise them (see the module docstring).

    Returns:
        Summary with test / val AUC, AP, Hits@K, MRR means, stds and per-seed lists, ``epoch_time_s``, the runs
        (``runs``) and their curves (``curves``).

    Raises:
        ConfigError: Settings no run can train, a checkpoint of another config.
    """
    trainer = LinkTrainer(cfg, dataset, device)
    desc = f"link {dataset.name}/{cfg.model.name}" + ("" if cfg.sampler.name == "none" else "/neighbor")
    runs, curves = run_seeds(cfg.train.seeds, trainer.run, cfg=cfg, kind="link", header={"config": fingerprint(cfg)},
                             out_dir=out_dir, resume=resume, epochs=cfg.train.epochs,
                             every=cfg.output.checkpoint_every, desc=desc, progress=progress)
    return {**summarize(runs, list(cfg.eval.hits_at)), "runs": runs, "curves": curves}


__all__ = ["LinkTrainer", "check_config", "dense_loss", "model_of", "pair_loss", "summarize", "train_link"]
