"""LargeVis weights, gradient and layout against references (entropy, autograd, exact kNN of clusters)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphscale.embed.largevis import (
    GRADIENT_CLIP,
    _conditional_probabilities,
    edge_weights,
    largevis,
    pair_gradient,
)
from graphscale.embed.largevis_knn import exact_knn, knn_preservation
from graphscale.errors import ShapeError


def test_conditional_probabilities_reach_the_perplexity():
    rng = np.random.default_rng(0)
    sq = np.sort(rng.random((50, 30)) * 10, axis=1)
    probs = _conditional_probabilities(sq, 8.0, 200, 1e-7)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-12)
    entropy = -(probs * np.log(probs)).sum(1)
    np.testing.assert_allclose(np.exp(entropy), 8.0, rtol=1e-4)
    # Gaussian kernel: log p is affine in the squared distance within a row, decreasing
    slopes = np.diff(np.log(probs), axis=1) / np.diff(sq, axis=1)
    np.testing.assert_allclose(slopes, slopes[:, :1].repeat(29, 1), rtol=1e-6)
    assert (slopes < 0).all()


def test_edge_weights_are_symmetric_and_sum_to_one():
    x = np.random.default_rng(1).standard_normal((200, 5)).astype(np.float32)
    idx, dist = exact_knn(x, 12)
    src, dst, w = edge_weights(idx.astype(np.int32), dist, 5.0)
    dense = np.zeros((200, 200))
    dense[src, dst] = w
    np.testing.assert_allclose(dense, dense.T, atol=1e-15)
    assert abs(w.sum() - 1.0) < 1e-9 and (w > 0).all() and (src != dst).all()
    # reference: w_ij = (p_j|i + p_i|j) / 2N from the dense conditional matrix
    probs = _conditional_probabilities(dist.astype(np.float64), 5.0, 200, 1e-5)
    cond = np.zeros((200, 200))
    cond[np.repeat(np.arange(200), 12), idx.ravel()] = probs.ravel()
    np.testing.assert_allclose(dense, (cond + cond.T) / 400, atol=1e-15)
    with pytest.raises(ShapeError, match="perplexity <= n_neighbors"):
        edge_weights(idx.astype(np.int32), dist, 20.0)


@pytest.mark.parametrize("positive", [True, False])
def test_pair_gradient_is_the_autograd_gradient_of_the_objective(positive):
    gamma = 7.0
    rng = np.random.default_rng(2)
    for _ in range(20):
        coords = rng.standard_normal((2, 2)) * 0.8
        out = np.empty(2)
        pair_gradient(coords, 0, 1, positive, gamma, out)
        y = torch.tensor(coords, requires_grad=True)
        sq = ((y[0] - y[1]) ** 2).sum()
        if positive:
            objective = -torch.log1p(sq)  # log f, f = 1 / (1 + d^2)
        else:  # the reference code's gradient integrates to gamma * log((0.1 + d^2) / (1 + d^2)) / 0.9
            objective = gamma / 0.9 * (torch.log(0.1 + sq) - torch.log1p(sq))
        objective.backward()
        expected = np.clip(y.grad[0].numpy(), -GRADIENT_CLIP, GRADIENT_CLIP)
        np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(y.grad[1].numpy(), -y.grad[0].numpy())


def clusters(num_points: int, num_clusters: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((num_clusters, dim)) * 8.0
    labels = rng.integers(0, num_clusters, num_points)
    return (centres[labels] + rng.standard_normal((num_points, dim))).astype(np.float32), labels


def test_layout_separates_well_separated_gaussian_clusters():
    x, labels = clusters(1200, 6, 40, seed=3)
    result = largevis(x, perplexity=15, num_samples=3_600_000, seed=0)
    y = result.coords
    assert y.shape == (1200, 2) and y.dtype == np.float32 and np.isfinite(y).all()
    assert set(result.times) == {"knn", "weights", "layout"} and result.num_edges > 1200 * 45
    nearest, _ = exact_knn(y, 10)
    purity = (labels[nearest] == labels[:, None]).mean()
    assert purity >= 0.97, purity
    # clusters are apart: every cluster's centroid is farther from the others than its own spread
    centroids = np.stack([y[labels == c].mean(0) for c in range(6)])
    spread = max(np.linalg.norm(y[labels == c] - centroids[c], axis=1).mean() for c in range(6))
    gaps = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)[~np.eye(6, dtype=bool)]
    assert gaps.min() > 2 * spread
    # the high-dimensional neighbourhoods are kept far better than by a random layout (~10/1200)
    assert knn_preservation(x, y, 10) > 0.1


def test_layout_keeps_a_low_dimensional_manifold():
    # a 2-D sheet rolled into 30-D: its own 2-D neighbourhoods should be largely kept
    rng = np.random.default_rng(4)
    sheet = rng.random((1000, 2)) * 4
    x = (sheet @ rng.standard_normal((2, 30))).astype(np.float32)
    y = largevis(x, perplexity=10, num_samples=1_000_000, seed=1).coords
    assert knn_preservation(x, y, 10) > 0.5


@pytest.mark.parametrize("bad, kwargs, message", [
    (np.zeros((2, 3), dtype=np.float32), {}, "at least 3 points"),
    (np.zeros((10, 3), dtype=np.float32), {"out_dim": 0}, "out_dim >= 1"),
    (np.zeros((10,), dtype=np.float32), {}, "2 dims"),
    (np.ones((10, 3), dtype=np.float32), {"n_neighbors": 12}, "n_neighbors < number of points"),
])
def test_largevis_rejects_bad_input(bad, kwargs, message):
    with pytest.raises(ShapeError, match=message):
        largevis(bad, **kwargs)
