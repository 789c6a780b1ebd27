"""Approximate personalised PageRank by push, and the top-k PPR neighbourhood of every root.

Forward push (Andersen, Chung & Lang, FOCS 2006, "Local graph partitioning using PageRank vectors"), in the
form PPRGo uses (Bojchevski et al., KDD 2020): for a root ``s`` start with the estimate ``p = 0`` and the
residual ``r = e_s``; while some node ``u`` holds ``r_u >= eps * d_u`` (``d_u`` its out-degree), push it:

.. math::
    p_u \\mathrel{+}= \\alpha\\, r_u, \\qquad r_v \\mathrel{+}= (1 - \\alpha)\\, r_u / d_u \\;\\; (u \\to v),
    \\qquad r_u = 0.

The exact PPR row is :math:`\\pi_s = \\alpha\\, e_s^\\top (I - (1 - \\alpha) D^{-1} A)^{-1}`; the push keeps the
invariant :math:`\\pi_s = p + \\sum_v r_v\\, \\pi_v`, so every entry is under-estimated by at most
:math:`\\sum_v r_v`, and on an undirected graph :math:`|\\pi_s(t) - p(t)| < \\varepsilon\\, d_t`. A node without
out-edges (dangling) keeps its ``alpha`` share and loses the rest, as the row of zeros in ``D^{-1} A`` does;
a self loop is an ordinary out-edge. Work per root is ``O(1 / (eps * alpha))`` pushes, independent of ``N``.

Roots run in parallel (numba ``prange`` over ``T`` root groups, root ``i`` in group ``i % T``); each group owns
dense ``[N]`` scratch arrays reset after every root in O(touched nodes), so results do not depend on the
thread count. Queue order is first-in first-out, ties in the top-k break towards the smaller node id.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import prange

from ..errors import SamplingError

NORMALIZATIONS = ("row", "sym", "col")


@numba.njit(cache=True, nogil=True)
def _push(root, indptr, indices, alpha, eps, p, r, queued, touched, queue):
    """Forward push from ``root`` into the dense scratch ``p``, ``r`` (``[N]`` float64, zero on entry).

    Returns the number ``m`` of touched nodes, listed in ``touched[:m]``; ``queued`` is all False on return.
    """
    num_nodes = indptr.shape[0] - 1
    r[root] = 1.0
    touched[0] = root
    num_touched = 1
    queue[0] = root
    queued[root] = True
    head, size = 0, 1
    while size > 0:
        u = queue[head]
        head = head + 1 if head + 1 < num_nodes else 0
        size -= 1
        queued[u] = False
        residual = r[u]
        r[u] = 0.0
        p[u] += alpha * residual
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            continue
        share = (1.0 - alpha) * residual / (end - start)
        for e in range(start, end):
            v = indices[e]
            if r[v] == 0.0 and p[v] == 0.0:
                touched[num_touched] = v
                num_touched += 1
            r[v] += share
            if not queued[v] and r[v] >= eps * (indptr[v + 1] - indptr[v]):
                tail = head + size
                if tail >= num_nodes:
                    tail -= num_nodes
                queue[tail] = v
                queued[v] = True
                size += 1
    return num_touched


@numba.njit(cache=True, nogil=True)
def _select_topk(p, touched, num_touched, topk, out_nodes, out_scores, offset):
    """Write the ``<= topk`` touched nodes of largest ``p > 0`` (descending, ties by id) at ``offset``."""
    ids = np.sort(touched[:num_touched])
    keys = np.empty(num_touched, dtype=np.float64)
    for j in range(num_touched):
        keys[j] = -p[ids[j]]
    order = np.argsort(keys, kind="mergesort")
    count = 0
    for j in range(min(topk, num_touched)):
        node = ids[order[j]]
        if p[node] <= 0.0:
            break
        out_nodes[offset + count] = node
        out_scores[offset + count] = p[node]
        count += 1
    return count


@numba.njit(cache=True, nogil=True, parallel=True)
def _ppr_topk_kernel(indptr, indices, roots, alpha, eps, topk, num_groups):
    """Top-k push PPR of every root: ``(counts [R], nodes [R*topk], scores [R*topk])``, root ``i`` at ``i*topk``."""
    num_nodes = indptr.shape[0] - 1
    num_roots = roots.shape[0]
    counts = np.zeros(num_roots, dtype=np.int64)
    out_nodes = np.empty(num_roots * topk, dtype=np.int64)
    out_scores = np.empty(num_roots * topk, dtype=np.float32)
    for group in prange(num_groups):
        p = np.zeros(num_nodes, dtype=np.float64)
        r = np.zeros(num_nodes, dtype=np.float64)
        queued = np.zeros(num_nodes, dtype=np.bool_)
        touched = np.empty(num_nodes, dtype=np.int64)
        queue = np.empty(num_nodes, dtype=np.int64)
        for i in range(group, num_roots, num_groups):
            m = _push(roots[i], indptr, indices, alpha, eps, p, r, queued, touched, queue)
            counts[i] = _select_topk(p, touched, m, topk, out_nodes, out_scores, i * topk)
            for j in range(m):
                p[touched[j]] = 0.0
                r[touched[j]] = 0.0
    return counts, out_nodes, out_scores


def _check_csr(indptr: Any, indices: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.asarray(indices)
    if indptr.ndim != 1 or indptr.shape[0] < 1 or indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise SamplingError(f"{where}: expected indptr as a 1-D non-decreasing int array starting at 0 "
                            f"(length N+1), got shape {indptr.shape}. Pass a CSR row pointer.")
    if indices.ndim != 1 or indices.shape[0] != indptr[-1]:
        raise SamplingError(f"{where}: expected indices of length indptr[-1] = {int(indptr[-1])}, got shape "
                            f"{indices.shape}. Pass the CSR column indices that go with indptr.")
    if indices.dtype.kind not in "iu":
        raise SamplingError(f"{where}: expected integer indices, got dtype {indices.dtype}.")
    num_nodes = indptr.shape[0] - 1
    if indices.size and (indices.min() < 0 or indices.max() >= num_nodes):
        raise SamplingError(f"{where}: expected indices in [0, {num_nodes}), got range [{indices.min()}, "
                            f"{indices.max()}]. Check that indptr has N+1 entries.")
    dtype = np.int32 if num_nodes < 2**31 - 1 else np.int64
    return indptr, np.ascontiguousarray(indices, dtype=dtype)


def check_ppr_args(alpha: Any, eps: Any, topk: Any, normalization: Any, where: str) -> None:
    """Validate the PPR hyper-parameters.

    Raises:
        SamplingError: ``alpha`` outside (0, 1), ``eps`` not > 0, ``topk`` not an int >= 1, or an unknown
            ``normalization``.
    """
    if not isinstance(alpha, (float, int)) or isinstance(alpha, bool) or not 0.0 < alpha < 1.0:
        raise SamplingError(f"{where}: expected alpha (teleport probability) in (0, 1), got {alpha!r}.")
    if not isinstance(eps, (float, int)) or isinstance(eps, bool) or not eps > 0.0:
        raise SamplingError(f"{where}: expected eps (push threshold) > 0, got {eps!r}. PPRGo uses 1e-4.")
    if isinstance(topk, bool) or not isinstance(topk, (int, np.integer)) or topk < 1:
        raise SamplingError(f"{where}: expected topk as an int >= 1, got {topk!r}. PPRGo uses 32.")
    if normalization not in NORMALIZATIONS:
        raise SamplingError(f"{where}: expected normalization in {NORMALIZATIONS}, got {normalization!r}.")


def ppr_topk(indptr: np.ndarray, indices: np.ndarray, roots: np.ndarray, *, alpha: float = 0.25,
             eps: float = 1e-4, topk: int = 32, normalization: str = "row",
             num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate PPR of each root by push over the out-edges CSR (indptr [N+1], indices [E]).

    Args:
        indptr: ``[N+1]`` int CSR row pointer; row ``u`` lists the out-neighbours of ``u``.
        indices: ``[E]`` int neighbour ids.
        roots: ``[R]`` int root node ids (repeats allowed).
        alpha: Teleport (restart) probability in (0, 1).
        eps: Push threshold: a node is pushed while its residual is ``>= eps * out_degree``.
        topk: Neighbours kept per root.
        normalization: ``"row"``: the PPR scores as they are (each root's row sums to at most 1);
            ``"sym"``: ``pi_ij * sqrt(d_i) / sqrt(d_j)``; ``"col"``: ``pi_ij * d_i / d_j`` (PPRGo's options,
            meant for undirected graphs; degrees are out-degrees clamped to >= 1).
        num_threads: Root groups run in parallel (default: numba's thread count); results do not depend on it.

    Returns:
        ``(ptr [R+1] int64, neighbors [sum k_r] int64 node ids, scores [sum k_r] float32)``: the top-k by score
        per root, sorted by descending score (ties by node id), the root itself included when it is in its
        top-k; nodes the push never reached (score 0) are left out, so ``k_r <= topk``.

    Raises:
        SamplingError: Malformed CSR, a root out of range, or a bad hyper-parameter.
    """
    where = "ppr_topk"
    check_ppr_args(alpha, eps, topk, normalization, where)
    indptr, indices = _check_csr(indptr, indices, where)
    num_nodes = indptr.shape[0] - 1
    roots = np.ascontiguousarray(roots, dtype=np.int64).reshape(-1)
    if roots.size and (roots.min() < 0 or roots.max() >= num_nodes):
        bad = roots.min() if roots.min() < 0 else roots.max()
        raise SamplingError(f"{where}: roots hold node id {bad}, out of range for {num_nodes} nodes.")
    groups = max(1, min(int(num_threads or numba.get_num_threads()), roots.shape[0]))
    counts, nodes, scores = _ppr_topk_kernel(indptr, indices, roots, float(alpha), float(eps), int(topk), groups)
    keep = (np.arange(int(topk))[None, :] < counts[:, None]).reshape(-1)
    ptr = np.zeros(roots.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    neighbors, scores = nodes[keep], scores[keep]
    if normalization != "row" and neighbors.size:
        degree = np.maximum(np.diff(indptr), 1).astype(np.float64)
        power = 0.5 if normalization == "sym" else 1.0
        root_of = np.repeat(roots, counts)
        scores = (scores * (degree[root_of] / degree[neighbors]) ** power).astype(np.float32)
    return ptr, neighbors, scores


def ppr_topk_graph(graph: Any, roots: Any, *, alpha: float = 0.25, eps: float = 1e-4, topk: int = 32,
                   normalization: str = "row") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ppr_topk`` on a graphscale ``Graph``, walking edges *backwards* (``graph.csc()``: dst -> its srcs).

    Message passing sends ``src -> dst``, so the nodes whose features reach a root are its in-neighbours,
    theirs, and so on: the PPR of root ``i`` here is the random walk with restart from ``i`` along reversed
    edges, with ``D`` the in-degree. ``pi_ij`` is then the weight node ``j`` has in ``i``'s receptive field
    (what PPRGo's ``logits_i = sum_j pi_ij H_j`` needs). On an undirected graph (both directions stored)
    this is the ordinary PPR.

    Args:
        graph: A CPU ``Graph``.
        roots: ``[R]`` node ids (tensor, array or list) or a bool mask of length ``N``.

    Returns:
        Same as ``ppr_topk``.
    """
    from .base import as_node_ids, csc_arrays

    indptr, indices, _ = csc_arrays(graph, "ppr_topk_graph")
    roots = as_node_ids(roots, graph.num_nodes, "ppr_topk_graph", "roots")
    return ppr_topk(indptr, indices, roots, alpha=alpha, eps=eps, topk=topk, normalization=normalization)


def ppr_push_dense(indptr: np.ndarray, indices: np.ndarray, root: int, *, alpha: float = 0.25,
                   eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """The full push state of one root (for tests and analysis): ``(p [N] float64, residual [N] float64)``."""
    indptr, indices = _check_csr(indptr, indices, "ppr_push_dense")
    num_nodes = indptr.shape[0] - 1
    p, r = np.zeros(num_nodes), np.zeros(num_nodes)
    queued = np.zeros(num_nodes, dtype=np.bool_)
    touched, queue = np.empty(num_nodes, dtype=np.int64), np.empty(num_nodes, dtype=np.int64)
    _push(int(root), indptr, indices, float(alpha), float(eps), p, r, queued, touched, queue)
    return p, r
