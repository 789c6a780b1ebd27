"""Synthetic datasets (sizes, determinism, cache) and the registry (names, options, paths, listing)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import graphscale.datasets as gd
from graphscale.datasets import synthetic
from graphscale.errors import DatasetError, GraphscaleWarning


def test_synthetic_default_is_deterministic_and_planetoid_like():
    a, b, c = gd.load("synthetic"), gd.load("Synthetic", seed=0), gd.load("synthetic", seed=1)
    assert (a.num_nodes, a.num_features, a.num_classes) == (2500, 64, 7)
    assert torch.equal(a.graph.src, b.graph.src) and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert torch.bincount(a.y[a.train_mask], minlength=7).tolist() == [20] * 7
    assert (int(a.val_mask.sum()), int(a.test_mask.sum())) == (500, 1000)
    assert not (a.train_mask & a.val_mask).any() and not (a.val_mask & a.test_mask).any()
    src, dst = a.graph.src.long(), a.graph.dst.long()
    assert not (src == dst).any() and torch.unique(src * 2500 + dst).numel() == a.graph.num_edges
    homophily = (a.y[src] == a.y[dst]).float().mean().item()
    assert 0.5 < homophily < 0.7 and 4 < a.graph.num_edges / 2500 < 8


def test_synthetic_is_learnable_from_graph_plus_features():
    """Nearest class mean on features alone is weak; after two rounds of neighbour averaging it is far better."""
    data = gd.load("synthetic")
    train, _, test = data.split()

    def centroid_accuracy(x):
        means = torch.stack([x[train & (data.y == k)].mean(0) for k in range(data.num_classes)])
        return (torch.cdist(x[test], means).argmin(1) == data.y[test]).float().mean().item()

    adjacency = data.graph.to_scipy()
    degree = np.asarray(adjacency.sum(1)).ravel() + 1
    smooth = data.x.numpy()
    for _ in range(2):
        smooth = (adjacency @ smooth + smooth) / degree[:, None]
    plain, propagated = centroid_accuracy(data.x), centroid_accuracy(torch.from_numpy(smooth.astype(np.float32)))
    assert 0.2 < plain < 0.6 and propagated > plain + 0.2 and propagated < 0.97


def test_synthetic_arxiv_exact_shape():
    data = gd.load("synthetic-arxiv", cache=False)
    assert (data.num_nodes, data.graph.num_edges, data.num_features, data.num_classes) == (169_343, 2_332_486, 128, 40)
    assert [int(m.sum()) for m in data.split()] == [90_941, 29_799, 48_603]
    assert data.graph.idtype == torch.int32 and data.x.dtype == torch.float32
    src, dst = data.graph.src.long(), data.graph.dst.long()
    assert not (src == dst).any()
    assert torch.unique(src * 169_343 + dst).numel() == 2_332_486  # no duplicate edges
    degree = torch.bincount(src, minlength=169_343)
    assert degree.max() > 50 * degree.float().median()  # power-law-ish
    assert 0.55 < (data.y[src] == data.y[dst]).float().mean().item() < 0.7
    assert data.meta["generation_seconds"] > 0 and data.meta["from_cache"] is False


TINY = dataclasses.replace(synthetic.PRODUCTS, num_nodes=3000, num_pairs=20_000, num_features=8, num_classes=6,
                           split_sizes=(300, 200, 2500))


def test_planted_generator_small_and_cache_roundtrip(tmp_path):
    first = synthetic.load_planted("tiny-products", TINY, tmp_path, seed=3)
    assert first.meta["from_cache"] is False
    assert (tmp_path / "synthetic" / f"tiny-products-seed3-v{synthetic.CACHE_VERSION}").is_dir()
    second = synthetic.load_planted("tiny-products", TINY, tmp_path, seed=3)
    assert second.meta["from_cache"] is True
    for name in ("x", "y", "train_mask", "test_mask"):
        assert torch.equal(getattr(first, name), getattr(second, name))
    assert torch.equal(first.graph.src, second.graph.src) and torch.equal(first.graph.dst, second.graph.dst)
    assert (first.num_nodes, first.graph.num_edges, first.num_features) == (3000, 40_000, 8)
    assert [int(m.sum()) for m in first.split()] == [300, 200, 2500]
    other = synthetic.load_planted("tiny-products", TINY, tmp_path, seed=4, cache=False)
    assert not torch.equal(other.x, first.x)


def test_load_names_suggestions_and_options():
    with pytest.raises(DatasetError, match="got 'corra'. Did you mean 'cora'"):
        gd.load("corra")
    with pytest.raises(DatasetError, match=r"load\('synthetic'\): expected options among .*got \['colour'\]"):
        gd.load("synthetic", colour="red")
    assert gd.get_spec("Twitch_DE").name == "twitch-de" and gd.get_spec("film").name == "actor"


def test_load_path_errors(tmp_path):
    with pytest.raises(DatasetError, match="expected a folder with edges.csv"):
        gd.load(tmp_path)


def test_available_lists_every_dataset(data_root):
    rows = {row["name"]: row for row in gd.available(data_root)}
    for name in ("cora", "citeseer", "pubmed", "mutag", "proteins", "enzymes", "facebook", "github", "twitch-de",
                 "lastfm-asia", "actor", "cornell", "texas", "wisconsin", "chameleon", "squirrel", "amazon-photo",
                 "synthetic", "synthetic-arxiv", "synthetic-products"):
        assert name in rows, name
    assert rows["mutag"]["task"] == "graph-classification" and rows["mutag"]["num_graphs"] == 188
    assert rows["cora"]["num_nodes"] == 2708 and rows["synthetic-products"]["num_edges"] == 123_718_280
    assert rows["synthetic"]["found"] is True
    if (data_root / "planetoid" / "ind.cora.x").exists() and not (data_root / "planetoid" / "ind.pubmed.allx").exists():
        assert rows["cora"]["found"] and not rows["pubmed"]["found"]
        assert rows["pubmed"]["missing"] == ["ind.pubmed.allx"]
        assert rows["pubmed"]["url"] == "https://github.com/kimiyoung/planetoid/raw/master/data/ind.pubmed.allx"


def test_available_empty_root(tmp_path):
    rows = gd.available(tmp_path)
    cora = next(r for r in rows if r["name"] == "cora")
    assert cora["found"] is False and cora["url"].endswith("ind.cora.x") and len(cora["missing"]) == 8


def test_planted_cache_ignores_other_parameters(tmp_path):
    synthetic.load_planted("tiny-products", TINY, tmp_path, seed=0)
    changed = dataclasses.replace(TINY, homophily=0.5)
    again = synthetic.load_planted("tiny-products", changed, tmp_path, seed=0)
    assert again.meta["from_cache"] is False and again.meta["generator"]["homophily"] == 0.5
    assert synthetic.load_planted("tiny-products", changed, tmp_path, seed=0).meta["from_cache"] is True


def test_planted_label_noise_stays_inside_groups():
    spec = dataclasses.replace(TINY, num_classes=7, group_size=3, label_noise=0.5, homophily=1.0, group_share=0.0)
    clean = synthetic.generate_planted(dataclasses.replace(spec, label_noise=0.0), seed=2)
    noisy = synthetic.generate_planted(spec, seed=2)
    changed = clean["y"] != noisy["y"]
    assert 0.2 < changed.mean() < 0.45  # half redrawn, a third of those land on the same class
    assert np.array_equal(clean["y"][changed] // 3, noisy["y"][changed] // 3)  # same group (last group: class 6)
    assert noisy["y"].max() <= 6 and np.array_equal(clean["u"], noisy["u"])


def test_planted_cache_skips_read_only_root(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "DEFAULT_ROOT", tmp_path / "fallback")
    read_only = tmp_path / "shared"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        with pytest.warns(GraphscaleWarning, match="could not write the cache"):
            data = synthetic.load_planted("tiny-ro", TINY, read_only, seed=0)
        assert list(read_only.iterdir()) == []
        assert data.meta["cache"].startswith(str(tmp_path / "fallback"))
    finally:
        read_only.chmod(0o755)


def test_local_communities_keep_the_class_mixing():
    rng = np.random.default_rng(0)
    spec = dataclasses.replace(TINY, num_classes=6, group_size=3, homophily=0.6, group_share=0.3, community_size=50,
                               locality=0.9, label_noise=0.0)
    labels = synthetic.class_sizes_labels(3000, 6, 1.0, rng)
    weights = rng.pareto(2.0, 3000) + 1.0
    class_mixing = synthetic.group_mixing(labels, weights, spec)
    blocks, mixing = synthetic.local_communities(labels, weights, class_mixing, spec, np.random.default_rng(1))
    cls_of = np.zeros(blocks.max() + 1, dtype=np.int64)
    cls_of[blocks] = labels
    sizes = np.bincount(blocks)
    assert abs(sizes.mean() - 50) < 10 and sizes.min() > 0
    assert all(np.unique(cls_of[blocks[labels == k]]).tolist() == [k] for k in range(6))  # communities nest in classes
    np.testing.assert_allclose(mixing.sum(1), 1.0, atol=1e-12)
    by_class = np.stack([mixing[:, cls_of == k].sum(1) for k in range(6)], 1)  # [B, K]
    np.testing.assert_allclose(by_class, class_mixing[cls_of], atol=1e-12)  # the class mixing is unchanged
    np.testing.assert_allclose(np.diag(mixing), 0.9 * 0.6, atol=1e-12)  # 90% of the same-class share stays local


def test_planted_locality_puts_edges_inside_communities():
    spec = dataclasses.replace(TINY, community_size=60, locality=0.95, homophily=0.7, group_share=0.2,
                               label_noise=0.0)
    flat = synthetic.generate_planted(dataclasses.replace(spec, locality=0.0), seed=5)
    local = synthetic.generate_planted(spec, seed=5)
    assert np.array_equal(flat["y"], local["y"]) and np.array_equal(flat["x"], local["x"])  # only the edges move
    weights = np.ones(3000)  # the community draw does not depend on the weights
    blocks, _ = synthetic.local_communities(local["y"], weights, synthetic.group_mixing(local["y"], weights, spec),
                                            spec, np.random.default_rng(5 + 3))

    def inside(arrays):
        return float((blocks[arrays["u"]] == blocks[arrays["v"]]).mean())

    def homophily(arrays):
        return float((arrays["y"][arrays["u"]] == arrays["y"][arrays["v"]]).mean())

    assert inside(flat) < 0.1 and inside(local) > 0.4  # 60-node communities: ~2% by chance
    assert abs(homophily(local) - homophily(flat)) < 0.1


def test_generated_datasets_carry_their_generator_version_into_the_summary(tmp_path):
    from graphscale import config
    from graphscale.datasets.synthetic import CACHE_VERSION, PlantedSpec, load_planted
    from graphscale.train.run import run

    spec = PlantedSpec(num_nodes=300, num_pairs=900, num_features=8, num_classes=3, homophily=0.7,
                       feature_signal=0.5, degree_exponent=2.5, class_skew=0.0, split_sizes=(100, 50, 100),
                       max_weight=10.0)
    dataset = load_planted("tiny", spec, cache=False)
    cfg = config.load(None, ["train.epochs=1", "train.seeds=1", "model.hidden_dim=4",
                             f"output.dir={tmp_path / 'out'}", "output.plot=false"])
    assert run(cfg, progress=False, dataset=dataset)["dataset_version"] == CACHE_VERSION
