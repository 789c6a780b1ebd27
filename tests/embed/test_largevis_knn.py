"""LargeVis kNN graph: RP trees + neighbour exploring against exact brute-force neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from graphscale.embed.largevis_knn import exact_knn, knn_graph, knn_preservation, knn_recall
from graphscale.errors import ShapeError


def brute_force(x: np.ndarray, k: int) -> np.ndarray:
    """Oracle: full pairwise distance matrix, self excluded, stable sort."""
    d = ((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1500, 16)).astype(np.float32)


def test_exact_knn_matches_the_brute_force_oracle(gaussian):
    x = gaussian[:400]
    idx, dist = exact_knn(x, 7)
    assert idx.shape == (400, 7) and dist.shape == (400, 7)
    assert knn_recall(idx, brute_force(x, 7)) == 1.0
    ref = ((x[:, None, :] - x[idx]) ** 2).sum(-1)
    np.testing.assert_allclose(dist, ref, rtol=1e-4, atol=1e-4)
    assert (np.diff(dist, axis=1) >= -1e-6).all()
    sub, _ = exact_knn(x, 7, queries=[5, 17])
    np.testing.assert_array_equal(sub, idx[[5, 17]])


def test_rp_trees_plus_exploring_reach_high_recall_on_random_data(gaussian):
    k = 10
    exact = brute_force(gaussian, k)
    trees_only, _ = knn_graph(gaussian, k, num_trees=20, explore_rounds=0, seed=1)
    explored, dist = knn_graph(gaussian, k, num_trees=20, explore_rounds=2, seed=1)
    recall_trees, recall = knn_recall(trees_only, exact), knn_recall(explored, exact)
    assert recall >= 0.9, recall
    assert recall > recall_trees  # exploring improves on the tree candidates
    assert explored.dtype == np.int32 and explored.shape == (1500, k)
    rows = np.arange(1500)[:, None]
    assert (explored != rows).all() and all(np.unique(r).size == k for r in explored)  # no self, no repeats
    ref = ((gaussian[:, None, :] - gaussian[explored]) ** 2).sum(-1)
    np.testing.assert_allclose(dist, ref, rtol=1e-4, atol=1e-4)
    assert (np.diff(dist, axis=1) >= 0).all()


def test_knn_graph_is_deterministic_for_a_seed(gaussian):
    import numba

    x = gaussian[:600]
    a, _ = knn_graph(x, 8, seed=3)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b, _ = knn_graph(x, 8, seed=3)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(a, b)
    c, _ = knn_graph(x, 8, seed=4, explore_rounds=0)
    d, _ = knn_graph(x, 8, seed=3, explore_rounds=0)
    assert not np.array_equal(c, d)


def test_duplicate_points_and_tiny_leaves_still_give_k_neighbours():
    x = np.repeat(np.eye(4, dtype=np.float32), 30, axis=0)  # 4 distinct points, 30 copies each
    idx, dist = knn_graph(x, 12, num_trees=3, leaf_size=2, seed=0)
    assert (idx >= 0).all() and (idx != np.arange(120)[:, None]).all()
    # 29 exact copies exist for every point: all 12 neighbours are at distance 0
    np.testing.assert_array_equal(dist, 0.0)


def test_knn_preservation_scores_identity_one_and_noise_low(gaussian):
    x = gaussian[:500]
    assert knn_preservation(x, x, 5) == 1.0
    noise = np.random.default_rng(1).standard_normal((500, 2))
    assert knn_preservation(x, noise, 5) < 0.1


@pytest.mark.parametrize("bad, message", [
    (np.zeros(5, dtype=np.float32), "expected x with 2 dims"),
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "NaN or inf in row 0"),
    (np.array([["a", "b"]] * 3), "real number dtype"),
])
def test_bad_vectors_are_rejected(bad, message):
    with pytest.raises(ShapeError, match=message):
        knn_graph(bad, 1)


def test_k_must_be_below_the_number_of_points():
    with pytest.raises(ShapeError, match=r"1 <= n_neighbors < number of points \(4\), got 4"):
        knn_graph(np.zeros((4, 2), dtype=np.float32), 4)
