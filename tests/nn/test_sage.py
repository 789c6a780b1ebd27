import pytest
import torch
from contracts.conv_contract import ConvContract, random_graph

from graphscale.errors import ConfigError
from graphscale.nn import SAGEConv

from .dense import adjacency


class TestSAGEMeanContract(ConvContract):
    def make_layer(self, in_dim, out_dim):
        return SAGEConv(in_dim, out_dim, aggregator="mean")


class TestSAGEPoolContract(ConvContract):
    def make_layer(self, in_dim, out_dim):
        return SAGEConv(in_dim, out_dim, aggregator="pool")


class TestSAGEGCNNormalizedContract(ConvContract):
    in_dim, out_dim = 9, 4  # narrowing: W_neigh before aggregation

    def make_layer(self, in_dim, out_dim):
        return SAGEConv(in_dim, out_dim, aggregator="gcn", normalize=True)


def _dense(layer, graph, x):
    m = adjacency(graph)
    deg = m.sum(1, keepdim=True)
    if layer.aggregator == "mean":
        neigh = (m @ x) / deg.clamp(min=1)
    elif layer.aggregator == "gcn":
        neigh = (m @ x + x[: graph.num_dst_nodes]) / (deg + 1)
    else:
        pooled = torch.relu(layer.pool(x))
        masked = torch.where(m[:, :, None] > 0, pooled[None], torch.tensor(float("-inf"), dtype=x.dtype))
        neigh = torch.where(deg > 0, masked.amax(1), torch.zeros_like(pooled[: graph.num_dst_nodes]))
    out = neigh @ layer.lin_neigh.weight.T + layer.bias
    if layer.lin_root is not None:
        out = out + x[: graph.num_dst_nodes] @ layer.lin_root.weight.T
    return torch.nn.functional.normalize(out, dim=-1) if layer.normalize else out


@pytest.mark.parametrize("aggregator", ["mean", "pool", "gcn"])
@pytest.mark.parametrize("in_dim,out_dim", [(7, 3), (3, 7)])
def test_matches_dense_formula(aggregator, in_dim, out_dim):
    graph = random_graph(14, 40, seed=0, isolated=2)
    layer = SAGEConv(in_dim, out_dim, aggregator=aggregator).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(14, in_dim, dtype=torch.float64)
    torch.testing.assert_close(layer(graph, x), _dense(layer, graph, x))


def test_root_weight_and_normalize_options():
    graph = random_graph(10, 30, seed=1)
    x = torch.randn(10, 4, dtype=torch.float64)
    layer = SAGEConv(4, 5, aggregator="gcn", root_weight=True, normalize=True).double()
    assert layer.lin_root is not None
    out = layer(graph, x)
    torch.testing.assert_close(out, _dense(layer, graph, x))
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(10, dtype=torch.float64))
    assert SAGEConv(4, 5).lin_root is not None and SAGEConv(4, 5, aggregator="gcn").lin_root is None


def test_unknown_aggregator_is_a_config_error():
    with pytest.raises(ConfigError, match="expected aggregator in"):
        SAGEConv(4, 4, aggregator="lstm")
