"""Training loop of ``graphscale kg``: epochs over (buckets of) triples, schedules, checkpoints and ``--resume``.

With ``train.partitions = 1`` the whole entity table trains in place on the device. With ``P > 1`` the
epoch walks the ``P x P`` buckets of :mod:`graphscale.kge.partition`; each episode moves two entity
partitions (weights and optimiser state) to the device and back, so the device holds ``2 / P`` of the table.

A checkpoint (``checkpoints/last.pt``, written atomically) holds the tables, the optimiser state, the
generator state, the epoch and the history; ``resume=True`` continues from it bit for bit (same config,
same thread count). ``train.max_time_s`` ends a run early at an epoch boundary with a checkpoint, so a long
training can be done in pieces. ``progress.jsonl`` is cut back to the checkpoint's epochs when a run starts, so
after a kill and ``--resume`` it lists every epoch once.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..errors import ConfigError, GraphscaleError
from ..train.checkpoint import load_checkpoint, save_atomic, write_text_atomic
from ..train.plot import clean_json
from ..config import to_dict
from .config import KGConfig
from .model import KGEModel
from .optim import EmbeddingTable, learning_rate
from .partition import bucketize, episode_rows, localize, plan_partitions
from .step import StepOptions, train_step
from .triples import add_reciprocal, bernoulli_head_probability

CHECKPOINT_FORMAT = "graphscale-kg-1"


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
    return {"data": data_section, "model": data["model"], "train": train}


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
          validate: Callable[[KGEModel], dict[str, float]] | None = None) -> dict[str, Any]:
    """Train ``model`` on ``triples`` (train split, original relation ids) as ``cfg.train`` says.

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

    Returns:
        ``{"epochs_done", "steps", "train_time_s", "triples_per_s", "history", "complete"}``.
    """
    _check(cfg)
    tc = cfg.train
    opts = StepOptions(negatives=tc.negatives, negative_mode=tc.negative_mode, loss=tc.loss,
                       adversarial_temperature=tc.adversarial_temperature, margin=tc.margin,
                       regularizer=tc.regularizer, regularization=tc.regularization, optimizer=tc.optimizer,
                       tail_only=model.reciprocal)
    num_relations = model.num_relations
    if model.reciprocal:
        triples = add_reciprocal(triples, num_relations)
    head_prob = bernoulli_head_probability(triples, num_relations * (2 if model.reciprocal else 1)) \
        if tc.corruption == "bernoulli" else None
    weights = subsampling_weights(triples, num_relations * (2 if model.reciprocal else 1)) if tc.subsampling else None
    plan = plan_partitions(model.num_entities, tc.partitions, tc.seed)
    buckets = bucketize(torch.cat([triples, torch.arange(triples.shape[0]).unsqueeze(1)], dim=1), plan)
    steps_per_epoch = sum(math.ceil(b.shape[0] / tc.batch_size) for b in buckets.values())
    total_steps = steps_per_epoch * tc.epochs
    decay_steps = steps_per_epoch * tc.lr_decay_epochs if tc.lr_decay_epochs > 0 else total_steps
    warmup = round(tc.warmup_epochs * steps_per_epoch)

    optimizer = tc.optimizer
    with torch.no_grad():
        host_entities = EmbeddingTable.create(model.entity.data.to("cpu").contiguous(), optimizer)
        relations = EmbeddingTable.create(model.relation.data.to(device).contiguous(), optimizer)
    generator = torch.Generator().manual_seed(tc.seed)
    state = {"epoch": 0, "step": 0, "train_time_s": 0.0, "history": []}
    ckpt_path = Path(out_dir) / "checkpoints" / "last.pt" if out_dir is not None else None
    if resume and ckpt_path is not None:
        saved = load_checkpoint(ckpt_path)
        if saved is not None:
            saved_print = saved.get("fingerprint")
            same = isinstance(saved_print, dict) and "train" in saved_print and \
                fingerprint(saved_print) == fingerprint(cfg)
            if saved.get("format") != CHECKPOINT_FORMAT or not same:
                raise GraphscaleError(f"checkpoint '{ckpt_path}': expected one written with the same data, model "
                                      "and train settings, got a different config. Run without --resume (starts "
                                      "over) or restore the original settings.")
            host_entities = EmbeddingTable(saved["entity"], saved["entity_state"])
            relations = EmbeddingTable(saved["relation"].to(device), {k: v.to(device) for k, v in
                                                                      saved["relation_state"].items()})
            generator.set_state(saved["generator"])
            state = {k: saved[k] for k in state}
    single = plan.num_partitions == 1 and device.type == "cpu"
    entities_device = host_entities if single else None
    if plan.num_partitions == 1 and not single:  # one partition: keep it on the device for the whole run
        entities_device = host_entities.gather(torch.arange(model.num_entities), device)

    log = None
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        truncate_progress(Path(out_dir) / "progress.jsonl", state["epoch"])  # drop epochs trained after the checkpoint
        log = (Path(out_dir) / "progress.jsonl").open("a", encoding="utf-8")
    bar = tqdm(total=total_steps, initial=state["step"], desc=f"kg {cfg.model.name}", disable=not progress,
               unit="step", file=sys.stderr)
    began = time.perf_counter()
    spent_before = state["train_time_s"]
    complete = True
    first_epoch = state["epoch"]
    try:
        for epoch in range(first_epoch, tc.epochs):
            if tc.max_time_s > 0 and spent_before + time.perf_counter() - began >= tc.max_time_s and \
                    epoch > first_epoch:
                complete = False
                break
            epoch_began, epoch_loss, epoch_steps = time.perf_counter(), 0.0, 0
            keys = list(buckets)
            bucket_order = torch.randperm(len(keys), generator=generator).tolist() if len(keys) > 1 else [0]
            for bucket_index in bucket_order:
                i, j = keys[bucket_index]
                bucket = buckets[(i, j)]
                rows, head_range, tail_range = episode_rows(plan, i, j)
                if entities_device is not None:
                    table = entities_device
                    local = bucket[:, :3]
                else:
                    table = host_entities.gather(rows, device)
                    local = localize(bucket[:, :3], plan, i, j)
                perm = torch.randperm(bucket.shape[0], generator=generator)
                for start in range(0, bucket.shape[0], tc.batch_size):
                    index = perm[start:start + tc.batch_size]
                    state["step"] += 1
                    lr = learning_rate(state["step"] - 1, decay_steps, lr=tc.lr, schedule=tc.lr_schedule,
                                       warmup_steps=warmup, min_factor=tc.lr_min_factor,
                                       step_every=tc.lr_step_epochs * steps_per_epoch, gamma=tc.lr_gamma)
                    batch_weight = weights[bucket[index, 3]] if weights is not None else None
                    loss = train_step(model.interaction, table, relations, local[index], opts, lr=lr,
                                      step=state["step"], generator=generator, head_range=head_range,
                                      tail_range=tail_range, head_prob=head_prob, weight=batch_weight)
                    if not math.isfinite(loss):
                        raise GraphscaleError(f"kg train: expected a finite loss, got {loss} at step "
                                              f"{state['step']}. Lower train.lr or add regularisation.")
                    epoch_loss += loss
                    epoch_steps += 1
                    bar.update(1)
                if entities_device is None:
                    host_entities.scatter_(rows, table)
            state["epoch"] = epoch + 1
            state["train_time_s"] = spent_before + time.perf_counter() - began
            record: dict[str, Any] = {"epoch": epoch + 1, "step": state["step"], "loss": epoch_loss / max(1,
                                      epoch_steps), "lr": lr, "epoch_time_s": time.perf_counter() - epoch_began,
                                      "train_time_s": state["train_time_s"]}
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            last = epoch + 1 == tc.epochs
            if validate is not None and tc.eval_every and ((epoch + 1) % tc.eval_every == 0 or last):
                _write_back(model, host_entities, entities_device, relations)
                valid_began = time.perf_counter()
                record["valid"] = validate(model)
                began += time.perf_counter() - valid_began  # validation is not training time
            state["history"].append(record)
            if log is not None:
                log.write(json.dumps(clean_json(record), allow_nan=False) + "\n")
                log.flush()
            every = cfg.output.checkpoint_every
            if ckpt_path is not None and (last or (every and (epoch + 1) % every == 0)):
                _write_back(model, host_entities, entities_device, relations)
                _save(ckpt_path, cfg, host_entities, entities_device, relations, generator, state)
            if on_epoch is not None:
                on_epoch(record)
    finally:
        bar.close()
        if log is not None:
            log.close()
    _write_back(model, host_entities, entities_device, relations)
    if not complete and ckpt_path is not None:
        _save(ckpt_path, cfg, host_entities, entities_device, relations, generator, state)
    seen = state["epoch"] * triples.shape[0]
    return {"epochs_done": state["epoch"], "steps": state["step"], "train_time_s": state["train_time_s"],
            "triples_per_s": seen / state["train_time_s"] if state["train_time_s"] > 0 else 0.0,
            "history": state["history"], "complete": complete and state["epoch"] >= tc.epochs,
            "steps_per_epoch": steps_per_epoch, "num_partitions": plan.num_partitions}


def _write_back(model: KGEModel, host: EmbeddingTable, on_device: EmbeddingTable | None,
                relations: EmbeddingTable) -> None:
    with torch.no_grad():
        source = on_device.weight if on_device is not None else host.weight
        model.entity.data = source.detach().to("cpu").clone()
        model.relation.data = relations.weight.detach().to("cpu").clone()


def _save(path: Path, cfg: KGConfig, host: EmbeddingTable, on_device: EmbeddingTable | None,
          relations: EmbeddingTable, generator: torch.Generator, state: dict[str, Any]) -> None:
    table = on_device if on_device is not None else host
    save_atomic({"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint(cfg),
                 "entity": table.weight.to("cpu"), "entity_state": {k: v.to("cpu") for k, v in table.state.items()},
                 "relation": relations.weight.to("cpu"),
                 "relation_state": {k: v.to("cpu") for k, v in relations.state.items()},
                 "generator": generator.get_state(), **state}, path)
