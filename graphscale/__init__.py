"""graphscale: graph learning at scale on PyTorch (GNNs, samplers, graph and KG embeddings)."""

from __future__ import annotations

import os

# numba's and torch's OpenMP pools take turns (sampler / SpMM kernels, then dense ops): idle threads that
# spin-wait steal the cores the other pool needs (epochs measured 7-12x slower on 2 busy cores). Threads
# sleep at once instead; only effective before torch is first imported. Set OMP_WAIT_POLICY to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _numba_cache_dir() -> None:
    """Compiled kernels go to the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, then
    ``graphscale/numba``), compiled once per machine and shared by every install, instead of into the package
    folder (read-only in many installs, and lost with it). ``NUMBA_CACHE_DIR`` set by the user wins."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    from pathlib import Path

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphscale" / "numba"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    if os.access(base, os.W_OK):
        os.environ["NUMBA_CACHE_DIR"] = str(base)
        import sys

        if "numba" in sys.modules:  # imported before graphscale: its config already read the environment
            sys.modules["numba"].config.CACHE_DIR = str(base)


_numba_cache_dir()

import random

import numpy as np
import torch

from . import errors
from .errors import (
    ConfigError,
    DatasetError,
    GraphFormatError,
    GraphscaleError,
    GraphscaleWarning,
    SamplingError,
    ShapeError,
)
from .graph import (
    BatchedGraph,
    Block,
    Graph,
    add_self_loops,
    batch,
    check_node_features,
    gcn_norm,
    remove_self_loops,
    reverse,
    subgraph,
    to_block,
    to_undirected,
    unbatch,
)
from .graph.transform import coalesce, edge_subgraph
from .saga import Edges, edge_softmax, fn, saga, scatter_reduce, segment_reduce, segment_softmax

__version__ = "0.1.0"

_LAZY_SUBMODULES = ("nn", "datasets", "config", "train", "sampling", "loader", "scale", "embed", "kge")


def __getattr__(name: str):
    """Import heavier subpackages (``gs.nn``, ``gs.datasets`` ...) on first access."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'graphscale' has no attribute {name!r}")


def seed(value: int) -> None:
    """Seed Python, NumPy, torch and numba (numba's per-thread generators follow ``np.random.seed``
    when called inside a jitted function; graphscale's samplers take explicit seeds)."""
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    try:
        from .saga.kernels.cpu import seed_numba

        seed_numba(value)
    except ImportError:  # pragma: no cover - numba is a hard dependency
        pass


__all__ = [
    "BatchedGraph",
    "Block",
    "ConfigError",
    "DatasetError",
    "Edges",
    "Graph",
    "GraphFormatError",
    "GraphscaleError",
    "GraphscaleWarning",
    "SamplingError",
    "ShapeError",
    "__version__",
    "add_self_loops",
    "batch",
    "check_node_features",
    "coalesce",
    "config",
    "datasets",
    "edge_softmax",
    "edge_subgraph",
    "errors",
    "fn",
    "gcn_norm",
    "nn",
    "remove_self_loops",
    "reverse",
    "saga",
    "scatter_reduce",
    "seed",
    "segment_reduce",
    "segment_softmax",
    "subgraph",
    "to_block",
    "to_undirected",
    "train",
    "unbatch",
]
