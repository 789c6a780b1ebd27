"""Cora, CiteSeer and PubMed with the public Planetoid split (Yang et al., ICML 2016).

Files (folder ``planetoid/``): ``ind.<name>.{x,y,tx,ty,allx,ally,graph}`` are Python 2 pickles read with the
restricted unpickler of ``io.py``; ``ind.<name>.test.index`` is text. Node order follows the Kipf & Welling GCN
loader: features ``vstack(allx, tx)`` with the rows of ``tx`` moved to the positions in ``test.index``;
CiteSeer's 15 test ids without a row get zero features and label ``-1``. Split: train = the first
``len(y)`` nodes (140 / 120 / 60), val = the next 500, test = the 1000 ids of ``test.index``. The graph is
made undirected, duplicates merged and self loops removed (Cora: 10,556 directed edges, CiteSeer: 9,104,
PubMed: 88,648, as in PyTorch Geometric).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import DatasetError
from .base import NodeDataset
from .io import data_root, load_pickle, read_text, require_files
from .parse import simple_undirected

NAMES = ("cora", "citeseer", "pubmed")
PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
FOLDER = "planetoid"
URL = "https://github.com/kimiyoung/planetoid/raw/master/data/ind.{name}.{part}"
NUM_VAL = 500
CITATION = ("Z. Yang, W. W. Cohen, R. Salakhutdinov, Revisiting Semi-Supervised Learning with Graph Embeddings, "
            "ICML 2016; split and preprocessing of T. N. Kipf, M. Welling, ICLR 2017")


def file_names(name: str) -> list[str]:
    """The eight file names of Planetoid dataset ``name``."""
    return [f"ind.{name}.{part}" for part in PARTS]


def urls(name: str) -> dict[str, str]:
    """Canonical download URL of every file of ``name`` (kimiyoung/planetoid on GitHub)."""
    return {f"ind.{name}.{part}": URL.format(name=name, part=part) for part in PARTS}


def _dense(matrix: object, file: str) -> np.ndarray:
    if sp.issparse(matrix):
        return np.asarray(matrix.todense())  # type: ignore[union-attr]
    if isinstance(matrix, np.ndarray):
        return matrix
    raise DatasetError(f"{file}: expected a scipy sparse matrix or numpy array, got {type(matrix).__name__}. "
                       "Replace the file with the published copy.")


def load_planetoid(name: str, root: str | Path | None = None, *, normalize_features: bool = True,
                   download: bool = False) -> NodeDataset:
    """Load Cora, CiteSeer or PubMed with the public split.

    Args:
        name: "cora", "citeseer" or "pubmed".
        root: Data root holding ``planetoid/`` (default: ``$GRAPHSCALE_DATA`` or ``~/.cache/graphscale``).
        normalize_features: Divide every feature row by its sum (the GCN paper's preprocessing).
        download: Fetch missing files from kimiyoung/planetoid.

    Returns:
        NodeDataset with ``[N]`` train/val/test masks; ``y = -1`` for nodes without a label.

    Shapes:
        x: ``[N, F]`` float32 (Cora 2708 x 1433, CiteSeer 3327 x 3703, PubMed 19717 x 500); y: ``[N]`` int64.

    Raises:
        DatasetError: A file is missing (e.g. ``ind.pubmed.allx``, which the shared copy lacks) or malformed.
    """
    name = name.lower()
    if name not in NAMES:
        raise DatasetError(f"load_planetoid: expected name in {NAMES}, got {name!r}.")
    folder = data_root(root) / FOLDER
    paths = require_files(folder, file_names(name), urls(name), download=download, dataset=name)
    objects = {part: load_pickle(paths[f"ind.{name}.{part}"]) for part in PARTS[:-1]}
    index_file = paths[f"ind.{name}.test.index"]
    try:
        test_index = np.array(read_text(index_file).split(), dtype=np.int64)
    except ValueError as err:
        raise DatasetError(f"{index_file.name}: expected one integer node id per line, got {err}. "
                           "Replace the file with the published copy.") from err

    allx, tx = (objects[p] for p in ("allx", "tx"))
    ally, ty = (_dense(objects[p], f"ind.{name}.{p}") for p in ("ally", "ty"))
    num_train = int(_dense(objects["y"], f"ind.{name}.y").shape[0])
    test_sorted = np.sort(test_index)
    low, high = int(test_sorted[0]), int(test_sorted[-1])
    num_nodes = int(allx.shape[0]) + high - low + 1
    if tx.shape[0] != test_index.size or ty.shape[0] != test_index.size or allx.shape[0] != ally.shape[0]:
        raise DatasetError(f"ind.{name}: expected tx/ty with one row per test id ({test_index.size}) and allx/ally "
                           f"of equal length, got tx {tx.shape}, ty {ty.shape}, allx {allx.shape}, ally "
                           f"{ally.shape}. Replace the files with the published copies.")
    if low != allx.shape[0]:
        raise DatasetError(f"ind.{name}.test.index: expected the smallest test id to equal the allx row count "
                           f"{allx.shape[0]}, got {low}. Replace the file with the published copy.")

    # Rows of tx sit at test ids; ids inside [low, high] without a tx row (CiteSeer) stay zero.
    place = sp.csr_matrix((np.ones(test_index.size, dtype=np.float32), (test_sorted - low, np.arange(test_index.size))),
                          shape=(high - low + 1, test_index.size))
    tx_full = place @ sp.csr_matrix(tx, dtype=np.float32)  # row i of tx at test_sorted[i] - low
    ty_full = np.zeros((high - low + 1, ty.shape[1]), dtype=ty.dtype)
    ty_full[test_sorted - low] = ty
    features = sp.vstack([sp.csr_matrix(allx, dtype=np.float32), tx_full]).tocsr()
    onehot = np.vstack([ally, ty_full])
    order = np.arange(num_nodes)
    order[test_index] = test_sorted  # Kipf & Welling: features[test_index] = features[test_sorted]
    features = features[order]
    onehot = onehot[order]

    if normalize_features:  # on the sparse matrix: rows divided by their sum, zero rows stay zero
        row_sum = np.asarray(features.sum(1), dtype=np.float64).ravel()
        scale = np.divide(1.0, row_sum, out=np.zeros_like(row_sum), where=row_sum > 0)
        features = sp.diags(scale.astype(np.float32)) @ features
    x = torch.from_numpy(features.toarray().astype(np.float32, copy=False))
    labelled = onehot.sum(1) > 0
    y = torch.from_numpy(np.where(labelled, onehot.argmax(1), -1).astype(np.int64))

    graph_dict = objects["graph"]
    if not isinstance(graph_dict, dict):
        raise DatasetError(f"ind.{name}.graph: expected a dict of neighbour lists, got "
                           f"{type(graph_dict).__name__}. Replace the file with the published copy.")
    src = np.fromiter((int(u) for u, nbrs in graph_dict.items() for _ in nbrs), dtype=np.int64)
    dst = np.fromiter((int(v) for nbrs in graph_dict.values() for v in nbrs), dtype=np.int64)
    graph, counts = simple_undirected(src, dst, num_nodes)

    masks = [torch.zeros(num_nodes, dtype=torch.bool) for _ in range(3)]
    masks[0][:num_train] = True
    masks[1][num_train:num_train + NUM_VAL] = True
    masks[2][torch.from_numpy(test_index)] = True
    return NodeDataset(
        name=name, graph=graph, x=x, y=y, num_classes=int(onehot.shape[1]),
        train_mask=masks[0], val_mask=masks[1], test_mask=masks[2],
        meta={"source": "kimiyoung/planetoid", "folder": str(folder), "citation": CITATION,
              "split": f"public Planetoid split: train {num_train}, val {NUM_VAL}, test {test_index.size}",
              "normalize_features": normalize_features, "unlabelled_nodes": int((~labelled).sum()), **counts},
    )
