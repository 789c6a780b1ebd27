import torch
from contracts.conv_contract import ConvContract, random_graph

from graphscale.nn import GatedGCNConv


class TestGatedGCNContract(ConvContract):
    in_dim = out_dim = edge_dim = 6  # residual on both streams

    def make_layer(self, in_dim, out_dim):
        return GatedGCNConv(in_dim, out_dim, edge_dim=self.edge_dim)


class TestGatedGCNProjectingContract(ConvContract):
    edge_dim = 3  # sizes differ: no residual

    def make_layer(self, in_dim, out_dim):
        return GatedGCNConv(in_dim, out_dim, edge_dim=self.edge_dim, batch_norm=False)


def test_matches_dense_gated_formula():
    graph = random_graph(10, 30, seed=0, isolated=1)
    layer = GatedGCNConv(4, 4, edge_dim=4).double().eval()
    for bn in (layer.bn_node, layer.bn_edge):  # non-trivial running statistics
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    x = torch.randn(10, 4, dtype=torch.float64)
    edge_attr = torch.randn(graph.num_edges, 4, dtype=torch.float64)
    src, dst = graph.src.long(), graph.dst.long()
    gate = layer.lin_a(x)[dst] + layer.lin_b(x)[src] + layer.lin_c(edge_attr)
    sigma = torch.sigmoid(gate)
    num = torch.zeros(10, 4, dtype=torch.float64).index_add_(0, dst, sigma * layer.lin_v(x)[src])
    den = torch.zeros(10, 4, dtype=torch.float64).index_add_(0, dst, sigma)
    h = x + torch.relu(layer.bn_node(layer.lin_u(x) + num / (den + 1e-6)))
    e = edge_attr + torch.relu(layer.bn_edge(gate))
    out_h, out_e = layer(graph, x, edge_attr)
    torch.testing.assert_close(out_h, h)
    torch.testing.assert_close(out_e, e)


def test_residual_switches_off_when_sizes_differ():
    layer = GatedGCNConv(4, 6, edge_dim=6)
    assert not layer.node_residual and layer.edge_residual
