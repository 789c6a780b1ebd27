"""Heterogeneous node classification data: ``HeteroNodeDataset`` and the heterogeneous CSV folder format.

Folder format (recognised by ``load(path)`` when the folder has ``nodes/`` and ``edges/`` subfolders; ``.gz`` /
``.xz`` files are read too)::

    my_graph/nodes/<type>.csv                    one file per node type: header, one row per node
    my_graph/edges/<src>__<relation>__<dst>.csv  one file per relation: header ``src,dst``, one edge per row

* Node files: an optional ``id`` column (integers ``0..n-1``, each once, any order; without it row ``i`` is node
  ``i``), optional ``label`` and ``split`` (``train``, ``val`` / ``valid``, ``test`` or empty) columns, and any
  other column is a numeric feature (float32, finite). A type whose file has only ids gets no features (models
  give it learnable embeddings). A node file needs at least one row.
* The target (labelled) type is the one node file with a ``label`` column; exactly one file may have one (or
  name it with ``target=``). Labels are non-negative integers (class ids, ``num_classes = max + 1``) or class
  names (numbered in sorted order, ``meta["classes"]``); empty = unlabelled (``-1``). Without split values a
  seeded random 60/20/20 split of the labelled target nodes is made.
* Edge files: ``<src>__<relation>__<dst>`` names two node types with a file in ``nodes/`` and a relation name
  (the three parts separated by double underscores); ids are integers in ``[0, n)`` of their type.

Errors name the file, line, column and what was expected, e.g.
``edges/author__writes__paper.csv line 7, column dst: expected a node id in [0, 736389) of type paper, got
'736400'.`` ``save_hetero_folder`` writes a dataset in this format (atomically); loading it back gives an
equal dataset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from ..graph.hetero import EdgeType, HeteroGraph
from .base import random_split
from .custom import SPLITS, _check_width, _header, _label_ids, _read_nodes, _rows
from .io import COMPRESSED_SUFFIXES

ETYPE_SEPARATOR = "__"


@dataclass
class HeteroNodeDataset:
    """A heterogeneous graph with features per node type and labels on one target type.

    Attributes:
        name: Registry name or folder name.
        graph: The ``HeteroGraph`` (relations as stored; ``graph.add_reverse()`` adds ``rev_`` relations).
        x: ``{ntype: [N_t, F_t] float32}`` for the types that have features (others are left out).
        target: The labelled node type.
        y: ``[N_target]`` int64 class ids, ``-1`` = unlabelled.
        num_classes: ``C``.
        train_mask, val_mask, test_mask: ``[N_target]`` bool, or None when there is no split.
        meta: Free-form facts (source, split rule, ``node_year`` ...).
    """

    name: str
    graph: HeteroGraph
    x: dict[str, Tensor]
    target: str
    y: Tensor
    num_classes: int
    train_mask: Tensor | None = None
    val_mask: Tensor | None = None
    test_mask: Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_nodes(self) -> dict[str, int]:
        """``{ntype: count}``."""
        return self.graph.num_nodes_dict

    @property
    def num_features(self) -> dict[str, int]:
        """``{ntype: F_t}`` of the types with features."""
        return {t: int(v.shape[1]) for t, v in self.x.items()}

    @property
    def num_splits(self) -> int:
        return 0 if self.train_mask is None else 1

    def split(self, index: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """``(train, val, test)`` ``[N_target]`` bool masks."""
        if self.train_mask is None or self.val_mask is None or self.test_mask is None:
            raise DatasetError(f"{self.name}: expected train/val/test masks on {self.target!r}, got none. Make one "
                               "with graphscale.datasets.random_split(num_nodes, labels=y).")
        return self.train_mask, self.val_mask, self.test_mask

    def to(self, device: torch.device | str, non_blocking: bool = False) -> HeteroNodeDataset:
        """A copy with the graph, features, labels and masks on ``device`` (``meta`` shared)."""
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return dataclasses.replace(self, graph=self.graph.to(device),
                                   x={t: v.to(device, non_blocking=non_blocking) for t, v in self.x.items()},
                                   y=move(self.y), train_mask=move(self.train_mask), val_mask=move(self.val_mask),
                                   test_mask=move(self.test_mask))

    def describe(self) -> str:
        """Several lines: node types (count, features), relations (edges), target, classes, split sizes."""
        lines = [f"{self.name}: heterogeneous node classification of {self.target!r} ({self.num_classes} classes)"]
        for ntype, count in self.num_nodes.items():
            feats = f"{self.num_features[ntype]} features" if ntype in self.x else "no features"
            lines.append(f"  nodes {ntype:<16} {count:>10,}  {feats}")
        for etype, rel in self.graph.relations():
            lines.append(f"  edges {ETYPE_SEPARATOR.join(etype):<40} {rel.num_edges:>10,}")
        if self.train_mask is not None:
            sizes = [int(m.sum()) for m in self.split()]
            lines.append(f"  split train {sizes[0]:,} / val {sizes[1]:,} / test {sizes[2]:,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"HeteroNodeDataset({self.name!r}, target={self.target!r}, num_nodes={self.num_nodes}, "
                f"num_edges={self.graph.num_edges()}, num_features={self.num_features}, "
                f"num_classes={self.num_classes})")


def is_hetero_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder with ``nodes/`` and ``edges/`` subfolders."""
    path = Path(path)
    return (path / "nodes").is_dir() and (path / "edges").is_dir()


@contextlib.contextmanager
def _inside(subfolder: str) -> Iterator[None]:
    """Prefix the file name of a DatasetError raised by the shared CSV helpers with ``subfolder/``."""
    try:
        yield
    except DatasetError as err:
        raise DatasetError(f"{subfolder}/{err}") from None


def _stem(path: Path) -> str | None:
    """``name`` of ``name.csv`` / ``name.csv.gz`` / ``name.csv.xz``, else None."""
    name = path.name
    for suffix in COMPRESSED_SUFFIXES:
        name = name.removesuffix(suffix)
    return name[:-4] if name.endswith(".csv") and len(name) > 4 else None


def _listing(folder: Path, what: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        stem = _stem(path)
        if stem is None or not path.is_file():
            raise DatasetError(f"{folder.name}/{path.name}: expected {what} named <name>.csv (.gz / .xz), got "
                               f"{'a folder' if path.is_dir() else 'another file name'}. Rename or remove it.")
        if stem in found:
            raise DatasetError(f"{folder.name}/{path.name}: expected one file per name, got {found[stem].name} too. "
                               "Keep one of them.")
        found[stem] = path
    return found


def _node_table(path: Path, ntype: str) -> tuple[int, np.ndarray, list[str], list[str], list[str], bool]:
    """``(count, [N, F] features in id order, labels, splits, feature names, has labels)`` of one node file."""
    ids: dict[str, int] = {}
    with _inside("nodes"):
        labels, splits, x, names, has_labels = _read_nodes(path, ids, require_id=False)
    count = len(ids)
    order = np.empty(count, dtype=np.int64)
    for position, key in enumerate(ids):
        node = int(key) if key.isdigit() else -1
        if not 0 <= node < count:
            number = next(n for i, (n, _) in enumerate(_rows(path)) if i == position + 1)
            raise DatasetError(f"nodes/{path.name} line {number}, column id: expected an integer id in [0, {count}) "
                               f"(ids 0..n-1 of the {count} {ntype} rows), got {key!r}.")
        order[node] = position
    if not np.array_equal(order, np.arange(count)):
        x = x[order]
        labels, splits = [labels[i] for i in order], [splits[i] for i in order]
    return count, x, labels, splits, names, has_labels


def _node_ids(path: Path, column: str, values: list[str], numbers: list[int], ntype: str, count: int) -> np.ndarray:
    ids = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        node = int(value) if value.isdigit() else -1
        if not 0 <= node < count:
            raise DatasetError(f"edges/{path.name} line {numbers[i]}, column {column}: expected a node id in "
                               f"[0, {count}) of type {ntype}, got {value!r}.")
        ids[i] = node
    return ids


def _edge_table(path: Path, etype: EdgeType, counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    with _inside("edges"):
        rows = _rows(path)
        header = _header(path, rows, ("src", "dst"), "src,dst")
        if len(header) != 2:
            raise DatasetError(f"{path.name} line 1: expected the columns src,dst, got {','.join(header)!r}. "
                               "Remove the other columns.")
        src_at = header.index("src")
        values: list[list[str]] = [[], []]
        numbers: list[int] = []
        for number, fields in rows:
            _check_width(path, number, fields, header)
            values[0].append(fields[src_at])
            values[1].append(fields[1 - src_at])
            numbers.append(number)
    src = _node_ids(path, "src", values[0], numbers, etype[0], counts[etype[0]])
    dst = _node_ids(path, "dst", values[1], numbers, etype[2], counts[etype[2]])
    return src, dst


def _parse_etype(path: Path, stem: str, ntypes: list[str]) -> EdgeType:
    parts = stem.split(ETYPE_SEPARATOR)
    if len(parts) != 3 or not all(parts):
        raise DatasetError(f"edges/{path.name}: expected a file name <src>__<relation>__<dst>.csv (three non-empty "
                           f"parts joined by double underscores), got {stem!r}. Rename the file.")
    for part in (parts[0], parts[2]):
        if part not in ntypes:
            raise DatasetError(f"edges/{path.name}: expected node types among {ntypes} (files in nodes/), got "
                               f"{part!r}. Add nodes/{part}.csv or fix the file name.")
    return parts[0], parts[1], parts[2]


def _labels(path: Path, labels: list[str]) -> tuple[np.ndarray, int, list[str]]:
    present = [v for v in labels if v]
    if all(v.isdigit() for v in present):
        y = np.array([int(v) if v else -1 for v in labels], dtype=np.int64)
        num_classes = int(y.max()) + 1 if present else 0
        return y, num_classes, [str(c) for c in range(num_classes)]
    y, classes = _label_ids(labels)
    return y, len(classes), classes


def load_hetero_folder(folder: str | os.PathLike[str], *, target: str | None = None, seed: int = 0,
                       train: float = 0.6, val: float = 0.2, name: str | None = None) -> HeteroNodeDataset:
    """Load a heterogeneous CSV folder (see the module docstring) as a ``HeteroNodeDataset``.

    Args:
        folder: The folder with ``nodes/`` and ``edges/``.
        target: The labelled node type (default: the one node file with a ``label`` column).
        seed, train, val: Random split of the labelled target nodes when there are no split values.
        name: Dataset name (default: the folder name).

    Raises:
        DatasetError: naming the file, line and column of the first problem.
    """
    folder = Path(folder)
    if not is_hetero_folder(folder):
        raise DatasetError(f"load_hetero_folder: expected {folder} to hold nodes/ and edges/ subfolders, got "
                           f"{sorted(p.name for p in folder.iterdir()) if folder.is_dir() else 'no such folder'}.")
    node_files = _listing(folder / "nodes", "node files")
    if not node_files:
        raise DatasetError("nodes/: expected one <type>.csv per node type, got none. Add the node files.")
    tables = {ntype: _node_table(path, ntype) for ntype, path in node_files.items()}
    labelled = [t for t, table in tables.items() if table[5]]
    if target is None:
        if len(labelled) != 1:
            got = "none" if not labelled else " and ".join(f"nodes/{node_files[t].name}" for t in labelled)
            raise DatasetError(f"nodes/: expected a label column in exactly one node file (the target type), got "
                               f"{got}. Keep the labels of one type, or pass target=<type>.")
        target = labelled[0]
    if target not in tables:
        raise DatasetError(f"load_hetero_folder: expected target among the node types {list(tables)}, got "
                           f"{target!r}.")
    if not tables[target][5]:
        header = next(_rows(node_files[target]))[1]
        raise DatasetError(f"nodes/{node_files[target].name} line 1: expected a label column on the target type "
                           f"{target!r}, got {','.join(header)!r}. Add a label column (empty for unlabelled nodes).")
    counts = {t: table[0] for t, table in tables.items()}
    ntypes = list(tables)
    edges: dict[EdgeType, tuple[Tensor, Tensor]] = {}
    for stem, path in _listing(folder / "edges", "edge files").items():
        etype = _parse_etype(path, stem, ntypes)
        src, dst = _edge_table(path, etype, counts)
        edges[etype] = (torch.from_numpy(src), torch.from_numpy(dst))
    if not edges:
        raise DatasetError("edges/: expected one <src>__<relation>__<dst>.csv per relation, got none. Add the edge "
                           "files.")
    graph = HeteroGraph(counts, edges)
    x = {t: torch.from_numpy(np.ascontiguousarray(table[1])) for t, table in tables.items() if table[4]}
    _, _, labels, splits, _, _ = tables[target]
    y_np, num_classes, classes = _labels(node_files[target], labels)
    y = torch.from_numpy(y_np)
    meta: dict[str, Any] = {"folder": str(folder), "classes": classes,
                            "features": {t: tables[t][4] for t in x}}
    if any(splits):
        split_arr = np.array(splits)
        masks = tuple(torch.from_numpy(split_arr == s) for s in SPLITS)
        meta["split"] = f"split column of nodes/{node_files[target].name}"
    else:
        masks = random_split(counts[target], train, val, seed=seed, labels=y)
        meta["split"] = f"random_split(train={train}, val={val}, seed={seed}) of the labelled {target} nodes"
    return HeteroNodeDataset(name or folder.name, graph, x, target, y, num_classes, masks[0], masks[1], masks[2],
                             meta)


def _write_csv(path: Path, header: list[str], columns: list[np.ndarray], formats: list[str]) -> None:
    table = np.empty((len(columns[0]) if columns else 0, len(columns)), dtype=object)
    for j, column in enumerate(columns):
        table[:, j] = column
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(header) + "\n")
        np.savetxt(handle, table, fmt=formats, delimiter=",")


def save_hetero_folder(dataset: HeteroNodeDataset, folder: str | os.PathLike[str]) -> Path:
    """Write ``dataset`` as a heterogeneous CSV folder (``nodes/``, ``edges/``); the folder must not exist.

    Features are written with 9 significant digits (float32 values read back exactly); labels as class ids.
    Written into a temporary sibling folder and renamed into place (nothing half-written is left behind).
    """
    folder = Path(folder)
    if folder.exists():
        raise DatasetError(f"save_hetero_folder: expected a new folder, got existing {folder}. Remove it or pick "
                           "another path.")
    names = list(dataset.graph.ntypes) + [part for etype in dataset.graph.canonical_etypes for part in etype]
    for part in names:
        if ETYPE_SEPARATOR in part or "/" in part or os.sep in part or part.startswith("."):
            raise DatasetError(f"save_hetero_folder: expected node type and relation names without '__' or '/' "
                               f"(they form the file names), got {part!r}. Rename it.")
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    try:
        (tmp / "nodes").mkdir(parents=True)
        (tmp / "edges").mkdir()
        split_names = np.full(dataset.num_nodes[dataset.target], "", dtype=object)
        if dataset.train_mask is not None:
            for mask, label in zip(dataset.split(), SPLITS):
                split_names[mask.cpu().numpy()] = label
        for ntype, count in dataset.num_nodes.items():
            header, columns, formats = ["id"], [np.arange(count)], ["%d"]
            if ntype == dataset.target:
                y = dataset.y.cpu().numpy()
                header += ["label", "split"]
                columns += [np.where(y >= 0, y.astype(str).astype(object), ""), split_names]
                formats += ["%s", "%s"]
            if ntype in dataset.x:
                x = dataset.x[ntype].detach().cpu().float().numpy()
                header += [f"feat_{j}" for j in range(x.shape[1])]
                columns += [x[:, j] for j in range(x.shape[1])]
                formats += ["%.9g"] * x.shape[1]
            _write_csv(tmp / "nodes" / f"{ntype}.csv", header, columns, formats)
        for etype, rel in dataset.graph.relations():
            _write_csv(tmp / "edges" / f"{ETYPE_SEPARATOR.join(etype)}.csv", ["src", "dst"],
                       [rel.src.cpu().numpy(), rel.dst.cpu().numpy()], ["%d", "%d"])
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


__all__ = ["HeteroNodeDataset", "is_hetero_folder", "load_hetero_folder", "save_hetero_folder"]
