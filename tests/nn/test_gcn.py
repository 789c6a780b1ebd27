import pytest
import torch
from contracts.conv_contract import ConvContract, random_graph

import graphscale as gs
from graphscale.errors import ShapeError
from graphscale.nn import GCNConv

from .dense import adjacency, simple_graph, sym_norm


class TestGCNConvContract(ConvContract):
    block_mode = "square"  # symmetric norm reads the source's out-degree: exact only if the block holds all edges

    def make_layer(self, in_dim, out_dim):
        return GCNConv(in_dim, out_dim)


class TestGCNConvNarrowingContract(ConvContract):
    in_dim, out_dim, block_mode = 9, 3, "square"  # W before aggregation

    def make_layer(self, in_dim, out_dim):
        return GCNConv(in_dim, out_dim)


@pytest.mark.parametrize("in_dim,out_dim", [(8, 3), (3, 8)])
def test_matches_dense_formula(in_dim, out_dim):
    graph = simple_graph(20, 0.2, seed=0, undirected=True)
    layer = GCNConv(in_dim, out_dim).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(20, in_dim, dtype=torch.float64)
    a_hat = adjacency(graph) + torch.eye(20, dtype=torch.float64)
    deg = a_hat.sum(1)
    expected = deg.rsqrt()[:, None] * a_hat * deg.rsqrt()[None, :] @ x @ layer.linear.weight.T + layer.bias
    torch.testing.assert_close(layer(graph, x), expected)


def test_edge_weights_and_directed_multigraph_match_dense():
    graph = random_graph(15, 60, seed=1)
    weight = torch.rand(graph.num_edges, dtype=torch.float64) + 0.1
    layer = GCNConv(4, 6).double()
    x = torch.randn(15, 4, dtype=torch.float64)
    m = adjacency(graph, weight) + torch.eye(15, dtype=torch.float64)
    expected = sym_norm(m) @ x @ layer.linear.weight.T + layer.bias
    torch.testing.assert_close(layer(graph, x, weight), expected)


def test_options_without_self_loops_and_without_normalisation():
    graph = random_graph(10, 30, seed=2)
    x = torch.randn(10, 4, dtype=torch.float64)
    raw = GCNConv(4, 3, add_self_loops=False, normalize=False, bias=False).double()
    torch.testing.assert_close(raw(graph, x), adjacency(graph) @ x @ raw.linear.weight.T)
    no_loops = GCNConv(4, 3, add_self_loops=False).double()
    torch.testing.assert_close(no_loops(graph, x), sym_norm(adjacency(graph)) @ x @ no_loops.linear.weight.T
                               + no_loops.bias)


def test_block_uses_block_degrees():
    graph = simple_graph(16, 0.3, seed=3, undirected=True)
    dst_nodes = torch.tensor([2, 5, 11])
    block = gs.to_block(graph, dst_nodes)
    layer = GCNConv(5, 4).double()
    x_src = torch.randn(block.num_src_nodes, 5, dtype=torch.float64)
    m = adjacency(block)
    m[:, : block.num_dst_nodes] += torch.eye(block.num_dst_nodes, dtype=torch.float64)
    expected = sym_norm(m) @ x_src @ layer.linear.weight.T + layer.bias
    torch.testing.assert_close(layer(block, (x_src, x_src[:3])), expected)


def test_cached_norm_is_reused_for_the_same_graph_only():
    graph = random_graph(12, 40, seed=4)
    weight = torch.rand(graph.num_edges, dtype=torch.float64)
    layer = GCNConv(3, 3, cached=True).double()
    x = torch.randn(12, 3, dtype=torch.float64)
    first = layer(graph, x, weight)
    # the cache ignores new weights for the same graph object (transductive use) ...
    torch.testing.assert_close(layer(graph, x, weight * 2), first)
    # ... and is rebuilt for another graph
    other = random_graph(12, 40, seed=5)
    fresh = GCNConv(3, 3).double()
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(other, x, weight), fresh(other, x, weight))


def test_shape_errors_name_the_argument():
    graph = random_graph(10, 20, seed=6)
    layer = GCNConv(4, 2)
    with pytest.raises(ShapeError, match=r"GCNConv.forward: expected x of shape \[N, 4\], got \(10, 3\)"):
        layer(graph, torch.randn(10, 3))
    with pytest.raises(ShapeError, match="one row per node"):
        layer(graph, torch.randn(9, 4))
    with pytest.raises(ShapeError, match="edge_weight with one row per edge"):
        layer(graph, torch.randn(10, 4), torch.rand(5))
