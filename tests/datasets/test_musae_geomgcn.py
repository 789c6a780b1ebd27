"""MUSAE (facebook, github, twitch, lastfm-asia) and Geom-GCN (actor, WebKB, wiki) loaders on the real files."""

from __future__ import annotations

import pytest
import torch

import graphscale.datasets as gd


def _undirected_simple(graph):
    src, dst = graph.src.long(), graph.dst.long()
    n = graph.num_nodes
    keys = src * n + dst
    assert not (src == dst).any()
    assert torch.unique(keys).numel() == keys.numel()
    assert torch.equal(torch.sort(keys).values, torch.sort(dst * n + src).values)


@pytest.mark.parametrize("name, nodes, edges, classes, features, counts, ones", [
    ("facebook", 22470, 341646, 4, 4714, [6495, 6880, 5768, 3327], 314583),
    ("github", 37700, 578006, 2, 4005, [27961, 9739], 690374 - 16),  # 16 nodes list one feature id twice
    ("twitch-de", 9498, 306276, 2, 3170, [3756, 5742], 193132),
])
def test_musae_counts(require_dataset, name, nodes, edges, classes, features, counts, ones):
    require_dataset(name)
    data = gd.load(name)
    assert (data.num_nodes, data.graph.num_edges, data.num_classes, data.num_features) == (nodes, edges, classes,
                                                                                           features)
    assert torch.bincount(data.y).tolist() == counts
    _undirected_simple(data.graph)
    assert data.x.max().item() == 1.0 and int(data.x.sum()) == ones and (data.x.sum(1) > 0).all()  # multi-hot
    sizes = [int(m.sum()) for m in data.split()]
    assert sum(sizes) == nodes and sizes[0] == round(0.6 * nodes) and sizes[1] == round(0.2 * nodes)
    assert "seed=0" in data.meta["split"]


def test_musae_split_follows_seed_and_facebook_loops(require_dataset):
    require_dataset("facebook")
    a, b, c = gd.load("facebook"), gd.load("facebook", seed=0), gd.load("facebook", seed=1)
    assert torch.equal(a.train_mask, b.train_mask) and not torch.equal(a.train_mask, c.train_mask)
    assert a.meta["self_loops_removed"] == 179 and a.meta["undirected_edges"] == 170823


def test_lastfm_structural_features(require_dataset):
    require_dataset("lastfm-asia")
    data = gd.load("lastfm-asia")
    assert (data.num_nodes, data.graph.num_edges, data.num_classes) == (7624, 55612, 18)
    degree = torch.bincount(data.graph.dst.long(), minlength=data.num_nodes)
    bucket = torch.floor(torch.log2(degree.double() + 1)).long()
    assert torch.equal(data.x[:, :-1].argmax(1), bucket)  # one-hot log2-degree bucket
    assert data.x[:, -1].max().item() == pytest.approx(1.0)
    assert "structural" in data.meta["features"]
    assert gd.load("lastfm-asia", features="ones").x.shape == (7624, 1)


@pytest.mark.parametrize("name, nodes, edges, features, sizes, counts", [
    ("actor", 7600, 53318, 932, (3648, 2432, 1520), [853, 1337, 1630, 1815, 1965]),
    ("cornell", 183, 554, 1703, (87, 59, 37), [33, 1, 18, 101, 30]),
    ("texas", 183, 558, 1703, (87, 59, 37), [33, 1, 18, 101, 30]),
    ("wisconsin", 251, 900, 1703, (120, 80, 51), [10, 70, 118, 32, 21]),
])
def test_geomgcn_counts_and_splits(require_dataset, name, nodes, edges, features, sizes, counts):
    require_dataset(name)
    data = gd.load(name)
    assert (data.num_nodes, data.graph.num_edges, data.num_classes, data.num_features) == (nodes, edges, 5, features)
    assert torch.bincount(data.y).tolist() == counts
    _undirected_simple(data.graph)
    assert data.num_splits == 10 and data.train_mask.shape == (nodes, 10)
    for i in range(10):
        train, val, test = data.split(i)
        assert (int(train.sum()), int(val.sum()), int(test.sum())) == sizes
        assert ((train.int() + val.int() + test.int()) == 1).all()  # disjoint and covering
    assert not torch.equal(data.train_mask[:, 0], data.train_mask[:, 1])


def test_actor_directed_option(require_dataset):
    require_dataset("actor")
    data = gd.load("actor", undirected=False)
    src, dst = data.graph.src.long(), data.graph.dst.long()
    assert not (src == dst).any() and torch.unique(src * 7600 + dst).numel() == data.graph.num_edges
    assert data.graph.num_edges == 30019 - 93  # distinct directed rows minus distinct self loops


def test_chameleon_quantile_labels(require_dataset):
    require_dataset("chameleon")
    data = gd.load("chameleon")
    assert (data.num_nodes, data.graph.num_edges, data.num_features) == (2277, 62742, 3132)
    counts = torch.bincount(data.y, minlength=5)
    assert counts.min() >= 400 and counts.sum() == 2277  # five near-equal bins
    traffic = data.meta["target"]
    for low, high in zip(range(4), range(1, 5)):  # bins are ordered by traffic
        assert traffic[data.y == low].max() <= traffic[data.y == high].min()
    assert "not identical to Geom-GCN" in data.meta["labels"]
    assert [int(m.sum()) for m in data.split(3)] == [1092, 729, 456]
