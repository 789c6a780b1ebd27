"""Link prediction data: edge splits with held-out negatives, and uniform negative sampling.

:func:`split_edges` follows Kipf & Welling, "Variational Graph Auto-Encoders" (NIPS BDL workshop 2016): every
undirected edge is taken once (as the pair ``(min, max)``; self loops dropped), the pairs are shuffled with the
seed and cut into train / valid / test (85 / 5 / 10 % by default); valid and test each get as many *negative*
pairs, uniform node pairs that are not edges of the full graph (nor self loops, nor repeated). The graph message
passing runs on is built from the training positives alone, in both directions (``train_graph``): its edge ``i``
is ``train_pos[i, 0] -> train_pos[i, 1]`` and edge ``i + P`` the reverse, so the held-out edges never reach an
encoder and a training pair's two edge ids are known (for exclusion in mini-batches, DGL's ``reverse_id``).

:func:`uniform_negatives` corrupts destinations uniformly (DGL's ``negative_sampler.Uniform``): fast, unfiltered
(a drawn pair may be an edge with probability about ``E / N^2``), seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import SamplingError
from ..graph import Graph


@dataclass
class EdgeSplit:
    """Positive and negative node pairs of a link-prediction split, and the training graph.

    Attributes:
        num_nodes: Nodes of the graph.
        train_pos: ``[P, 2]`` int64 training pairs (each undirected edge once).
        val_pos, val_neg: ``[V, 2]`` int64 validation edges and as many non-edges.
        test_pos, test_neg: ``[T, 2]`` int64 test edges and as many non-edges.
        train_graph: ``Graph`` of ``2 P`` edges: ``train_pos`` in both directions (edge ``i`` and ``i + P``).
    """

    num_nodes: int
    train_pos: Tensor
    val_pos: Tensor
    val_neg: Tensor
    test_pos: Tensor
    test_neg: Tensor
    train_graph: Graph

    def sizes(self) -> dict[str, int]:
        """Pair counts: ``train``, ``val``, ``test`` (positives; the held-out negatives are as many)."""
        return {"train": int(self.train_pos.shape[0]), "val": int(self.val_pos.shape[0]),
                "test": int(self.test_pos.shape[0])}


def undirected_pairs(graph: Graph) -> np.ndarray:
    """Each undirected edge of ``graph`` once, as sorted ``(min, max)`` rows, self loops dropped.

    Returns:
        ``[M, 2]`` int64, rows in ascending ``min * N + max`` order (multi-edges and both directions merged).
    """
    src, dst = graph.src.cpu().numpy().astype(np.int64), graph.dst.cpu().numpy().astype(np.int64)
    low, high = np.minimum(src, dst), np.maximum(src, dst)
    keep = low != high
    keys = np.unique(low[keep] * graph.num_nodes + high[keep])
    return np.stack([keys // graph.num_nodes, keys % graph.num_nodes], axis=1)


def sample_non_edges(num_nodes: int, count: int, forbidden: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct uniform pairs ``(u, v)``, ``u < v``, whose key ``u * N + v`` is not in ``forbidden``.

    Args:
        forbidden: Sorted int64 keys ``min * N + max`` of the pairs to avoid (the graph's edges).

    Returns:
        ``[count, 2]`` int64, in draw order.

    Raises:
        SamplingError: Fewer non-edges than ``count`` exist.
    """
    available = num_nodes * (num_nodes - 1) // 2 - forbidden.size
    if count > available:
        raise SamplingError(f"split_edges: expected at least {count} node pairs that are not edges, got {available} "
                            f"in a graph of {num_nodes} nodes. Hold out fewer edges.")
    chosen = np.zeros(0, dtype=np.int64)
    while chosen.size < count:
        need = count - chosen.size
        draw = rng.integers(0, num_nodes, size=(2 * need + 16, 2))
        low, high = draw.min(1), draw.max(1)
        keys = (low * num_nodes + high)[low != high]
        keys = keys[~np.isin(keys, forbidden, assume_unique=False)]
        keys = keys[~np.isin(keys, chosen)]
        _, first = np.unique(keys, return_index=True)
        chosen = np.concatenate([chosen, keys[np.sort(first)][:need]])
    return np.stack([chosen // num_nodes, chosen % num_nodes], axis=1)


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raise SamplingError unless both fractions are in ``[0, 1)`` and leave training edges."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise SamplingError(f"split_edges: expected {name} in [0, 1), got {value!r}.")
    if val_fraction + test_fraction >= 1.0:
        raise SamplingError(f"split_edges: expected val_fraction + test_fraction < 1 (edges left to train on), got "
                            f"{val_fraction} + {test_fraction}.")


def split_edges(graph: Graph, val_fraction: float = 0.05, test_fraction: float = 0.10, seed: int = 0) -> EdgeSplit:
    """Split the undirected edges of ``graph`` into train / valid / test with held-out negatives.

    Args:
        graph: Any graph; directions, multi-edges and self loops are merged or dropped (see module docstring).
        val_fraction: Share of the edges held out for validation (rounded down, at least 1 when > 0).
        test_fraction: Share held out for testing (Kipf & Welling: 0.10).
        seed: Seed of the shuffle and of the negatives (the same seed gives the same split).

    Returns:
        An :class:`EdgeSplit` whose ``train_graph`` holds only training edges.

    Raises:
        SamplingError: Bad fractions, a graph without edges, too few non-edges for the negatives.
    """
    check_fractions(val_fraction, test_fraction)
    pairs = undirected_pairs(graph)
    num_nodes, total = graph.num_nodes, pairs.shape[0]
    if total < 3:
        raise SamplingError(f"split_edges: expected a graph with at least 3 undirected edges (not self loops), got "
                            f"{total}. Link prediction needs edges to hold out.")
    rng = np.random.default_rng([int(seed), 0x11AC])
    order = rng.permutation(total)
    num_val = max(1, int(val_fraction * total)) if val_fraction > 0 else 0
    num_test = max(1, int(test_fraction * total)) if test_fraction > 0 else 0
    test, val, train = (pairs[order[:num_test]], pairs[order[num_test:num_test + num_val]],
                        pairs[order[num_test + num_val:]])
    negatives = sample_non_edges(num_nodes, num_val + num_test, pairs[:, 0] * num_nodes + pairs[:, 1], rng)
    test_neg, val_neg = negatives[:num_test], negatives[num_test:]
    src = np.concatenate([train[:, 0], train[:, 1]])
    dst = np.concatenate([train[:, 1], train[:, 0]])
    train_graph = Graph(torch.from_numpy(src), torch.from_numpy(dst), num_nodes)
    as_tensor = torch.from_numpy
    return EdgeSplit(num_nodes, as_tensor(np.ascontiguousarray(train)), as_tensor(np.ascontiguousarray(val)),
                     as_tensor(np.ascontiguousarray(val_neg)), as_tensor(np.ascontiguousarray(test)),
                     as_tensor(np.ascontiguousarray(test_neg)), train_graph)


def uniform_negatives(pairs: Tensor | np.ndarray, num_nodes: int, neg_per_pos: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Negative pairs by uniform destination corruption: ``(u, v')`` for every positive ``(u, v)``,
    ``neg_per_pos`` times, ``v'`` uniform over the nodes.

    Shapes:
        pairs: ``[B, 2]`` integer; returns ``[B * neg_per_pos, 2]`` int64 (positive ``i``'s negatives are rows
        ``i * neg_per_pos ...``).
    """
    array = pairs.numpy() if isinstance(pairs, Tensor) else np.asarray(pairs)
    src = np.repeat(array[:, 0].astype(np.int64), neg_per_pos)
    dst = rng.integers(0, num_nodes, size=src.shape[0], dtype=np.int64)
    return np.stack([src, dst], axis=1)


__all__ = ["EdgeSplit", "sample_non_edges", "split_edges", "undirected_pairs", "uniform_negatives"]
