"""Push PPR (graphscale.sampling.ppr) against the dense PPR matrix alpha * (I - (1 - alpha) D^-1 A)^-1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.errors import SamplingError
from graphscale.sampling.ppr import ppr_push_dense, ppr_topk, ppr_topk_graph


def random_csr(num_nodes: int = 40, num_edges: int = 160, seed: int = 0, undirected: bool = False):
    """Random directed multigraph CSR with self loops and dangling nodes (the last 4 have no out-edges)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, num_nodes - 4, num_edges)
    dst = rng.integers(0, num_nodes, num_edges)
    src[:4] = dst[:4] = np.arange(4)  # self loops
    if undirected:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    order = np.lexsort((dst, src))
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.add.at(indptr, src + 1, 1)
    return np.cumsum(indptr), dst[order].astype(np.int64)


def dense_ppr(indptr, indices, alpha, iterations=400):
    """Exact PPR rows by power iteration X <- alpha I + (1 - alpha) X D^-1 A (rows of zeros for dangling)."""
    num_nodes = indptr.shape[0] - 1
    adjacency = np.zeros((num_nodes, num_nodes))
    rows = np.repeat(np.arange(num_nodes), np.diff(indptr))
    np.add.at(adjacency, (rows, indices), 1.0)
    degree = adjacency.sum(1)
    transition = adjacency / np.maximum(degree, 1)[:, None]
    ppr = alpha * np.eye(num_nodes)
    for _ in range(iterations):
        ppr = alpha * np.eye(num_nodes) + (1 - alpha) * ppr @ transition
    closed = alpha * np.linalg.inv(np.eye(num_nodes) - (1 - alpha) * transition)
    np.testing.assert_allclose(ppr, closed, atol=1e-12)
    return ppr


@pytest.mark.parametrize("alpha", [0.15, 0.5])
def test_push_invariant_and_residual_bound(alpha):
    indptr, indices = random_csr()
    exact = dense_ppr(indptr, indices, alpha)
    degree = np.diff(indptr)
    eps = 1e-3
    for root in [0, 3, 17, 38]:  # 38 is dangling
        p, r = ppr_push_dense(indptr, indices, root, alpha=alpha, eps=eps)
        # pi_s = p + sum_v r_v pi_v (Andersen-Chung-Lang invariant), exactly up to rounding
        np.testing.assert_allclose(p + r @ exact, exact[root], atol=1e-12)
        assert (r >= 0).all() and (r < eps * degree + (degree == 0) * 1e-300).all()
        error = exact[root] - p
        assert error.min() >= -1e-12 and error.max() <= r.sum() + 1e-12
        assert error.max() <= eps * degree.sum()


def test_undirected_error_is_below_eps_times_degree():
    indptr, indices = random_csr(num_nodes=50, num_edges=150, seed=3, undirected=True)
    exact = dense_ppr(indptr, indices, 0.25)
    degree = np.diff(indptr)
    for eps in (1e-2, 1e-4):
        for root in range(0, 46, 5):
            p, _ = ppr_push_dense(indptr, indices, root, alpha=0.25, eps=eps)
            assert (np.abs(exact[root] - p) <= eps * degree + 1e-12).all()
        assert np.abs(exact[root] - p).max() > 0  # approximate, not exact: the bound is being tested


def test_topk_is_the_largest_push_scores_in_order():
    indptr, indices = random_csr(seed=1)
    roots = np.array([5, 0, 39, 5, 12])
    ptr, neighbors, scores = ppr_topk(indptr, indices, roots, alpha=0.2, eps=1e-3, topk=6)
    assert ptr.dtype == neighbors.dtype == np.int64 and scores.dtype == np.float32
    for i, root in enumerate(roots):
        p, _ = ppr_push_dense(indptr, indices, root, alpha=0.2, eps=1e-3)
        ids = np.flatnonzero(p > 0)
        order = ids[np.lexsort((ids, -p[ids]))][:6]
        got = neighbors[ptr[i]:ptr[i + 1]]
        np.testing.assert_array_equal(got, order)
        np.testing.assert_allclose(scores[ptr[i]:ptr[i + 1]], p[order], rtol=1e-6)
        assert (np.diff(scores[ptr[i]:ptr[i + 1]]) <= 0).all()
    np.testing.assert_array_equal(neighbors[ptr[3]:ptr[4]], neighbors[ptr[0]:ptr[1]])
    assert ptr[3] - ptr[2] == 1 and neighbors[ptr[2]] == 39  # dangling root: only itself, score alpha
    assert scores[ptr[2]] == pytest.approx(0.2)


def test_small_eps_topk_matches_exact_ppr():
    indptr, indices = random_csr(seed=2)
    exact = dense_ppr(indptr, indices, 0.25)
    roots = np.arange(0, 36, 3)
    ptr, neighbors, scores = ppr_topk(indptr, indices, roots, alpha=0.25, eps=1e-9, topk=5)
    for i, root in enumerate(roots):
        top = np.argsort(-exact[root], kind="stable")[:5]
        np.testing.assert_array_equal(neighbors[ptr[i]:ptr[i + 1]], top)
        np.testing.assert_allclose(scores[ptr[i]:ptr[i + 1]], exact[root, top], rtol=1e-5)
        assert root in neighbors[ptr[i]:ptr[i + 1]]  # the root holds at least alpha


def test_threads_do_not_change_the_result():
    indptr, indices = random_csr(num_nodes=300, num_edges=3000, seed=4)
    roots = np.arange(300)
    one = ppr_topk(indptr, indices, roots, topk=8, num_threads=1)
    two = ppr_topk(indptr, indices, roots, topk=8, num_threads=2)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("normalization,power", [("sym", 0.5), ("col", 1.0)])
def test_normalizations(normalization, power):
    indptr, indices = random_csr(seed=5, undirected=True)
    roots = np.array([1, 7, 20])
    ptr, neighbors, scores = ppr_topk(indptr, indices, roots, topk=4)
    _, neighbors_n, scores_n = ppr_topk(indptr, indices, roots, topk=4, normalization=normalization)
    np.testing.assert_array_equal(neighbors_n, neighbors)
    degree = np.maximum(np.diff(indptr), 1)
    root_of = np.repeat(roots, np.diff(ptr))
    np.testing.assert_allclose(scores_n, scores * (degree[root_of] / degree[neighbors]) ** power, rtol=1e-6)


def test_graph_wrapper_walks_in_edges():
    indptr, indices = random_csr(seed=6)
    src = np.repeat(np.arange(indptr.shape[0] - 1), np.diff(indptr))
    # graph edges dst -> src: the CSR rows (out-edges above) are the graph's in-edges
    graph = gs.Graph(torch.from_numpy(indices), torch.from_numpy(src), indptr.shape[0] - 1)
    roots = np.array([0, 9, 33])
    expected = ppr_topk(indptr, indices, roots, topk=7)
    got = ppr_topk_graph(graph, torch.from_numpy(roots), topk=7)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs,match", [
    ({"topk": 0}, "topk"), ({"alpha": 1.0}, "alpha"), ({"eps": 0.0}, "eps"),
    ({"normalization": "l2"}, "normalization"), ({"roots": np.array([40])}, "out of range"),
])
def test_bad_input(kwargs, match):
    indptr, indices = random_csr()
    roots = kwargs.pop("roots", np.array([0]))
    with pytest.raises(SamplingError, match=match):
        ppr_topk(indptr, indices, roots, **kwargs)


def test_empty_roots():
    indptr, indices = random_csr()
    ptr, neighbors, scores = ppr_topk(indptr, indices, np.zeros(0, dtype=np.int64))
    assert ptr.tolist() == [0] and neighbors.size == 0 and scores.size == 0
