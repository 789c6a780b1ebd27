"""Heterophily benchmarks in the Geom-GCN layout (Pei et al., ICLR 2020) with its 10 published splits.

* actor, cornell, texas, wisconsin: ``out1_graph_edges.txt`` (TSV, header, directed rows),
  ``out1_node_feature_label.txt`` (TSV ``node_id, features, label``; actor lists the *active* feature ids,
  dimension 932; WebKB lists a dense 1,703-dim 0/1 vector) and ``splits/<prefix>_split_0.6_0.2_{0..9}.npz``
  (uint8 ``train_mask``/``val_mask``/``test_mask``), stacked into ``[N, 10]`` bool masks.
* chameleon, squirrel: the Geom-GCN feature/label file is not available (see the folders' SOURCE.md), so
  these load the MUSAE data with the same node ids: multi-hot noun features from ``<name>.json`` and labels
  = **5 equal-frequency bins of the average monthly traffic** (``<name>_target.csv``; quantiles of the raw
  target). This binning is documented here and in ``meta``; it is *not* byte-identical to Geom-GCN's
  labels. The raw traffic is kept in ``meta["target"]`` (``[N]`` float32) for regression. Masks are the 10
  Geom-GCN splits.

Edges: by default made undirected (both directions, duplicates merged, self loops removed), which is how
most heterophily papers feed them to GCN-style models; ``undirected=False`` keeps the published direction
(duplicate rows merged, self loops removed).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from .base import NodeDataset
from .io import data_root, open_text, require_files
from .musae import CITATION as MUSAE_CITATION
from .musae import MUSAE_URL, read_target_csv
from .parse import directed_simple, multi_hot, read_edge_csv, read_json_features, simple_undirected, to_masks

GEOM_URL = "https://raw.githubusercontent.com/graphdml-uiuc-jlu/geom-gcn/f1fc0d14b3b019c562737240d06ec83b07d16a8f"
CITATION = ("H. Pei, B. Wei, K. C.-C. Chang, Y. Lei, B. Yang, Geom-GCN: Geometric Graph Convolutional Networks, "
            "ICLR 2020")
NUM_SPLITS = 10
EDGES, NODES = "out1_graph_edges.txt", "out1_node_feature_label.txt"
# name -> (prefix in the repository, number of nodes, feature dimension, features stored as active ids)
SPECS = {
    "actor": ("film", 7600, 932, True),
    "cornell": ("cornell", 183, 1703, False),
    "texas": ("texas", 183, 1703, False),
    "wisconsin": ("wisconsin", 251, 1703, False),
}
WIKI_SPECS = {"chameleon": (2277, 3132), "squirrel": (5201, 3148)}
NUM_TRAFFIC_CLASSES = 5


def split_names(prefix: str) -> list[str]:
    return [f"splits/{prefix}_split_0.6_0.2_{i}.npz" for i in range(NUM_SPLITS)]


def urls(name: str) -> dict[str, str]:
    """Canonical URL of every file of ``name`` (graphdml-uiuc-jlu/geom-gcn; MUSAE for the wiki sets)."""
    if name in WIKI_SPECS:
        out = {f"{name}_edges.csv": f"{MUSAE_URL}/edges/{name}_edges.csv",
               f"{name}.json": f"{MUSAE_URL}/features/{name}.json",
               f"{name}_target.csv": f"{MUSAE_URL}/target/{name}_target.csv"}
        prefix = name
    else:
        prefix = SPECS[name][0]
        out = {f: f"{GEOM_URL}/new_data/{prefix}/{f}" for f in (EDGES, NODES)}
    out.update({f: f"{GEOM_URL}/{f}" for f in split_names(prefix)})
    return out


def file_names(name: str) -> list[str]:
    return list(urls(name))


def read_splits(paths: list[Path], num_nodes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack the published split files into ``[N, S]`` bool train / val / test masks."""
    columns: dict[str, list[np.ndarray]] = {"train_mask": [], "val_mask": [], "test_mask": []}
    for path in paths:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                for key, column in columns.items():
                    column.append(np.asarray(arrays[key]))
        except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise DatasetError(f"{path.name}: expected an npz with uint8 train_mask, val_mask, test_mask, got "
                               f"{type(err).__name__}: {err}. Replace the file with the published copy.") from err
        if any(c[-1].shape != (num_nodes,) for c in columns.values()):
            raise DatasetError(f"{path.name}: expected masks of length {num_nodes}, got "
                               f"{[c[-1].shape for c in columns.values()]}. Check the split belongs to this graph.")
    train, val, test = (to_masks(np.stack(columns[k], axis=1)) for k in ("train_mask", "val_mask", "test_mask"))
    return train, val, test


def read_node_file(path: Path, num_nodes: int, dim: int, sparse: bool) -> tuple[torch.Tensor, np.ndarray]:
    """``out1_node_feature_label.txt`` -> (``[N, dim]`` float32 features, ``[N]`` int64 labels) by node id."""
    labels = np.full(num_nodes, -1, dtype=np.int64)
    rows: list[list[int]] = [[] for _ in range(num_nodes)]
    dense = np.zeros((num_nodes, dim), dtype=np.float32) if not sparse else None
    with open_text(path) as handle:
        next(handle, None)
        for number, line in enumerate(handle, start=2):
            fields = line.rstrip("\n").split("\t")
            if fields == [""]:
                continue
            try:
                node, label = int(fields[0]), int(fields[2])
                values = [int(v) for v in fields[1].split(",") if v] if sparse else np.array(
                    fields[1].split(","), dtype=np.float32)
            except (ValueError, IndexError):
                raise DatasetError(f"{path.name} line {number}: expected 'node_id<TAB>features<TAB>label', got "
                                   f"{line[:80]!r}. Replace the file with the published copy.") from None
            if not 0 <= node < num_nodes:
                raise DatasetError(f"{path.name} line {number}, column node_id: expected an id in "
                                   f"[0, {num_nodes}), got {node}.")
            if sparse:
                rows[node] = values  # type: ignore[assignment]
            elif dense is not None:
                if len(values) != dim:
                    raise DatasetError(f"{path.name} line {number}, column feature: expected {dim} values, got "
                                       f"{len(values)}. Replace the file with the published copy.")
                if not np.isfinite(values).all():
                    bad = fields[1].split(",")[int(np.nonzero(~np.isfinite(values))[0][0])]
                    raise DatasetError(f"{path.name} line {number}, column feature: expected a finite number, got "
                                       f"{bad.strip()!r}. Replace the file with the published copy.")
                dense[node] = values
            labels[node] = label
    if (labels < 0).any():
        missing = int(np.nonzero(labels < 0)[0][0])
        raise DatasetError(f"{path.name}: expected a row for every node 0..{num_nodes - 1}, got none for node "
                           f"{missing}. Replace the file with the published copy.")
    x = multi_hot(rows, dim, where=path.name) if sparse else torch.from_numpy(dense)
    return x, labels


def _edges_to_graph(edges: np.ndarray, num_nodes: int, undirected: bool) -> tuple[object, dict[str, int]]:
    if undirected:
        return simple_undirected(edges[:, 0], edges[:, 1], num_nodes)
    graph = directed_simple(edges[:, 0], edges[:, 1], num_nodes, keep_self_loops=False)
    return graph, {"input_rows": int(edges.shape[0])}


def load_geomgcn(name: str, root: str | Path | None = None, *, undirected: bool = True,
                 download: bool = False) -> NodeDataset:
    """Load actor, cornell, texas, wisconsin (Geom-GCN files) or chameleon, squirrel (MUSAE files) with
    the 10 Geom-GCN splits.

    Shapes:
        x: ``[N, F]`` float32; y: ``[N]`` int64; train/val/test masks: ``[N, 10]`` bool.
    """
    name = name.lower()
    if name not in SPECS and name not in WIKI_SPECS:
        raise DatasetError(f"load_geomgcn: expected name in {sorted(SPECS) + sorted(WIKI_SPECS)}, got {name!r}.")
    folder = data_root(root) / name
    paths = require_files(folder, file_names(name), urls(name), download=download, dataset=name)
    meta: dict[str, object] = {"folder": str(folder), "citation": CITATION,
                               "split": "10 published Geom-GCN splits (60/20/20), masks [N, 10]",
                               "directed": not undirected, "self_loops": "removed"}
    if name in WIKI_SPECS:
        num_nodes, dim = WIKI_SPECS[name]
        edges = read_edge_csv(paths[f"{name}_edges.csv"])
        x = read_json_features(paths[f"{name}.json"], num_nodes, dim)
        traffic = read_target_csv(paths[f"{name}_target.csv"], "id", "target", num_nodes).astype(np.float64)
        edges_q = np.quantile(traffic, np.linspace(0, 1, NUM_TRAFFIC_CLASSES + 1)[1:-1])
        labels = np.searchsorted(edges_q, traffic, side="right").astype(np.int64)
        meta.update(citation=f"{MUSAE_CITATION}; splits: {CITATION}", target=torch.from_numpy(traffic).float(),
                    labels=f"{NUM_TRAFFIC_CLASSES} equal-frequency bins of average monthly traffic (thresholds "
                           f"{edges_q.round(1).tolist()}); not identical to Geom-GCN's labels",
                    features=f"MUSAE multi-hot noun features ({dim} ids), not Geom-GCN's features")
        prefix = name
    else:
        prefix, num_nodes, dim, sparse = SPECS[name]
        edges = read_edge_csv(paths[EDGES])
        x, labels = read_node_file(paths[NODES], num_nodes, dim, sparse)
    graph, counts = _edges_to_graph(edges, num_nodes, undirected)
    train, val, test = read_splits([paths[f] for f in split_names(prefix)], num_nodes)
    return NodeDataset(name=name, graph=graph, x=x, y=torch.from_numpy(labels), num_classes=int(labels.max()) + 1,
                       train_mask=train, val_mask=val, test_mask=test, meta={**meta, **counts})
