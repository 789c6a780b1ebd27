"""Random graph generators: exact sizes, simple undirected output, determinism, expected structure."""

from __future__ import annotations

import numpy as np
import pytest

from graphscale.datasets import generators as gen
from graphscale.datasets.gen_kernels import _build_alias, _draw
from graphscale.errors import DatasetError


def _simple(u, v, n):
    assert u.dtype == np.int32 and v.dtype == np.int32
    assert (u < v).all() and u.min() >= 0 and v.max() < n
    keys = u.astype(np.int64) * n + v
    assert (np.diff(keys) > 0).all()  # sorted and distinct


def test_sbm_matches_expected_density_and_is_seeded():
    sizes, probs = [300, 200, 500], np.array([[0.05, 0.002, 0.001], [0.002, 0.08, 0.003], [0.001, 0.003, 0.02]])
    u, v = gen.stochastic_block_model(sizes, probs, seed=4)
    _simple(u, v, 1000)
    block = np.repeat(np.arange(3), sizes)
    for r in range(3):
        for s in range(r, 3):
            pairs = sizes[r] * (sizes[r] - 1) / 2 if r == s else sizes[r] * sizes[s]
            count = int(((block[u] == r) & (block[v] == s)).sum())
            if r != s:
                count += int(((block[u] == s) & (block[v] == r)).sum())
            expected = probs[r, s] * pairs
            assert abs(count - expected) < 5 * np.sqrt(expected) + 5, (r, s, count, expected)
    u2, v2 = gen.stochastic_block_model(sizes, probs, seed=4)
    u3, _ = gen.stochastic_block_model(sizes, probs, seed=5)
    assert np.array_equal(u, u2) and np.array_equal(v, v2) and not np.array_equal(u, u3[: u.size])


def test_sbm_complete_blocks():
    u, v = gen.stochastic_block_model([4, 3], [[1.0, 0.0], [0.0, 1.0]], seed=0)
    assert list(zip(u.tolist(), v.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 6)]


def test_alias_tables_sample_proportionally():
    weights = np.array([1.0, 2, 3, 4, 5, 0.5, 0.5])
    prob, alias = _build_alias(weights, np.array([0, 4, 7]))
    draws = np.random.default_rng(0).random(40000)
    first = np.bincount([_draw(prob, alias, 0, 4, r) for r in draws], minlength=7)
    second = np.bincount([_draw(prob, alias, 4, 7, r) for r in draws], minlength=7)
    np.testing.assert_allclose(first[:4] / 40000, weights[:4] / 10, atol=0.01)
    np.testing.assert_allclose(second[4:] / 40000, weights[4:] / 6, atol=0.01)
    assert first[4:].sum() == 0 and second[:4].sum() == 0  # draws stay inside their segment


def test_degree_corrected_sbm_exact_count_homophily_and_degrees():
    rng = np.random.default_rng(0)
    n = 20000
    blocks = rng.integers(0, 5, n)
    weights = gen.power_law_weights(n, 2.5, seed=1, max_ratio=200)
    u, v = gen.degree_corrected_sbm(blocks, weights, 100_000, homophily=0.7, seed=2)
    _simple(u, v, n)
    assert u.size == 100_000
    assert 0.66 < (blocks[u] == blocks[v]).mean() < 0.74
    degree = np.bincount(np.concatenate([u, v]), minlength=n)
    assert np.corrcoef(degree, weights)[0, 1] > 0.9
    u2, v2 = gen.degree_corrected_sbm(blocks, weights, 100_000, homophily=0.7, seed=2)
    assert np.array_equal(u, u2) and np.array_equal(v, v2)


def test_degree_corrected_sbm_mixing_matrix():
    blocks = np.repeat(np.arange(3), 2000)
    mixing = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # blocks 0 and 1 only link to each other
    u, v = gen.degree_corrected_sbm(blocks, np.ones(6000), 20_000, seed=0, mixing=mixing)
    pair = {tuple(sorted(p)) for p in zip(blocks[u].tolist(), blocks[v].tolist())}
    assert pair == {(0, 1), (2, 2)}


def test_power_law_graph_and_rmat_exact_sizes():
    u, v = gen.power_law_graph(5000, 40_000, exponent=2.2, seed=0)
    _simple(u, v, 5000)
    degree = np.bincount(np.concatenate([u, v]), minlength=5000)
    assert u.size == 40_000 and degree.max() > 20 * np.median(degree)  # heavy tail
    u, v = gen.rmat(12, 30_000, seed=1)
    _simple(u, v, 4096)
    assert u.size == 30_000
    u2, _ = gen.rmat(12, 30_000, seed=1)
    assert np.array_equal(u, u2)


def test_symmetrize_and_graph():
    u, v = np.array([0, 1], dtype=np.int32), np.array([2, 2], dtype=np.int32)
    graph = gen.pairs_to_graph(u, v, 3)
    assert graph.src.tolist() == [0, 1, 2, 2] and graph.dst.tolist() == [2, 2, 0, 1]


def test_generator_argument_errors():
    with pytest.raises(DatasetError, match="expected at most 6 edges for 4 nodes"):
        gen.degree_corrected_sbm(np.zeros(4, dtype=np.int64), np.ones(4), 7)
    with pytest.raises(DatasetError, match="expected probs of shape"):
        gen.stochastic_block_model([2, 2], [[0.5]])
    with pytest.raises(DatasetError, match="rmat: expected 0 < scale <= 30"):
        gen.rmat(0, 10)
