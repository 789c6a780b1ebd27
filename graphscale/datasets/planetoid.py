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


def _shape(matrix: object, file: str) -> tuple[int, int]:
    shape = getattr(matrix, "shape", None)
    if not (sp.issparse(matrix) or isinstance(matrix, np.ndarray)) or shape is None or len(shape) != 2:
        raise DatasetError(f"{file}: expected a 2-D scipy sparse matrix or numpy array, got {type(matrix).__name__} "
                           f"of shape {shape}. Replace the file with the published copy.")
    return int(shape[0]), int(shape[1])


def _read_test_index(path: Path) -> np.ndarray:
    """``[T]`` int64 test ids of ``ind.<name>.test.index`` (one per line): non-empty, each id once."""
    numbers: list[int] = []
    tokens: list[str] = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        for token in line.split():
            numbers.append(number)
            tokens.append(token)
    if not tokens:
        raise DatasetError(f"{path.name}: expected one integer node id per line, got an empty file. "
                           "Replace the file with the published copy.")
    try:
        ids = np.array(tokens, dtype=np.int64)
    except (ValueError, OverflowError):
        bad = next(i for i, t in enumerate(tokens) if not t.lstrip("+-").isdigit() or abs(int(t)) >= 2**63)
        raise DatasetError(f"{path.name} line {numbers[bad]}: expected an integer node id, got {tokens[bad]!r}. "
                           "Replace the file with the published copy.") from None
    order = np.argsort(ids, kind="stable")
    repeated = np.nonzero(ids[order][1:] == ids[order][:-1])[0]
    if repeated.size:
        first, again = int(order[repeated[0]]), int(order[repeated[0] + 1])
        raise DatasetError(f"{path.name} line {numbers[again]}: expected each test id once, got {ids[again]} again "
                           f"(first on line {numbers[first]}). Replace the file with the published copy.")
    return ids


def _graph_edges(graph: object, file: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(src, dst, num_nodes)`` of the neighbour-list dict: ``[E]`` int64 each, ``num_nodes`` = largest id + 1,
    checked against the number of keys (one per node in the published files) before anything is allocated."""
    if not isinstance(graph, dict):
        raise DatasetError(f"{file}: expected a dict of neighbour lists, got {type(graph).__name__}. "
                           "Replace the file with the published copy.")
    try:
        src = np.fromiter((int(u) for u, nbrs in graph.items() for _ in nbrs), dtype=np.int64)
        dst = np.fromiter((int(v) for nbrs in graph.values() for v in nbrs), dtype=np.int64)
        keys = np.fromiter((int(u) for u in graph), dtype=np.int64, count=len(graph))
    except (TypeError, ValueError, OverflowError) as err:
        raise DatasetError(f"{file}: expected a dict of integer node id -> list of integer neighbour ids, got "
                           f"{type(err).__name__}: {err}. Replace the file with the published copy.") from None
    ids = np.concatenate([keys, src, dst])
    if ids.size == 0:
        raise DatasetError(f"{file}: expected a dict of neighbour lists, got an empty dict. "
                           "Replace the file with the published copy.")
    if int(ids.min()) < 0:
        raise DatasetError(f"{file}: expected node ids >= 0, got {int(ids.min())}. "
                           "Replace the file with the published copy.")
    num_nodes = int(ids.max()) + 1
    if num_nodes > len(graph):
        raise DatasetError(f"{file}: expected a key for every node 0..{num_nodes - 1} (the largest id listed), got "
                           f"{len(graph)} keys. Replace the file with the published copy.")
    return src, dst, num_nodes


def _check_parts(name: str, shapes: dict[str, tuple[int, int]], test_index: np.ndarray, graph_nodes: int) -> None:
    """Raise DatasetError unless the arrays, the test ids and the graph agree (before any allocation)."""
    def got(*parts: str) -> str:
        return " and ".join(f"{part} {shapes[part]}" for part in parts)

    def files(*parts: str) -> str:
        return ", ".join(f"ind.{name}.{part}" for part in parts)

    replace = "Replace the files with the published copies."
    if shapes["x"][0] != shapes["y"][0]:
        raise DatasetError(f"{files('x', 'y')}: expected one label row per training feature row, got "
                           f"{got('x', 'y')}. {replace}")
    if shapes["allx"][0] != shapes["ally"][0]:
        raise DatasetError(f"{files('allx', 'ally')}: expected one label row per feature row, got "
                           f"{got('allx', 'ally')}. {replace}")
    if shapes["y"][0] + NUM_VAL > shapes["ally"][0]:
        raise DatasetError(f"{files('y', 'ally')}: expected the y rows (training nodes) plus {NUM_VAL} validation "
                           f"nodes within the ally rows, got {got('y', 'ally')}. {replace}")
    if not shapes["tx"][0] == shapes["ty"][0] == test_index.size:
        raise DatasetError(f"{files('tx', 'ty', 'test.index')}: expected one tx and one ty row per test id "
                           f"({test_index.size} ids), got {got('tx', 'ty')}. {replace}")
    if not shapes["x"][1] == shapes["tx"][1] == shapes["allx"][1]:
        raise DatasetError(f"{files('x', 'tx', 'allx')}: expected the same number of feature columns, got "
                           f"{got('x', 'tx', 'allx')}. {replace}")
    if not shapes["y"][1] == shapes["ty"][1] == shapes["ally"][1]:
        raise DatasetError(f"{files('y', 'ty', 'ally')}: expected the same number of label columns (classes), got "
                           f"{got('y', 'ty', 'ally')}. {replace}")
    low = shapes["allx"][0]
    outside = np.nonzero((test_index < low) | (test_index >= graph_nodes))[0]
    if outside.size:
        raise DatasetError(f"ind.{name}.test.index: expected test ids in [{low}, {graph_nodes}) (from the allx rows "
                           f"{got('allx')} to the {graph_nodes} nodes of ind.{name}.graph), got "
                           f"{int(test_index[outside[0]])}. {replace}")
    if int(test_index.min()) != low:
        raise DatasetError(f"ind.{name}.test.index: expected the smallest test id to equal the allx row count "
                           f"{low}, got {int(test_index.min())}. Replace the file with the published copy.")
    num_nodes = int(test_index.max()) + 1
    if graph_nodes > num_nodes:
        raise DatasetError(f"{files('graph', 'test.index')}: expected graph node ids in [0, {num_nodes}) (allx rows "
                           f"plus the test id range), got ids up to {graph_nodes - 1}. {replace}")


def load_planetoid(name: str, root: str | Path | None = None, *, normalize_features: bool = False,
                   download: bool = False) -> NodeDataset:
    """Load Cora, CiteSeer or PubMed with the public split.

    Args:
        name: "cora", "citeseer" or "pubmed".
        root: Data root holding ``planetoid/`` (default: ``$GRAPHSCALE_DATA`` or ``~/.cache/graphscale``).
        normalize_features: Divide every feature row by its sum (the GCN paper's preprocessing); off by
            default: the published raw 0/1 features, as every other loader and the CLI (``data.normalize_features``
            or :func:`graphscale.datasets.normalize_features` applies it).
        download: Fetch missing files from kimiyoung/planetoid.

    Returns:
        NodeDataset with ``[N]`` train/val/test masks; ``y = -1`` for nodes without a label.

    Shapes:
        x: ``[N, F]`` float32 (Cora 2708 x 1433, CiteSeer 3327 x 3703, PubMed 19717 x 500); y: ``[N]`` int64.

    Raises:
        DatasetError: A file is missing (e.g. ``ind.pubmed.allx``, which the shared copy lacks) or malformed, or
            the files disagree (row counts of x / y, tx / ty / test ids, allx / ally; feature or class widths;
            test ids outside ``[allx rows, graph nodes)`` or repeated; graph ids past the test id range), checked
            before anything is allocated.
    """
    name = name.lower()
    if name not in NAMES:
        raise DatasetError(f"load_planetoid: expected name in {NAMES}, got {name!r}.")
    folder = data_root(root) / FOLDER
    paths = require_files(folder, file_names(name), urls(name), download=download, dataset=name)
    objects = {part: load_pickle(paths[f"ind.{name}.{part}"]) for part in PARTS[:-1]}
    test_index = _read_test_index(paths[f"ind.{name}.test.index"])
    shapes = {part: _shape(objects[part], f"ind.{name}.{part}") for part in ("x", "y", "tx", "ty", "allx", "ally")}
    src, dst, graph_nodes = _graph_edges(objects["graph"], f"ind.{name}.graph")
    _check_parts(name, shapes, test_index, graph_nodes)

    allx, tx = (objects[p] for p in ("allx", "tx"))
    ally, ty = (_dense(objects[p], f"ind.{name}.{p}") for p in ("ally", "ty"))
    num_train = shapes["y"][0]
    test_sorted = np.sort(test_index)
    low, high = int(test_sorted[0]), int(test_sorted[-1])
    num_nodes = int(allx.shape[0]) + high - low + 1

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
