"""graphscale: graph learning at scale on PyTorch (GNNs, samplers, graph and KG embeddings)."""

from __future__ import annotations

import os
import sys

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

__version__ = "0.1.0"

_LAZY_SUBMODULES = ("nn", "datasets", "config", "train", "sampling", "loader", "scale", "embed", "kge", "interop",
                    "graph", "distributed")
# Names importable from graphscale, each loaded (with torch) on first use: `import graphscale` stays cheap, so the
# CLI's help and a command's argument errors answer at once.
_LAZY_NAMES = {
    **dict.fromkeys(("BatchedGraph", "Block", "Graph", "add_self_loops", "batch", "check_node_features", "gcn_norm",
                     "remove_self_loops", "reverse", "subgraph", "to_block", "to_undirected", "unbatch"), ".graph"),
    **dict.fromkeys(("coalesce", "edge_subgraph"), ".graph.transform"),
    **dict.fromkeys(("HeteroGraph",), ".graph.hetero"),
    **dict.fromkeys(("HeteroBlock",), ".graph.hetero_block"),
    **dict.fromkeys(("batch_hetero", "unbatch_hetero"), ".graph.hetero_batch"),
    **dict.fromkeys(("hetero_saga",), ".saga.hetero"),
    **dict.fromkeys(("Edges", "edge_softmax", "fn", "scatter_reduce", "segment_reduce", "segment_softmax"), ".saga"),
}


def __getattr__(name: str):
    """The graph and SAGA names, and the subpackages (``gs.nn``, ``gs.datasets`` ...), on first access."""
    import importlib

    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name], __name__), name)
    elif name in _LAZY_SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'graphscale' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES) | set(_LAZY_SUBMODULES))


class _Package(sys.modules[__name__].__class__):
    """``graphscale.saga`` is the function: importing the ``graphscale.saga`` subpackage binds the subpackage to
    that name in the package, which this keeps from hiding the function (the subpackage stays in sys.modules)."""

    @property
    def saga(self):
        from .saga import saga

        return saga

    @saga.setter
    def saga(self, value: object) -> None:
        pass


sys.modules[__name__].__class__ = _Package


def seed(value: int) -> None:
    """Seed Python, NumPy, torch and numba (numba's per-thread generators follow ``np.random.seed``
    when called inside a jitted function; graphscale's samplers take explicit seeds)."""
    import random

    import numpy as np
    import torch

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
    "HeteroBlock",
    "HeteroGraph",
    "SamplingError",
    "ShapeError",
    "__version__",
    "add_self_loops",
    "batch",
    "batch_hetero",
    "check_node_features",
    "coalesce",
    "config",
    "datasets",
    "edge_softmax",
    "edge_subgraph",
    "errors",
    "fn",
    "gcn_norm",
    "hetero_saga",
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
    "unbatch_hetero",
]
