r"""GraphSAINT subgraph samplers with the paper's normalisation (Zeng et al., ICLR 2020, arXiv:1907.04931).

A batch is the subgraph induced by a random node set ``V_s``: drawn node-wise (``SaintNodeSampler``, nodes
with probability :math:`p_u \propto \sum_{v} \tilde A_{v,u}^2` where :math:`\tilde A = D^{-1} A` over
in-edges), edge-wise (``SaintEdgeSampler``, edges ``u -> v`` with :math:`p_e \propto 1/d_u + 1/d_v`, both
ends kept) or by random walks (``SaintRandomWalkSampler``, ``num_roots`` uniform roots, walks of
``walk_length`` steps, numba). Nodes with no chance to be drawn never appear in a batch.

Normalisation (Section 3.2): before training, ``n`` subgraphs are pre-sampled until they hold
``coverage * N`` nodes in total; ``C_v`` counts the subgraphs holding node ``v`` and ``C_{u,v}`` those
holding edge ``u -> v``. Then

* loss: :math:`\lambda_v = C_v / n` estimates :math:`P(v \in V_s)`; a batch's ``loss_weight`` for output
  node ``v`` is :math:`1 / (\lambda_v |\text{seeds}|)`, so :math:`\sum_{v} w_v L_v` is an unbiased estimate
  of the mean loss over the seed (training) nodes;
* aggregation: :math:`\alpha_{u,v} = C_{u,v} / C_v` estimates :math:`P(u \to v \in E_s \mid v \in V_s)`;
  a batch's ``edge_weight`` is :math:`\tilde A_{v,u} / \alpha_{u,v}` with :math:`\tilde A_{v,u} = 1/d_v`
  (``aggregation="mean"``, for a weighted-sum "mean" layer) or :math:`1 / \alpha_{u,v}`
  (``aggregation="none"``, e.g. as edge weights that a GCN layer normalises itself). Then
  :math:`E[\sum_{u \to v \in E_s} w_{uv} x_u \mid v \in V_s] = \frac{1}{d_v}\sum_{u \to v} x_u`.

Weights are capped at ``1e4`` (PyG's guard against near-zero counts).
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numba
import numpy as np

from ..errors import SamplingError
from ..graph import Graph
from .base import MiniBatch, ScratchMap, check_positive, csc_arrays
from .rng import mix_seed
from .subgraph import induced_subgraph, subgraph_batch
from .walks import walk_kernel

WEIGHT_CAP = 1e4
PRESAMPLE_SALT = 0x5A17


@numba.njit(cache=True, nogil=True)
def _accumulate(counts, ids):
    for i in range(ids.shape[0]):
        counts[ids[i]] += 1.0


class SaintSampler(abc.ABC):
    """Shared part of the GraphSAINT samplers: pre-sampling, normalisation, induced-subgraph batches.

    Args:
        graph: The full graph (on the CPU).
        coverage: Pre-sample until the subgraphs hold ``coverage * N`` nodes in total (paper: 50-100).
        aggregation: "mean" (edge weights ``1 / (d_v alpha_uv)``) or "none" (``1 / alpha_uv``).
        steps_per_epoch: Batches per epoch; None gives ``ceil(N / mean subgraph size)``.
        seed: Seed of the pre-sampling.
        max_presamples: Upper bound on the number of pre-sampled subgraphs.

    Attributes:
        node_count, edge_count: ``[N]`` / ``[E]`` float64 ``C_v`` and ``C_{u,v}`` of the pre-sampling.
        num_presamples: ``n``.
        node_scale: ``[N]`` ``1 / lambda_v = n / C_v`` (0 for never-drawn nodes, capped at 1e4).
        edge_norm: ``[E]`` aggregation weight of every edge, in the graph's edge order.
    """

    def __init__(self, graph: Graph, *, coverage: float = 50.0, aggregation: str = "mean",
                 steps_per_epoch: int | None = None, seed: int = 0, max_presamples: int = 10_000) -> None:
        where = type(self).__name__
        self.csc = csc_arrays(graph, where)
        self.num_nodes, self.num_edges = graph.num_nodes, graph.num_edges
        if aggregation not in ("mean", "none"):
            raise SamplingError(f"{where}: expected aggregation 'mean' or 'none', got {aggregation!r}.")
        if not (isinstance(coverage, (int, float)) and coverage > 0):
            raise SamplingError(f"{where}: expected coverage > 0, got {coverage!r}.")
        self.aggregation = aggregation
        self.scratch = ScratchMap(self.num_nodes)
        self.in_degree = np.diff(self.csc[0]).astype(np.float64)
        self.edge_dst = graph.dst.cpu().long().numpy()
        self.edge_src = graph.src.cpu().long().numpy()
        self._presample(float(coverage), int(seed), check_positive(max_presamples, "max_presamples", where))
        if steps_per_epoch is None:
            steps_per_epoch = max(1, math.ceil(self.num_nodes / max(self.mean_nodes, 1.0)))
        self.steps_per_epoch = check_positive(steps_per_epoch, "steps_per_epoch", where)

    # -- the draw: subclasses return candidate node ids (duplicates allowed) -------------------------
    @abc.abstractmethod
    def draw(self, seed: int) -> np.ndarray:
        """Candidate node ids of one subgraph (duplicates allowed), from the per-draw ``seed``."""

    def _presample(self, coverage: float, seed: int, max_presamples: int) -> None:
        node_count = np.zeros(self.num_nodes, dtype=np.float64)
        edge_count = np.zeros(self.num_edges, dtype=np.float64)
        drawn, count, target = 0, 0, coverage * self.num_nodes
        while drawn < target and count < max_presamples:
            nodes, _, _, edge_ids = induced_subgraph(self.csc, self.draw(mix_seed(seed, PRESAMPLE_SALT, count)),
                                                     self.scratch)
            _accumulate(node_count, nodes)
            _accumulate(edge_count, edge_ids)
            drawn += nodes.shape[0]
            count += 1
        self.node_count, self.edge_count, self.num_presamples = node_count, edge_count, count
        self.mean_nodes = drawn / max(count, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(node_count > 0, count / node_count, 0.0)
            norm = np.where(edge_count > 0, node_count[self.edge_dst] / edge_count, 0.0)
        if self.aggregation == "mean":
            norm = norm / np.maximum(self.in_degree[self.edge_dst], 1.0)
        self.node_scale = np.minimum(scale, WEIGHT_CAP)
        self.edge_norm = np.minimum(norm, WEIGHT_CAP)

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        """``steps_per_epoch`` independent draws; ``batch_size`` must be None (the budget sets the size).

        Raises:
            SamplingError: A ``batch_size`` was given, or ``seeds`` is empty.
        """
        if batch_size is not None:
            raise SamplingError(f"{type(self).__name__}.plan: expected batch_size=None (the subgraph size is "
                                f"set by the sampler's budget / num_roots), got {batch_size!r}.")
        if len(seeds) == 0:
            raise SamplingError(f"{type(self).__name__}.plan: expected at least one seed node, got none.")
        mask = np.zeros(self.num_nodes, dtype=bool)
        mask[seeds] = True
        return [(mask, int(mask.sum()))] * self.steps_per_epoch

    def sample(self, item: tuple[np.ndarray, int], seed: int) -> MiniBatch:
        """One induced subgraph with ``loss_weight`` (per output node) and ``edge_weight`` (per edge)."""
        mask, num_seeds = item
        nodes, src, dst, edge_ids = induced_subgraph(self.csc, self.draw(seed), self.scratch)
        return subgraph_batch(nodes, src, dst, edge_ids, mask, node_scale=self.node_scale / num_seeds,
                              edge_weight=self.edge_norm)


def _cdf(weights: np.ndarray, where: str) -> np.ndarray:
    total = weights.sum()
    if not total > 0:
        raise SamplingError(f"{where}: expected a graph with at least one edge to sample from, got none.")
    cdf = np.cumsum(weights / total)
    cdf[-1] = 1.0
    return cdf


def _draw_cdf(cdf: np.ndarray, count: int, seed: int) -> np.ndarray:
    uniforms = np.random.default_rng(seed).random(count)
    return np.minimum(np.searchsorted(cdf, uniforms, side="right"), cdf.shape[0] - 1)


class SaintNodeSampler(SaintSampler):
    r"""GraphSAINT node sampler: ``budget`` draws with replacement, :math:`p_u \propto \sum_v \tilde A_{v,u}^2`.

    Args:
        graph: The full graph.
        budget: Node draws per subgraph (the subgraph holds the distinct ones).
        **options: ``coverage``, ``aggregation``, ``steps_per_epoch``, ``seed`` (see ``SaintSampler``).
    """

    def __init__(self, graph: Graph, budget: int, **options: Any) -> None:
        self.budget = check_positive(budget, "budget", "SaintNodeSampler")
        indptr = csc_arrays(graph, "SaintNodeSampler")[0]
        in_degree = np.maximum(np.diff(indptr), 1).astype(np.float64)
        dst, src = graph.dst.cpu().long().numpy(), graph.src.cpu().long().numpy()
        weight = np.bincount(src, weights=1.0 / in_degree[dst] ** 2, minlength=graph.num_nodes)
        self.node_cdf = _cdf(weight, "SaintNodeSampler")
        super().__init__(graph, **options)

    def draw(self, seed: int) -> np.ndarray:
        return _draw_cdf(self.node_cdf, self.budget, seed)


class SaintEdgeSampler(SaintSampler):
    r"""GraphSAINT edge sampler: ``budget`` edges ``u -> v`` drawn with :math:`p \propto 1/d_u + 1/d_v`
    (in-degrees, floored at 1), the subgraph induced by their end nodes.

    Args:
        graph: The full graph.
        budget: Edge draws per subgraph.
        **options: See ``SaintSampler``.
    """

    def __init__(self, graph: Graph, budget: int, **options: Any) -> None:
        self.budget = check_positive(budget, "budget", "SaintEdgeSampler")
        indptr = csc_arrays(graph, "SaintEdgeSampler")[0]
        in_degree = np.maximum(np.diff(indptr), 1).astype(np.float64)
        dst, src = graph.dst.cpu().long().numpy(), graph.src.cpu().long().numpy()
        self.edge_cdf = _cdf(1.0 / in_degree[src] + 1.0 / in_degree[dst], "SaintEdgeSampler")
        super().__init__(graph, **options)

    def draw(self, seed: int) -> np.ndarray:
        edges = _draw_cdf(self.edge_cdf, self.budget, seed)
        return np.concatenate([self.edge_src[edges], self.edge_dst[edges]])


class SaintRandomWalkSampler(SaintSampler):
    """GraphSAINT random-walk sampler: ``num_roots`` uniform roots, one walk of ``walk_length`` steps each.

    Args:
        graph: The full graph.
        num_roots: Walks per subgraph.
        walk_length: Steps per walk (paper: 2).
        **options: See ``SaintSampler``.
    """

    def __init__(self, graph: Graph, num_roots: int, walk_length: int = 2, **options: Any) -> None:
        self.num_roots = check_positive(num_roots, "num_roots", "SaintRandomWalkSampler")
        self.walk_length = check_positive(walk_length, "walk_length", "SaintRandomWalkSampler")
        super().__init__(graph, **options)

    def draw(self, seed: int) -> np.ndarray:
        indptr, indices, _ = self.csc
        roots = np.random.default_rng(seed).integers(0, self.num_nodes, self.num_roots)
        return walk_kernel(indptr, indices, roots, self.walk_length, seed).reshape(-1)
