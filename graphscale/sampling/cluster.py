"""ClusterGCN batches (Chiang et al., KDD 2019, arXiv:1905.07953): METIS clusters, q of them per step.

``metis_partition`` splits the graph (made symmetric, self-loops dropped) into ``num_parts`` clusters with
pymetis and caches the assignment on disk, keyed by a hash of the graph's edges, ``num_parts`` and the
METIS seed: ``<cache_dir>/metis-p<num_parts>-s<seed>-<hash>.npy`` (``cluster_cache_dir`` puts it next to
the dataset under the data root, or in the user cache when that root is read-only). ``ClusterSampler`` then
draws, each epoch, a random grouping of the clusters into batches of ``clusters_per_batch``; a batch is the
subgraph *induced* by the union of its clusters, so the edges between the chosen clusters are kept (the paper's
stochastic multiple partitions).

A batch keeps every edge inside a cluster but an edge between two clusters only when both land in the same
group, with probability ``P = sum_g s_g (s_g - 1) / (p (p - 1))`` over the group sizes ``s_g`` (about
``(q - 1) / (p - 1)``). By default (``aggregation=None``, the paper's) a layer aggregates over the batch as if it
were the whole graph. ``aggregation="mean"`` instead gives every batch edge the weight ``1 / (d_v P_uv)``
(``d_v``: in-degree in the full graph; ``P_uv``: 1 inside a cluster, ``P`` between clusters), so a weighted-sum
mean layer's aggregate is an unbiased estimate of its full-graph neighbour mean (GraphSAINT's aggregator
normalisation with the exact edge probabilities of cluster groups); ``"none"`` gives ``1 / P_uv`` (GCN layers
normalise the weights themselves).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import MissingDependencyError, SamplingError
from ..graph import Graph
from .base import MiniBatch, ScratchMap, check_positive, chunks, csc_arrays
from .subgraph import induced_subgraph, subgraph_batch


def graph_hash(graph: Graph) -> str:
    """SHA-256 (hex, 16 chars) of the node count and the ``src``/``dst`` edge arrays."""
    digest = hashlib.sha256()
    digest.update(np.int64(graph.num_nodes).tobytes())
    for ids in (graph.src, graph.dst):
        digest.update(ids.detach().cpu().long().numpy().tobytes())
    return digest.hexdigest()[:16]


def cluster_cache_dir(dataset_name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``<data root>/<dataset name>/partitions``: where a dataset's METIS partitions are cached.

    A read-only data root (a shared dataset folder) falls back to ``~/.cache/graphscale/<dataset name>/
    partitions``, as the synthetic datasets' cache does: the file name holds the graph's hash, so a partition
    found there is one of the same graph.
    """
    from ..datasets import io

    folder = io.data_root(root) / dataset_name / "partitions"
    return folder if io.is_writable_dir(folder) else io.DEFAULT_ROOT.expanduser() / dataset_name / "partitions"


def symmetric_adjacency(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """METIS's input: the undirected adjacency without self-loops or duplicates as ``(xadj, adjncy)`` int64."""
    import scipy.sparse as sp

    n = graph.num_nodes
    src, dst = graph.src.cpu().long().numpy(), graph.dst.cpu().long().numpy()
    keep = src != dst
    ones = np.ones(int(keep.sum()), dtype=np.int8)
    matrix = sp.coo_matrix((ones, (src[keep], dst[keep])), shape=(n, n)).tocsr()
    matrix = (matrix + matrix.T).tocsr()
    matrix.sum_duplicates()
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)


def metis_partition(graph: Graph, num_parts: int, *, cache_dir: str | os.PathLike[str] | None = None,
                    seed: int = 0) -> np.ndarray:
    """Cluster id of every node from METIS (edge-cut minimising, balanced), read from the cache when present.

    Args:
        graph: The graph; edge directions are ignored.
        num_parts: Number of clusters.
        cache_dir: Folder of the on-disk cache (created when missing); None disables caching.
        seed: METIS random seed.

    Returns:
        ``[N]`` int64 cluster ids in ``[0, num_parts)``.

    Raises:
        SamplingError: ``num_parts`` not in ``[1, num_nodes]``.
        MissingDependencyError: pymetis is not installed.
    """
    num_parts = check_positive(num_parts, "num_parts", "metis_partition")
    if num_parts > max(graph.num_nodes, 1):
        raise SamplingError(f"metis_partition: expected num_parts <= num_nodes ({graph.num_nodes}), got "
                            f"{num_parts}. Use fewer clusters.")
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"metis-p{num_parts}-s{seed}-{graph_hash(graph)}.npy"
        if path.exists():
            parts = np.load(path, allow_pickle=False)
            if parts.shape == (graph.num_nodes,):
                return parts.astype(np.int64, copy=False)
    if num_parts == 1:
        parts = np.zeros(graph.num_nodes, dtype=np.int64)
    else:
        try:
            import pymetis
        except ImportError as err:
            raise MissingDependencyError("metis_partition: expected the pymetis package, got ImportError. "
                                         "Install it with pip install pymetis.") from err
        xadj, adjncy = symmetric_adjacency(graph)
        result = pymetis.part_graph(num_parts, pymetis.CSRAdjacency(xadj, adjncy),
                                    options=pymetis.Options(seed=int(seed)))
        parts = np.asarray(result.vertex_part, dtype=np.int64)
    if path is not None:
        _save_atomic(path, parts)
    return parts


def _save_atomic(path: Path, parts: np.ndarray) -> None:
    """Write ``parts`` to a temporary file and rename it into place; an unwritable cache is skipped."""
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npy")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp, parts)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


class ClusterSampler:
    """ClusterGCN sampler: batches are unions of ``batch_size`` random clusters with their induced edges.

    Args:
        graph: The full graph (on the CPU).
        num_parts: Number of METIS clusters (ignored when ``parts`` is given).
        parts: Precomputed ``[N]`` cluster ids, e.g. from ``metis_partition``.
        cache_dir: Cache folder for the METIS result (see ``cluster_cache_dir``).
        metis_seed: METIS random seed.
        aggregation: None (aggregate over the batch alone, the paper's), "mean" (edge weights
            ``1 / (d_v P_uv)``) or "none" (``1 / P_uv``); see the module docstring.

    ``plan(seeds, batch_size, ...)``: ``batch_size`` is the number of clusters per batch (``q`` in the
    paper); the outputs of a batch are its nodes that are in ``seeds`` (e.g. the training nodes). A plan item
    is ``(clusters, seed mask, P)``, ``P`` the grouping's between-cluster edge probability.

    Raises:
        SamplingError: Neither ``num_parts`` nor ``parts``, ``parts`` of the wrong shape, or an unknown
            ``aggregation``.
    """

    def __init__(self, graph: Graph, num_parts: int | None = None, *, parts: Any = None,
                 cache_dir: str | os.PathLike[str] | None = None, metis_seed: int = 0,
                 aggregation: str | None = None) -> None:
        if aggregation not in (None, "mean", "none"):
            raise SamplingError(f"ClusterSampler: expected aggregation None, 'mean' or 'none', got {aggregation!r}.")
        self.aggregation = aggregation
        self.csc = csc_arrays(graph, "ClusterSampler")
        self.in_degree = np.diff(self.csc[0])
        self.num_nodes = graph.num_nodes
        if parts is None:
            if num_parts is None:
                raise SamplingError("ClusterSampler: expected num_parts or parts, got neither. "
                                    "Pass num_parts=<clusters> (METIS runs once and is cached).")
            parts = metis_partition(graph, num_parts, cache_dir=cache_dir, seed=metis_seed)
        parts = np.asarray(parts.numpy() if hasattr(parts, "numpy") else parts).astype(np.int64)
        if parts.shape != (self.num_nodes,) or (parts.size and parts.min() < 0):
            raise SamplingError(f"ClusterSampler: expected parts as [{self.num_nodes}] cluster ids >= 0, got shape "
                                f"{parts.shape}.")
        self.parts = parts
        self.num_parts = int(parts.max()) + 1 if parts.size else 0
        order = np.argsort(parts, kind="stable")
        self.cluster_nodes = order
        self.cluster_ptr = np.zeros(self.num_parts + 1, dtype=np.int64)
        np.cumsum(np.bincount(parts, minlength=self.num_parts), out=self.cluster_ptr[1:])
        self.scratch = ScratchMap(self.num_nodes)

    def nodes_of(self, clusters: np.ndarray) -> np.ndarray:
        """Nodes of ``clusters`` concatenated (cluster by cluster, ascending ids within one)."""
        return np.concatenate([self.cluster_nodes[self.cluster_ptr[c]:self.cluster_ptr[c + 1]] for c in clusters]) \
            if len(clusters) else np.zeros(0, dtype=np.int64)

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Groups of ``batch_size`` clusters (a random grouping each epoch when ``shuffle``)."""
        size = check_positive(batch_size, "batch_size (clusters per batch)", "ClusterSampler.plan")
        mask = np.zeros(self.num_nodes, dtype=bool)
        mask[seeds] = True
        clusters = np.arange(self.num_parts)
        if shuffle:
            clusters = rng.permutation(clusters)
        between = self.pair_probability(self.num_parts, size)
        return [(group, mask, between) for group in chunks(clusters, size)]

    @staticmethod
    def pair_probability(num_parts: int, size: int) -> float:
        """Probability that two given distinct clusters share a group of a random grouping into ``size``-chunks."""
        if num_parts < 2:
            return 1.0
        sizes = np.full(num_parts // size, size, dtype=np.float64)
        if num_parts % size:
            sizes = np.append(sizes, num_parts % size)
        return float((sizes * (sizes - 1)).sum() / (num_parts * (num_parts - 1)))

    def sample(self, item: tuple[np.ndarray, np.ndarray, float], seed: int) -> MiniBatch:
        """The induced subgraph of one cluster group; ``seed`` is unused (the grouping is the randomness)."""
        clusters, mask, between_probability = item
        nodes, src, dst, edge_ids = induced_subgraph(self.csc, self.nodes_of(clusters), self.scratch)
        batch = subgraph_batch(nodes, src, dst, edge_ids, mask)
        if self.aggregation is None:
            return batch
        between = self.parts[nodes[src]] != self.parts[nodes[dst]]
        weight = np.where(between, 1.0 / between_probability, 1.0)
        if self.aggregation == "mean":
            weight = weight / self.in_degree[nodes[dst]]
        return batch._replace(edge_weight=torch.from_numpy(weight.astype(np.float32)))
