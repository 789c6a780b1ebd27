"""Your own graph: a folder with ``edges.csv`` and an optional ``nodes.csv`` (``.gz`` / ``.xz`` also read).

``edges.csv``: header ``src,dst`` or ``src,dst,weight``; one edge per line.
``nodes.csv``: header ``id`` plus optional ``label`` and ``split`` columns; every other column is a numeric
feature. ``split`` is ``train``, ``val`` or ``test`` (or empty). Node ids are any strings (``"42"``,
``"alice"``); they are numbered ``0..N-1`` in order of first appearance in ``nodes.csv``, then ``edges.csv``
(``meta["node_ids"]`` keeps the original ids). Labels are class names or integers, numbered in sorted order
(empty = unlabelled, ``-1``).

Without feature columns the features are structural (``features="degree"``: one-hot log2-degree buckets and a
normalised log-degree column; or ``"ones"``), flagged in ``meta["features"]``. Without a split column a seeded
random 60/20/20 split of the labelled nodes is made (``meta["split"]``). ``undirected=True`` (default) adds the
reverse of every edge and merges duplicates (largest weight kept); self loops are kept as given. Weights must be
finite and >= 0, features finite (float32).

An edge whose node is not in ``nodes.csv`` is an error when ``nodes.csv`` has feature or label columns
(``unknown_nodes="error"``, the default); ``unknown_nodes="add"`` adds such nodes (zero features, unlabelled,
counted in ``meta["nodes_only_in_edges"]``). With an id-only ``nodes.csv`` (or none) edges add nodes freely.

Errors name the file, line, column and what was expected, e.g.
``edges.csv line 3, column dst: expected a node id, got ''.``
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ..graph import Graph, to_undirected
from .base import NodeDataset, random_split
from .io import open_text, resolve
from .parse import FLOAT32_MAX, parse_float, parse_weight, structural_features

SPLITS = ("train", "val", "test")
UNKNOWN_NODES = ("error", "add")
WEIGHT_FIX = "GCN normalisation needs finite non-negative weights; fix the value or drop the edge."


def _rows(path: Path):
    """Yield ``(line number, stripped fields)`` of a CSV file, skipping blank lines."""
    with open_text(path) as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if row and any(field.strip() for field in row):
                yield number, [field.strip() for field in row]


def _header(path: Path, rows, required: tuple[str, ...], example: str) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise DatasetError(f"{path.name} line 1: expected a header '{example}', got an empty file. "
                           f"Start the file with the line '{example}'.")
    number, header = first
    missing = [c for c in required if c not in header]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing or duplicated:
        problem = f"missing {missing}" if missing else f"repeated {duplicated}"
        raise DatasetError(f"{path.name} line {number}: expected a header '{example}', got {','.join(header)!r} "
                           f"({problem}). Fix the first line of the file.")
    return header


def _check_width(path: Path, number: int, fields: list[str], header: list[str]) -> None:
    if len(fields) != len(header):
        raise DatasetError(f"{path.name} line {number}: expected {len(header)} fields ({','.join(header)}), got "
                           f"{len(fields)} ({','.join(fields)!r}). Quote values that contain commas.")


def _read_nodes(path: Path, ids: dict[str, int], require_id: bool = True):
    """Rows of a nodes file: ``(labels, splits, [N, F] float32 features, feature names, has a label column)``;
    ``ids`` gets every node id in row order (the row number as a string when ``require_id`` is False and the
    header has no ``id`` column)."""
    rows = _rows(path)
    header = _header(path, rows, ("id",) if require_id else (), "id,label,split,<feature columns...>")
    id_at = header.index("id") if "id" in header else None
    label_at = header.index("label") if "label" in header else None
    split_at = header.index("split") if "split" in header else None
    feature_cols = [i for i, c in enumerate(header) if c not in ("id", "label", "split")]
    labels: list[str] = []
    splits: list[str] = []
    features: list[list[float]] = []
    lines: list[int] = []
    for number, fields in rows:
        _check_width(path, number, fields, header)
        node = fields[id_at] if id_at is not None else str(len(ids))
        if not node:
            raise DatasetError(f"{path.name} line {number}, column id: expected a node id, got ''.")
        if node in ids:
            raise DatasetError(f"{path.name} line {number}, column id: expected each node once, got {node!r} again.")
        ids[node] = len(ids)
        label = fields[label_at] if label_at is not None else ""
        split = fields[split_at].lower() if split_at is not None else ""
        split = "val" if split == "valid" else split
        if split and split not in SPLITS:
            raise DatasetError(f"{path.name} line {number}, column split: expected train, val, test or empty, got "
                               f"{fields[split_at]!r}.")
        if split and not label:
            raise DatasetError(f"{path.name} line {number}, column label: expected a label for a node in split "
                               f"{split!r}, got ''. Give the node a label or leave its split empty.")
        labels.append(label)
        splits.append(split)
        features.append([parse_float(fields[i], path, number, header[i]) for i in feature_cols])
        lines.append(number)
    if not lines:
        raise DatasetError(f"{path.name}: expected at least one node row under the header, got none. Add one line "
                           f"per node under '{','.join(header)}', or delete {path.name}.")
    x = np.array(features, dtype=np.float64).reshape(len(lines), len(feature_cols))
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    if not np.isfinite(x32).all():
        _raise_non_finite(path, x, x32, lines, header, feature_cols)
    return labels, splits, x32, [header[i] for i in feature_cols], label_at is not None


def _raise_non_finite(path: Path, x: np.ndarray, x32: np.ndarray, lines: list[int], header: list[str],
                      feature_cols: list[int]) -> None:
    """DatasetError for the first NaN / inf (or float32 overflow) of the ``[N, F]`` features ``x`` read from
    ``path`` (``lines``: the line number of each row; ``feature_cols``: the header position of each column)."""
    row, col = (int(i[0]) for i in np.nonzero(~np.isfinite(x32)))
    number, column = lines[row], feature_cols[col]
    value = next(fields for n, fields in _rows(path) if n == number)[column]
    if np.isfinite(x[row, col]):
        raise DatasetError(f"{path.name} line {number}, column {header[column]}: expected a number within float32 "
                           f"range (|x| <= {FLOAT32_MAX:.4g}), got {value!r}. Rescale the column.")
    raise DatasetError(f"{path.name} line {number}, column {header[column]}: expected a finite number, got "
                       f"{value!r}. Replace it with a finite value (impute missing ones).")


def _read_edges(path: Path, ids: dict[str, int], listed_only: bool):
    rows = _rows(path)
    header = _header(path, rows, ("src", "dst"), "src,dst[,weight]")
    extra = [c for c in header if c not in ("src", "dst", "weight")]
    if extra:
        raise DatasetError(f"{path.name} line 1: expected columns src,dst[,weight], got extra {extra}. "
                           "Remove them or move node data into nodes.csv.")
    src_at, dst_at = header.index("src"), header.index("dst")
    weight_at = header.index("weight") if "weight" in header else None
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    for number, fields in rows:
        _check_width(path, number, fields, header)
        for column, at, out in (("src", src_at, src), ("dst", dst_at, dst)):
            node = fields[at]
            if not node:
                raise DatasetError(f"{path.name} line {number}, column {column}: expected a node id, got ''.")
            if node not in ids:
                if listed_only:
                    raise DatasetError(f"{path.name} line {number}, column {column}: expected a node id listed in "
                                       f"nodes.csv, got {node!r}. Add the node to nodes.csv, or set "
                                       "data.unknown_nodes=add to add such nodes (featureless, unlabelled).")
                ids[node] = len(ids)
            out.append(ids[node])
        if weight_at is not None:
            weights.append(parse_weight(fields[weight_at], path, number, WEIGHT_FIX))
    return src, dst, (weights if weight_at is not None else None)


def _label_ids(labels: list[str]) -> tuple[np.ndarray, list[str]]:
    present = sorted({v for v in labels if v})
    try:
        present = sorted(present, key=int)
    except ValueError:
        pass
    index = {v: i for i, v in enumerate(present)}
    return np.array([index[v] if v else -1 for v in labels], dtype=np.int64), present


def load_custom(folder: str | Path, *, undirected: bool = True, features: str = "degree", seed: int = 0,
                train: float = 0.6, val: float = 0.2, unknown_nodes: str = "error",
                name: str | None = None) -> NodeDataset:
    """Load a folder with ``edges.csv`` (+ optional ``nodes.csv``) as a NodeDataset.

    Args:
        folder: The folder.
        undirected: Add reverse edges and merge duplicates.
        features: Structural features when ``nodes.csv`` has no feature column: "degree" or "ones".
        seed, train, val: Random split used when ``nodes.csv`` has no ``split`` values.
        unknown_nodes: An edge whose node is not listed in a ``nodes.csv`` with feature or label columns:
            "error" (DatasetError naming the line) or "add" (a new node with zero features and no label).
        name: Dataset name (default: the folder name).

    Shapes:
        x: ``[N, F]`` float32; y: ``[N]`` int64; edge_weight: ``[E]`` float32 or None.
    """
    folder = Path(folder)
    if unknown_nodes not in UNKNOWN_NODES:
        raise DatasetError(f"load_custom: expected unknown_nodes in {', '.join(UNKNOWN_NODES)}, got "
                           f"{unknown_nodes!r}.")
    edges_path = resolve(folder, "edges.csv")
    if edges_path is None:
        raise DatasetError(f"load_custom: expected {folder}/edges.csv with header 'src,dst[,weight]', got no such "
                           "file. Write one edge per line under that header.")
    nodes_path = resolve(folder, "nodes.csv")
    ids: dict[str, int] = {}
    labels: list[str] = []
    splits: list[str] = []
    rows = np.zeros((0, 0), dtype=np.float32)
    feature_names: list[str] = []
    has_labels = False
    if nodes_path is not None:
        labels, splits, rows, feature_names, has_labels = _read_nodes(nodes_path, ids)
    num_listed = len(ids)
    listed_only = unknown_nodes == "error" and bool(feature_names or has_labels)
    src, dst, weights = _read_edges(edges_path, ids, listed_only)
    if not ids:
        raise DatasetError(f"{edges_path.name}: expected at least one edge under the header, got none. Write one "
                           "edge per line as 'src,dst[,weight]', or list the nodes in nodes.csv.")
    num_nodes = len(ids)
    graph = Graph(torch.tensor(src, dtype=torch.int64), torch.tensor(dst, dtype=torch.int64), num_nodes)
    edge_weight = torch.tensor(weights, dtype=torch.float32) if weights is not None else None
    if undirected:
        if edge_weight is None:
            graph = to_undirected(graph)
        else:
            graph, edge_weight = to_undirected(graph, edge_weight)

    meta: dict[str, object] = {"folder": str(folder), "node_ids": list(ids), "directed": not undirected,
                               "nodes_only_in_edges": num_nodes - num_listed}
    if feature_names:
        x = torch.zeros(num_nodes, len(feature_names), dtype=torch.float32)
        x[:num_listed] = torch.from_numpy(rows)
        meta["features"] = f"columns {feature_names} of nodes.csv (zeros for nodes only in edges.csv)"
    else:
        x = structural_features(graph, features, f"load_custom({folder.name})")
        meta["features"] = f"structural features={features!r} (nodes.csv has no feature columns)"
    label_ids, classes = _label_ids(labels + [""] * (num_nodes - num_listed))
    y = torch.from_numpy(label_ids)
    meta["classes"] = classes
    masks: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | tuple[None, None, None] = (None, None, None)
    if any(splits):
        split_arr = np.array(splits + [""] * (num_nodes - num_listed))
        masks = tuple(torch.from_numpy(split_arr == s) for s in SPLITS)  # type: ignore[assignment]
        meta["split"] = "split column of nodes.csv"
    elif classes:
        masks = random_split(num_nodes, train, val, seed=seed, labels=y)
        meta["split"] = f"random_split(train={train}, val={val}, seed={seed}) of the labelled nodes"
    return NodeDataset(name=name or folder.name, graph=graph, x=x, y=y, num_classes=len(classes),
                       train_mask=masks[0], val_mask=masks[1], test_mask=masks[2], edge_weight=edge_weight, meta=meta)
