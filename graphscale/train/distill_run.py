"""The ``load -> train teacher -> distill -> time -> save`` life cycle behind ``graphscale distill``.

Output folder (``output.dir``, default ``runs/distill-<dataset>-<teacher>-<student>[-<method>]``)::

    config.yaml      the resolved config (re-run it with --config)
    metrics.json     summary: teacher_acc, student_acc, baseline_acc (mlp_acc for an MLP student), their stds and
                     per-seed lists, the inference timing, and the three trainers' summaries
    teacher/         checkpoints/run<i>.pt of the teacher runs (the node trainer's)
    student/         checkpoints/run<i>.pt of the distilled student runs
    baseline/        checkpoints/run<i>.pt of the student trained without a teacher
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch

from ..compress.distill import inference_nodes, inference_times
from ..config import dump
from ..config.distill import DistillConfig
from ..config.registry import normalize_key
from ..datasets.base import NodeDataset
from ..errors import ConfigError
from ..nn.models import ConvStack
from .checkpoint import write_text_atomic
from .distill import check_config, train_distill
from .metrics import peak_memory_mb
from .plot import save_json
from .run import check_trainable, dataset_label, load_dataset
from .runtime import output_folder, resolve_device, run_folder

ARTIFACTS = ("config.yaml", "metrics.json", "teacher", "student", "baseline")
PER_MODEL = ("test_acc", "test_acc_std", "val_acc", "val_acc_std", "epoch_time_s")


def run_name(cfg: DistillConfig, dataset_name: str | None = None) -> str:
    """``distill-<dataset>-<teacher>-<student>[-<method>]`` (no method part for kd)."""
    method = "" if cfg.distill.method == "kd" else f"-{cfg.distill.method}"
    return (f"distill-{dataset_label(dataset_name or cfg.data.dataset)}-{normalize_key(cfg.model.name)}-"
            f"{normalize_key(cfg.student.name)}{method}")


def teacher_fanouts(cfg: DistillConfig, teacher: torch.nn.Module) -> list[int]:
    """``distill.inference_fanouts``, or every neighbour at each of the teacher's hops.

    Raises:
        ConfigError: A teacher that is not a stack of message-passing layers (no blocks to fetch), or fanouts of
            another length than its layers.
    """
    if not isinstance(teacher, ConvStack):
        raise ConfigError(f"distill.inference_repeats: expected a teacher made of message-passing layers (gcn, sage, "
                          f"gat, gin ...) to time with a neighbourhood fetch, got {type(teacher).__name__}"
                          f"{cfg.where('distill.inference_repeats')}. Set distill.inference_repeats=0.")
    fanouts = cfg.distill.inference_fanouts or [-1] * len(teacher.convs)
    if len(fanouts) != len(teacher.convs):
        raise ConfigError(f"distill.inference_fanouts: expected {len(teacher.convs)} values (one per teacher layer), "
                          f"got {fanouts}{cfg.where('distill.inference_fanouts')}.")
    return list(fanouts)


def time_inference(cfg: DistillConfig, data: NodeDataset, teacher: torch.nn.Module,
                   student: torch.nn.Module) -> dict[str, Any]:
    """:func:`~graphscale.compress.distill.inference_times` of the run-0 teacher and student on
    ``distill.inference_nodes`` random nodes (on the CPU), or ``{}`` when ``distill.inference_repeats`` is 0."""
    if cfg.distill.inference_repeats == 0:
        return {}
    teacher = copy.deepcopy(teacher).cpu()
    fanouts = teacher_fanouts(cfg, teacher)
    nodes = inference_nodes(data.num_nodes, cfg.distill.inference_nodes, seed=cfg.train.seed)
    return inference_times(teacher, student.cpu(), data.graph, data.x.float(), nodes, fanouts,
                           repeats=cfg.distill.inference_repeats, seed=cfg.train.seed)


def summary_of(cfg: DistillConfig, result: dict[str, Any], timing: dict[str, Any]) -> dict[str, Any]:
    """The flat summary of ``graphscale distill``: per model (teacher, student, baseline) its accuracies and
    per-seed test accuracies; ``mlp_acc`` mirrors ``baseline_acc`` for an MLP student."""
    out: dict[str, Any] = {"method": cfg.distill.method, "teacher": cfg.model.name, "student": cfg.student.name,
                           "student_hidden": cfg.student.hidden_dim, "seeds": cfg.train.seeds}
    for role in ("teacher", "student", "baseline"):
        part = result[role]
        out.update({f"{role}_{key.replace('test_', '')}": part.get(key) for key in PER_MODEL})
        out[f"{role}_per_seed"] = [r["test_acc"] for r in part["runs"]]
    if cfg.student.name == "mlp":
        out.update(mlp_acc=out["baseline_acc"], mlp_acc_std=out["baseline_acc_std"],
                   mlp_per_seed=out["baseline_per_seed"])
    out["gap"] = out["teacher_acc"] - out["student_acc"]
    out["gain_over_baseline"] = out["student_acc"] - out["baseline_acc"]
    expected = cfg.expected
    if expected.max_gap is not None:
        out.update(max_gap=expected.max_gap, reached_target=bool(out["gap"] <= expected.max_gap))
    for key in ("paper_teacher_acc", "paper_student_acc", "paper_baseline_acc"):
        if getattr(expected, key) is not None:
            out[key] = getattr(expected, key)
    return {**out, **timing}


def run_distill(cfg: DistillConfig, resume: bool = False, progress: bool = True, overwrite: bool = False,
                dataset: NodeDataset | None = None) -> dict[str, Any]:
    """Load the dataset, train teachers, students and baselines, time inference, write the output folder.

    Returns:
        The summary written to ``metrics.json`` (flat figures first, then ``details`` with the three trainers'
        summaries without their curves).

    Raises:
        ConfigError: See :func:`graphscale.train.distill.train_distill`; a graph-classification dataset.
        DatasetError: A dataset without labels or split.
    """
    device = resolve_device(cfg.train.device)
    check_config(cfg)
    ds = dataset if dataset is not None else load_dataset(cfg)
    if not isinstance(ds, NodeDataset):
        raise ConfigError(f"data.dataset: expected a node-classification dataset, got {ds.name!r} (graph "
                          f"classification){cfg.where('data.dataset')}. Distillation runs on node datasets.")
    check_trainable(ds)
    out = run_folder(cfg.output.dir, run_name(cfg, ds.name), ARTIFACTS, resume)
    with output_folder(out, ARTIFACTS, resume=resume, overwrite=overwrite):
        write_text_atomic(dump(cfg), out / "config.yaml")
        began = time.perf_counter()
        result = train_distill(cfg, ds, device, out, resume=resume, progress=progress)
        train_time = time.perf_counter() - began
        timing = time_inference(cfg, result["data"], result["teachers"][0].model, result["student_model"])
        summary = {"dataset": dataset_label(ds.name), "task": "distill", **summary_of(cfg, result, timing),
                   "train_time_s": train_time, "peak_rss_mb": peak_memory_mb("cpu"),
                   "peak_memory_mb": peak_memory_mb(device), "device": str(device), "output_dir": str(out),
                   "num_nodes": ds.num_nodes, "num_edges": ds.graph.num_edges}
        details = {role: {k: v for k, v in result[role].items() if k != "curves"}
                   for role in ("teacher", "student", "baseline")}
        save_json({**summary, "details": details}, out / "metrics.json")
        return summary


__all__ = ["ARTIFACTS", "run_distill", "run_name", "summary_of", "time_inference"]
