"""MUSAE social and web networks (Rozemberczki, Allen & Sarkar, J. Complex Networks 2021) and LastFM Asia.

Each dataset is an edge CSV (one header line, 0-based ids), a feature JSON ``{"<node>": [feature ids]}``
turned into multi-hot features (a repeated id counts once) and a target CSV. Graphs are made undirected:
both directions of every edge, duplicates merged, **self loops removed** (Facebook has 179; GCN-style models
add their own). No public split exists: a seeded random 60/20/20 split (``random_split``, ``seed=0``) is
made and recorded in ``meta["split"]``.

* facebook: 22,470 pages, label = page_type (company, government, politician, tvshow -> 0..3).
* github: 37,700 developers, label = ml_target (0 web, 1 machine learning).
* twitch-de / -engb / -es / -ptbr / -ru: label = mature (False 0 / True 1); node id = new_id; the
  languages share one feature vocabulary of 3,170 ids.
* lastfm-asia: 7,624 users, 18 countries. The published features are not in the shared copy (see
  its SOURCE.md), so ``features="degree"`` (default) uses one-hot log2-degree buckets plus a normalised
  log-degree column (``parse.degree_features``); ``"ones"`` and ``"identity"`` are the alternatives.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from .base import NodeDataset, random_split
from .io import data_root, open_text, require_files
from .parse import label_ids, read_edge_csv, read_json_features, simple_undirected, structural_features

MUSAE_URL = "https://raw.githubusercontent.com/benedekrozemberczki/MUSAE/5f901232957b6c9985d750aac48cda39a4b24285/input"
KARATECLUB_URL = ("https://raw.githubusercontent.com/benedekrozemberczki/karateclub/"
                  "cb46a91df8dcbeb2570debcf6a9d0c518107a2de/dataset/node_level")
CITATION = ("B. Rozemberczki, C. Allen, R. Sarkar, Multi-Scale Attributed Node Embedding, Journal of Complex "
            "Networks 9(2), 2021")
LASTFM_CITATION = ("B. Rozemberczki, R. Sarkar, Characteristic Functions on Graphs: Birds of a Feather, from "
                   "Statistical Descriptors to Parametric Models, CIKM 2020")
TWITCH_LANGUAGES = ("DE", "ENGB", "ES", "PTBR", "RU")


@dataclass(frozen=True)
class MusaeSpec:
    """Files and columns of one MUSAE-format dataset."""

    folder: str
    edges: str
    features: str | None
    target: str
    id_column: str
    label_column: str
    num_nodes: int
    feature_dim: int | None
    urls: dict[str, str]
    citation: str = CITATION


def _urls(edges: str, features: str | None, target: str, stem: str) -> dict[str, str]:
    urls = {edges: f"{MUSAE_URL}/edges/{stem}_edges.csv", target: f"{MUSAE_URL}/target/{stem}_target.csv"}
    if features:
        urls[features] = f"{MUSAE_URL}/features/{stem}.json"
    return urls


SPECS: dict[str, MusaeSpec] = {
    "facebook": MusaeSpec("facebook", "facebook_edges.csv", "facebook.json", "facebook_target.csv", "id",
                          "page_type", 22470, 4714,
                          _urls("facebook_edges.csv", "facebook.json", "facebook_target.csv", "facebook")),
    "github": MusaeSpec("github", "musae_git_edges.csv", "musae_git_features.json", "musae_git_target.csv", "id",
                        "ml_target", 37700, 4005,
                        _urls("musae_git_edges.csv", "musae_git_features.json", "musae_git_target.csv", "git")),
    "lastfm-asia": MusaeSpec("lastfm-asia", "edges.csv", None, "target.csv", "id", "target", 7624, None,
                             {"edges.csv": f"{KARATECLUB_URL}/lastfm/edges.csv",
                              "target.csv": f"{KARATECLUB_URL}/lastfm/target.csv"}, LASTFM_CITATION),
}
TWITCH_SIZES = {"DE": 9498, "ENGB": 7126, "ES": 4648, "PTBR": 1912, "RU": 4385}
for _lang in TWITCH_LANGUAGES:
    SPECS[f"twitch-{_lang.lower()}"] = MusaeSpec(
        "twitch", f"{_lang}_edges.csv", f"{_lang}.json", f"{_lang}_target.csv", "new_id", "mature",
        TWITCH_SIZES[_lang], 3170,
        {f"{_lang}_edges.csv": f"{MUSAE_URL}/edges/{_lang}_edges.csv", f"{_lang}.json": f"{MUSAE_URL}/features/"
         f"{_lang}.json", f"{_lang}_target.csv": f"{MUSAE_URL}/target/{_lang}_target.csv"})


def read_target_csv(path: Path, id_column: str, value_column: str, num_nodes: int) -> np.ndarray:
    """Column ``value_column`` of a target CSV (quoted fields allowed) ordered by ``id_column`` (0..N-1).

    Raises:
        DatasetError: Missing columns, bad or repeated ids, or ids not covering ``0..num_nodes-1``.
    """
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or id_column not in header or value_column not in header:
            raise DatasetError(f"{path.name} line 1: expected a header with columns {id_column!r} and "
                               f"{value_column!r}, got {header}. Replace the file with the published copy.")
        id_at, value_at = header.index(id_column), header.index(value_column)
        values: list[str | None] = [None] * num_nodes
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                node = int(row[id_at])
                value = row[value_at]
            except (ValueError, IndexError):
                raise DatasetError(f"{path.name} line {number}, column {id_column}: expected an integer node id "
                                   f"and a {value_column} value, got {row}.") from None
            if not 0 <= node < num_nodes or values[node] is not None:
                raise DatasetError(f"{path.name} line {number}, column {id_column}: expected a new node id in "
                                   f"[0, {num_nodes}), got {node}. Replace the file with the published copy.")
            values[node] = value
    missing = [i for i, v in enumerate(values) if v is None]
    if missing:
        raise DatasetError(f"{path.name}: expected a row for every node 0..{num_nodes - 1}, got none for "
                           f"{len(missing)} nodes (first {missing[0]}). Replace the file with the published copy.")
    return np.array(values)


def musae_graph(paths: dict[str, Path], edge_file: str, num_nodes: int):
    """Undirected simple graph of a MUSAE edge CSV plus the counts for ``meta``."""
    edges = read_edge_csv(paths[edge_file])
    return simple_undirected(edges[:, 0], edges[:, 1], num_nodes)


def load_musae(name: str, root: str | Path | None = None, *, seed: int = 0, train: float = 0.6, val: float = 0.2,
               features: str = "degree", download: bool = False) -> NodeDataset:
    """Load facebook, github, twitch-<lang> or lastfm-asia with a seeded random split.

    Args:
        name: A key of ``SPECS`` ("facebook", "github", "twitch-de", ..., "lastfm-asia").
        root: Data root (default: ``$GRAPHSCALE_DATA`` or ``~/.cache/graphscale``).
        seed, train, val: The random split (fractions of labelled nodes; the rest is test).
        features: Only for lastfm-asia (no published features here): "degree", "ones" or "identity".
        download: Fetch missing files from the authors' repositories.

    Shapes:
        x: ``[N, F]`` float32 multi-hot; y: ``[N]`` int64; masks: ``[N]`` bool.
    """
    spec = SPECS.get(name.lower())
    if spec is None:
        raise DatasetError(f"load_musae: expected name in {sorted(SPECS)}, got {name!r}.")
    folder = data_root(root) / spec.folder
    needed = [spec.edges, spec.target] + ([spec.features] if spec.features else [])
    paths = require_files(folder, needed, spec.urls, download=download, dataset=name)
    graph, counts = musae_graph(paths, spec.edges, spec.num_nodes)
    raw = read_target_csv(paths[spec.target], spec.id_column, spec.label_column, spec.num_nodes)
    if spec.label_column == "mature":
        if not set(np.unique(raw)) <= {"True", "False"}:
            raise DatasetError(f"{spec.target}: expected mature values True/False, got {sorted(set(raw))[:5]}.")
        y, classes = (raw == "True").astype(np.int64), ["False", "True"]
    elif spec.label_column in ("ml_target", "target"):
        y, classes = label_ids(raw.astype(np.int64))
    else:
        y, classes = label_ids(raw)
    if spec.features:
        x = read_json_features(paths[spec.features], spec.num_nodes, spec.feature_dim)
        feature_note = f"multi-hot over {x.shape[1]} feature ids from {spec.features}"
    else:
        x = structural_features(graph, features, name)
        feature_note = f"no published features in the data folder; structural features={features!r}"
    y_t = torch.from_numpy(y)
    masks = random_split(spec.num_nodes, train, val, seed=seed, labels=y_t)
    return NodeDataset(
        name=name.lower(), graph=graph, x=x, y=y_t, num_classes=len(classes),
        train_mask=masks[0], val_mask=masks[1], test_mask=masks[2],
        meta={"source": spec.urls[spec.edges].split("/input")[0].split("/dataset")[0], "folder": str(folder),
              "citation": spec.citation, "classes": [str(c) for c in classes], "features": feature_note,
              "split": f"random_split(train={train}, val={val}, seed={seed}); no public split exists",
              "self_loops": "removed", **counts},
    )
