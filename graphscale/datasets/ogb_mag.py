"""ogbn-mag from OGB's on-disk layout (Hu et al., NeurIPS 2020; the Microsoft Academic Graph subset).

graphscale does not ship ogbn-mag; users who downloaded ``mag.zip`` (``OGB_MAG_URL``) point ``root`` at the
extracted ``mag/`` folder or at the data root holding it (``<root>/mag``, or OGB's own ``<root>/ogbn_mag``).
The files read are those of OGB's ``read_csv_heterograph_raw`` / ``read_node_label_hetero`` /
``read_nodesplitidx_split_hetero`` (gzip CSV without headers unless noted)::

    raw/num-node-dict.csv.gz                      header: node types; one row: their counts
    raw/triplet-type-list.csv.gz                  one "src_type,relation,dst_type" per row (optional here:
                                                  without it the folders under raw/relations/ are used)
    raw/relations/<src>___<rel>___<dst>/edge.csv.gz          [E, 2] source and destination ids
    raw/relations/<src>___<rel>___<dst>/num-edge-list.csv.gz [1] E (checked when present)
    raw/node-feat/<type>/node-feat.csv.gz         [N, F] float features (paper: 128-dim word2vec)
    raw/node-feat/paper/node_year.csv.gz          [N, 1] publication year (-> meta["node_year"])
    raw/nodetype-has-label.csv.gz                 header: node types; one row: True/False (optional)
    raw/node-label/paper/node-label.csv.gz        [N, 1] venue ids in [0, 349)
    split/time/paper/{train,valid,test}.csv.gz    paper ids (train: up to 2017, valid: 2018, test: 2019)

``edge_reltype.csv.gz`` (a relation id per edge) is redundant with the folder names and not read.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from .custom import _rows
from .hetero import HeteroNodeDataset, _inside
from .io import data_root, open_text, resolve
from .parse import read_numbers

OGB_MAG_URL = "http://snap.stanford.edu/ogb/data/nodeproppred/mag.zip"
OGB_MAG_FOLDER = "mag"
OGB_MAG_CLASSES = 349
OGB_MAG_FILES = ("raw/num-node-dict.csv", "raw/node-feat/paper/node-feat.csv", "raw/node-label/paper/node-label.csv",
                 "split/time/paper/train.csv", "split/time/paper/valid.csv", "split/time/paper/test.csv")
FIX = "Replace the file with the one of the published mag.zip."


def find_mag_folder(root: str | os.PathLike[str] | None = None) -> Path | None:
    """The extracted ``mag/`` folder: ``root`` itself, ``<root>/mag`` or ``<root>/ogbn_mag``, else None."""
    base = data_root(root)
    for folder in (base, base / OGB_MAG_FOLDER, base / "ogbn_mag"):
        if resolve(folder / "raw", "num-node-dict.csv") is not None:
            return folder
    return None


def _where(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def read_table(folder: Path, path: Path, columns: int, dtype: type = np.int64) -> np.ndarray:
    """``[rows, columns]`` numbers of a header-less CSV file (``.gz`` / ``.xz``) in C speed; a malformed file
    raises the ``DatasetError`` of ``parse.read_numbers`` (line and value), prefixed with the path in ``folder``."""
    try:
        with open_text(path) as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # empty file
            table = np.loadtxt(handle, delimiter=",", dtype=dtype, ndmin=2, comments=None)
    except ValueError:
        with _inside(Path(_where(folder, path)).parent.as_posix()):
            read_numbers(path, columns, dtype)
        raise DatasetError(f"{_where(folder, path)}: expected rows of {columns} numbers, got an unreadable table. "
                           f"{FIX}") from None
    if table.size == 0:
        return np.zeros((0, columns), dtype=dtype)
    if table.shape[1] != columns:
        raise DatasetError(f"{_where(folder, path)} line 1: expected {columns} comma-separated numbers per row, got "
                           f"{table.shape[1]}. {FIX}")
    return table


def _need(folder: Path, name: str) -> Path:
    path = resolve(folder, name)
    if path is None:
        raise DatasetError(f"ogbn-mag: expected {name}.gz in {folder}, got no such file. Extract the complete "
                           f"mag.zip ({OGB_MAG_URL}) there.")
    return path


def _check_ids(folder: Path, path: Path, ids: np.ndarray, column: int, ntype: str, count: int) -> None:
    bad = np.nonzero((ids < 0) | (ids >= count))[0]
    if bad.size:
        raise DatasetError(f"{_where(folder, path)} line {int(bad[0]) + 1}, column {column}: expected a node id in "
                           f"[0, {count}) of type {ntype}, got {int(ids[bad[0]])}. {FIX}")


def _type_row(folder: Path, name: str) -> dict[str, str] | None:
    """``{type: value}`` of a two-line ``header / values`` file (num-node-dict, nodetype-has-label), or None."""
    path = resolve(folder, name)
    if path is None:
        return None
    rows = [fields for _, fields in _rows(path)]
    if len(rows) != 2 or len(rows[0]) != len(rows[1]):
        raise DatasetError(f"{_where(folder, path)}: expected a header of node types and one row of values, got "
                           f"{len(rows)} rows. {FIX}")
    return dict(zip(rows[0], rows[1]))


def _node_counts(folder: Path) -> dict[str, int]:
    raw = _type_row(folder, "raw/num-node-dict.csv") or {}
    counts = {}
    for ntype, value in raw.items():
        if not value.isdigit():
            raise DatasetError(f"raw/num-node-dict.csv.gz line 2, column {ntype}: expected a node count, got "
                               f"{value!r}. {FIX}")
        counts[ntype] = int(value)
    return dict(sorted(counts.items()))


def _relations(folder: Path, counts: dict[str, int]) -> list[tuple[str, str, str]]:
    listing = resolve(folder, "raw/triplet-type-list.csv")
    if listing is not None:
        triplets = [tuple(fields) for _, fields in _rows(listing)]
    else:
        base = folder / "raw" / "relations"
        triplets = [tuple(p.name.split("___")) for p in sorted(base.iterdir()) if p.is_dir()] if base.is_dir() else []
    for triplet in triplets:
        if len(triplet) != 3 or triplet[0] not in counts or triplet[2] not in counts:
            raise DatasetError(f"ogbn-mag: expected relations (src_type, relation, dst_type) between the node types "
                               f"{list(counts)}, got {triplet!r}. {FIX}")
    if not triplets:
        raise DatasetError(f"ogbn-mag: expected relation folders under {folder}/raw/relations, got none. {FIX}")
    return sorted(triplets)  # type: ignore[arg-type]


def _index_file(folder: Path, name: str, count: int, ntype: str) -> torch.Tensor:
    path = _need(folder, name)
    ids = read_table(folder, path, 1)[:, 0]
    _check_ids(folder, path, ids, 1, ntype, count)
    mask = torch.zeros(count, dtype=torch.bool)
    mask[torch.from_numpy(ids)] = True
    return mask


def load_ogb_mag(root: str | os.PathLike[str] | None = None, *, add_reverse: bool = False,
                 name: str = "ogbn-mag") -> HeteroNodeDataset:
    """ogbn-mag (736,389 papers, 1,134,649 authors, 8,740 institutions, 59,965 fields of study; 349 venues) from
    the extracted ``mag/`` folder of OGB (see the module docstring), with OGB's time split.

    Args:
        root: The ``mag/`` folder, or a data root holding it (default ``$GRAPHSCALE_DATA``).
        add_reverse: Add ``(dst, "rev_" + relation, src)`` for every relation (``HeteroGraph.add_reverse``).

    Shapes:
        x: ``{"paper": [N_paper, 128] float32}``; y: ``[N_paper]`` int64; masks: ``[N_paper]`` bool.

    Raises:
        DatasetError: The folder is missing (names ``OGB_MAG_URL``) or a file is malformed (names it and the line).
    """
    from ..graph.hetero import HeteroGraph

    folder = find_mag_folder(root)
    if folder is None:
        raise DatasetError(f"ogbn-mag: expected the extracted mag/ folder of OGB (raw/num-node-dict.csv.gz ...) in "
                           f"{data_root(root)} or {data_root(root) / OGB_MAG_FOLDER}, got none. Download "
                           f"{OGB_MAG_URL} and unzip it there (graphscale does not ship ogbn-mag).")
    counts = _node_counts(folder)
    edges = {}
    for triplet in _relations(folder, counts):
        sub = f"raw/relations/{'___'.join(triplet)}"
        path = _need(folder, f"{sub}/edge.csv")
        pairs = read_table(folder, path, 2)
        _check_ids(folder, path, pairs[:, 0], 1, triplet[0], counts[triplet[0]])
        _check_ids(folder, path, pairs[:, 1], 2, triplet[2], counts[triplet[2]])
        listed = resolve(folder, f"{sub}/num-edge-list.csv")
        if listed is not None and int(read_table(folder, listed, 1).sum()) != pairs.shape[0]:
            raise DatasetError(f"{_where(folder, path)}: expected {int(read_table(folder, listed, 1).sum())} edges "
                               f"(num-edge-list.csv.gz), got {pairs.shape[0]}. The file is truncated; {FIX}")
        edges[triplet] = (torch.from_numpy(pairs[:, 0].copy()), torch.from_numpy(pairs[:, 1].copy()))
    graph = HeteroGraph(counts, edges, validate=False)
    if add_reverse:
        graph = graph.add_reverse()
    x = {}
    for ntype, count in counts.items():
        path = resolve(folder, f"raw/node-feat/{ntype}/node-feat.csv")
        if path is None:
            continue
        with open_text(path) as handle:
            width = len(handle.readline().split(","))
        feats = read_table(folder, path, width, np.float32)
        if feats.shape[0] != count or not np.isfinite(feats).all():
            problem = f"{feats.shape[0]} rows" if feats.shape[0] != count else "NaN or infinite values"
            raise DatasetError(f"{_where(folder, path)}: expected {count} rows of finite numbers ({ntype} nodes), "
                               f"got {problem}. {FIX}")
        x[ntype] = torch.from_numpy(feats)
    has_label = _type_row(folder, "raw/nodetype-has-label.csv") or {"paper": "True"}
    targets = [t for t, flag in has_label.items() if flag.lower() == "true" and t in counts]
    if len(targets) != 1:
        raise DatasetError(f"raw/nodetype-has-label.csv.gz: expected one labelled node type, got {targets}. {FIX}")
    target = targets[0]
    label_path = _need(folder, f"raw/node-label/{target}/node-label.csv")
    labels = read_table(folder, label_path, 1)[:, 0]
    if labels.size != counts[target] or (labels.size and (labels.min() < 0 or labels.max() >= OGB_MAG_CLASSES)):
        raise DatasetError(f"{_where(folder, label_path)}: expected {counts[target]} venue ids in "
                           f"[0, {OGB_MAG_CLASSES}), got {labels.size} values in [{labels.min()}, {labels.max()}]. "
                           f"{FIX}")
    masks = [_index_file(folder, f"split/time/{target}/{part}.csv", counts[target], target)
             for part in ("train", "valid", "test")]
    meta: dict[str, object] = {"folder": str(folder), "source": OGB_MAG_URL,
                               "split": "OGB time split (train <= 2017, valid 2018, test 2019)",
                               "citation": "Hu et al., Open Graph Benchmark, NeurIPS 2020; Wang et al., Microsoft "
                                           "Academic Graph, Quantitative Science Studies 2020"}
    for candidate in (f"raw/node-feat/{target}/node_year.csv", f"raw/node_year/{target}/node_year.csv"):
        path = resolve(folder, candidate)
        if path is not None:
            meta["node_year"] = {target: torch.from_numpy(read_table(folder, path, 1)[:, 0])}
            break
    return HeteroNodeDataset(name, graph, x, target, torch.from_numpy(labels.astype(np.int64)), OGB_MAG_CLASSES,
                             masks[0], masks[1], masks[2], meta)


__all__ = ["OGB_MAG_URL", "find_mag_folder", "load_ogb_mag"]
