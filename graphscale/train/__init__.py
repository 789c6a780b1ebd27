"""Trainers: full-batch node classification, graph classification with CV, checkpoints and metrics.

The life cycle ``load -> build -> train -> evaluate -> save`` of one config is :func:`run`.
"""

from .checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from .graph import train_graph
from .loop import EpochSelector, Task, fit
from .metrics import accuracy, mean_std, peak_memory_mb, peak_rss_mb
from .node import build_model, train_node
from .optim import build_optimizer, build_scheduler, first_layer_prefix
from .run import compact, load_dataset, resolve_task, run, run_name
from .runtime import resolve_device

__all__ = [
    "EpochSelector",
    "Task",
    "accuracy",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "compact",
    "first_layer_prefix",
    "fit",
    "load_checkpoint",
    "load_dataset",
    "mean_std",
    "peak_memory_mb",
    "peak_rss_mb",
    "resolve_device",
    "resolve_task",
    "rng_state",
    "run",
    "run_name",
    "save_atomic",
    "set_rng_state",
    "train_graph",
    "train_node",
]
