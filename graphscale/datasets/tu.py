"""TU Dortmund graph-classification benchmarks in the raw text format (Morris et al., 2020).

A folder holds ``<DS>_A.txt`` (one ``row, col`` line per directed edge, 1-based node ids),
``<DS>_graph_indicator.txt`` (1-based graph id of every node), ``<DS>_graph_labels.txt`` and optionally
``<DS>_node_labels.txt``, ``<DS>_node_attributes.txt``, ``<DS>_edge_labels.txt``, ``<DS>_edge_attributes.txt``
(any of them may be ``.xz`` / ``.gz`` compressed). Node features are the one-hot node labels (one block per
label column, ``label - min`` as in PyTorch Geometric), followed by the node attributes when
``use_node_attributes`` is set (the GIN paper uses the one-hot labels only, so that is the default).
Edge features are the one-hot edge labels followed by edge attributes, when present. Edges are kept as
published (TU lists every undirected edge in both directions). Graph labels are remapped to ``0..C-1`` in
sorted order (MUTAG's ``-1 / 1`` become ``0 / 1``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ..graph import Graph
from .base import GraphDataset
from .io import data_root, fetch_zip_members, read_text, require_files, resolve
from .parse import label_ids, read_numbers

TU_URL = "https://www.chrsmrrs.com/graphkerneldatasets/{name}.zip"
REQUIRED = ("A", "graph_indicator", "graph_labels")
OPTIONAL = ("node_labels", "node_attributes", "edge_labels", "edge_attributes")
CITATION = ("C. Morris, N. M. Kriege, F. Bause, K. Kersting, P. Mutzel, M. Neumann, TUDataset: A collection of "
            "benchmark datasets for learning with graphs, ICML GRL+ workshop 2020")


def file_names(prefix: str, parts: tuple[str, ...] = REQUIRED) -> list[str]:
    return [f"{prefix}_{part}.txt" for part in parts]


def _columns(path: Path) -> int:
    for line in read_text(path).splitlines():
        if line.strip():
            return len(line.replace(",", " ").split())
    return 1


def _table(path: Path, dtype: type) -> np.ndarray:
    return read_numbers(path, _columns(path), dtype)


def _one_hot_columns(values: np.ndarray) -> np.ndarray:
    """One block per column: ``value - column min`` one-hot, width ``max - min + 1``."""
    blocks = []
    for column in values.T:
        shifted = column - column.min()
        block = np.zeros((column.size, int(shifted.max()) + 1), dtype=np.float32)
        block[np.arange(column.size), shifted] = 1.0
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def find_prefix(folder: Path) -> str | None:
    """Dataset prefix ``DS`` of a folder holding ``DS_A.txt`` (or ``.xz``/``.gz``), else None."""
    for path in sorted(folder.glob("*_A.txt*")):
        name = path.name.split("_A.txt")[0]
        if resolve(folder, f"{name}_graph_indicator.txt") is not None:
            return name
    return None


def _edge_graphs(edge_file: str, indicator_file: str, edges: np.ndarray, indicator: np.ndarray,
                 num_graphs: int) -> np.ndarray:
    """The 1-based graph id of every edge ``[E]``, after checking that the graph indicator is sorted and in
    range, that edge endpoints are node ids, and that no edge joins two graphs.

    Raises:
        DatasetError: Naming the file (and the line of the first edge joining two graphs).
    """
    num_nodes = indicator.size
    if num_nodes and (np.any(np.diff(indicator) < 0) or indicator[0] < 1 or indicator[-1] > num_graphs):
        raise DatasetError(f"{indicator_file}: expected graph ids sorted ascending in [1, {num_graphs}], "
                           f"got values from {indicator.min()} to {indicator.max()}. Replace the file with the "
                           "published copy.")
    if edges.size and (edges.min() < 0 or edges.max() >= num_nodes):
        raise DatasetError(f"{edge_file}: expected node ids in [1, {num_nodes}], got "
                           f"{edges.min() + 1}..{edges.max() + 1}. Check it against the graph indicator file.")
    edge_graph = indicator[edges[:, 0]] if edges.size else np.zeros(0, dtype=np.int64)
    if edges.size and np.any(edge_graph != indicator[edges[:, 1]]):
        bad = int(np.nonzero(edge_graph != indicator[edges[:, 1]])[0][0])
        raise DatasetError(f"{edge_file} line {bad + 1}: expected both nodes in one graph, got nodes "
                           f"{edges[bad, 0] + 1} and {edges[bad, 1] + 1} of graphs {edge_graph[bad]} and "
                           f"{indicator[edges[bad, 1]]}. Replace the file with the published copy.")
    return edge_graph


def load_tu(folder: str | Path, prefix: str | None = None, *, use_node_attributes: bool = False,
            use_edge_attributes: bool = True, download: bool = False, name: str | None = None) -> GraphDataset:
    """Load a TU dataset folder into a ``GraphDataset``.

    Args:
        folder: Folder with the ``<prefix>_*.txt`` files.
        prefix: File prefix, e.g. "MUTAG" (default: found from ``*_A.txt`` in ``folder``).
        use_node_attributes: Append ``<prefix>_node_attributes.txt`` columns to the one-hot node labels.
        use_edge_attributes: Append ``<prefix>_edge_attributes.txt`` columns to the one-hot edge labels.
        download: Fetch the zip from the TU site when files are missing (needs ``prefix``).
        name: Dataset name stored on the result (default: ``prefix`` lower-cased).

    Shapes:
        xs[i]: ``[N_i, F]`` float32; edge_attrs[i]: ``[E_i, F_e]`` float32; y: ``[B]`` int64.

    Raises:
        DatasetError: Missing or malformed files, edges joining two graphs, or counts that disagree.
    """
    folder = Path(folder)
    prefix = prefix or find_prefix(folder)
    if prefix is None:
        raise DatasetError(f"load_tu: expected a folder with <DS>_A.txt and <DS>_graph_indicator.txt, got {folder} "
                           "without them. Pass the folder of an extracted TU dataset.")
    name = name or prefix.lower()
    required = file_names(prefix)
    if download and any(resolve(folder, f) is None for f in required):
        fetch_zip_members(TU_URL.format(name=prefix), folder, file_names(prefix, REQUIRED + OPTIONAL))
    url = TU_URL.format(name=prefix)
    paths = require_files(folder, required, {f: url for f in required}, dataset=name)
    optional = {part: resolve(folder, f"{prefix}_{part}.txt") for part in OPTIONAL}

    edges = read_numbers(paths[required[0]], 2, np.int64) - 1  # [E, 2], 0-based
    indicator = read_numbers(paths[required[1]], 1, np.int64).ravel()
    graph_labels = read_numbers(paths[required[2]], 1, np.int64).ravel()
    num_nodes, num_graphs = indicator.size, graph_labels.size
    edge_graph = _edge_graphs(paths[required[0]].name, paths[required[1]].name, edges, indicator, num_graphs)

    node_blocks, edge_blocks, meta_files = [], [], [p.name for p in paths.values()]
    for part, path in optional.items():
        if path is None or (part == "node_attributes" and not use_node_attributes) or (
                part == "edge_attributes" and not use_edge_attributes):
            continue
        values = _table(path, np.int64 if part.endswith("labels") else np.float32)
        expected = num_nodes if part.startswith("node") else edges.shape[0]
        if values.shape[0] != expected:
            raise DatasetError(f"{path.name}: expected {expected} lines (one per {part.split('_')[0]}), got "
                               f"{values.shape[0]}. Replace the file with the published copy.")
        block = _one_hot_columns(values) if part.endswith("labels") else values.astype(np.float32)
        (node_blocks if part.startswith("node") else edge_blocks).append(block)
        meta_files.append(path.name)
    if not node_blocks:  # no node labels: a constant feature, as PyG does for unlabelled datasets
        node_blocks.append(np.ones((num_nodes, 1), dtype=np.float32))
    x_all = torch.from_numpy(np.concatenate(node_blocks, axis=1))
    e_all = torch.from_numpy(np.concatenate(edge_blocks, axis=1)) if edge_blocks else None

    y, classes = label_ids(graph_labels)
    node_ptr = np.searchsorted(indicator, np.arange(1, num_graphs + 2))  # [B + 1]
    order = np.argsort(edge_graph, kind="stable")
    edge_ptr = np.searchsorted(edge_graph[order], np.arange(1, num_graphs + 2))
    local = torch.from_numpy(edges[order] - node_ptr[edge_graph[order] - 1][:, None]) if edges.size else None
    graphs, xs, edge_attrs = [], [], [] if e_all is not None else None
    order_t = torch.from_numpy(order)
    for g in range(num_graphs):
        lo, hi = int(edge_ptr[g]), int(edge_ptr[g + 1])
        n_g = int(node_ptr[g + 1] - node_ptr[g])
        pair = local[lo:hi] if local is not None else torch.zeros(0, 2, dtype=torch.int64)
        graphs.append(Graph(pair[:, 0], pair[:, 1], n_g))
        xs.append(x_all[node_ptr[g]:node_ptr[g + 1]])
        if edge_attrs is not None and e_all is not None:
            edge_attrs.append(e_all[order_t[lo:hi]])
    return GraphDataset(
        name=name, graphs=graphs, xs=xs, y=torch.from_numpy(y), num_classes=len(classes), edge_attrs=edge_attrs,
        meta={"source": "TU Dortmund graph kernel benchmarks", "folder": str(folder), "files": sorted(meta_files),
              "citation": CITATION, "label_values": classes, "num_nodes": num_nodes,
              "num_edges": int(edges.shape[0]), "url": url,
              "node_features": "one-hot node labels" + (" + node attributes" if use_node_attributes
                                                        and optional["node_attributes"] else "")},
    )


def load_tu_named(name: str, prefix: str, root: str | Path | None = None, **options: bool) -> GraphDataset:
    """Load a registered TU dataset from ``<root>/<name>/`` (e.g. "mutag" with prefix "MUTAG")."""
    return load_tu(data_root(root) / name, prefix, name=name, **options)
