"""Training of ``graphscale kg`` on the one training engine (:mod:`graphscale.train.loop`): this module supplies
the epoch of steps over (buckets of) triples with its learning-rate schedule, and the validation; the engine
runs the epochs, the periodic validation, checkpoints, ``--resume`` and ``train.max_time_s``.

With ``train.partitions = 1`` the whole entity table trains in place on the device. With ``P > 1`` the
epoch walks the ``P x P`` buckets of :mod:`graphscale.kge.partition`; each episode moves two entity
partitions (weights and optimiser state) to the device and back, so the device holds ``2 / P`` of the table.

A checkpoint (``checkpoints/last.pt``, written atomically) holds the tables and the optimiser state (the
trainer state, ``extra``), the generator state, the epoch and the curves; ``resume=True`` continues from it bit for bit (same config,
same thread count). ``train.max_time_s`` ends a run early at an epoch boundary with a checkpoint, so a long
training can be done in pieces. ``progress.jsonl`` is cut back to the checkpoint's epochs when a run starts, so
after a kill and ``--resume`` it lists every epoch once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..config import to_dict
from ..errors import ConfigError, GraphscaleError
from ..train.checkpoint import load_checkpoint, write_text_atomic
from ..train.loop import FORMAT, Checkpoints, Task, fit
from ..train.plot import clean_json
from ..train.runtime import progress_bar
from .config import KGConfig
from .model import KGEModel
from .optim import EmbeddingTable, learning_rate
from .partition import bucketize, episode_rows, localize, plan_partitions
from .step import StepOptions, train_step
from .triples import add_reciprocal, bernoulli_head_probability


def subsampling_weights(triples: torch.Tensor, num_relations: int) -> torch.Tensor:
    """RotatE's per-triple weights ``1 / sqrt(#(h, r) + #(t, r^-1))`` (counts start at 4, as in its code)."""
    h, r, t = (triples[:, i].numpy().astype(np.int64) for i in range(3))
    keys_hr = h * (2 * num_relations + 1) + r
    keys_tr = t * (2 * num_relations + 1) + num_relations + r + 1  # the reference code's (t, -r - 1)
    keys = np.concatenate([keys_hr, keys_tr])
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    count = counts + 3  # the reference starts each count at 4
    total = count[inverse[:h.shape[0]]] + count[inverse[h.shape[0]:]]
    return torch.from_numpy((1.0 / np.sqrt(total)).astype(np.float32))


RESUME_MAY_CHANGE = ("epochs", "lr_decay_epochs", "max_time_s", "eval_every", "eval_valid_size", "device",
                     "threads")


def fingerprint(cfg: KGConfig | dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one (model, data and training settings).

    ``train.epochs`` may change on resume (extend or end a run; the learning-rate schedule follows the new
    total), as may the span of the cosine decay (``lr_decay_epochs``: extend a finished run at its final rate),
    the time limit, the periodic validation, the device and the thread count.
    """
    data = to_dict(cfg) if isinstance(cfg, KGConfig) else cfg
    train = {k: v for k, v in data["train"].items() if k not in RESUME_MAY_CHANGE}
    # data.unseen (newer than the format) counts only when set: checkpoints written before it still resume
    data_section = {k: v for k, v in data["data"].items() if not (k == "unseen" and v is None)}
    out = {"data": data_section, "model": data["model"], "train": train}
    if data["model"].get("name") == "rgcn":  # its own section counts only for rgcn (older checkpoints lack it)
        out["rgcn"] = data["rgcn"]
    return out


def truncate_progress(path: Path, epochs: int) -> None:
    """Keep the lines of ``progress.jsonl`` whose epoch is ``<= epochs`` (what the checkpoint holds).

    A run killed after its last checkpoint logged later epochs that ``--resume`` trains again; without this
    they would appear twice. Torn or unreadable lines are dropped too. Written atomically (temp + replace).
    """
    if not path.is_file():
        return
    kept = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                epoch = json.loads(line)["epoch"]
            except (ValueError, TypeError, KeyError):
                continue
            if isinstance(epoch, int) and epoch <= epochs:
                kept.append(line if line.endswith("\n") else line + "\n")
    write_text_atomic("".join(kept), path)


def _check(cfg: KGConfig) -> None:
    train = cfg.train
    if train.negative_mode == "all" and train.partitions > 1:
        raise ConfigError("train.negative_mode: expected shared or per-positive with train.partitions > 1, got "
                          "'all'. 1-N scoring needs the whole table; use partitions: 1.")
    if train.loss == "margin" and cfg.model.name in ("distmult", "complex", "simple") and train.margin == 0:
        raise ConfigError("train.margin: expected > 0 for the margin loss, got 0.")


def train(model: KGEModel, triples: torch.Tensor, cfg: KGConfig, *, device: torch.device,
          out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
          on_epoch: Callable[[dict[str, Any]], None] | None = None,
          validate: Callable[[KGEModel], dict[str, float]] | None = None, log: bool = True) -> dict[str, Any]:
    """Train ``model`` on ``triples`` (train split, original relation ids) as ``cfg.train`` says, on the one
    training engine (:func:`graphscale.train.loop.fit`: epochs, periodic validation, checkpoints, resume, the
    time limit).

    Args:
        model: Model to train (its tables are updated in place; on the CPU at the end).
        triples: ``[M, 3]`` training triples.
        cfg: Resolved config.
        device: Training device.
        out_dir: Folder for ``checkpoints/last.pt`` and ``progress.jsonl``; None = no files.
        resume: Continue from ``out_dir/checkpoints/last.pt``.
        progress: tqdm bar on stderr.
        on_epoch: Called after every epoch with the epoch record (tests interrupt runs with it).
        validate: ``validate(model) -> metrics``, called every ``train.eval_every`` epochs.
        log: Write ``progress.jsonl`` (the ranks of a torchrun group but rank 0 write only their checkpoint
            shards, under ``checkpoints/shards/``).

    Returns:
        ``{"epochs_done", "steps", "train_time_s", "triples_per_s", "history", "complete"}``.
    """
    _check(cfg)
    epochs = _KGEpochs(model, triples, cfg, device)

    def evaluate() -> dict[str, Any]:
        epochs.write_back()
        return {"valid": validate(model)}

    task = Task(None, None, None, epochs.run, evaluate, device, extra_state=epochs.state,
                load_extra_state=epochs.load, generator=epochs.generator)
    result = fit_epochs(task, epochs, cfg, validating=validate is not None, out_dir=out_dir, resume=resume,
                        progress=progress, on_epoch=on_epoch, log=log)
    epochs.write_back()
    done = result["epochs_done"]
    group = {} if epochs.ranks is None else epochs.ranks.summary(done)
    return {**group, **result, "triples_per_s": done * triples.shape[0] / result["train_time_s"]
            if result["train_time_s"] > 0 else 0.0, "num_partitions": epochs.plan.num_partitions}


def fit_epochs(task: Task, epochs: Any, cfg: KGConfig, *, validating: bool, out_dir: str | Path | None,
               resume: bool, progress: bool, on_epoch: Callable[[dict[str, Any]], None] | None,
               log: bool) -> dict[str, Any]:
    """Run a KG trainer's ``task`` on the engine (:func:`graphscale.train.loop.fit`) with this command's
    checkpoints (``checkpoints/last.pt``, ``--resume``), ``progress.jsonl``, step bar and time limit.

    ``epochs`` is the trainer's state: ``steps_per_epoch``, ``step`` (steps done; ``extra_state()["step"]``
    in a checkpoint), ``bar`` (set here, advanced by the trainer) and ``ranks`` (None in one process). The
    task's ``evaluate_every`` and ``log_epoch`` are set here (``validating``: run ``task.evaluate`` every
    ``train.eval_every`` epochs).

    Returns:
        ``{"epochs_done", "steps", "train_time_s", "history", "complete", "steps_per_epoch"}``.
    """
    tc = cfg.train
    checkpoints, saved = _checkpointing(epochs, out_dir, cfg, resume)
    handle = None
    if out_dir is not None and log:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        # drop the epochs trained after the checkpoint: --resume trains them again
        truncate_progress(Path(out_dir) / "progress.jsonl", saved["epoch"] if saved is not None else 0)
        handle = (Path(out_dir) / "progress.jsonl").open("a", encoding="utf-8")

    last: dict[str, Any] = {}

    def log_epoch(metrics: dict[str, Any]) -> None:
        last["record"] = _record(metrics)
        if handle is not None:
            handle.write(json.dumps(clean_json(last["record"]), allow_nan=False) + "\n")
            handle.flush()

    task.evaluate_every = tc.eval_every if validating else 0
    task.log_epoch = log_epoch
    done_steps = int(saved["extra"]["step"]) if saved is not None else 0
    epochs.bar = progress_bar(epochs.steps_per_epoch * tc.epochs, f"kg {cfg.model.name}", progress,
                              initial=done_steps, unit="step")
    try:
        result, _ = fit(task, tc.epochs, lambda fitted: {"records": _records(fitted.history, fitted.times),
                                                         "complete": fitted.complete},
                        checkpoints=checkpoints, saved=saved, time_limit_s=tc.max_time_s,
                        on_epoch=(lambda _metrics: on_epoch(last["record"])) if on_epoch else None)
    finally:
        epochs.bar.close()
        if handle is not None:
            handle.close()
    records = result["records"]
    done = len(records)
    return {"epochs_done": done, "steps": epochs.step,
            "train_time_s": records[-1]["train_time_s"] if records else 0.0, "history": records,
            "complete": result["complete"] and done >= tc.epochs, "steps_per_epoch": epochs.steps_per_epoch}


def _checkpointing(epochs: Any, out_dir: str | Path | None, cfg: KGConfig,
                   resume: bool) -> tuple[Checkpoints | None, dict[str, Any] | None]:
    """``(checkpoints, the checkpoint to continue from)``: ``checkpoints/last.pt`` in one process, this rank's
    shard under ``checkpoints/shards/`` in a torchrun group (:mod:`graphscale.train.shards`); none without
    a folder."""
    if out_dir is None:
        return None, None
    header = {"kind": "kg", "fingerprint": fingerprint(cfg)}
    if epochs.ranks is None:
        path = Path(out_dir) / "checkpoints" / "last.pt"
        return Checkpoints(path, cfg.output.checkpoint_every, header), _resumable(path, cfg) if resume else None
    from ..train.shards import ShardedCheckpoints, load_shard

    folder = Path(out_dir) / "checkpoints" / "shards"
    shards = ShardedCheckpoints(folder, cfg.output.checkpoint_every, header, rank=epochs.ranks.rank,
                                world_size=epochs.ranks.world)
    saved = load_shard(folder, shards.rank, shards.world_size, cfg, "kg",
                       check=lambda path: _resumable(path, cfg)) if resume else None
    return shards, saved


def _record(metrics: dict[str, Any]) -> dict[str, Any]:
    """One ``progress.jsonl`` / history record from an epoch's metrics (1-based ``epoch``)."""
    record = {"epoch": metrics["epoch"] + 1, "step": metrics["step"], "loss": metrics["loss"], "lr": metrics["lr"],
              "epoch_time_s": metrics["epoch_time_s"], "train_time_s": metrics["train_time_s"]}
    if metrics.get("valid") is not None:
        record["valid"] = metrics["valid"]
    return record


def _records(history: dict[str, list[Any]], times: list[float]) -> list[dict[str, Any]]:
    """Every epoch's record, from the engine's curves and step times (resumed epochs included)."""
    spent = 0.0
    records = []
    for i, seconds in enumerate(times):
        spent += seconds
        records.append(_record({**{key: values[i] for key, values in history.items()}, "epoch": i,
                                "epoch_time_s": seconds, "train_time_s": spent}))
    return records


def _resumable(path: Path | None, cfg: KGConfig) -> dict[str, Any] | None:
    """The checkpoint to continue from (None when there is none).

    Raises:
        GraphscaleError: A checkpoint written with other data, model or train settings (or by another trainer).
    """
    saved = load_checkpoint(path) if path is not None else None
    if saved is None:
        return None
    saved_print = saved.get("fingerprint")
    same = isinstance(saved_print, dict) and "train" in saved_print and fingerprint(saved_print) == fingerprint(cfg)
    if saved.get("format") != FORMAT or saved.get("kind") != "kg" or not same:
        raise GraphscaleError(f"checkpoint '{path}': expected one written with the same data, model and train "
                              "settings, got a different config. Run without --resume (starts over) or restore "
                              "the original settings.")
    return saved


class _KGEpochs:
    """The KG trainer's state and its epoch of steps (the ``Task`` of :func:`train`): the bucketed triples,
    the entity and relation tables with their optimiser state, the generator and the step counter."""

    def __init__(self, model: KGEModel, triples: torch.Tensor, cfg: KGConfig, device: torch.device) -> None:
        tc = cfg.train
        self.model, self.cfg, self.device, self.step, self.bar = model, cfg, device, 0, None
        self.opts = StepOptions(negatives=tc.negatives, negative_mode=tc.negative_mode, loss=tc.loss,
                                adversarial_temperature=tc.adversarial_temperature, margin=tc.margin,
                                regularizer=tc.regularizer, regularization=tc.regularization,
                                optimizer=tc.optimizer, tail_only=model.reciprocal)
        relations = model.num_relations * (2 if model.reciprocal else 1)
        if model.reciprocal:
            triples = add_reciprocal(triples, model.num_relations)
        self.head_prob = bernoulli_head_probability(triples, relations) if tc.corruption == "bernoulli" else None
        self.weights = subsampling_weights(triples, relations) if tc.subsampling else None
        self.plan = plan_partitions(model.num_entities, tc.partitions, tc.seed)
        self.buckets = bucketize(torch.cat([triples, torch.arange(triples.shape[0]).unsqueeze(1)], dim=1),
                                 self.plan)
        self.steps_per_epoch = sum(math.ceil(b.shape[0] / tc.batch_size) for b in self.buckets.values())
        total_steps = self.steps_per_epoch * tc.epochs
        self.decay_steps = self.steps_per_epoch * tc.lr_decay_epochs if tc.lr_decay_epochs > 0 else total_steps
        self.warmup = round(tc.warmup_epochs * self.steps_per_epoch)
        with torch.no_grad():
            self.host = EmbeddingTable.create(model.entity.data.to("cpu").contiguous(), tc.optimizer)
            self.relations = EmbeddingTable.create(model.relation.data.to(device).contiguous(), tc.optimizer)
        self.generator = torch.Generator().manual_seed(tc.seed)
        self.ranks = None
        if dist.is_initialized() and dist.get_world_size() > 1:  # launched by torchrun: buckets over the ranks
            from .distributed import RankBuckets

            self.ranks = RankBuckets(self, dist.get_rank(), dist.get_world_size())
        self._place()

    def _place(self) -> None:
        """Where the entity rows train: in place on the CPU, the whole table on the device, or per episode."""
        if self.ranks is not None:
            self.on_device = None
            return
        single = self.plan.num_partitions == 1 and self.device.type == "cpu"
        self.on_device = self.host if single else None
        if self.plan.num_partitions == 1 and not single:  # one partition: on the device for the whole run
            self.on_device = self.host.gather(torch.arange(self.model.num_entities), self.device)

    def run(self, epoch: int) -> dict[str, Any]:
        """One epoch over the buckets in a shuffled order: ``{"loss", "lr", "step"}``."""
        if self.ranks is not None:  # partitioned over the ranks of a torchrun group
            return self.ranks.run_epoch(self, epoch)
        total, steps, lr = 0.0, 0, self.cfg.train.lr
        keys = list(self.buckets)
        order = torch.randperm(len(keys), generator=self.generator).tolist() if len(keys) > 1 else [0]
        for index in order:
            i, j = keys[index]
            bucket = self.buckets[(i, j)]
            rows, head_range, tail_range = episode_rows(self.plan, i, j)
            if self.on_device is not None:
                table, local = self.on_device, bucket[:, :3]
            else:
                table, local = self.host.gather(rows, self.device), localize(bucket[:, :3], self.plan, i, j)
            loss, count, lr = self.train_bucket(bucket, local, table, head_range, tail_range)
            total, steps = total + loss, steps + count
            if self.on_device is None:
                self.host.scatter_(rows, table)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{total / max(1, steps):.4f}")
        return {"loss": total / max(1, steps), "lr": lr, "step": self.step}

    def train_bucket(self, bucket: torch.Tensor, local: torch.Tensor, table: EmbeddingTable,
                     head_range: tuple[int, int], tail_range: tuple[int, int],
                     global_step: Callable[[int], int] | None = None) -> tuple[float, int, float]:
        """The batches of one bucket (``local``: its triples in ``table``'s row ids): ``(summed loss, batches,
        last lr)``. ``global_step(k)`` numbers batch ``k`` for the schedule (default: this trainer's count)."""
        tc = self.cfg.train
        total, lr = 0.0, tc.lr
        perm = torch.randperm(bucket.shape[0], generator=self.generator)
        batches = range(0, bucket.shape[0], tc.batch_size)
        for k, start in enumerate(batches):
            index_rows = perm[start:start + tc.batch_size]
            self.step += 1
            step = global_step(k) if global_step is not None else self.step
            lr = learning_rate(step - 1, self.decay_steps, lr=tc.lr, schedule=tc.lr_schedule,
                               warmup_steps=self.warmup, min_factor=tc.lr_min_factor,
                               step_every=tc.lr_step_epochs * self.steps_per_epoch, gamma=tc.lr_gamma)
            weight = self.weights[bucket[index_rows, 3]] if self.weights is not None else None
            loss = train_step(self.model.interaction, table, self.relations, local[index_rows], self.opts, lr=lr,
                              step=step, generator=self.generator, head_range=head_range,
                              tail_range=tail_range, head_prob=self.head_prob, weight=weight)
            if not math.isfinite(loss):
                raise GraphscaleError(f"kg train: expected a finite loss, got {loss} at step {step}. "
                                      "Lower train.lr or add regularisation.")
            total += loss
            if self.bar is not None:
                self.bar.update(1)
        return total, len(batches), lr

    def write_back(self) -> None:
        """The trained tables into the model's parameters (on the CPU; assembled from every rank's)."""
        host = EmbeddingTable(self.ranks.assemble()) if self.ranks is not None else self.host
        _write_back(self.model, host, self.on_device, self.relations)

    def state(self) -> dict[str, Any]:
        if self.ranks is not None:  # this rank's home partitions only (a shard)
            return {**self.ranks.state(), "relation": self.relations.weight.to("cpu"),
                    "relation_state": {k: v.to("cpu") for k, v in self.relations.state.items()}, "step": self.step}
        table = self.on_device if self.on_device is not None else self.host
        return {"entity": table.weight.to("cpu"), "entity_state": {k: v.to("cpu") for k, v in table.state.items()},
                "relation": self.relations.weight.to("cpu"),
                "relation_state": {k: v.to("cpu") for k, v in self.relations.state.items()}, "step": self.step}

    def load(self, state: dict[str, Any], epoch: int) -> None:
        del epoch
        if self.ranks is not None:
            self.ranks.load(state)
        else:
            self.host = EmbeddingTable(state["entity"], state["entity_state"])
        self.relations = EmbeddingTable(state["relation"].to(self.device),
                                        {k: v.to(self.device) for k, v in state["relation_state"].items()})
        self.step = int(state["step"])
        self._place()


def _write_back(model: KGEModel, host: EmbeddingTable, on_device: EmbeddingTable | None,
                relations: EmbeddingTable) -> None:
    with torch.no_grad():
        source = on_device.weight if on_device is not None else host.weight
        model.entity.data = source.detach().to("cpu").clone()
        model.relation.data = relations.weight.detach().to("cpu").clone()
