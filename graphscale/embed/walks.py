"""Random walks for node embeddings, in numba, parallel over walks: DeepWalk (uniform / weighted first order)
and node2vec (second order, return parameter ``p``, in-out parameter ``q``).

Walks follow out-edges (CSR rows sorted by neighbour id). A walk that reaches a node without out-edges stops;
the rest of its row is ``-1``. Walk ``w`` of a call draws from the random stream ``(seed, stream, w)``, so a
walk depends on the seed and its number only, never on the thread count.

node2vec moves from ``v`` (having come from ``t``) to a neighbour ``x`` with probability proportional to
``w(v, x) * alpha(t, x)``, ``alpha = 1/p`` if ``x == t``, ``1`` if ``x`` is a neighbour of ``t``, ``1/q``
otherwise (Grover & Leskovec, KDD 2016, eq. 2). Two exact samplers:

* ``"alias"``: one alias table per directed edge ``(t, v)`` over ``v``'s neighbours (the node2vec reference
  implementation); O(1) steps but ``sum_v deg(v)^2`` table entries, so only for small graphs.
* ``"rejection"``: propose ``x`` from the first-order distribution of ``v`` and accept with
  ``min(alpha, m) / m``, ``m = max(1, 1/q)``; when ``1/p > m`` the excess mass of the return edge is drawn
  directly (KnightKing's outlier folding), so low ``p`` does not lower the acceptance rate. Memory O(E).

``"auto"`` takes the alias tables when they fit in ``alias_budget_mb`` (default 8 MB) and rejection sampling
otherwise: once the tables fall out of the CPU caches every alias step is a cache miss, and rejection is faster;
while they stay in cache the tables are faster (both modes are timed by the node2vec bench of
``benchmarks/embedding.py``: ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import prange

from ..errors import SamplingError
from ..graph import Graph
from ..sampling.alias import alias_draw, build_row_alias_kernel, vose_into
from ..sampling.base import check_edge_weight, sort_rows
from ..sampling.rng import below, stream, uniform

WALK_STREAM = 101
UNIFORM, ALIAS2, REJECT2 = 0, 1, 2   # walk modes: first order, node2vec alias tables, node2vec rejection


@dataclass
class WalkGraph:
    """CSR arrays the walk and pool kernels read (built once per graph by :func:`walk_graph`).

    Attributes:
        indptr: ``[N + 1]`` int64 row offsets; indices: ``[E]`` int32 neighbours, sorted within each row.
        weight: ``[E]`` float64 edge weights in CSR order (``[1]`` dummy when unweighted).
        row_prob, row_alias: per-row alias tables over the edges (``[1]`` dummies when unweighted).
        row_weight: ``[N]`` float64 total out-weight (the out-degree when unweighted).
        weighted: whether weights differ from 1.
        edge_ids: ``[E]`` int64 position of each CSR entry in the Graph's edge order.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    row_prob: np.ndarray
    row_alias: np.ndarray
    row_weight: np.ndarray
    weighted: bool
    edge_ids: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def num_edges(self) -> int:
        return int(self.indices.shape[0])

    def out_degrees(self) -> np.ndarray:
        return np.diff(self.indptr)


def walk_graph(graph: Graph | WalkGraph, edge_weight: Any = None, where: str = "walks") -> WalkGraph:
    """The :class:`WalkGraph` of ``graph`` (weights: ``[E]`` in the graph's edge order, or None)."""
    if isinstance(graph, WalkGraph):
        return graph
    if not isinstance(graph, Graph):
        raise SamplingError(f"{where}: expected a graphscale Graph, got {type(graph).__name__}. "
                            "Build one with graphscale.Graph(src, dst, num_nodes).")
    if graph.is_block or graph.device.type != "cpu":
        raise SamplingError(f"{where}: expected a full Graph on the CPU, got "
                            f"{'a Block' if graph.is_block else f'one on {graph.device}'}. Use graph.to('cpu').")
    if graph.num_nodes >= 2**31:
        raise SamplingError(f"{where}: expected fewer than 2**31 nodes, got {graph.num_nodes}.")
    indptr_t, indices_t, eids_t = graph.csr()
    indptr = indptr_t.numpy().astype(np.int64)
    indices = indices_t.numpy().astype(np.int32)   # copies: sorted in place below
    eids = eids_t.numpy().astype(np.int64)
    sort_rows(indptr, indices, eids)
    one = np.ones(1, dtype=np.float64)
    if edge_weight is None:
        return WalkGraph(indptr, indices, one, np.ones(1, np.float32), np.zeros(1, np.int32),
                         np.diff(indptr).astype(np.float64), False, eids)
    weight = check_edge_weight(edge_weight, graph.num_edges, where)[eids]
    if np.all(weight == 1.0):
        return WalkGraph(indptr, indices, one, np.ones(1, np.float32), np.zeros(1, np.int32),
                         np.diff(indptr).astype(np.float64), False, eids)
    prob, alias = build_row_alias_kernel(indptr, weight)
    row_weight = np.add.reduceat(weight, indptr[:-1]) if weight.size else np.zeros(0)
    row_weight = np.where(np.diff(indptr) > 0, row_weight, 0.0)
    return WalkGraph(indptr, indices, weight, prob, alias, row_weight, True, eids)


# -- single steps (inlined into the walk and pool kernels) ----------------------------------------------
@numba.njit(cache=True, nogil=True, inline="always")
def first_order_step(state, indptr, indices, row_prob, row_alias, weighted, v):
    """``(state, CSR position of the next edge)``; ``-1`` when ``v`` has no out-edges."""
    start = indptr[v]
    deg = indptr[v + 1] - start
    if deg == 0:
        return state, -1
    if weighted:
        state, k = alias_draw(state, row_prob, row_alias, start, deg)
    else:
        state, k = below(state, deg)
    return state, start + k


@numba.njit(cache=True, nogil=True, inline="always")
def find_edge(indptr, indices, a, b):
    """CSR position of edge ``a -> b`` by binary search in the sorted row of ``a``; ``-1`` when absent."""
    lo, hi = indptr[a], indptr[a + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < b:
            lo = mid + 1
        else:
            hi = mid
    if lo < indptr[a + 1] and indices[lo] == b:
        return lo
    return -1


@numba.njit(cache=True, nogil=True, inline="always")
def rejection_step(state, indptr, indices, weight, row_prob, row_alias, row_weight, weighted, t, v, inv_p, inv_q):
    """One node2vec step from ``v`` (previous node ``t``) by rejection; returns ``(state, CSR position)``."""
    if indptr[v + 1] == indptr[v]:
        return state, -1
    m = max(1.0, inv_q)
    excess = 0.0
    back = -1
    if inv_p > m:
        back = find_edge(indptr, indices, v, t)
        if back >= 0:
            excess = (inv_p - m) * (weight[back] if weighted else 1.0)
    total = row_weight[v] * m + excess
    while True:
        if excess > 0.0:
            state, u = uniform(state)
            if u * total < excess:
                return state, back
        state, e = first_order_step(state, indptr, indices, row_prob, row_alias, weighted, v)
        x = indices[e]
        if x == t:
            a = min(inv_p, m)
        elif find_edge(indptr, indices, t, x) >= 0:
            a = 1.0
        else:
            a = inv_q
        state, u = uniform(state)
        if u * m < a:
            return state, e


@numba.njit(cache=True, nogil=True, inline="always")
def walk_into(out, state, mode, indptr, indices, weight, row_prob, row_alias, row_weight, weighted,
              n2v_offset, n2v_prob, n2v_alias, inv_p, inv_q, start):
    """Fill ``out[:L]`` with one walk from ``start`` (``-1`` after a dead end); returns the new state."""
    length = out.shape[0]
    out[0] = start
    prev_edge = -1
    for i in range(1, length):
        v = out[i - 1]
        if v < 0:
            out[i] = -1
            continue
        if mode == UNIFORM or i == 1:
            state, e = first_order_step(state, indptr, indices, row_prob, row_alias, weighted, v)
        elif mode == ALIAS2:
            deg = indptr[v + 1] - indptr[v]
            state, k = alias_draw(state, n2v_prob, n2v_alias, n2v_offset[prev_edge], deg)
            e = indptr[v] + k
        else:
            state, e = rejection_step(state, indptr, indices, weight, row_prob, row_alias, row_weight, weighted,
                                      out[i - 2], v, inv_p, inv_q)
        prev_edge = e
        out[i] = indices[e] if e >= 0 else -1
    return state


@numba.njit(cache=True, nogil=True, parallel=True)
def walks_kernel(starts, length, mode, indptr, indices, weight, row_prob, row_alias, row_weight, weighted,
                 n2v_offset, n2v_prob, n2v_alias, inv_p, inv_q, seed, stream_id):
    walks = np.empty((starts.shape[0], length), dtype=np.int32)
    for w in prange(starts.shape[0]):
        state = stream(seed, stream_id, w)
        walk_into(walks[w], state, mode, indptr, indices, weight, row_prob, row_alias, row_weight, weighted,
                  n2v_offset, n2v_prob, n2v_alias, inv_p, inv_q, starts[w])
    return walks


# -- node2vec alias tables (one per directed edge) ------------------------------------------------------
def node2vec_table_size(wg: WalkGraph) -> int:
    """Entries of the per-edge alias tables: ``sum over edges (t, v) of deg(v)``."""
    deg = wg.out_degrees()
    return int(deg[wg.indices].sum())


@numba.njit(cache=True, nogil=True, parallel=True)
def _node2vec_tables(indptr, indices, weight, weighted, offsets, inv_p, inv_q, max_deg):
    total = offsets[-1]
    prob = np.empty(total, dtype=np.float32)
    alias = np.empty(total, dtype=np.int32)
    for t in prange(indptr.shape[0] - 1):
        w = np.empty(max_deg, dtype=np.float64)
        scaled = np.empty(max_deg, dtype=np.float64)
        small = np.empty(max_deg, dtype=np.int64)
        large = np.empty(max_deg, dtype=np.int64)
        for e in range(indptr[t], indptr[t + 1]):
            v = indices[e]
            lo, hi = indptr[v], indptr[v + 1]
            for j in range(lo, hi):
                x = indices[j]
                base = weight[j] if weighted else 1.0
                if x == t:
                    w[j - lo] = base * inv_p
                elif find_edge(indptr, indices, t, x) >= 0:
                    w[j - lo] = base
                else:
                    w[j - lo] = base * inv_q
            n = hi - lo
            off = offsets[e]
            vose_into(w[:n], prob[off:off + n], alias[off:off + n], scaled, small, large)
    return prob, alias


def node2vec_tables(wg: WalkGraph, p: float, q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(offsets int64 [E + 1], prob float32, alias int32)``: the table of edge ``e`` at ``offsets[e]``."""
    deg = wg.out_degrees()
    offsets = np.zeros(wg.num_edges + 1, dtype=np.int64)
    np.cumsum(deg[wg.indices], out=offsets[1:])
    max_deg = int(deg.max()) if deg.size else 1
    prob, alias = _node2vec_tables(wg.indptr, wg.indices, wg.weight, wg.weighted, offsets, 1.0 / p, 1.0 / q,
                                   max(max_deg, 1))
    return offsets, prob, alias


@dataclass
class WalkPlan:
    """Everything a walk kernel needs besides the start nodes (see :func:`walk_plan`)."""

    graph: WalkGraph
    mode: int
    inv_p: float
    inv_q: float
    n2v_offset: np.ndarray
    n2v_prob: np.ndarray
    n2v_alias: np.ndarray

    def args(self) -> tuple:
        g = self.graph
        return (self.mode, g.indptr, g.indices, g.weight, g.row_prob, g.row_alias, g.row_weight, g.weighted,
                self.n2v_offset, self.n2v_prob, self.n2v_alias, self.inv_p, self.inv_q)

    @property
    def mode_name(self) -> str:
        return ("uniform", "alias", "rejection")[self.mode]


def _positive(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value > 0 \
            or not np.isfinite(value):
        raise SamplingError(f"{where}: expected {name} as a number > 0, got {value!r}.")
    return float(value)


def walk_plan(graph: Graph | WalkGraph, p: float = 1.0, q: float = 1.0, *, edge_weight: Any = None,
              mode: str = "auto", alias_budget_mb: float = 8.0, where: str = "walks") -> WalkPlan:
    """Prepare walks: first order when ``p == q == 1``, else node2vec with ``mode`` alias/rejection/auto."""
    p, q = _positive(p, "p", where), _positive(q, "q", where)
    if mode not in ("auto", "alias", "rejection"):
        raise SamplingError(f"{where}: expected mode 'auto', 'alias' or 'rejection', got {mode!r}.")
    wg = walk_graph(graph, edge_weight, where)
    empty_i, empty_f = np.zeros(1, np.int64), np.ones(1, np.float32)
    if p == 1.0 and q == 1.0:
        return WalkPlan(wg, UNIFORM, 1.0, 1.0, empty_i, empty_f, np.zeros(1, np.int32))
    if mode == "auto":
        mode = "alias" if node2vec_table_size(wg) * 8 <= alias_budget_mb * 2**20 else "rejection"
    if mode == "rejection":
        return WalkPlan(wg, REJECT2, 1.0 / p, 1.0 / q, empty_i, empty_f, np.zeros(1, np.int32))
    offsets, prob, alias = node2vec_tables(wg, p, q)
    return WalkPlan(wg, ALIAS2, 1.0 / p, 1.0 / q, offsets, prob, alias)


def _walks(plan: WalkPlan, num_walks: int, walk_length: int, seed: int, where: str) -> np.ndarray:
    for value, name in ((num_walks, "num_walks"), (walk_length, "walk_length")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise SamplingError(f"{where}: expected {name} as an int >= 1, got {value!r}.")
    n = plan.graph.num_nodes
    starts = np.tile(np.arange(n, dtype=np.int64), int(num_walks))
    return walks_kernel(starts, int(walk_length), *plan.args(), int(seed), WALK_STREAM)


def deepwalk_walks(graph: Graph | WalkGraph, num_walks: int = 10, walk_length: int = 40, seed: int = 0, *,
                 edge_weight: Any = None) -> np.ndarray:
    """DeepWalk walks: ``num_walks`` walks of ``walk_length`` nodes from every node (weighted when given).

    Returns:
        ``[num_walks * N, walk_length]`` int32 node ids; walk ``r * N + v`` starts at ``v``; ``-1`` pads
        walks that hit a node without out-edges.
    """
    return _walks(walk_plan(graph, edge_weight=edge_weight, where="deepwalk_walks"), num_walks, walk_length,
                  seed, "deepwalk_walks")


def node2vec_walks(graph: Graph | WalkGraph, num_walks: int = 10, walk_length: int = 80, p: float = 1.0,
                   q: float = 1.0, seed: int = 0, *, edge_weight: Any = None, mode: str = "auto",
                   alias_budget_mb: float = 8.0) -> np.ndarray:
    """node2vec walks (second order, ``p``, ``q``); same layout as :func:`deepwalk_walks`.

    ``mode``: ``"alias"`` (per-edge tables), ``"rejection"`` (O(E) memory) or ``"auto"`` (alias tables
    when they fit in ``alias_budget_mb``).
    """
    plan = walk_plan(graph, p, q, edge_weight=edge_weight, mode=mode, alias_budget_mb=alias_budget_mb,
                     where="node2vec_walks")
    return _walks(plan, num_walks, walk_length, seed, "node2vec_walks")
