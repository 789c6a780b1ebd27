"""Sample pools (pairs within the window, subsampling, LINE edges, negatives) and the SGD trainers."""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest
import torch
from scipy.stats import chisquare

import graphscale as gs
from graphscale.datasets.generators import stochastic_block_model
from graphscale.embed import node_classification, train_embeddings
from graphscale.embed import trainer as trainer_module
from graphscale.sampling.alias import build_alias, negative_weights
from graphscale.embed.pool import Pool, fill_edges, fill_walks, keep_probabilities, pairs_per_walk, slot_of
from graphscale.embed.sgd import TorchSGD, sgd_numba
from graphscale.embed.walks import walk_plan
from graphscale.errors import ConfigError

from .test_walks import small_graph


def _pool_for(graph, walk_length, window, starts, keep=None, seed=0):
    plan = walk_plan(graph)
    prob, alias = build_alias(negative_weights(plan.graph.row_weight))
    pool = Pool.empty(len(starts) * pairs_per_walk(walk_length, window), 2)
    fill_walks(pool, plan, np.asarray(starts, dtype=np.int64), walk_length, window, prob, alias, seed, 3, keep)
    return pool, plan


def test_pool_pairs_are_the_walk_pairs_within_the_window():
    graph, _ = small_graph(False)
    edges = set(zip(graph.src.tolist(), graph.dst.tolist()))
    starts, length, window = [0, 3, 6, 2, 2] * 14, 9, 3   # 70 walks: a full block of 64 and a block of 6
    pool, _ = _pool_for(graph, length, window, starts)
    per_walk = pairs_per_walk(length, window)
    assert pool.count == len(starts) * per_walk == len(starts) * (3 * 6 + 2 + 1)
    assert sorted(slot_of(w, k, len(starts), per_walk) for w in range(len(starts)) for k in range(per_walk)) \
        == list(range(pool.count))
    grid = [(i, j) for i in range(length - 1) for j in range(1, min(window, length - 1 - i) + 1)]
    for w, start in enumerate(starts):
        slots = [slot_of(w, k, len(starts), per_walk) for k in range(per_walk)]
        pairs = [(int(pool.center[slot]), int(pool.context[slot])) for slot in slots]
        walk = [pairs[0][0]] + [ctx for (i, j), (_, ctx) in zip(grid, pairs) if j == 1]
        assert walk[0] == start and len(walk) == length
        assert all((a, b) in edges for a, b in itertools.pairwise(walk))
        assert pairs == [(walk[i], walk[i + j]) for i, j in grid]
    assert pool.negatives[:pool.count].min() >= 0 and pool.negatives[:pool.count].max() < 7


def test_subsampling_drops_nodes_before_pairing():
    graph, _ = small_graph(False)
    keep = np.ones(7, dtype=np.float32)
    keep[2] = 0.0
    pool, _ = _pool_for(graph, 12, 2, list(range(7)) * 30, keep=keep)
    valid = pool.center[:pool.count] >= 0
    assert 2 not in set(pool.center[valid].tolist()) | set(pool.context[valid].tolist())
    assert 0 < valid.sum() < pool.count
    probs = keep_probabilities(np.array([1e-5, 1e-3, 1e-2]), 1e-3)
    np.testing.assert_allclose(probs, [1.0, 1.0, (np.sqrt(10) + 1) / 10], rtol=1e-6)


def test_negatives_follow_degree_to_the_0_75():
    graph, _ = small_graph(False)
    pool, plan = _pool_for(graph, 20, 5, list(range(7)) * 200)
    observed = np.bincount(pool.negatives[:pool.count].ravel(), minlength=7)
    expected = negative_weights(plan.graph.row_weight)
    assert chisquare(observed, expected / expected.sum() * observed.sum()).pvalue > 1e-3


def test_line_edge_pool_is_weight_proportional():
    graph, weight = small_graph(True)
    plan = walk_plan(graph, edge_weight=weight)
    wg = plan.graph
    src = np.repeat(np.arange(7, dtype=np.int32), wg.out_degrees())
    edge_prob, edge_alias = build_alias(wg.weight)
    prob, alias = build_alias(negative_weights(wg.row_weight))
    pool = Pool.empty(60000, 1)
    fill_edges(pool, src, wg.indices, edge_prob, edge_alias, True, prob, alias, 7, 60000, 5, 0)
    position = {(int(a), int(b)): e for e, (a, b) in enumerate(zip(src, wg.indices))}
    observed = np.bincount([position[(int(a), int(b))] for a, b in zip(pool.center, pool.context)],
                           minlength=wg.num_edges)
    assert chisquare(observed, wg.weight / wg.weight.sum() * observed.sum()).pvalue > 1e-3


def _reference_sgd(vertex, context, samples, lr, negative_weight):
    """Plain numpy SGNS, one sample at a time (the update sgd_numba and TorchSGD must reproduce)."""
    for u, v, negs in samples:
        grad = np.zeros_like(vertex[u])
        for k, target in enumerate([v, *negs]):
            if k > 0 and target == v:
                continue
            dot = float(vertex[u] @ context[target])
            prob = 1.0 / (1.0 + np.exp(-np.clip(dot, -6, 6)))
            g = ((1.0 if k == 0 else 0.0) - prob) * lr * (1.0 if k == 0 else negative_weight)
            grad += g * context[target]
            context[target] += g * vertex[u]
        vertex[u] += grad


@pytest.mark.parametrize("num_negatives", [1, 2])
def test_sgd_kernels_match_the_reference_update(num_negatives):
    rng = np.random.default_rng(num_negatives)
    vertex = rng.normal(0, 0.3, (9, 8)).astype(np.float32)
    context = rng.normal(0, 0.3, (9, 8)).astype(np.float32)
    center = rng.integers(0, 9, 40).astype(np.int32)
    ctx = rng.integers(0, 9, 40).astype(np.int32)
    negs = np.stack([rng.choice(9, num_negatives, replace=False) for _ in range(40)]).astype(np.int32)
    negs[3, 0] = ctx[3] if negs[3, -1] != ctx[3] else negs[3, 0]   # a negative equal to the positive is skipped
    center[5] = -1        # an empty slot is skipped
    expected_v, expected_c = vertex.astype(np.float64), context.astype(np.float64)
    _reference_sgd(expected_v, expected_c, [(u, v, n) for u, v, n in zip(center, ctx, negs) if u >= 0], 0.1, 2.0)
    v1, c1 = vertex.copy(), context.copy()
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        sgd_numba(v1, c1, center, ctx, negs, 40, num_negatives, 0.1, 1.0, 0, 1e18, 2.0, 1, 1)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_allclose(v1, expected_v, atol=1e-5)
    np.testing.assert_allclose(c1, expected_c, atol=1e-5)
    v2, c2 = vertex.copy(), context.copy()   # one sample per torch step: the same sequence of updates
    torch_sgd = TorchSGD(v2, c2, "cpu", batch_size=1)
    torch_sgd.step(center, ctx, negs, 40, num_negatives, 0.1, 1.0, 0, 1e18, 2.0)
    torch_sgd.finish()
    np.testing.assert_allclose(v2, expected_v, atol=1e-5)
    np.testing.assert_allclose(c2, expected_c, atol=1e-5)


def _two_communities():
    pairs = stochastic_block_model([40, 40], [[0.3, 0.01], [0.01, 0.3]], seed=3)
    graph = gs.to_undirected(gs.Graph(torch.as_tensor(pairs[0]), torch.as_tensor(pairs[1]), 80))
    return graph, torch.tensor([0] * 40 + [1] * 40)


@pytest.mark.parametrize("model,options", [
    ("deepwalk", {}), ("node2vec", {"p": 0.5, "q": 2.0}), ("line", {"order": 1}), ("line", {"order": 2}),
    ("deepwalk", {"backend": "torch", "batch_size": 256}), ("deepwalk", {"subsample": 0.01, "negatives": 3}),
])
def test_embeddings_separate_two_communities(model, options):
    graph, labels = _two_communities()
    result = train_embeddings(graph, model, 16, num_walks=20, walk_length=20, window=3, pool_size=4096, seed=1,
                              lr=0.05, **options)
    assert result.embeddings.shape == (80, 16) and np.isfinite(result.embeddings).all()
    assert result.num_samples > 0 and result.train_time_s > 0 and result.sample_time_s > 0
    if options.get("order") != 1:   # first-order LINE with negative_weight 5 settles near its initial loss
        assert np.mean(result.loss[-3:]) < np.mean(result.loss[:3])
    scores = node_classification(result.embeddings, labels, ratios=[0.5], repeats=3)
    assert scores["micro_f1"][0] > 0.9, scores


def test_seeded_runs_are_identical_and_resume_continues_exactly(tmp_path, monkeypatch):
    graph, _ = _two_communities()
    options = {"num_walks": 8, "walk_length": 10, "window": 2, "pool_size": 500, "seed": 4}
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        full = train_embeddings(graph, "deepwalk", 8, **options).embeddings
        assert np.array_equal(full, train_embeddings(graph, "deepwalk", 8, **options).embeddings)
        calls = {"n": 0}
        real = trainer_module.sgd_numba

        def interrupted(*args):
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
            return real(*args)

        monkeypatch.setattr(trainer_module, "sgd_numba", interrupted)
        checkpoint = tmp_path / "ckpt.pt"
        with pytest.raises(KeyboardInterrupt):
            train_embeddings(graph, "deepwalk", 8, checkpoint=checkpoint, checkpoint_every_s=0.0, **options)
        monkeypatch.setattr(trainer_module, "sgd_numba", real)
        resumed = train_embeddings(graph, "deepwalk", 8, checkpoint=checkpoint, resume=True, **options)
        np.testing.assert_array_equal(resumed.embeddings, full)
        with pytest.raises(Exception, match="same settings"):
            train_embeddings(graph, "deepwalk", 8, checkpoint=checkpoint, resume=True, **{**options, "seed": 5})
    finally:
        numba.set_num_threads(previous)


def test_bad_settings_are_rejected():
    graph, _ = _two_communities()
    with pytest.raises(ConfigError, match="train_embeddings.model: expected one of deepwalk, node2vec, line"):
        train_embeddings(graph, "word2vec")
    with pytest.raises(ConfigError, match="train_embeddings.window: expected an int >= 1, got 0"):
        train_embeddings(graph, "deepwalk", window=0)
    with pytest.raises(ConfigError, match="unknown"):
        train_embeddings(graph, "deepwalk", windows=3)
