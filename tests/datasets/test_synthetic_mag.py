"""synthetic-mag: ogbn-mag's shape, determinism per seed, planted venue signal (weak features, informative links)."""

import numpy as np
import torch

from graphscale.datasets import HeteroNodeDataset, available, load, load_synthetic_mag
from graphscale.datasets.synthetic_mag import MAG_COUNTS, MAG_EDGES, MagSpec, generate_mag


def _relations_equal(a, b) -> bool:
    return all(torch.equal(r.src, b.graph[e].src) and torch.equal(r.dst, b.graph[e].dst) for e, r in a.graph.relations())


def test_deterministic_per_seed():
    a = load_synthetic_mag(num_papers=3000, seed=5)
    b = load_synthetic_mag(num_papers=3000, seed=5)
    c = load_synthetic_mag(num_papers=3000, seed=6)
    assert _relations_equal(a, b) and torch.equal(a.x["paper"], b.x["paper"]) and torch.equal(a.y, b.y)
    assert all(torch.equal(m, n) for m, n in zip(a.split(), b.split()))
    assert not torch.equal(a.y, c.y) and not _relations_equal(a, c)


def test_shape_follows_ogbn_mag():
    data = load("synthetic-mag", num_papers=20_000)
    assert isinstance(data, HeteroNodeDataset) and data.target == "paper" and data.num_classes == 64
    assert data.graph.ntypes == ("author", "field_of_study", "institution", "paper")
    assert data.graph.canonical_etypes == tuple(sorted(MAG_EDGES))
    scale = 20_000 / MAG_COUNTS["paper"]
    for ntype, count in MAG_COUNTS.items():
        assert abs(data.num_nodes[ntype] - count * scale) <= 1, ntype
    for etype, count in MAG_EDGES.items():  # duplicates merged: a little below the drawn count
        assert 0.85 * count * scale < data.graph.num_edges(etype) <= 1.05 * count * scale, etype
    assert data.num_features == {"paper": 128} and data.x["paper"].dtype == torch.float32
    assert data.y.min() >= 0 and data.y.max() < 64
    train, val, test = data.split()
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert bool((train | val | test).all())
    shares = [float(m.float().mean()) for m in (train, val, test)]
    assert np.allclose(shares, (0.855, 0.088, 0.057), atol=0.01)
    year = data.meta["node_year"]["paper"]
    assert bool((year[train] <= 2017).all() and (year[val] == 2018).all() and (year[test] == 2019).all())
    row = next(r for r in available() if r["name"] == "synthetic-mag")
    assert row["num_edges"] == data.graph.num_edges() and row["num_nodes"] == data.graph.num_nodes()


def test_add_reverse_option():
    data = load_synthetic_mag(num_papers=500, num_classes=8, add_reverse=True)
    assert len(data.graph.canonical_etypes) == 8
    writes, rev = data.graph["writes"], data.graph["rev_writes"]
    assert torch.equal(writes.src, rev.dst) and torch.equal(writes.dst, rev.src)


def _centroid_accuracy(x, y, train, test, num_classes):
    centroids = torch.stack([x[train & (y == c)].mean(0) if bool((train & (y == c)).any()) else
                             torch.full((x.shape[1],), float("inf")) for c in range(num_classes)])
    return float((torch.cdist(x[test], centroids).argmin(1) == y[test]).float().mean())


def test_features_weak_and_links_informative():
    """The planted signal: paper features alone are weak; averaging the features of the papers sharing an author
    (or cited) adds information, as a relational model does."""
    data = load_synthetic_mag(num_papers=8000, num_classes=16, seed=1)
    x, y = data.x["paper"], data.y
    train, val, _ = data.split()
    own = _centroid_accuracy(x, y, train, val, 16)
    assert 1 / 16 < own < 0.6
    writes = data.graph["writes"]  # author -> paper
    a, p = writes.src.long(), writes.dst.long()
    per_author = torch.zeros(data.num_nodes["author"], x.shape[1]).index_add_(0, a, x[p])
    author_count = torch.bincount(a, minlength=data.num_nodes["author"]).clamp(min=1)[:, None]
    per_paper = torch.zeros_like(x).index_add_(0, p, per_author[a] / author_count[a])
    pooled = per_paper / torch.bincount(p, minlength=x.shape[0]).clamp(min=1)[:, None].float()
    assert _centroid_accuracy(pooled, y, train, val, 16) > own + 0.1  # measured: 0.60 against 0.46
    cites = data.graph["cites"]
    same = float((y[cites.src.long()] == y[cites.dst.long()]).float().mean())
    assert same > 0.25  # chance: about 1/16 (skewed sizes: a little more)


def test_spec_defaults_are_the_documented_ones():
    spec = MagSpec()
    assert (spec.num_papers, spec.num_classes, spec.num_features) == (20_000, 64, 128)
    arrays = generate_mag(MagSpec(num_papers=300, num_classes=4), seed=0)
    assert set(arrays["edges"]) == set(MAG_EDGES) and arrays["x"].shape == (300, 128)


def test_same_result_whatever_the_thread_count():
    import numba

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = generate_mag(MagSpec(num_papers=2000, num_classes=349), seed=3)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = generate_mag(MagSpec(num_papers=2000, num_classes=349), seed=3)
    finally:
        numba.set_num_threads(before)
    for etype, (src, dst) in one["edges"].items():
        assert np.array_equal(src, two["edges"][etype][0]) and np.array_equal(dst, two["edges"][etype][1])
    assert one["y"].max() < 349 and np.array_equal(one["y"], two["y"])
