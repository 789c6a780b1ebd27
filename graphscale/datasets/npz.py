"""Amazon Computers / Photo and Coauthor CS / Physics in the gnn-benchmark ``.npz`` format (Shchur et al., 2018).

One ``.npz`` per dataset, read with ``allow_pickle=False`` (the object arrays ``node_names`` /
``attr_names`` / ``class_names`` are never touched): the adjacency as CSR parts ``adj_data``,
``adj_indices``, ``adj_indptr``, ``adj_shape``; features as ``attr_data`` / ``attr_indices`` /
``attr_indptr`` / ``attr_shape`` (or a dense ``attr_matrix``); ``labels`` ``[N]`` integer class ids (or
``labels_data`` / ``labels_indices`` / ``labels_indptr`` / ``labels_shape`` one-hot rows). The graph is made
undirected (duplicates merged, self loops removed). No split is published; as in Shchur et al. a seeded
per-class split is made: 20 training and 30 validation nodes per class, the rest is test.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import DatasetError
from .base import NodeDataset, per_class_split
from .io import data_root, require_files
from .parse import simple_undirected

URL = "https://github.com/shchur/gnn-benchmark/raw/master/data/npz/{file}"
FILES = {
    "amazon-computers": "amazon_electronics_computers.npz",
    "amazon-photo": "amazon_electronics_photo.npz",
    "coauthor-cs": "ms_academic_cs.npz",
    "coauthor-physics": "ms_academic_phy.npz",
}
CITATION = ("O. Shchur, M. Mumme, A. Bojchevski, S. Günnemann, Pitfalls of Graph Neural Network Evaluation, "
            "NeurIPS R2L workshop 2018")


def _csr(arrays: np.lib.npyio.NpzFile, prefix: str, path: Path) -> sp.csr_matrix:
    keys = [f"{prefix}_{part}" for part in ("data", "indices", "indptr", "shape")]
    missing = [k for k in keys if k not in arrays.files]
    if missing:
        raise DatasetError(f"{path.name}: expected arrays {keys}, got {sorted(arrays.files)} (missing {missing}). "
                           "Is this a gnn-benchmark .npz file?")
    data, indices, indptr, shape = (np.asarray(arrays[k]) for k in keys)
    try:
        return sp.csr_matrix((data, indices, indptr), shape=tuple(int(s) for s in shape))
    except ValueError as err:
        raise DatasetError(f"{path.name}: expected consistent {prefix}_* CSR arrays, got {err}. "
                           "Replace the file with the published copy.") from err


def _arrays(arrays: Any, path: Path) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    adjacency = _csr(arrays, "adj", path)
    if "attr_matrix" in arrays.files:
        features = np.asarray(arrays["attr_matrix"], dtype=np.float32)
    else:
        features = _csr(arrays, "attr", path).toarray().astype(np.float32)
    if "labels" in arrays.files:
        labels = np.asarray(arrays["labels"]).astype(np.int64).ravel()
    elif "labels_data" in arrays.files:
        onehot = _csr(arrays, "labels", path)
        labels = np.where(np.asarray(onehot.sum(1)).ravel() > 0, np.asarray(onehot.argmax(1)).ravel(), -1)
    else:
        raise DatasetError(f"{path.name}: expected a 'labels' array, got {sorted(arrays.files)}.")
    return adjacency, features, labels


def read_npz(path: Path) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """``(adjacency [N, N] CSR, features [N, F] float32, labels [N] int64)`` of a gnn-benchmark file."""
    unreadable = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
    try:
        arrays = np.load(path, allow_pickle=False)
        with arrays:
            adjacency, features, labels = _arrays(arrays, path)
    except DatasetError:
        raise
    except unreadable as err:  # not a zip, truncated, or a corrupt compressed member
        raise DatasetError(f"{path.name}: expected a gnn-benchmark .npz file, got {type(err).__name__}: "
                           f"{err}. Replace the file with the published copy.") from None
    n = adjacency.shape[0]
    if adjacency.shape != (n, n) or features.shape[0] != n or labels.shape[0] != n:
        raise DatasetError(f"{path.name}: expected a square adjacency and one feature row and label per node, got "
                           f"adjacency {adjacency.shape}, features {features.shape}, labels {labels.shape}.")
    return adjacency, features, labels


def load_npz(path: str | Path, *, name: str | None = None, num_train_per_class: int = 20,
             num_val_per_class: int = 30, seed: int = 0) -> NodeDataset:
    """Load a gnn-benchmark ``.npz`` file with a seeded per-class split.

    Shapes:
        x: ``[N, F]`` float32; y: ``[N]`` int64 (``-1`` = unlabelled); masks: ``[N]`` bool.
    """
    path = Path(path)
    adjacency, features, labels = read_npz(path)
    coo = adjacency.tocoo()
    graph, counts = simple_undirected(coo.row, coo.col, adjacency.shape[0])
    y = torch.from_numpy(labels)
    num_classes = int(labels.max()) + 1 if (labels >= 0).any() else 0
    train, val, test = per_class_split(y, num_train_per_class, num_val_per_class, seed=seed)
    return NodeDataset(
        name=name or path.stem, graph=graph, x=torch.from_numpy(features), y=y, num_classes=num_classes,
        train_mask=train, val_mask=val, test_mask=test,
        meta={"file": path.name, "citation": CITATION, "self_loops": "removed",
              "split": f"per_class_split({num_train_per_class} train, {num_val_per_class} val per class, "
                       f"seed={seed}); the rest is test", **counts},
    )


def load_npz_named(name: str, root: str | Path | None = None, *, download: bool = False, **options: int) -> NodeDataset:
    """Load a registered gnn-benchmark dataset from ``<root>/<name>/<file>.npz``."""
    file = FILES[name]
    folder = data_root(root) / name
    paths = require_files(folder, [file], {file: URL.format(file=file)}, download=download, dataset=name)
    return load_npz(paths[file], name=name, **options)
