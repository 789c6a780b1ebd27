import pytest
import torch
import torch.nn.functional as F

import graphscale as gs
from graphscale.errors import ConfigError, GraphscaleWarning, ShapeError
from graphscale.nn import GRAPH_MODELS, NODE_MODELS, build_graph_model, build_node_model, readout
from graphscale.nn.graph_models import GIN

NODE_NAMES = ["gcn", "sage", "gat", "gatv2", "gin", "appnp", "sgc", "cheb", "gatedgcn", "egc", "revgnn", "pprgo"]
GRAPH_NAMES = ["gin", "gcn", "gat", "gine", "gatedgcn", "egc"]


def sbm(block_size=50, num_blocks=4, p_in=0.15, p_out=0.01, dim=16, noise=3.0, seed=0):
    """Seeded stochastic block model with weak (noisy) class-mean features; labels = blocks."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_blocks).repeat_interleave(block_size)
    n = labels.numel()
    prob = torch.where(labels[:, None] == labels[None, :], p_in, p_out)
    upper = torch.triu(torch.rand(n, n, generator=gen) < prob, 1)
    src, dst = (upper | upper.T).nonzero().T
    means = torch.randn(num_blocks, dim, generator=gen)
    x = means[labels] + noise * torch.randn(n, dim, generator=gen)
    return gs.Graph(src, dst, n), x, labels


def test_registries_hold_exactly_the_documented_names():
    assert sorted(NODE_MODELS.names()) == sorted(NODE_NAMES)
    assert sorted(GRAPH_MODELS.names()) == sorted(GRAPH_NAMES)


@pytest.mark.parametrize("name", NODE_NAMES)
def test_every_node_model_builds_runs_and_trains_a_step(name):
    torch.manual_seed(0)
    graph, x, labels = sbm(block_size=10, dim=8)
    model = build_node_model(name.upper(), 8, 4)
    out = model(graph, x)
    assert out.shape == (40, 4) and torch.isfinite(out).all()
    F.cross_entropy(out, labels).backward()
    grads = [p.grad for p in model.parameters()]
    assert grads and all(g is not None for g in grads)
    model.eval()
    torch.testing.assert_close(model(graph, x), model(graph, x))


@pytest.mark.parametrize("name", ["sage", "gat", "gatv2", "gin"])
def test_node_models_on_sampled_blocks_match_full_graph(name):
    torch.manual_seed(1)
    graph, x, _ = sbm(block_size=12, dim=6)
    model = build_node_model(name, 6, 3, hidden_dim=8).double().eval()
    seeds = torch.tensor([0, 7, 20, 33])
    last = gs.to_block(graph, seeds)
    first = gs.to_block(graph, last.src_ids)
    out = model([first, last], x.double()[first.src_ids])
    torch.testing.assert_close(out, model(graph, x.double())[seeds])
    with pytest.raises(ShapeError, match="expected 2 blocks"):
        model([last], x.double()[last.src_ids])


@pytest.mark.parametrize("name", ["gcn", "gatedgcn"])
def test_node_models_run_on_sampled_blocks(name):
    """GCN normalises with block degrees and GatedGCN restarts its edge stream per block: shape check only."""
    torch.manual_seed(2)
    graph, x, _ = sbm(block_size=12, dim=6)
    model = build_node_model(name, 6, 3, hidden_dim=8)
    seeds = torch.tensor([1, 2, 30])
    last = gs.to_block(graph, seeds)
    first = gs.to_block(graph, last.src_ids)
    out = model([first, last], x[first.src_ids])
    assert out.shape == (3, 3) and torch.isfinite(out).all()
    out.sum().backward()
    # with blocks the edge stream restarts per block: only the edge batch norms go without gradient
    missing = {name for name, p in model.named_parameters() if p.grad is None}
    assert all(".bn_edge." in name for name in missing) and (name == "gcn") == (not missing)


def test_gcn_trains_above_90_percent_on_sbm_within_100_steps():
    torch.manual_seed(0)
    graph, x, labels = sbm()
    train = torch.zeros(labels.numel(), dtype=torch.bool)
    train[torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(1))[:100]] = True
    mlp_free_baseline = (x @ torch.linalg.lstsq(x[train], F.one_hot(labels[train]).float()).solution).argmax(1)
    model = build_node_model("gcn", x.shape[1], 4, hidden_dim=16, num_layers=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(model(graph, x)[train], labels[train]).backward()
        optimizer.step()
    model.eval()
    prediction = model(graph, x).argmax(1)
    train_acc = (prediction[train] == labels[train]).float().mean().item()
    test_acc = (prediction[~train] == labels[~train]).float().mean().item()
    baseline_test_acc = (mlp_free_baseline[~train] == labels[~train]).float().mean().item()
    assert train_acc > 0.9
    assert test_acc > baseline_test_acc + 0.2  # the graph, not the noisy features, carries the signal


def _graph_batch(edge_dim=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    graphs = [gs.Graph(torch.randint(0, n, (3 * n,), generator=gen), torch.randint(0, n, (3 * n,), generator=gen), n)
              for n in (5, 8, 3, 6)]
    batched = gs.batch(graphs)
    x = torch.randn(batched.num_nodes, 7, generator=gen)
    edge_attr = None if edge_dim is None else torch.randn(batched.num_edges, edge_dim, generator=gen)
    return batched, x, edge_attr


@pytest.mark.parametrize("name", GRAPH_NAMES)
@pytest.mark.parametrize("readout_name", ["sum", "mean"])
def test_every_graph_model_builds_and_runs(name, readout_name):
    torch.manual_seed(0)
    edge_dim = 4 if name in ("gine", "gatedgcn") else None
    graph, x, edge_attr = _graph_batch(edge_dim)
    hparams = {"readout": readout_name, "hidden_dim": 16}
    if edge_dim:
        hparams["edge_dim"] = edge_dim
    model = build_graph_model(name, 7, 3, **hparams)
    out = model(graph, x, edge_attr)
    assert out.shape == (4, 3) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", ["gine", "gatedgcn"])
def test_edge_models_without_edge_features_and_mismatches(name):
    graph, x, _ = _graph_batch()
    model = build_graph_model(name, 7, 2, hidden_dim=8)
    assert model(graph, x).shape == (4, 2)
    with pytest.raises(ShapeError, match="model built without edge_dim"):
        model(graph, x, torch.randn(graph.num_edges, 3))
    with_edges = build_graph_model(name, 7, 2, hidden_dim=8, edge_dim=3)
    with pytest.raises(ShapeError, match=r"expected edge_attr of shape"):
        with_edges(graph, x)


def test_gin_graph_model_follows_the_reference_implementation():
    torch.manual_seed(0)
    graph, x, _ = _graph_batch()
    model = build_graph_model("gin", 7, 3, hidden_dim=16, learn_eps=True).eval()
    assert isinstance(model, GIN) and len(model.convs) == 4 and len(model.heads) == 5
    assert all(isinstance(conv.eps, torch.nn.Parameter) for conv in model.convs)
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.convs[0].mlp)
    states, expected = [x], 0
    for conv, norm in zip(model.convs, model.norms):
        states.append(torch.relu(norm(conv(graph, states[-1]))))
    for head, state in zip(model.heads, states):
        expected = expected + head(readout(graph, state, "sum"))
    torch.testing.assert_close(model(graph, x), expected)
    with pytest.raises(ShapeError, match="ignores edge features"):
        model(graph, x, torch.randn(graph.num_edges, 2))


def test_registry_errors_suggest_the_closest_name_and_key():
    with pytest.raises(ConfigError, match="Did you mean 'gcn'"):
        build_node_model("gcnn", 4, 2)
    with pytest.raises(ConfigError, match="Did you mean 'gatedgcn'"):
        build_graph_model("GatedGNC", 4, 2)
    with pytest.raises(ConfigError, match=r"unknown hparam 'hiden_dim'.*Did you mean 'hidden_dim'"):
        build_node_model("gcn", 4, 2, hiden_dim=8)
    with pytest.raises(ConfigError, match="unknown hparam 'heads'"):
        build_node_model("gcn", 4, 2, heads=8)
    with pytest.raises(ConfigError, match=r"hparam dropout: expected float in \[0, 1\), got 1.5"):
        build_node_model("gat", 4, 2, dropout=1.5)
    with pytest.raises(ConfigError, match="hparam num_layers: expected int >= 1, got 0"):
        build_node_model("sage", 4, 2, num_layers=0)
    with pytest.raises(ConfigError, match="hparam hidden_dim: expected int >= 1, got null"):
        build_node_model("gin", 4, 2, hidden_dim=None)
    with pytest.raises(ConfigError, match="hparam readout"):
        build_graph_model("gcn", 4, 2, readout="median")
    with pytest.raises(ConfigError, match="hparam aggregator"):
        build_node_model("sage", 4, 2, aggregator="lstm")
    with pytest.raises(ConfigError, match="divisible by heads"):
        build_graph_model("gat", 4, 2, hidden_dim=10, heads=4)
    assert build_node_model("sage", 4, 2, aggregator="Pool").convs[0].aggregator == "pool"  # case-insensitive
    with pytest.raises(ConfigError, match="num_layers: expected an int >= 2"):
        build_graph_model("gin", 4, 2, num_layers=1)


def test_hparams_reach_the_layers():
    gat = build_node_model("GAT", 5, 3, heads=4, out_heads=2, hidden_dim=6, attn_dropout=0.1, residual=True,
                           negative_slope=0.1, num_layers=3)
    convs = gat.convs
    assert [c.num_heads for c in convs] == [4, 4, 2] and convs[1].in_dim == 24 and not convs[-1].concat
    assert convs[0].attn_drop.p == 0.1 and convs[0].negative_slope == 0.1 and convs[0].residual is not None
    assert gat.input_dropout == gat.dropout == 0.6
    sage = build_node_model("sage", 5, 3, aggregator="pool", input_dropout=0.0)
    assert all(c.aggregator == "pool" for c in sage.convs) and sage.input_dropout == 0.0
    appnp = build_node_model("appnp", 5, 3, K=3, alpha=0.3)
    assert appnp.propagation.K == 3 and appnp.propagation.alpha == 0.3
    assert build_node_model("sgc", 5, 3, K=4).conv.K == 4
    assert build_node_model("cheb", 5, 3, K=5).convs[0].K == 5


def test_sgc_warns_about_hparams_that_do_not_apply():
    with pytest.warns(GraphscaleWarning, match="'hidden_dim' does not apply"):
        build_node_model("sgc", 5, 3, hidden_dim=32)


def test_hyper_parameters_are_typed_once_for_builders_and_configs():
    """One table types every registry's hparams: a spec with an untyped one is refused, and a config
    override and a builder call reject the same bad value with the same words."""
    from graphscale import config
    from graphscale.nn.hparams import HPARAMS
    from graphscale.nn.models import GRAPH_MODELS, NODE_MODELS, ModelSpec
    from graphscale.scale.sign import PRECOMPUTED_MODELS

    specs = [r.get(n) for r in (NODE_MODELS, GRAPH_MODELS) for n in r] + list(PRECOMPUTED_MODELS.values())
    assert all(set(spec.defaults) <= set(HPARAMS) for spec in specs)
    with pytest.raises(TypeError, match=r"hparams \['depth'\] have no entry in HPARAMS"):
        ModelSpec(lambda in_dim, out_dim, depth: None, {"depth": 2})
    for key, bad, words in (("heads", 0, "expected int >= 1, got 0"),
                            ("attn_dropout", 1.0, r"expected float in \[0, 1\), got 1.0"),
                            ("aggregator", "lstm", "expected one of")):
        with pytest.raises(ConfigError, match=words):
            config.load(None, [f"model.{key}={bad}"])
        with pytest.raises(ConfigError, match=words):
            build_node_model("gat" if key != "aggregator" else "sage", 4, 2, **{key: bad})
