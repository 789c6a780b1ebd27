import pytest
import torch
import torch.nn.functional as F
from contracts.conv_contract import ConvContract, random_graph

from graphscale.nn import GATv2Conv

from .dense import adjacency, simple_graph


class TestGATv2Contract(ConvContract):
    out_width = 2 * 5

    def make_layer(self, in_dim, out_dim):
        return GATv2Conv(in_dim, out_dim, num_heads=2, residual=True)


class TestGATv2SharedMeanContract(ConvContract):
    def make_layer(self, in_dim, out_dim):
        return GATv2Conv(in_dim, out_dim, num_heads=3, concat=False, share_weights=True)


def dense_gatv2(layer, graph, x):
    heads, width = layer.num_heads, layer.out_dim
    h_src = (x @ layer.lin_src.weight.T).view(-1, heads, width)
    lin_dst = layer.lin_src if layer.lin_dst is None else layer.lin_dst
    h_dst = (x @ lin_dst.weight.T).view(-1, heads, width)
    pre = F.leaky_relu(h_dst[:, None] + h_src[None, :], layer.negative_slope)   # [N_dst, N_src, H, F]
    scores = (pre * layer.attn).sum(-1)                                          # [N_dst, N_src, H]
    mask = (adjacency(graph) > 0) | torch.eye(graph.num_nodes, dtype=torch.bool)
    alpha = torch.softmax(scores.masked_fill(~mask[:, :, None], float("-inf")), dim=1)
    out = torch.einsum("vuh,uhf->vhf", alpha, h_src)
    if layer.residual is not None:
        out = out + layer.residual(x).view_as(out)
    out = out.flatten(1) if layer.concat else out.mean(1)
    return out + layer.bias, alpha


@pytest.mark.parametrize("share_weights", [False, True])
def test_matches_dense_dynamic_attention(share_weights):
    graph = simple_graph(11, 0.3, seed=0)
    layer = GATv2Conv(5, 4, num_heads=2, residual=True, share_weights=share_weights).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(11, 5, dtype=torch.float64)
    out, attention = layer(graph, x, return_attention=True)
    expected, alpha = dense_gatv2(layer, graph, x)
    torch.testing.assert_close(out, expected)
    loops = graph.add_self_loops()
    torch.testing.assert_close(attention, alpha[loops.dst.long(), loops.src.long()])


def test_scores_run_in_memory_budget_chunks(monkeypatch):
    """With a tiny budget the per-edge [E, H, F] pre-activations are built chunk by chunk; values and
    gradients equal the single-chunk run."""
    graph = random_graph(300, 3000, seed=1)
    x = torch.randn(300, 6, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(0)
    layer = GATv2Conv(6, 4, num_heads=2).double()
    out = layer(graph, x)
    grad = torch.autograd.grad(out.square().sum(), x)[0]
    monkeypatch.setenv("GRAPHSCALE_SAGA_MEMORY", "4096")
    chunk_sizes = []
    real = layer._score

    def counting_score(edges):
        chunk_sizes.append(len(edges))
        return real(edges)

    monkeypatch.setattr(layer, "_score", counting_score)
    out_chunked = layer(graph, x)
    grad_chunked = torch.autograd.grad(out_chunked.square().sum(), x)[0]
    assert len(chunk_sizes) > 1 and max(chunk_sizes) < graph.num_edges
    torch.testing.assert_close(out_chunked, out)
    torch.testing.assert_close(grad_chunked, grad)
