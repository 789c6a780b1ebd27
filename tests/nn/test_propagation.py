"""APPNP, SGConv and ChebConv: K-step propagation layers."""

import pytest
import torch
from contracts.conv_contract import ConvContract, random_graph

import graphscale as gs
from graphscale.errors import ConfigError, GraphFormatError
from graphscale.nn import APPNP, ChebConv, SGConv

from .dense import adjacency, simple_graph, sym_norm


class TestAPPNPContract(ConvContract):
    in_dim = out_dim = 5
    block_mode = "square"

    def make_layer(self, in_dim, out_dim):
        return APPNP(K=4, alpha=0.2)


class TestSGConvContract(ConvContract):
    block_mode = "square"

    def make_layer(self, in_dim, out_dim):
        return SGConv(in_dim, out_dim, K=3)


class TestChebConvContract(ConvContract):
    block_mode = "square"

    def make_layer(self, in_dim, out_dim):
        return ChebConv(in_dim, out_dim, K=3)


class TestChebConvClenshawContract(ConvContract):
    in_dim, out_dim, block_mode = 9, 4, "square"

    def make_layer(self, in_dim, out_dim):
        return ChebConv(in_dim, out_dim, K=4, lambda_max=1.5)


def _gcn_operator(graph):
    return sym_norm(adjacency(graph) + torch.eye(graph.num_nodes, dtype=torch.float64))


def test_appnp_matches_dense_power_iteration_and_closed_form():
    graph = simple_graph(20, 0.2, seed=0, undirected=True)
    h = torch.randn(20, 3, dtype=torch.float64)
    s = _gcn_operator(graph)
    z = h
    for _ in range(6):
        z = 0.85 * s @ z + 0.15 * h
    torch.testing.assert_close(APPNP(K=6, alpha=0.15)(graph, h), z)
    # K -> infinity: the personalised PageRank fixed point alpha (I - (1 - alpha) S)^-1 H
    fixed_point = 0.15 * torch.linalg.solve(torch.eye(20, dtype=torch.float64) - 0.85 * s, h)
    torch.testing.assert_close(APPNP(K=300, alpha=0.15)(graph, h), fixed_point)


def test_appnp_edge_weights_and_edge_dropout():
    graph = random_graph(12, 40, seed=1)
    weight = torch.rand(graph.num_edges, dtype=torch.float64)
    h = torch.randn(12, 3, dtype=torch.float64)
    s = sym_norm(adjacency(graph, weight) + torch.eye(12, dtype=torch.float64))
    expected = 0.9 * s @ (0.9 * s @ h + 0.1 * h) + 0.1 * h
    layer = APPNP(K=2, alpha=0.1, edge_drop=0.5)
    torch.testing.assert_close(layer.eval()(graph, h, weight), expected)
    layer.train()
    torch.manual_seed(0)
    assert not torch.allclose(layer(graph, h, weight), expected)


@pytest.mark.parametrize("in_dim,out_dim", [(8, 3), (3, 8)])
def test_sgc_matches_dense_formula(in_dim, out_dim):
    graph = simple_graph(18, 0.25, seed=2, undirected=True)
    layer = SGConv(in_dim, out_dim, K=3).double()
    torch.nn.init.normal_(layer.linear.bias)
    x = torch.randn(18, in_dim, dtype=torch.float64)
    s = _gcn_operator(graph)
    expected = torch.linalg.matrix_power(s, 3) @ x @ layer.linear.weight.T + layer.linear.bias
    torch.testing.assert_close(layer(graph, x), expected)


def test_sgc_cache_reuses_propagation_for_same_graph_and_features():
    graph = random_graph(15, 50, seed=3)
    x = torch.randn(15, 4, dtype=torch.float64)
    layer = SGConv(4, 2, K=2, cached=True).double()
    first = layer(graph, x)
    assert layer._cache is not None
    cached_tensor = layer._cache[-1]
    torch.testing.assert_close(layer(graph, x), first)
    assert layer._cache[-1] is cached_tensor
    other_x = torch.randn(15, 4, dtype=torch.float64)
    uncached = SGConv(4, 2, K=2).double()
    uncached.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(graph, other_x), uncached(graph, other_x))
    assert layer._cache[-1] is not cached_tensor


@pytest.mark.parametrize("cached", [False, True])
def test_sgc_edge_weights_match_dense_weighted_operator(cached):
    graph = random_graph(15, 50, seed=4)
    weight = torch.rand(graph.num_edges, dtype=torch.float64) + 0.1
    x = torch.randn(15, 6, dtype=torch.float64)
    layer = SGConv(6, 3, K=2, cached=cached).double()
    s = sym_norm(adjacency(graph, weight) + torch.eye(15, dtype=torch.float64))
    expected = s @ s @ x @ layer.linear.weight.T + layer.linear.bias
    torch.testing.assert_close(layer(graph, x, weight), expected)
    # the cache follows the weights: other weights, then none, recompute
    other = torch.rand(graph.num_edges, dtype=torch.float64) + 0.1
    s_other = sym_norm(adjacency(graph, other) + torch.eye(15, dtype=torch.float64))
    torch.testing.assert_close(layer(graph, x, other), s_other @ s_other @ x @ layer.linear.weight.T
                               + layer.linear.bias)
    s_plain = _gcn_operator(graph)
    torch.testing.assert_close(layer(graph, x), s_plain @ s_plain @ x @ layer.linear.weight.T + layer.linear.bias)
    # all-one weights are the unweighted operator, bit for bit
    assert torch.equal(layer(graph, x.float().double(), torch.ones_like(weight)), layer(graph, x.float().double()))


def _dense_cheb(layer, graph, x):
    m = adjacency(graph)
    m.fill_diagonal_(0.0)  # self-loops are ignored
    n = graph.num_nodes
    lap = torch.eye(n, dtype=torch.float64) - sym_norm(m)
    scaled = 2.0 * lap / layer.lambda_max - torch.eye(n, dtype=torch.float64)
    terms = [x, scaled @ x]
    while len(terms) < layer.K:
        terms.append(2 * scaled @ terms[-1] - terms[-2])
    return sum(t @ layer.weight[k] for k, t in enumerate(terms[: layer.K])) + layer.bias


@pytest.mark.parametrize("in_dim,out_dim", [(8, 3), (3, 8)])
@pytest.mark.parametrize("K,lambda_max", [(1, 2.0), (2, 2.0), (4, 2.0), (5, 1.3)])
def test_cheb_matches_dense_chebyshev_polynomials(in_dim, out_dim, K, lambda_max):
    graph = simple_graph(16, 0.25, seed=4, undirected=True, loops=True)
    assert graph.has_self_loops()
    layer = ChebConv(in_dim, out_dim, K, lambda_max=lambda_max).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(16, in_dim, dtype=torch.float64)
    torch.testing.assert_close(layer(graph, x), _dense_cheb(layer, graph, x))


def test_cheb_k2_lambda2_is_first_order_filter():
    graph = simple_graph(10, 0.3, seed=5, undirected=True)
    layer = ChebConv(4, 4, K=2).double()
    x = torch.randn(10, 4, dtype=torch.float64)
    expected = x @ layer.weight[0] - sym_norm(adjacency(graph)) @ x @ layer.weight[1] + layer.bias
    torch.testing.assert_close(layer(graph, x), expected)


@pytest.mark.parametrize("layer", [APPNP(K=2), SGConv(4, 4), ChebConv(4, 4)], ids=["appnp", "sgc", "cheb"])
def test_k_hop_layers_reject_bipartite_blocks(layer):
    graph = random_graph(12, 40, seed=6)
    block = gs.to_block(graph, torch.tensor([0, 1, 2]))
    assert block.num_src_nodes > block.num_dst_nodes
    with pytest.raises(GraphFormatError, match="one node set for K-step propagation"):
        layer(block, torch.randn(block.num_src_nodes, 4))


def test_cheb_rejects_k_below_one():
    with pytest.raises(ConfigError, match="expected K >= 1"):
        ChebConv(3, 3, K=0)
