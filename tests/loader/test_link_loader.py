"""LinkLoader: pairs map back to their global ids, seed edges are excluded from message passing, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphscale.errors import SamplingError, ShapeError
from graphscale.graph import Graph
from graphscale.loader.link import LinkLoader, LinkSampler
from graphscale.sampling.link import split_edges


def split(num_nodes=200, num_edges=1500, seed=0):
    g = torch.Generator().manual_seed(seed)
    graph = Graph(torch.randint(0, num_nodes, (num_edges,), generator=g),
                  torch.randint(0, num_nodes, (num_edges,), generator=g), num_nodes)
    return split_edges(graph, 0.05, 0.1, seed=seed)


def batches(loader):
    return list(iter(loader))


def test_pairs_map_back_to_global_ids_and_cover_the_epoch():
    s = split()
    sampler = LinkSampler(s.train_graph, s.train_pos, [5, 3], neg_per_pos=3)
    seen = []
    for batch in LinkLoader(sampler, batch_size=64, seed=1, num_workers=0):
        dst_ids = batch.blocks[-1].dst_ids
        assert torch.equal(batch.pos_pairs, s.train_pos[batch.pair_ids])
        assert torch.equal(dst_ids[batch.pos_index], batch.pos_pairs)
        assert torch.equal(dst_ids[batch.neg_index], batch.neg_pairs)
        assert torch.equal(batch.neg_pairs[:, 0], batch.pos_pairs[:, 0].repeat_interleave(3))
        assert torch.equal(torch.unique(batch.blocks[-1].dst_ids), batch.blocks[-1].dst_ids)  # sorted, distinct
        assert set(dst_ids.tolist()) == set(batch.pos_pairs.view(-1).tolist()) | set(batch.neg_pairs.view(-1).tolist())
        assert torch.equal(batch.input_ids, batch.blocks[0].src_ids)
        for inner, outer in zip(batch.blocks[1:], batch.blocks[:-1]):
            assert torch.equal(inner.src_ids, outer.dst_ids)  # blocks chain, input layer first
        seen.append(batch.pair_ids)
    assert torch.equal(torch.sort(torch.cat(seen)).values, torch.arange(s.train_pos.shape[0]))


@pytest.mark.parametrize("exclude", ["self", "reverse"])
def test_seed_edges_are_excluded_from_message_passing(exclude):
    s = split()
    p = s.train_pos.shape[0]
    with_all = LinkSampler(s.train_graph, s.train_pos, [-1, -1])
    without = LinkSampler(s.train_graph, s.train_pos, [-1, -1], exclude=exclude)
    item = np.arange(0, p, 3)[:50]
    kept, full = without.sample(item, seed=4), with_all.sample(item, seed=4)
    banned = set(item.tolist()) | (set((item + p).tolist()) if exclude == "reverse" else set())
    present = set(full.blocks[-1].edge_ids.tolist())
    assert banned & present  # with every in-edge the seed edges are in the last block ...
    for block_kept, block_full in zip(kept.blocks, full.blocks):
        ids = set(block_kept.edge_ids.tolist())
        assert not (ids & banned)  # ... and none of them survives the exclusion
        assert ids == set(block_full.edge_ids.tolist()) - banned  # every other edge does
        src, dst = block_kept.src_ids[block_kept.src.long()], block_kept.dst_ids[block_kept.dst.long()]
        graph_src, graph_dst = s.train_graph.src[block_kept.edge_ids], s.train_graph.dst[block_kept.edge_ids]
        assert torch.equal(src, graph_src) and torch.equal(dst, graph_dst)  # local ids still name the right edges


def test_batches_depend_on_the_seed_only_not_on_threads():
    s = split()
    sampler = LinkSampler(s.train_graph, s.train_pos, [4, 4], exclude="reverse")
    one = batches(LinkLoader(sampler, batch_size=100, seed=5, num_workers=0))
    two = batches(LinkLoader(sampler, batch_size=100, seed=5, num_workers=2))
    other = batches(LinkLoader(sampler, batch_size=100, seed=6, num_workers=0))
    for a, b in zip(one, two):
        assert torch.equal(a.neg_pairs, b.neg_pairs) and torch.equal(a.pair_ids, b.pair_ids)
        assert all(torch.equal(x.edge_ids, y.edge_ids) for x, y in zip(a.blocks, b.blocks))
    assert not torch.equal(one[0].neg_pairs, other[0].neg_pairs)


def test_bad_arguments_raise():
    s = split()
    with pytest.raises(ShapeError, match=r"\[P, 2\]"):
        LinkSampler(s.train_graph, s.train_pos[:, 0], [5])
    with pytest.raises(SamplingError, match="out of range"):
        LinkSampler(s.train_graph, s.train_pos + 1000, [5])
    with pytest.raises(SamplingError, match="exclude"):
        LinkSampler(s.train_graph, s.train_pos, [5], exclude="both")
    with pytest.raises(SamplingError, match="neg_per_pos"):
        LinkSampler(s.train_graph, s.train_pos, [5], neg_per_pos=0)
    with pytest.raises(SamplingError, match="batch_size"):
        LinkLoader(LinkSampler(s.train_graph, s.train_pos, [5]), batch_size=0)
