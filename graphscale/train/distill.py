"""Distillation training: the teacher through the node trainer, the student through the training engine.

For every seed ``i`` of ``train.seeds`` (seed ``train.seed + i``, the same split for all three models):

1. the teacher trains exactly as ``graphscale train`` trains it with the config's ``model`` and ``train``
   sections (:func:`graphscale.train.node.train_node`); its selected-epoch weights are read back from its run
   checkpoint and give the soft labels (logits on every node) and, for LSP / G-CRD, the hidden representations;
2. the student trains on :func:`graphscale.train.loop.fit` with the objective of ``distill.method``
   (:mod:`graphscale.compress.distill`): GLNN's ``lambda CE + (1 - lambda) T^2 KL`` (kd), plus ``beta`` times the
   LSP or G-CRD term on the hidden representations (lsp, gcrd);
3. the same student trains with the cross-entropy on the training labels alone (the no-teacher baseline).

Epochs are selected on validation accuracy for all three; test accuracy is read at the selected epoch. The
dataset's edge weights are dropped (teacher and student see the same unweighted graph).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import seed as seed_everything
from ..compress.distill import MLP, ProjectionHeads, draw_negatives, gcrd_loss, hidden_and_logits, kd_loss, lsp_loss
from ..config import ModelConfig, OutputConfig, RunConfig, TrainConfig
from ..config.distill import DistillConfig
from ..datasets.base import NodeDataset, normalize_features
from ..errors import ConfigError
from .checkpoint import load_checkpoint
from .loop import EpochHook, EpochSelector, Task, fit, run_seeds
from .node import (
    build_model,
    check_single_label,
    node_metrics,
    node_result,
    node_split,
    summarize,
    train_node,
    trainer_kind,
)
from .optim import build_optimizer
from .runtime import fingerprint

SPARSE_INPUT = 0.1  # an MLP student reads features with fewer non-zeros than this as a sparse matrix


def teacher_config(cfg: DistillConfig) -> RunConfig:
    """The ``graphscale train`` config of the teacher: ``model`` and ``train`` of ``cfg`` on its data (the
    features already normalised by :func:`prepared`, so ``normalize_features`` is off here)."""
    teacher = RunConfig(task="node", data=dataclasses.replace(cfg.data, normalize_features=False),
                        model=copy.deepcopy(cfg.model), train=copy.deepcopy(cfg.train),
                        output=OutputConfig(checkpoint_every=cfg.output.checkpoint_every, plot=False))
    teacher.locations.update(cfg.locations)
    return teacher


def check_config(cfg: DistillConfig) -> None:
    """Fail before loading data: a teacher the distillation cannot read back, an unknown student.

    Raises:
        ConfigError: A precomputed (SGC / SIGN) or embedding teacher, or an unknown student model.
    """
    from ..nn import models

    teacher = teacher_config(cfg)
    if trainer_kind(teacher) == "precomputed" or cfg.data.node_embedding:
        raise ConfigError(f"model.name: expected a message-passing teacher (gcn, sage, gat ...), got "
                          f"{cfg.model.name!r}{'' if not cfg.data.node_embedding else ' with data.node_embedding'}"
                          f"{cfg.where('model.name')}. Distill from a GNN whose full-graph forward gives every "
                          "node's logits.")
    if cfg.student.name != "mlp":
        models.NODE_MODELS.get(cfg.student.name, where=f"student.name{cfg.where('student.name')}")


def prepared(dataset: NodeDataset, cfg: DistillConfig) -> NodeDataset:
    """``dataset`` checked (single-label), without edge weights, rows normalised with ``data.normalize_features``."""
    check_single_label(dataset)
    data = dataclasses.replace(dataset, edge_weight=None)
    return normalize_features(data) if cfg.data.normalize_features else data


def build_student(cfg: DistillConfig, in_dim: int, out_dim: int) -> nn.Module:
    """The student of ``cfg.student``: :class:`~graphscale.compress.distill.MLP` or a registry node model."""
    s = cfg.student
    if s.name == "mlp":
        return MLP(in_dim, out_dim, hidden_dim=s.hidden_dim, num_layers=s.num_layers, dropout=s.dropout,
                   input_dropout=s.input_dropout)
    hparams = {"hidden_dim": s.hidden_dim, "num_layers": s.num_layers, "dropout": s.dropout,
               "input_dropout": s.input_dropout}
    probe = RunConfig(model=ModelConfig(name=s.name, hparams=hparams))
    probe.locations.update({k.replace("student.", "model.", 1): v for k, v in cfg.locations.items()})
    return build_model(probe, in_dim, out_dim)


@dataclasses.dataclass
class TeacherOutput:
    """One trained teacher's view of the graph: ``logits [N, C]``, ``hidden [N, H]`` (LSP / G-CRD) and the
    model itself (for the inference timing)."""

    logits: Tensor
    hidden: Tensor | None
    model: nn.Module


def teacher_outputs(cfg: DistillConfig, data: NodeDataset, folder: Path, device: torch.device) -> list[TeacherOutput]:
    """Rebuild every run's teacher from ``folder/checkpoints/run<i>.pt`` (its selected epoch) and compute its
    logits (and hidden layer) on the full graph in eval mode."""
    graph, x = data.graph.to(device), data.x.float().to(device)
    outputs = []
    for run in range(cfg.train.seeds):
        saved = load_checkpoint(folder / "checkpoints" / f"run{run}.pt", map_location=device)
        if saved is None or saved.get("model") is None:
            raise ConfigError(f"distill: expected the teacher checkpoint of run {run} in '{folder}', got none. Run "
                              "again without --resume.")
        model = build_model(teacher_config(cfg), data.num_features, data.num_classes).to(device)
        model.load_state_dict(saved["model"])
        model.eval()
        with torch.no_grad():
            if cfg.distill.method == "kd":
                hidden, logits = None, model(graph, x)
            else:
                hidden, logits = hidden_and_logits(model, graph, x)
        outputs.append(TeacherOutput(logits, hidden, model))
    return outputs


def objective(cfg: DistillConfig, logits: Tensor, hidden: Tensor | None, teacher: TeacherOutput | None,
              y: Tensor, train_mask: Tensor, graph: Any, heads: ProjectionHeads | None,
              generator: torch.Generator) -> Tensor:
    """The student's loss: the cross-entropy on the training nodes without a teacher; else :func:`kd_loss`
    (``lambda``, ``T``) plus ``beta`` times the LSP or G-CRD term."""
    if teacher is None:
        return F.cross_entropy(logits[train_mask], y[train_mask])
    d = cfg.distill
    loss = kd_loss(logits, teacher.logits, y, train_mask, temperature=d.temperature, label_weight=d.label_weight)
    if d.method == "lsp":
        loss = loss + d.feature_weight * lsp_loss(graph, hidden, teacher.hidden, kernel=d.lsp_kernel,
                                                  sigma=d.lsp_sigma)
    elif d.method == "gcrd":
        student_embedding, teacher_embedding = heads(hidden, teacher.hidden)
        negatives = draw_negatives(logits.shape[0], d.gcrd_negatives, generator, logits.device)
        loss = loss + d.feature_weight * gcrd_loss(student_embedding, teacher_embedding, negatives, tau=d.gcrd_tau)
    return loss


def student_run(cfg: DistillConfig, data: NodeDataset, device: torch.device, teacher: TeacherOutput | None, run: int,
                *, saved: dict[str, Any] | None = None, checkpoints: Any = None, bar: Any = None,
                on_epoch: EpochHook | None = None) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """One student run (seed ``train.seed + run``) on the training engine; ``teacher`` None trains the
    no-teacher baseline. Returns ``(result, curves)`` like the node trainers."""
    seed = cfg.train.seed + run
    seed_everything(seed)
    split_index, masks = node_split(data, run, seed, cfg.data.split)
    masks = tuple(m.to(device) for m in masks)
    graph, x, y = data.graph.to(device), data.x.float().to(device), data.y.long().to(device)
    student = build_student(cfg, data.num_features, data.num_classes).to(device)
    graph_in = None if isinstance(student, MLP) else graph
    method = cfg.distill.method if teacher is not None else "none"
    modules = nn.ModuleDict({"student": student})
    if method == "gcrd":
        width = hidden_and_logits(student, graph_in, x[:2] if graph_in is None else x)[0].shape[1]
        modules["heads"] = ProjectionHeads(width, teacher.hidden.shape[1], cfg.distill.gcrd_dim).to(device)
    optimizer = build_optimizer(modules, TrainConfig(lr=cfg.student.lr, weight_decay=cfg.student.weight_decay))
    if graph_in is None and float((x != 0).float().mean()) < SPARSE_INPUT:  # bag-of-words: multiply the non-zeros
        x = x.to_sparse().coalesce()
    generator = torch.Generator().manual_seed(seed)

    def train_epoch(epoch: int) -> dict[str, float]:
        optimizer.zero_grad(set_to_none=True)
        if method in ("lsp", "gcrd"):
            hidden, logits = hidden_and_logits(student, graph_in, x)
        else:
            hidden, logits = None, student(graph_in, x)
        loss = objective(cfg, logits, hidden, teacher, y, masks[0], graph, modules["heads"] if method == "gcrd"
                         else None, generator)
        loss.backward()
        optimizer.step()
        return {"train_loss": loss.item()}

    task = Task(modules, optimizer, None, train_epoch, lambda: node_metrics(student(graph_in, x), y, masks), device,
                selector=EpochSelector("val_acc", cfg.student.patience), generator=generator)
    if checkpoints is not None:
        checkpoints.header.update(seed=seed, split=split_index)
    return fit(task, cfg.student.epochs, lambda fitted: node_result(run, seed, split_index, fitted),
               checkpoints=checkpoints, saved=saved, bar=bar, tags={"run": run}, on_epoch=on_epoch)


def _students(cfg: DistillConfig, data: NodeDataset, device: torch.device, teachers: list[TeacherOutput] | None,
              out_dir: Path, resume: bool, progress: bool, on_epoch: EpochHook | None) -> dict[str, Any]:
    """``train.seeds`` student runs (with the teachers) or baseline runs (``teachers`` None), summarised."""
    kind = "distill-student" if teachers is not None else "distill-baseline"

    def one_run(run: int, saved: Any, checkpoints: Any, bar: Any) -> Any:
        teacher = teachers[run] if teachers is not None else None
        return student_run(cfg, data, device, teacher, run, saved=saved, checkpoints=checkpoints, bar=bar,
                           on_epoch=on_epoch)

    label = "student" if teachers is not None else "baseline"
    runs, curves = run_seeds(cfg.train.seeds, one_run, cfg=cfg, kind=kind, header={"config": fingerprint(cfg)},
                             out_dir=out_dir, resume=resume, epochs=cfg.student.epochs,
                             every=cfg.output.checkpoint_every, desc=f"distill {label} {cfg.student.name}",
                             progress=progress)
    return summarize(runs, curves, "none")


def trained_student(cfg: DistillConfig, data: NodeDataset, folder: Path) -> nn.Module:
    """The student of run 0 with its selected weights (from ``folder/checkpoints/run0.pt``), on the CPU."""
    student = build_student(cfg, data.num_features, data.num_classes)
    saved = load_checkpoint(folder / "checkpoints" / "run0.pt")
    if saved is not None and saved.get("model") is not None:
        student.load_state_dict({k.removeprefix("student."): v for k, v in saved["model"].items()
                                 if k.startswith("student.")})
    return student


def train_distill(cfg: DistillConfig, dataset: NodeDataset, device: torch.device, out_dir: Path,
                  resume: bool = False, progress: bool = True,
                  on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Teacher, student and baseline runs of ``cfg`` with their checkpoints under ``out_dir/{teacher,
    student, baseline}``; returns the three summaries, the teachers and the run-0 student (for the timing).

    Raises:
        ConfigError: See :func:`check_config`; multi-label data; a representation method with a teacher or
            student that does not expose its hidden layer.
    """
    check_config(cfg)
    data = prepared(dataset, cfg)
    teacher_summary = train_node(teacher_config(cfg), data, device, out_dir=out_dir / "teacher", resume=resume,
                                 progress=progress, on_epoch=on_epoch)
    teachers = teacher_outputs(cfg, data, out_dir / "teacher", device)
    student_summary = _students(cfg, data, device, teachers, out_dir / "student", resume, progress, on_epoch)
    baseline_summary = _students(cfg, data, device, None, out_dir / "baseline", resume, progress, on_epoch)
    return {"teacher": teacher_summary, "student": student_summary, "baseline": baseline_summary,
            "teachers": teachers, "student_model": trained_student(cfg, data, out_dir / "student"), "data": data}
