"""Partitions of a node dataset for distributed training: one folder per part, a partition book, a manifest.

``write_partitions(dataset, out, num_parts)`` assigns every node to one of ``K`` parts (METIS, balancing
nodes *and* training nodes through one combined vertex weight, or a balanced random assignment) and writes::

    out/manifest.json          format, dataset facts, method, per-part statistics, every file's sha256
    out/node_part.npy          [N] int32   the part owning each global node id   } the partition book:
    out/node_local.npy         [N] int64   its row among that part's owned nodes }  global id <-> (part, local id)
    out/part<k>/nodes.npy      [N_k] int64 the owned global ids, ascending (local id = position)
    out/part<k>/indptr.npy     [N_k + 1] int64 } the owned nodes' in-edges (CSC): sources of local row r are
    out/part<k>/indices.npy    [E_k] int32/int64 } indices[indptr[r]:indptr[r + 1]], as global ids
    out/part<k>/edge_ids.npy   [E_k] int64 the edges' ids in the full graph
    out/part<k>/halo.npy       [H_k] int64 sources owned by other parts (the 1-hop halo), ascending
    out/part<k>/out_degree.npy [N_k] int64 the owned nodes' out-degrees in the full graph (GCN's normalisation)
    out/part<k>/x.npy, y.npy   the owned rows of the features and labels
    out/part<k>/{train,val,test}_mask.npy, edge_weight.npy   when the dataset has them

Arrays are plain ``.npy`` files (``np.load(..., allow_pickle=False)``: nothing is unpickled). Every file is
written atomically and ``manifest.json`` last, so a folder without a manifest is an interrupted write.
:func:`load_partition` and :func:`load_book` check the manifest, each file's checksum, shape and dtype, and
name the file that does not match (a :class:`~graphscale.errors.DatasetError`; exit code 2 on the CLI).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..datasets.base import NodeDataset
from ..errors import ConfigError
from ..graph import Graph

FORMAT = "graphscale-partitions/1"
METHODS = ("metis", "random")
MANIFEST = "manifest.json"


# -- assignment ----------------------------------------------------------------------------------------------
def assign_parts(graph: Graph, num_parts: int, method: str = "metis", *, seed: int = 0,
                 balance: Tensor | None = None) -> np.ndarray:
    """The part of every node: ``[N]`` int64 in ``[0, num_parts)``.

    Args:
        graph: The graph (edge directions ignored by METIS).
        num_parts: ``K``.
        method: "metis" (edge cut minimised, nodes and ``balance`` nodes balanced) or "random" (a seeded
            permutation cut into ``K`` equal runs).
        seed: METIS / permutation seed.
        balance: ``[N]`` bool nodes to spread evenly too (the training nodes), folded into METIS's vertex weight.

    Raises:
        ConfigError: An unknown method, or ``num_parts`` outside ``[1, N]``.
    """
    n = graph.num_nodes
    if method not in METHODS:
        raise ConfigError(f"partition --method: expected one of {', '.join(METHODS)}, got {method!r}.")
    if isinstance(num_parts, bool) or not isinstance(num_parts, int) or not 1 <= num_parts <= max(n, 1):
        raise ConfigError(f"partition --parts: expected an int in [1, {n}] (at most one part per node), got "
                          f"{num_parts!r}.")
    if num_parts == 1:
        return np.zeros(n, dtype=np.int64)
    if method == "random":
        order = np.random.default_rng(seed).permutation(n)
        parts = np.empty(n, dtype=np.int64)
        parts[order] = np.arange(n, dtype=np.int64) * num_parts // n
        return parts
    import pymetis

    from ..sampling.cluster import symmetric_adjacency

    xadj, adjncy = symmetric_adjacency(graph)
    weights = None
    if balance is not None and bool(balance.any()):
        # pymetis passes one balance constraint (METIS's ncon = 1), so nodes and training nodes are balanced
        # through one weight: 1 per node plus N / N_train per training node, half the total weight each.
        flags = balance.cpu().numpy().astype(bool)
        weights = 1 + flags.astype(np.int64) * max(1, round(n / int(flags.sum())))
    result = pymetis.part_graph(num_parts, pymetis.CSRAdjacency(xadj, adjncy), vweights=weights,
                                options=pymetis.Options(seed=int(seed)))
    return np.asarray(result.vertex_part, dtype=np.int64)


# -- writing -------------------------------------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _save(folder: Path, name: str, array: np.ndarray, files: dict[str, Any]) -> None:
    """``folder/name`` written atomically, its entry (shape, dtype, bytes, sha256) added to ``files``."""
    path = folder / name
    tmp = folder / f".{name}.tmp{os.getpid()}"
    with open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
    os.replace(tmp, path)
    files[name] = {"shape": list(array.shape), "dtype": str(array.dtype), "bytes": path.stat().st_size,
                   "sha256": sha256_of(path)}


def _in_edges(indptr: np.ndarray, sources: np.ndarray, edge_ids: np.ndarray,
              nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSC rows of ``nodes``: ``(indptr [R + 1], sources [E_R], edge ids [E_R])``."""
    starts, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    local = np.zeros(nodes.size + 1, dtype=np.int64)
    np.cumsum(counts, out=local[1:])
    positions = np.arange(int(local[-1]), dtype=np.int64) + np.repeat(starts - local[:-1], counts)
    return local, sources[positions], edge_ids[positions]


def _part_arrays(dataset: NodeDataset, csc: tuple[np.ndarray, ...], out_degree: np.ndarray, parts: np.ndarray,
                 k: int) -> dict[str, Any]:
    """Everything ``part<k>/`` holds, as arrays."""
    nodes = np.flatnonzero(parts == k).astype(np.int64)
    indptr, sources, edge_ids = _in_edges(*csc, nodes)
    halo = np.unique(sources[parts[sources] != k]).astype(np.int64)
    index_type = np.int32 if dataset.num_nodes < 2**31 else np.int64
    rows = torch.from_numpy(nodes)
    arrays = {"nodes.npy": nodes, "indptr.npy": indptr, "indices.npy": sources.astype(index_type),
              "edge_ids.npy": edge_ids, "halo.npy": halo, "out_degree.npy": out_degree[nodes], "x.npy": dataset.x.float()[rows].numpy(),
              "y.npy": dataset.y[rows].numpy()}
    for name, mask in (("train", dataset.train_mask), ("val", dataset.val_mask), ("test", dataset.test_mask)):
        if mask is not None:
            arrays[f"{name}_mask.npy"] = mask[rows].numpy()
    if dataset.edge_weight is not None:
        arrays["edge_weight.npy"] = dataset.edge_weight.float()[torch.from_numpy(edge_ids)].numpy()
    return arrays


def write_partitions(dataset: NodeDataset, out: str | os.PathLike[str], num_parts: int, method: str = "metis", *,
                     seed: int = 0, random_splits: int = 10) -> dict[str, Any]:
    """Partition ``dataset`` into ``num_parts`` part folders under ``out`` (see the module docstring).

    METIS balances the training nodes of the dataset's first split besides the node counts. A dataset without
    a split gets ``random_splits`` seeded 60/20/20 random ones, seeds ``0 .. S-1`` (those single-process runs
    ``0 .. S-1`` draw with ``train.seed`` 0), written into the parts as ``[N_k, S]`` masks.

    Returns:
        The manifest (also written to ``out/manifest.json``).

    Raises:
        ConfigError: An unknown method or a part count outside ``[1, N]``.
    """
    from ..datasets.base import random_split

    out = Path(out)
    graph = dataset.graph
    if not dataset.num_splits:  # the splits single-process runs 0 .. S-1 draw (train.seed 0), stacked [N, S]
        drawn = [random_split(dataset.num_nodes, seed=s, labels=dataset.y) for s in range(random_splits)]
        masks = [torch.stack([d[i] for d in drawn], 1) for i in range(3)]
        dataset = dataclasses.replace(dataset, train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])
    train = dataset.split(0)[0]
    parts = assign_parts(graph, num_parts, method, seed=seed, balance=train)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    counts = np.bincount(parts, minlength=num_parts)
    local = np.empty(graph.num_nodes, dtype=np.int64)
    for k in range(num_parts):
        local[parts == k] = np.arange(counts[k])
    _save(out, "node_part.npy", parts.astype(np.int32), files)
    _save(out, "node_local.npy", local, files)
    csc = tuple(t.cpu().numpy() for t in graph.csc())
    out_degree = graph.out_degrees().cpu().numpy()
    stats, part_files = [], []
    for k in range(num_parts):
        folder = out / f"part{k}"
        folder.mkdir(exist_ok=True)
        arrays = _part_arrays(dataset, csc, out_degree, parts, k)
        entries: dict[str, Any] = {}
        for name, array in arrays.items():
            _save(folder, name, array, entries)
        part_files.append(entries)
        owned_train = int(train[torch.from_numpy(arrays["nodes.npy"])].sum())
        stats.append({"nodes": int(arrays["nodes.npy"].size), "edges": int(arrays["indices.npy"].size),
                      "halo": int(arrays["halo.npy"].size), "train_nodes": owned_train,
                      "cut_edges": int((parts[arrays["indices.npy"]] != k).sum())})
    cut = sum(s["cut_edges"] for s in stats)
    manifest = {"format": FORMAT, "dataset": dataset.name, "num_nodes": graph.num_nodes,
                "num_edges": graph.num_edges, "num_features": dataset.num_features,
                "num_classes": dataset.num_classes, "feature_svd": dataset.meta.get("feature_svd"),
                "num_parts": num_parts, "method": method, "seed": seed,
                "edge_cut_fraction": cut / max(graph.num_edges, 1),
                "halo_fraction": sum(s["halo"] for s in stats) / max(graph.num_nodes, 1),
                "parts": stats, "files": {"book": files, "parts": part_files}}
    tmp = out / f".{MANIFEST}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out / MANIFEST)
    return manifest
