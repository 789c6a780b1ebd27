"""Shared parsing and graph-building helpers of the loaders (numeric text, multi-hot features, edges)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from ..graph import Graph
from .io import read_text

FLOAT32_MAX = float(np.finfo(np.float32).max)


def parse_float(value: str, path: Path, number: int, column: str) -> float:
    """``float(value)``, or a DatasetError naming ``path``'s line ``number`` and ``column``."""
    try:
        return float(value)
    except ValueError:
        raise DatasetError(f"{path.name} line {number}, column {column}: expected a number, got {value!r}.") from None


def parse_weight(value: str, path: Path, number: int, fix: str) -> float:
    """An edge weight of ``path``'s line ``number``: a finite number >= 0 (within float32), else a DatasetError
    ending in ``fix`` (what to do)."""
    weight = parse_float(value, path, number, "weight")
    if not 0.0 <= weight <= FLOAT32_MAX:  # NaN fails both comparisons
        raise DatasetError(f"{path.name} line {number}, column weight: expected a finite number >= 0, got {value!r}. "
                           f"{fix}")
    return weight


def read_numbers(path: Path, columns: int, dtype: type = np.int64, skip_header: bool = False) -> np.ndarray:
    """Parse a text table of numbers separated by commas, tabs or spaces into ``[rows, columns]``.

    Raises:
        DatasetError: A token is not a number, the token count is not a multiple of ``columns``, or (float
            ``dtype``) a value is NaN or infinite; the message names the line and column.
    """
    text = read_text(path)
    if skip_header:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    tokens = text.replace(",", " ").split()
    try:
        values = np.array(tokens, dtype=np.float64 if dtype is not np.int64 else np.int64)
    except ValueError:
        _raise_first_bad_line(path, text, columns, dtype, skip_header)
    if values.size % columns:
        _raise_first_bad_line(path, text, columns, dtype, skip_header)
    out = values.astype(dtype, copy=False).reshape(-1, columns)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        _raise_first_non_finite(path, text, dtype, skip_header)
    return out


def _raise_first_bad_line(path: Path, text: str, columns: int, dtype: type, skip_header: bool) -> None:
    what = "integers" if dtype is np.int64 else "numbers"
    for number, line in enumerate(text.splitlines(), start=2 if skip_header else 1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        try:
            np.array(fields, dtype=np.int64 if dtype is np.int64 else np.float64)
        except ValueError:
            raise DatasetError(f"{path.name} line {number}: expected {columns} {what}, got {line.strip()!r}. "
                               "Replace the file with the published copy.") from None
        if len(fields) != columns:
            raise DatasetError(f"{path.name} line {number}: expected {columns} {what}, got {len(fields)} fields "
                               f"({line.strip()!r}). Replace the file with the published copy.")
    raise DatasetError(f"{path.name}: expected rows of {columns} {what}, got an unreadable table. "
                       "Replace the file with the published copy.")


def _raise_first_non_finite(path: Path, text: str, dtype: type, skip_header: bool) -> None:
    """DatasetError naming the line and column (1-based field) of the first NaN / inf value of ``text``."""
    for number, line in enumerate(text.splitlines(), start=2 if skip_header else 1):
        fields = line.replace(",", " ").split()
        with np.errstate(over="ignore"):
            values = np.array(fields, dtype=np.float64).astype(dtype)
        bad = np.nonzero(~np.isfinite(values))[0]
        if bad.size:
            raise DatasetError(f"{path.name} line {number}, column {int(bad[0]) + 1}: expected a finite number, got "
                               f"{fields[bad[0]]!r}. Replace it with a finite value (impute missing ones).")
    raise DatasetError(f"{path.name}: expected finite numbers, got NaN or inf. Replace them with finite values.")


def read_edge_csv(path: Path) -> np.ndarray:
    """``[E, 2]`` int64 edge list of a CSV/TSV file with one header line (``id_1,id_2``, ``from,to`` ...)."""
    return read_numbers(path, 2, np.int64, skip_header=True)


def simple_undirected(src: np.ndarray, dst: np.ndarray, num_nodes: int) -> tuple[Graph, dict[str, int]]:
    """Undirected simple graph: both directions of every edge, duplicates merged, self loops removed.

    Returns the graph (edges sorted by ``(src, dst)``) and counts ``{"input_rows", "self_loops_removed",
    "undirected_edges"}`` for ``meta``.

    Shapes:
        src, dst: ``[E]`` integer node ids in ``[0, num_nodes)``.
    """
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= num_nodes):
        bad = int(np.nonzero((src < 0) | (dst < 0) | (src >= num_nodes) | (dst >= num_nodes))[0][0])
        raise DatasetError(f"edge list: expected node ids in [0, {num_nodes}), got edge ({src[bad]}, {dst[bad]}) "
                           f"at row {bad}. Check the edge file against the node file.")
    loops = src == dst
    low, high = np.minimum(src, dst)[~loops], np.maximum(src, dst)[~loops]
    keys = np.unique(low * num_nodes + high)
    low, high = keys // num_nodes, keys % num_nodes
    both = np.concatenate([low * num_nodes + high, high * num_nodes + low])
    both.sort()
    graph = Graph(torch.from_numpy(both // max(num_nodes, 1)), torch.from_numpy(both % max(num_nodes, 1)),
                  num_nodes)
    counts = {"input_rows": int(src.size), "self_loops_removed": int(loops.sum()), "undirected_edges": int(keys.size)}
    return graph, counts


def directed_simple(src: np.ndarray, dst: np.ndarray, num_nodes: int, keep_self_loops: bool) -> Graph:
    """Directed graph with duplicate rows merged (sorted by ``(src, dst)``), self loops optionally removed."""
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    if not keep_self_loops:
        keep = src != dst
        src, dst = src[keep], dst[keep]
    keys = np.unique(src * num_nodes + dst)
    return Graph(torch.from_numpy(keys // num_nodes), torch.from_numpy(keys % num_nodes), num_nodes)


def multi_hot(index_lists: list[list[int]], dim: int | None = None, where: str = "features") -> Tensor:
    """``[N, dim]`` float32 0/1 matrix with row ``i`` set at ``index_lists[i]`` (repeats count once)."""
    lengths = np.fromiter((len(ids) for ids in index_lists), dtype=np.int64, count=len(index_lists))
    cols = np.fromiter((c for ids in index_lists for c in ids), dtype=np.int64, count=int(lengths.sum()))
    if cols.size and cols.min() < 0:
        raise DatasetError(f"{where}: expected feature indices >= 0, got {int(cols.min())}. "
                           "Replace the file with the published copy.")
    width = int(cols.max()) + 1 if dim is None and cols.size else (dim or 0)
    if cols.size and cols.max() >= width:
        raise DatasetError(f"{where}: expected feature indices < {width}, got {int(cols.max())}. "
                           "Pass a larger feature dimension.")
    rows = np.repeat(np.arange(len(index_lists), dtype=np.int64), lengths)
    x = torch.zeros(len(index_lists), width, dtype=torch.float32)
    x[torch.from_numpy(rows), torch.from_numpy(cols)] = 1.0
    return x


def read_json_features(path: Path, num_nodes: int, dim: int | None = None) -> Tensor:
    """MUSAE feature JSON ``{"<node id>": [feature index, ...]}`` -> ``[num_nodes, dim]`` multi-hot float32."""
    try:
        raw = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path.name}: expected a JSON object of feature lists, got invalid JSON ({err}). "
                           "Replace the file with the published copy.") from err
    lists: list[list[int]] = [[] for _ in range(num_nodes)]
    for key, ids in raw.items():
        node = int(key)
        if not 0 <= node < num_nodes:
            raise DatasetError(f"{path.name}: expected node ids in [0, {num_nodes}), got key {key!r}. "
                               "Check that the feature file belongs to this edge list.")
        lists[node] = ids
    return multi_hot(lists, dim, where=path.name)


def degree_features(graph: Graph) -> Tensor:
    """Structural features for graphs without any: one-hot of the degree bucket ``floor(log2(deg + 1))``
    plus ``log(1 + deg) / log(1 + max deg)`` as a last column.

    Shapes:
        return: ``[N, B + 1]`` float32 with ``B = floor(log2(max_deg + 1)) + 1`` buckets.
    """
    degree = torch.bincount(graph.dst.long(), minlength=graph.num_nodes).double()
    bucket = torch.floor(torch.log2(degree + 1)).long()
    num_buckets = int(bucket.max()) + 1 if degree.numel() else 1
    x = torch.zeros(graph.num_nodes, num_buckets + 1, dtype=torch.float32)
    x[torch.arange(graph.num_nodes), bucket] = 1.0
    max_log = float(torch.log1p(degree.max())) if degree.numel() else 0.0
    x[:, -1] = (torch.log1p(degree) / max_log).float() if max_log > 0 else 0.0
    return x


def structural_features(graph: Graph, kind: str, where: str) -> Tensor:
    """Features of a featureless graph: ``"degree"`` (``degree_features``), ``"ones"`` (``[N, 1]``) or
    ``"identity"`` (``[N, N]`` one-hot node ids, for up to 20,000 nodes)."""
    kind = kind.lower()
    if kind == "degree":
        return degree_features(graph)
    if kind == "ones":
        return torch.ones(graph.num_nodes, 1)
    if kind == "identity":
        if graph.num_nodes > 20000:
            raise DatasetError(f"{where}: expected at most 20000 nodes for features='identity', got "
                               f"{graph.num_nodes}. Use features='degree' for large graphs.")
        return torch.eye(graph.num_nodes)
    raise DatasetError(f"{where}: expected features in 'degree', 'ones', 'identity', got {kind!r}.")


def label_ids(values: np.ndarray) -> tuple[np.ndarray, list]:
    """Map arbitrary label values to ``0..C-1`` in sorted order; returns ``(ids int64, sorted classes)``."""
    classes, ids = np.unique(values, return_inverse=True)
    return ids.astype(np.int64).reshape(-1), classes.tolist()


def to_masks(mask_matrix: np.ndarray) -> Tensor:
    """``[N, S]`` 0/1 numpy array -> bool tensor."""
    return torch.from_numpy(np.ascontiguousarray(mask_matrix).astype(bool))
