"""GraphSAINT: induced subgraphs, random walks, and unbiased loss / aggregation normalisation."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.saga.ops import gspmm  # the fused kernels behind saga() (internal)
from graphscale.errors import SamplingError
from graphscale.sampling import SaintEdgeSampler, SaintNodeSampler, SaintRandomWalkSampler, in_edge_walks

from .graphs import random_graph, sbm_graph

SAMPLERS = {
    "node": lambda g, **kw: SaintNodeSampler(g, budget=12, **kw),
    "edge": lambda g, **kw: SaintEdgeSampler(g, budget=6, **kw),
    "rw": lambda g, **kw: SaintRandomWalkSampler(g, num_roots=4, walk_length=2, **kw),
}


def test_random_walks_follow_in_edges():
    graph = random_graph()
    walks = in_edge_walks(graph, torch.tensor([0, 3, 59, 3]), 6, seed=5)
    assert walks.shape == (4, 7) and walks[:, 0].tolist() == [0, 3, 59, 3]
    edges = set(zip(graph.src.tolist(), graph.dst.tolist()))
    in_degree = graph.in_degrees()
    for walk in walks.tolist():
        for here, there in itertools.pairwise(walk):
            assert (there, here) in edges if in_degree[here] > 0 else there == here
    assert torch.equal(walks, in_edge_walks(graph, torch.tensor([0, 3, 59, 3]), 6, seed=5))
    assert not torch.equal(walks, in_edge_walks(graph, torch.tensor([0, 3, 59, 3]), 6, seed=6))


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_batches_are_induced_subgraphs_and_deterministic(kind):
    graph = random_graph(num_nodes=50, num_edges=300, seed=2)
    sampler = SAMPLERS[kind](graph, coverage=5.0)
    seeds = np.arange(0, 50, 2)
    (item, *_) = sampler.plan(seeds, None, True, np.random.default_rng(0))
    batch = sampler.sample(item, seed=9)
    nodes = batch.input_ids
    assert nodes.unique().numel() == nodes.numel()
    inside = torch.zeros(graph.num_nodes, dtype=torch.bool)
    inside[nodes] = True
    expected = (inside[graph.src.long()] & inside[graph.dst.long()]).nonzero().view(-1)
    assert Counter(batch.edge_ids.tolist()) == Counter(expected.tolist())
    assert torch.equal(nodes[batch.graph.src.long()], graph.src[batch.edge_ids].long())
    assert torch.equal(nodes[batch.graph.dst.long()], graph.dst[batch.edge_ids].long())
    assert torch.equal(nodes[batch.output_index], batch.output_ids)
    assert bool((batch.output_ids % 2 == 0).all())
    assert batch.loss_weight.shape == batch.output_ids.shape and batch.edge_weight.shape == batch.edge_ids.shape
    again = sampler.sample(item, seed=9)
    assert torch.equal(again.input_ids, nodes) and torch.equal(again.edge_ids, batch.edge_ids)


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_normalisation_is_unbiased(kind):
    """E[sum_v w_v L_v] = mean loss over the seeds; E[sum_u w_uv x_u | v in V_s] = mean_u x_u (full graph)."""
    graph = sbm_graph(num_nodes=24, p_in=0.35, p_out=0.1, seed=1)
    sampler = SAMPLERS[kind](graph, coverage=800.0, seed=0)
    seeds = np.arange(0, 24, 3)
    (item, *_) = sampler.plan(seeds, None, True, np.random.default_rng(0))
    gen = torch.Generator().manual_seed(0)
    node_loss = torch.rand(graph.num_nodes, generator=gen, dtype=torch.float64)
    x = torch.rand(graph.num_nodes, generator=gen, dtype=torch.float64) + 1.0
    full_mean = gspmm(graph, "copy_lhs", "mean", x[:, None], None)[:, 0]

    draws = 3000
    loss_estimates = torch.zeros(draws, dtype=torch.float64)
    agg = torch.zeros(3, graph.num_nodes, dtype=torch.float64)  # count, sum, sum of squares per node
    for i in range(draws):
        batch = sampler.sample(item, seed=10_000 + i)
        loss_estimates[i] = (batch.loss_weight.double() * node_loss[batch.output_ids]).sum()
        sub_x = x[batch.input_ids]
        local = torch.zeros(batch.input_ids.numel(), dtype=torch.float64)
        local.index_add_(0, batch.graph.dst.long(), batch.edge_weight.double() * sub_x[batch.graph.src.long()])
        agg[:, batch.input_ids] += torch.stack([torch.ones_like(local), local, local * local])
    # Monte-Carlo error: 4.5 standard errors; the pre-sampled counts add ~1% (they estimate probabilities)
    target = float(node_loss[seeds].mean())
    standard_error = float(loss_estimates.std()) / draws ** 0.5
    assert abs(float(loss_estimates.mean()) - target) < 4.5 * standard_error + 0.02 * target
    count, total, squares = agg
    seen = count > 100
    assert int(seen.sum()) >= 20
    mean = total[seen] / count[seen]
    standard_error = ((squares[seen] / count[seen] - mean**2).clamp(min=0) / count[seen]).sqrt()
    error = (mean - full_mean[seen]).abs()
    assert bool((error < 4.5 * standard_error + 0.02 * full_mean[seen]).all()), (error / standard_error).max()
    # without the alpha-normalisation the estimate is far off: the check above is sensitive
    plain = torch.zeros(graph.num_nodes, dtype=torch.float64)
    naive_count = torch.zeros(graph.num_nodes, dtype=torch.float64)
    in_degree = graph.in_degrees().double()
    for i in range(300):
        batch = sampler.sample(item, seed=10_000 + i)
        dst = batch.graph.dst.long()
        local = torch.zeros(batch.input_ids.numel(), dtype=torch.float64)
        local.index_add_(0, dst, x[batch.input_ids][batch.graph.src.long()] / in_degree[batch.input_ids][dst])
        plain[batch.input_ids] += local
        naive_count[batch.input_ids] += 1
    naive = plain[naive_count > 0] / naive_count[naive_count > 0]
    assert float((naive / full_mean[naive_count > 0]).mean()) < 0.8


def test_normalisation_sums():
    """lambda_v = C_v / n and alpha_uv = C_uv / C_v from the pre-sampling counts, as weights."""
    graph = sbm_graph(num_nodes=30)
    sampler = SaintRandomWalkSampler(graph, num_roots=5, walk_length=2, coverage=20.0, aggregation="none")
    n = sampler.num_presamples
    assert sampler.node_count.sum() >= 20.0 * 30 and n > 0
    drawn = sampler.node_count > 0
    np.testing.assert_allclose(sampler.node_scale[drawn], n / sampler.node_count[drawn])
    dst = graph.dst.long().numpy()
    edges = sampler.edge_count > 0
    np.testing.assert_allclose(sampler.edge_norm[edges], sampler.node_count[dst][edges] / sampler.edge_count[edges])
    assert np.all(sampler.edge_count <= sampler.node_count[dst])  # an edge is in V_s only with its dst
    mean = SaintRandomWalkSampler(graph, num_roots=5, walk_length=2, coverage=20.0, aggregation="mean")
    np.testing.assert_allclose(mean.edge_norm * graph.in_degrees()[dst].numpy(), sampler.edge_norm)


def test_errors():
    graph = sbm_graph(num_nodes=20)
    with pytest.raises(SamplingError, match="budget"):
        SaintNodeSampler(graph, budget=0)
    with pytest.raises(SamplingError, match="aggregation"):
        SaintEdgeSampler(graph, budget=4, aggregation="sum")
    sampler = SaintNodeSampler(graph, budget=4, coverage=2.0)
    with pytest.raises(SamplingError, match="batch_size=None"):
        sampler.plan(np.arange(3), 16, True, np.random.default_rng(0))
    with pytest.raises(SamplingError, match="at least one edge"):
        SaintEdgeSampler(gs.Graph(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 5), budget=2)
