"""Link models: encoders on Blocks equal the full-graph forward, VGAE's KL term and sampling, decoders."""

from __future__ import annotations

import pytest
import torch

from graphscale.errors import ConfigError
from graphscale.graph import Graph
from graphscale.nn.link import LinkModel, VGAEEncoder, build_link_model
from graphscale.sampling import NeighborSampler


def graph_and_x(num_nodes=80, num_edges=400, features=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    graph = Graph(torch.randint(0, num_nodes, (num_edges,), generator=g),
                  torch.randint(0, num_nodes, (num_edges,), generator=g), num_nodes)
    return graph, torch.randn(num_nodes, features, generator=g)


@pytest.mark.parametrize("decoder", ["dot", "mlp"])
def test_sage_encoder_on_full_neighbourhood_blocks_equals_the_full_graph(decoder):
    graph, x = graph_and_x()
    torch.manual_seed(0)
    model = build_link_model("sage", 12, hidden_dim=16, out_dim=8, decoder=decoder).eval()
    seeds = torch.tensor([1, 5, 9, 40, 77])
    blocks = NeighborSampler(graph, [-1, -1]).sample_blocks(seeds, seed=0)
    with torch.no_grad():
        full = model(graph, x)
        sampled = model(blocks, x[blocks[0].src_ids])
        assert torch.allclose(sampled, full[seeds], atol=1e-5)
        pairs = torch.tensor([[0, 1], [2, 3], [4, 0]])
        assert torch.allclose(model.score(sampled, pairs), model.score(full, seeds[pairs]), atol=1e-5)
    assert model.score(full, pairs).shape == (3,)


def test_gae_has_kipf_and_wellings_widths_and_a_dot_decoder():
    graph, x = graph_and_x()
    model = build_link_model("gae", 12)
    z = model(graph, x)
    assert z.shape == (80, 16) and model.decoder is None
    assert [conv.out_dim for conv in model.encoder.convs] == [32, 16]
    pairs = torch.tensor([[3, 4], [5, 6]])
    assert torch.allclose(model.score(z, pairs), (z[pairs[:, 0]] * z[pairs[:, 1]]).sum(1))
    assert float(model.kl_loss()) == 0.0


def test_vgae_samples_in_training_returns_mu_in_eval_and_scales_kl_by_n():
    graph, x = graph_and_x()
    torch.manual_seed(1)
    model = build_link_model("vgae", 12)
    assert isinstance(model.encoder, VGAEEncoder) and model.variational
    model.eval()
    z_eval = model(graph, x)
    assert torch.equal(z_eval, model.encoder.mu) and torch.equal(model(graph, x), z_eval)
    model.train()
    z_train = model(graph, x)
    mu, logstd = model.encoder.mu, model.encoder.logstd
    assert not torch.allclose(z_train, mu)
    sigma = torch.exp(logstd)
    kl_per_node = 0.5 * (mu ** 2 + sigma ** 2 - 1 - 2 * logstd).sum(1)  # KL(N(mu, sigma^2) || N(0, 1)) per node
    assert torch.allclose(model.kl_loss(), kl_per_node.mean() / 80, rtol=1e-5)
    blocks = NeighborSampler(graph, [3, 3]).sample_blocks(torch.arange(10), seed=0)
    assert model(blocks, x[blocks[0].src_ids]).shape == (10, 16)


def test_unknown_names_raise():
    with pytest.raises(ConfigError, match="gat"):
        build_link_model("gat", 4)
    with pytest.raises(ConfigError, match="decoder"):
        build_link_model("gae", 4, decoder="bilinear")
    assert isinstance(build_link_model("gcn", 4, decoder="mlp"), LinkModel)
