"""NodeLoader: same batches for any thread count, per-epoch shuffling, bounded prefetch, error propagation."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.errors import SamplingError
from graphscale.loader import NodeLoader
from graphscale.sampling import ClusterSampler, MiniBatch, NeighborSampler, SaintRandomWalkSampler


def make_graph(num_nodes: int = 200, num_edges: int = 1600) -> gs.Graph:
    gen = torch.Generator().manual_seed(0)
    return gs.Graph(torch.randint(0, num_nodes, (num_edges,), generator=gen),
                    torch.randint(0, num_nodes, (num_edges,), generator=gen), num_nodes)


def flatten(batch: MiniBatch) -> list[torch.Tensor]:
    graphs = batch.graph if isinstance(batch.graph, list) else [batch.graph]
    tensors = [t for g in graphs for t in (g.src, g.dst)]
    tensors += [getattr(g, "edge_ids", None) for g in graphs if getattr(g, "edge_ids", None) is not None]
    return tensors + [t for t in batch[1:] if t is not None]


def epochs(loader: NodeLoader, count: int) -> list[list[list[torch.Tensor]]]:
    return [[flatten(b) for b in loader] for _ in range(count)]


def assert_same(run_a, run_b) -> None:
    """Equal epochs of equal batches of equal tensors."""
    assert len(run_a) == len(run_b)
    for epoch_a, epoch_b in zip(run_a, run_b):
        assert len(epoch_a) == len(epoch_b)
        for x, y in zip(epoch_a, epoch_b):
            assert len(x) == len(y) and all(torch.equal(s, t) for s, t in zip(x, y))


@pytest.mark.parametrize("make_sampler,batch_size", [
    (lambda g: NeighborSampler(g, [4, 3]), 16),
    (lambda g: ClusterSampler(g, parts=np.arange(g.num_nodes) % 10), 3),
    (lambda g: SaintRandomWalkSampler(g, num_roots=10, coverage=3.0), None),
], ids=["neighbor", "cluster", "saint-rw"])
def test_same_batches_with_any_number_of_threads(make_sampler, batch_size):
    graph = make_graph()
    sampler = make_sampler(graph)
    seeds = torch.arange(0, graph.num_nodes, 2)
    runs = [epochs(NodeLoader(sampler, seeds, batch_size, seed=7, num_workers=workers, prefetch=3,
                              threads_per_worker=threads), 2)
            for workers, threads in ((0, None), (1, 1), (2, 1), (2, 2))]
    for other in runs[1:]:
        assert_same(runs[0], other)
    assert not all(torch.equal(a[-1], b[-1]) for a, b in zip(runs[0][0], runs[0][1]))  # epochs differ


def test_every_seed_once_per_epoch_and_set_epoch():
    graph = make_graph()
    seeds = torch.arange(3, 150)
    loader = NodeLoader(NeighborSampler(graph, [2]), seeds, 20, seed=1, num_workers=2)
    assert len(loader) == 8
    first = [b.output_ids for b in loader]
    assert sorted(torch.cat(first).tolist()) == seeds.tolist()
    assert [len(t) for t in first] == [20] * 7 + [7]
    second = [b.output_ids for b in loader]
    assert not torch.equal(torch.cat(first), torch.cat(second))  # reshuffled
    loader.set_epoch(0)
    assert torch.equal(torch.cat([b.output_ids for b in loader]), torch.cat(first))
    ordered = NodeLoader(NeighborSampler(graph, [2]), seeds, 20, shuffle=False, num_workers=1)
    assert torch.equal(torch.cat([b.output_ids for b in ordered]), seeds)
    mask = torch.zeros(graph.num_nodes, dtype=torch.bool)
    mask[seeds] = True
    masked = NodeLoader(NeighborSampler(graph, [2]), mask, 20, seed=1, num_workers=0)
    assert torch.equal(torch.cat([b.output_ids for b in masked]), torch.cat(first))


class SlowSampler:
    """Counts batches produced but not yet consumed; fails on request."""

    num_nodes = 100

    def __init__(self, fail_at: int = -1) -> None:
        self.lock = threading.Lock()
        self.produced = 0
        self.fail_at = fail_at

    def plan(self, seeds, batch_size, shuffle, rng):
        return [seeds[i:i + batch_size] for i in range(0, len(seeds), batch_size)]

    def sample(self, item, seed):
        time.sleep(0.002)
        with self.lock:
            self.produced += 1
            if self.produced - 1 == self.fail_at:
                raise SamplingError("SlowSampler: expected to fail here, got batch 3.")
        ids = torch.from_numpy(item)
        return MiniBatch(None, ids, ids)


def test_prefetch_bounds_batches_in_flight():
    sampler = SlowSampler()
    loader = NodeLoader(sampler, None, 5, num_workers=2, prefetch=3)
    consumed = 0
    for batch in loader:
        consumed += 1
        time.sleep(0.01)  # a slow consumer: the workers run ahead, but only up to prefetch batches
        with sampler.lock:
            assert sampler.produced - consumed <= 3 - 1
    assert consumed == 20 and sampler.produced == 20


def test_worker_errors_reach_the_caller_and_early_exit_stops_workers():
    with pytest.raises(SamplingError, match="expected to fail here"):
        for _ in NodeLoader(SlowSampler(fail_at=3), None, 5, num_workers=2):
            pass
    sampler = SlowSampler()
    for i, _ in enumerate(NodeLoader(sampler, None, 5, num_workers=2, prefetch=4)):
        if i == 1:
            break
    time.sleep(0.05)
    assert sampler.produced <= 2 + 4  # nothing is sampled after the consumer stopped


def test_argument_errors():
    graph = make_graph()
    with pytest.raises(SamplingError, match="num_workers"):
        NodeLoader(NeighborSampler(graph, [2]), None, 8, num_workers=-1)
    with pytest.raises(SamplingError, match="prefetch"):
        NodeLoader(NeighborSampler(graph, [2]), None, 8, prefetch=0)
    with pytest.raises(SamplingError, match="batch_size"):
        NodeLoader(NeighborSampler(graph, [2]), None, None)
    with pytest.raises(SamplingError, match="out of range"):
        NodeLoader(NeighborSampler(graph, [2]), [graph.num_nodes], 8)


def test_workqueue_layer_falls_back_to_the_iterating_thread(monkeypatch):
    import numba

    from graphscale.errors import GraphscaleWarning

    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    with pytest.warns(GraphscaleWarning, match="workqueue"):
        loader = NodeLoader(NeighborSampler(make_graph(), [2]), None, 50, num_workers=2)
    assert loader.num_workers == 0
    assert sum(b.output_ids.numel() for b in loader) == 200


def test_minibatch_to_moves_every_tensor_and_block():
    """``MiniBatch.to`` (what the loader's ``device=`` does): the meta device stands in for a GPU."""
    graph = make_graph()
    batch = NeighborSampler(graph, [3, 2]).sample(np.arange(5), seed=0)
    moved = batch.to("meta")
    assert all(t.device.type == "meta" for t in moved[1:] if t is not None)
    for block, original in zip(moved.graph, batch.graph):
        assert block.num_src_nodes == original.num_src_nodes and block.num_edges == original.num_edges
        assert {t.device.type for t in (block.src, block.dst, block.src_ids, block.dst_ids, block.edge_ids)} == {"meta"}
    sampler = SaintRandomWalkSampler(graph, num_roots=8, coverage=2.0)
    (item,) = sampler.plan(np.arange(0, 200, 2), None, False, np.random.default_rng(0))[:1]
    sub = sampler.sample(item, seed=1)
    moved = NodeLoader(sampler, np.arange(0, 200, 2), device="meta", num_workers=0, pin_memory=False)
    first = next(iter(moved))
    assert first.graph.src.device.type == "meta" and first.edge_weight.device.type == "meta"
    assert sub.to("cpu").graph is sub.graph  # already there: no copy
