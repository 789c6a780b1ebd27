"""Plain-text graphs: edge lists (``src dst [weight]`` per line) and adjacency lists (``node nbr nbr ...``),
plus Zachary's karate club (the DeepWalk repository's ``karate.adjlist``).

Both formats are whitespace separated; ``#`` starts a comment; node ids are any tokens, numbered ``0..N-1``
in order of first appearance (``meta["node_ids"]`` keeps the original tokens, so embeddings can be mapped
back). Graphs are read as undirected (both directions stored, duplicates merged) unless ``undirected=False``.
Errors name the file, line and token, e.g. ``edges.txt line 3: expected 'src dst [weight]', got 'a'.``

An edge list may start with a header line (``src dst``, ``source target weight`` ...): the first line is taken as
one, skipped and kept in ``meta["header"]``, when its two ids are a known pair of column names, or when the next
line has as many fields and either its two ids are numbers while the first line's are not, or its third field is a
number while the first line's is not. Weights must be finite and >= 0.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ..graph import Graph, to_undirected
from .base import NodeDataset
from .io import data_root, open_text, require_files
from .parse import parse_weight, structural_features

KARATE_URL = ("https://raw.githubusercontent.com/phanein/deepwalk/6e6dff245e4692e9bea47e9017c1034e51afbf29/"
              "example_graphs/karate.adjlist")
# Faction after the split (Zachary 1977): 0 = Mr. Hi's club, 1 = the officer's; 0-based, file id minus 1.
KARATE_MR_HI = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 19, 21)
# Column-name pairs of edge-list headers (lower-case), taken as a header whatever the next line holds.
HEADER_PAIRS = frozenset({
    ("src", "dst"), ("source", "target"), ("source", "destination"), ("from", "to"), ("node1", "node2"),
    ("node_1", "node_2"), ("u", "v"), ("id_1", "id_2"), ("id1", "id2"), ("head", "tail"), ("src_id", "dst_id"),
    ("source_id", "target_id"), ("from_id", "to_id"), ("from_node", "to_node"), ("start", "end"),
    ("sender", "receiver"), ("node_a", "node_b"), ("nodea", "nodeb"),
})


def _tokens(path: Path):
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split("#", 1)[0].split()
            if fields:
                yield number, fields


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _is_header(first: list[str], second: list[str] | None) -> bool:
    """Whether the first data line ``first`` (2 or 3 fields) is a header, given the next line ``second``."""
    if len(first) not in (2, 3):
        return False
    if (first[0].lower(), first[1].lower()) in HEADER_PAIRS:
        return True
    if second is None or len(second) != len(first):
        return False
    if len(first) == 3 and not _is_number(first[2]) and _is_number(second[2]):
        return True
    return not any(map(_is_number, first[:2])) and all(map(_is_number, second[:2]))


def _build(name: str, path: Path, src: list[int], dst: list[int], weights: list[float] | None,
           ids: dict[str, int], undirected: bool, features: str) -> NodeDataset:
    if not src:
        raise DatasetError(f"{path.name}: expected at least one edge, got none. Write one edge per line.")
    num_nodes = len(ids)
    graph = Graph(torch.tensor(src, dtype=torch.int64), torch.tensor(dst, dtype=torch.int64), num_nodes)
    edge_weight = torch.tensor(weights, dtype=torch.float32) if weights is not None else None
    if undirected:
        graph, edge_weight = (to_undirected(graph), None) if edge_weight is None else to_undirected(graph, edge_weight)
    x = structural_features(graph, features, f"load({path.name})")
    meta = {"file": str(path), "node_ids": list(ids), "directed": not undirected}
    return NodeDataset(name=name, graph=graph, x=x, y=torch.full((num_nodes,), -1, dtype=torch.int64),
                       num_classes=0, edge_weight=edge_weight, meta=meta)


def load_edgelist(path: str | os.PathLike[str], *, undirected: bool = True, features: str = "degree",
                  name: str | None = None) -> NodeDataset:
    """Read ``src dst`` or ``src dst weight`` lines (all lines the same width, an optional header line first,
    see the module docstring); unlabelled NodeDataset."""
    path = Path(path)
    ids: dict[str, int] = {}
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    width = 0
    lines = _tokens(path)
    head = [line for _, line in zip(range(2), lines)]
    header = None
    if head and _is_header(head[0][1], head[1][1] if len(head) > 1 else None):
        header = " ".join(head.pop(0)[1])
    for number, fields in itertools.chain(head, lines):
        if len(fields) not in (2, 3) or (width and len(fields) != width):
            expected = "'src dst [weight]'" if not width else f"{width} fields like the first edge line"
            raise DatasetError(f"{path.name} line {number}: expected {expected}, got {' '.join(fields)!r}.")
        width = len(fields)
        src.append(ids.setdefault(fields[0], len(ids)))
        dst.append(ids.setdefault(fields[1], len(ids)))
        if width == 3:
            weights.append(parse_weight(fields[2], path, number, "Fix the weight or drop the edge."))
    dataset = _build(name or path.name.split(".")[0], path, src, dst, weights if width == 3 else None, ids,
                     undirected, features)
    if header is not None:
        dataset.meta["header"] = header
    return dataset


def load_adjlist(path: str | os.PathLike[str], *, undirected: bool = True, features: str = "degree",
                 name: str | None = None) -> NodeDataset:
    """Read ``node nbr nbr ...`` lines (a node with no neighbours may stand alone); unlabelled NodeDataset."""
    path = Path(path)
    ids: dict[str, int] = {}
    src: list[int] = []
    dst: list[int] = []
    for _, fields in _tokens(path):
        node = ids.setdefault(fields[0], len(ids))
        for other in fields[1:]:
            src.append(node)
            dst.append(ids.setdefault(other, len(ids)))
    return _build(name or path.name.split(".")[0], path, src, dst, None, ids, undirected, features)


def load_karate(root: str | os.PathLike[str] | None = None, *, download: bool = False,
                features: str = "degree") -> NodeDataset:
    """Zachary's karate club from ``<root>/karate/karate.adjlist``: 34 nodes, 78 edges, 2 factions as labels.

    Node ``i`` is the file's id ``i + 1`` (the file lists ids 1..34, one line each, in order).
    """
    folder = data_root(root) / "karate"
    path = require_files(folder, ["karate.adjlist"], {"karate.adjlist": KARATE_URL}, download=download,
                         dataset="karate")["karate.adjlist"]
    dataset = load_adjlist(path, features=features, name="karate")
    file_ids = dataset.meta["node_ids"]
    if sorted(int(i) for i in file_ids) != list(range(1, 35)):
        raise DatasetError(f"{path.name}: expected node ids 1..34, got {len(file_ids)} ids. Use the published file.")
    order = np.argsort([int(i) for i in file_ids])   # file id order -> node id order
    if not np.array_equal(order, np.arange(34)):
        remap = np.empty(34, dtype=np.int64)
        remap[order] = np.arange(34)
        graph = Graph(torch.from_numpy(remap[dataset.graph.src.numpy()]),
                      torch.from_numpy(remap[dataset.graph.dst.numpy()]), 34)
        dataset.graph = graph
        dataset.x = structural_features(graph, features, "load_karate")
        dataset.meta["node_ids"] = [str(i) for i in range(1, 35)]
    y = torch.ones(34, dtype=torch.int64)
    y[list(KARATE_MR_HI)] = 0
    dataset.y, dataset.num_classes = y, 2
    dataset.meta.update(classes=["Mr. Hi", "Officer"],
                        citation="Zachary, An information flow model for conflict and fission in small groups, 1977")
    return dataset
