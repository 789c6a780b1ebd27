import pytest
import torch
from contracts.conv_contract import ConvContract, random_graph

from graphscale.nn import GINConv, GINEConv

from .dense import adjacency


class TestGINContract(ConvContract):
    def make_layer(self, in_dim, out_dim):
        return GINConv(in_dim, out_dim, learn_eps=True, eps=0.3)


class TestGINNarrowingContract(ConvContract):
    in_dim, out_dim = 10, 4  # first Linear runs before the sum

    def make_layer(self, in_dim, out_dim):
        return GINConv(in_dim, out_dim, learn_eps=True)


class TestGINEContract(ConvContract):
    edge_dim = 3

    def make_layer(self, in_dim, out_dim):
        return GINEConv(in_dim, out_dim, edge_dim=self.edge_dim, learn_eps=True, eps=0.1)


@pytest.mark.parametrize("in_dim,out_dim", [(9, 4), (4, 9)])
def test_gin_matches_dense_formula(in_dim, out_dim):
    graph = random_graph(15, 50, seed=0, isolated=2)
    layer = GINConv(in_dim, out_dim, eps=0.25).double()
    x = torch.randn(15, in_dim, dtype=torch.float64)
    expected = layer.mlp(1.25 * x + adjacency(graph) @ x)
    torch.testing.assert_close(layer(graph, x), expected)


def test_gin_custom_mlp_and_fixed_eps_is_a_buffer():
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh())
    layer = GINConv(4, 6, mlp=mlp).double()
    assert "eps" not in dict(layer.named_parameters()) and "eps" in dict(layer.named_buffers())
    graph = random_graph(8, 20, seed=1)
    x = torch.randn(8, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(graph, x), mlp(x + adjacency(graph) @ x))


def test_gine_matches_per_edge_formula():
    graph = random_graph(12, 40, seed=2)
    layer = GINEConv(5, 7, edge_dim=3, eps=-0.2).double()
    x = torch.randn(12, 5, dtype=torch.float64)
    edge_attr = torch.randn(graph.num_edges, 3, dtype=torch.float64)
    messages = torch.relu(x[graph.src.long()] + layer.edge_linear(edge_attr))
    aggregated = torch.zeros(12, 5, dtype=torch.float64).index_add_(0, graph.dst.long(), messages)
    torch.testing.assert_close(layer(graph, x, edge_attr), layer.mlp(0.8 * x + aggregated))


def test_gine_without_edge_linear_needs_in_dim_wide_edges():
    from graphscale.errors import ShapeError

    graph = random_graph(6, 10, seed=3)
    layer = GINEConv(4, 4)
    assert layer.edge_linear is None
    assert layer(graph, torch.randn(6, 4), torch.randn(10, 4)).shape == (6, 4)
    with pytest.raises(ShapeError, match=r"expected edge_attr of shape \[E, 4\]"):
        layer(graph, torch.randn(6, 4), torch.randn(10, 3))
