"""Trainers: full-batch node classification, graph classification with CV, checkpoints and metrics.

The life cycle ``load -> build -> train -> evaluate -> save`` of one config is :func:`run`.
"""

from .checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from .common import build_optimizer, build_scheduler, first_layer_prefix, resolve_device
from .loop import EpochSelector, Task, fit
from .graph import train_graph
from .metrics import accuracy, mean_std, peak_memory_mb, peak_rss_mb
from .node import build_model, train_node
from .run import compact, load_dataset, output_dir, resolve_task, run

__all__ = [
    "run", "compact", "load_dataset", "output_dir", "resolve_task", "train_node", "train_graph", "build_model",
    "save_atomic", "load_checkpoint", "rng_state", "set_rng_state", "EpochSelector", "build_optimizer",
    "build_scheduler", "first_layer_prefix", "resolve_device", "accuracy", "mean_std", "peak_rss_mb",
    "peak_memory_mb", "Task", "fit",
]
