"""Heterogeneous neighbour sampling: typed blocks, fanouts per relation, ids, determinism, the loader."""

import numpy as np
import pytest
import torch

from graphscale.errors import SamplingError
from graphscale.graph import HeteroGraph
from graphscale.loader import NodeLoader
from graphscale.sampling.hetero import HeteroNeighborSampler

WRITES, CITES, REV = ("author", "writes", "paper"), ("paper", "cites", "paper"), ("paper", "rev_writes", "author")


def graph(seed=0, papers=60, authors=40):
    g = torch.Generator().manual_seed(seed)
    w_src, w_dst = torch.randint(0, authors, (300,), generator=g), torch.randint(0, papers, (300,), generator=g)
    pairs = torch.unique(torch.stack([w_src, w_dst]), dim=1)  # no multi-edges: a sampled edge set is a set
    c = torch.unique(torch.randint(0, papers, (2, 250), generator=g), dim=1)
    return HeteroGraph({"paper": papers, "author": authors}, {
        WRITES: (pairs[0], pairs[1]), CITES: (c[0], c[1]), REV: (pairs[1], pairs[0])})


def global_edges(block, etype):
    rel = block[etype]
    return (block.src_ids[etype[0]][rel.src.long()], block.dst_ids[etype[2]][rel.dst.long()])


def test_blocks_are_typed_chained_and_map_to_real_edges():
    hg = graph()
    sampler = HeteroNeighborSampler(hg, [{"writes": 3, "cites": 2, "rev_writes": 4}, 2], target="paper")
    seeds = torch.tensor([5, 17, 3, 40])
    blocks = sampler.sample_blocks({"paper": seeds}, seed=7)
    assert len(blocks) == 2
    assert torch.equal(blocks[-1].dst_ids["paper"], seeds) and blocks[-1].num_dst_nodes("author") == 0
    for block in blocks:
        for t in hg.ntypes:  # destinations are the first sources of their type
            assert torch.equal(block.src_ids[t][: block.num_dst_nodes(t)], block.dst_ids[t])
        for etype in hg.canonical_etypes:
            src, dst = global_edges(block, etype)
            full = set(zip(hg[etype].src.tolist(), hg[etype].dst.tolist()))
            assert set(zip(src.tolist(), dst.tolist())) <= full
            eids = block.edge_ids[etype]
            assert torch.equal(hg[etype].src[eids].long(), src) and torch.equal(hg[etype].dst[eids].long(), dst)
    for inner, outer in zip(blocks[:-1], blocks[1:]):  # sources of hop l are the destinations of hop l + 1
        for t in hg.ntypes:
            assert torch.equal(inner.dst_ids[t], outer.src_ids[t])


def test_fanouts_per_relation_bound_in_edges():
    hg = graph()
    fanouts = [{"writes": 2, "cites": 1, "rev_writes": 0}]
    block = HeteroNeighborSampler(hg, fanouts, target="paper").sample_blocks(torch.arange(60), seed=0)[0]
    for etype, fanout in ((WRITES, 2), (CITES, 1)):
        counts = torch.bincount(block[etype].dst.long(), minlength=60)
        full = hg[etype].in_degrees()
        assert torch.equal(counts, torch.minimum(full, torch.tensor(fanout)))
    assert block[REV].num_edges == 0
    everything = HeteroNeighborSampler(hg, [-1], target="paper").sample_blocks(torch.arange(60), seed=0)[0]
    assert everything[WRITES].num_edges == hg[WRITES].num_edges


def test_deterministic_per_seed_and_relations_draw_independently():
    hg = graph()
    sampler = HeteroNeighborSampler(hg, [2, 2], target="paper")
    a = sampler.sample_blocks(torch.arange(0, 60, 3), seed=3)
    b = sampler.sample_blocks(torch.arange(0, 60, 3), seed=3)
    c = sampler.sample_blocks(torch.arange(0, 60, 3), seed=4)
    same = all(torch.equal(x.edge_ids[e], y.edge_ids[e]) for x, y in zip(a, b) for e in hg.canonical_etypes)
    assert same
    assert any(not torch.equal(x.edge_ids[e], y.edge_ids[e]) for x, y in zip(a, c) for e in hg.canonical_etypes)


def test_bad_fanouts_and_seeds():
    hg = graph()
    with pytest.raises(SamplingError, match="missing"):
        HeteroNeighborSampler(hg, [{"writes": 2}], target="paper")
    with pytest.raises(SamplingError, match="hop 0"):
        HeteroNeighborSampler(hg, [{"wrotes": 2, "cites": 1, "rev_writes": 1}], target="paper")
    with pytest.raises(SamplingError, match="target"):
        HeteroNeighborSampler(hg, [2], target="venue")
    with pytest.raises(SamplingError, match="more than once"):
        HeteroNeighborSampler(hg, [2], target="paper").sample_blocks(torch.tensor([1, 1]))


def test_loader_yields_typed_batches_covering_the_seeds():
    hg = graph()
    sampler = HeteroNeighborSampler(hg, [3, 3], target="paper")
    loader = NodeLoader(sampler, torch.arange(0, 60, 2), batch_size=8, shuffle=True, seed=1, num_workers=1)
    seen = []
    for batch in loader:
        assert isinstance(batch.input_ids, dict) and set(batch.input_ids) == {"paper", "author"}
        assert torch.equal(batch.graph[-1].dst_ids["paper"], batch.output_ids)
        seen.extend(batch.output_ids.tolist())
    assert sorted(seen) == list(range(0, 60, 2))
    moved = next(iter(loader)).to("cpu")
    assert isinstance(moved.input_ids["author"], torch.Tensor)
    assert np.all(np.diff(sorted(seen)) == 2)
