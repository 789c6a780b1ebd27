"""GNNAutoScale: full-batch equality with one cluster, push/pull against a dense reference, history
contents, per-batch memory bounded by the batch, exactness of every supported layer, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import graphscale as gs
from graphscale.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from graphscale.datasets import load_synthetic
from graphscale.errors import ConfigError, ShapeError
from graphscale.loader import NodeLoader
from graphscale.nn.models import build_node_model
from graphscale.scale.gas import GASModel, GASSampler, History, gas_sampler_config
from graphscale.train.gas import train_gas
from graphscale.train.node import train_node

RESULT_KEYS = {"run", "seed", "split", "best_epoch", "epochs_run", "test_acc", "val_acc", "val_loss", "train_acc",
               "last_test_acc", "epoch_time_s", "warmup_time_s", "train_time_s"}


def symmetric_graph(num_nodes: int, num_edges: int, seed: int) -> gs.Graph:
    """Random undirected graph (both directions), no self-loops, a few isolated nodes."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes - 2, (num_edges,), generator=gen)
    dst = torch.randint(0, num_nodes - 2, (num_edges,), generator=gen)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    return gs.Graph(torch.cat([src, dst]), torch.cat([dst, src]), num_nodes)


def dense_adjacency(graph: gs.Graph) -> torch.Tensor:
    """``A[dst, src]`` = number of edges ``src -> dst`` (float64)."""
    adj = torch.zeros(graph.num_nodes, graph.num_nodes, dtype=torch.float64)
    adj.index_put_((graph.dst.long(), graph.src.long()), torch.ones(graph.num_edges, dtype=torch.float64),
                   accumulate=True)
    return adj


def dense_layer(kind: str, conv, adj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Reference output of a SAGE (mean) or GCN layer on the full dense adjacency (float64)."""
    if kind == "sage":
        degree = adj.sum(1, keepdim=True).clamp(min=1)
        out = (adj @ h / degree) @ conv.lin_neigh.weight.double().t() + h @ conv.lin_root.weight.double().t()
        return out + conv.bias.double()
    looped = adj + torch.eye(adj.shape[0], dtype=adj.dtype)
    inv_in = looped.sum(1).pow(-0.5)
    inv_out = looped.sum(0).pow(-0.5)
    return (inv_in[:, None] * looped * inv_out[None, :]) @ h @ conv.linear.weight.double().t() + conv.bias.double()


def first_batch(sampler: GASSampler, clusters: list[int], seeds: np.ndarray | None = None):
    mask = np.ones(sampler.num_nodes, dtype=bool) if seeds is None else np.isin(np.arange(sampler.num_nodes), seeds)
    return sampler.sample((np.asarray(clusters), mask, 1.0), 0)


@pytest.mark.parametrize("kind", ["sage", "gcn"])
def test_push_pull_against_dense_reference(kind):
    graph = symmetric_graph(50, 150, seed=1)
    parts = torch.randint(0, 5, (50,), generator=torch.Generator().manual_seed(2))
    sampler = GASSampler(graph, parts=parts)
    torch.manual_seed(0)
    model = build_node_model(kind, 6, 3, hidden_dim=8, num_layers=3, dropout=0.0).double().eval()
    x = torch.randn(50, 6, dtype=torch.float64)
    gas = GASModel(model, graph)
    stale = [torch.randn(50, 8, dtype=torch.float64) for _ in range(2)]  # what earlier batches left
    for layer, values in enumerate(stale):
        gas.history(layer, 8).emb = values.clone()
    batch = first_batch(sampler, [1, 3])
    (block,) = batch.graph
    in_batch = torch.zeros(50, dtype=torch.bool)
    in_batch[block.dst_ids] = True

    out = gas(block, x[batch.input_ids])
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()

    adj, h, exact = dense_adjacency(graph), x, []
    for i, conv in enumerate(model.convs):
        if i > 0:
            h = torch.where(in_batch[:, None], h, stale[i - 1])  # pulled rows are constants
            h = F.relu(h)
        h = dense_layer(kind, conv, adj, h)
        exact.append(h.detach())
    reference = h[block.dst_ids]
    torch.testing.assert_close(out, reference)
    (reference * weight).sum().backward()
    for grad, param in zip(grads, model.parameters()):
        torch.testing.assert_close(grad, param.grad)
    for layer in range(2):  # pushed: the batch rows; every other row untouched
        history = gas.histories[layer].emb
        torch.testing.assert_close(history[in_batch], exact[layer][in_batch])
        assert torch.equal(history[~in_batch], stale[layer][~in_batch])


@pytest.mark.parametrize("name", ["gcn", "sage", "gat", "gatv2", "gin"])
def test_exact_histories_give_full_graph_outputs(name):
    """With every history equal to the full-graph layer outputs, a batch's logits are the full-graph ones."""
    graph = symmetric_graph(60, 200, seed=3)
    sampler = GASSampler(graph, parts=torch.arange(60) % 4)
    torch.manual_seed(1)
    model = build_node_model(name, 5, 3, hidden_dim=4, num_layers=3).eval()
    x = torch.randn(60, 5)
    gas = GASModel(model, graph)
    with torch.no_grad():
        h, outputs = x, []
        for i, conv in enumerate(model.convs):
            if i > 0:
                h = model.activation(h)
            h = conv(graph, h)
            outputs.append(h)
        for layer in range(2):
            gas.history(layer, outputs[layer].shape[1]).emb = outputs[layer].clone()
        batch = first_batch(sampler, [2])
        (block,) = batch.graph
        torch.testing.assert_close(gas(block, x[batch.input_ids]), outputs[-1][block.dst_ids], rtol=1e-5,
                                   atol=1e-5)


def test_history_holds_the_output_of_the_last_batch_of_each_node():
    graph = symmetric_graph(80, 300, seed=4)
    sampler = GASSampler(graph, parts=torch.arange(80) % 8)
    torch.manual_seed(2)
    model = build_node_model("sage", 5, 3, hidden_dim=6, num_layers=3, dropout=0.3)
    gas = GASModel(model, graph)
    x, y = torch.randn(80, 5), torch.randint(0, 3, (80,))
    recorded: dict[int, dict[int, torch.Tensor]] = {0: {}, 1: {}}

    def recorder(layer):
        def hook(module, inputs, output):
            for row, node in enumerate(inputs[0].dst_ids.tolist()):
                recorded[layer][node] = output[row].detach().clone()
        return hook

    for layer in (0, 1):
        model.convs[layer].register_forward_hook(recorder(layer))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loader = NodeLoader(sampler, torch.arange(0, 80, 2), 3, seed=5, num_workers=0)
    model.train()
    for _ in range(2):  # epochs: cluster groups differ, weights change after every batch
        for batch in loader:
            (block,) = batch.graph
            optimizer.zero_grad()
            logits = gas(block, x[batch.input_ids])[batch.output_index]
            F.cross_entropy(logits, y[batch.output_ids]).backward()
            optimizer.step()
    for layer in (0, 1):
        assert len(recorded[layer]) == 80
        expected = torch.stack([recorded[layer][v] for v in range(80)])
        assert torch.equal(gas.histories[layer].emb, expected)


def test_batch_memory_is_bounded_by_the_batch_not_the_graph():
    """Adding disconnected copies of the graph changes nothing in a batch's computation graph."""
    base = symmetric_graph(40, 120, seed=5)
    base_parts = torch.arange(40) % 4
    sizes = []
    for copies in (1, 6):
        n = 40 * copies
        src = torch.cat([base.src.long() + 40 * c for c in range(copies)])
        dst = torch.cat([base.dst.long() + 40 * c for c in range(copies)])
        graph = gs.Graph(src, dst, n)
        sampler = GASSampler(graph, parts=torch.cat([base_parts + 4 * c for c in range(copies)]))
        batch = first_batch(sampler, [0, 2])
        (block,) = batch.graph
        nodes = set(block.dst_ids.tolist())
        in_edges = [(s, d) for s, d in zip(graph.src.tolist(), graph.dst.tolist()) if d in nodes]
        halo = {s for s, _ in in_edges} - nodes
        assert block.num_dst_nodes == len(nodes) and block.num_edges == len(in_edges)
        assert block.num_src_nodes == len(nodes) + len(halo)
        assert set(block.src_ids[block.num_dst_nodes:].tolist()) == halo
        model = build_node_model("sage", 3, 2, hidden_dim=4, num_layers=2)
        gas = GASModel(model, graph)
        pulled = []
        history = gas.history(0, 4)
        original = history.pull
        history.pull = lambda ids, pulled=pulled, original=original: pulled.append(ids.numel()) or original(ids)
        gas(block, torch.randn(block.num_src_nodes, 3))
        assert pulled == [len(halo)]
        sizes.append((block.num_src_nodes, block.num_dst_nodes, block.num_edges))
    assert sizes[0] == sizes[1]


def full_batch_curve(data, name, hparams, train_cfg, seed):
    cfg = RunConfig(data=DataConfig(dataset=data.name), model=ModelConfig(name=name, hparams=hparams),
                    train=train_cfg)
    curve = []
    summary = train_node(cfg, data, torch.device("cpu"), progress=False, on_epoch=curve.append)
    return curve, summary["runs"][0]


@pytest.mark.parametrize("name", ["gcn", "sage"])
def test_one_cluster_equals_full_batch_step_for_step(name, tmp_path):
    data = load_synthetic(num_nodes=300, num_features=16, seed=2)
    hparams = {"hidden_dim": 16, "dropout": 0.5}
    train_cfg = TrainConfig(epochs=12, lr=0.02, seed=7, device="cpu")
    reference, reference_run = full_batch_curve(data, name, hparams, train_cfg, 7)
    curve: list[dict] = []
    result = train_gas(data, name, hparams, {"name": "gas", "num_parts": 1, "clusters_per_batch": 1,
                                             "cache_dir": str(tmp_path), "num_workers": 0},
                       train_cfg, seed=7, on_epoch=curve.append)
    assert set(result) == RESULT_KEYS
    assert len(curve) == len(reference) == 12
    for ours, theirs in zip(curve, reference):
        for key in ("train_loss", "val_loss"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6), (key, ours["epoch"])
        assert ours["val_acc"] == pytest.approx(theirs["val_acc"], abs=2e-3)
    assert result["best_epoch"] == reference_run["best_epoch"]


def test_gas_trains_with_several_clusters(tmp_path):
    data = load_synthetic(num_nodes=600, num_features=16, seed=3)
    result = train_gas(data, "gcn", {"hidden_dim": 16}, {"name": "gas", "num_parts": 12, "clusters_per_batch": 3,
                                                          "cache_dir": str(tmp_path), "num_workers": 1},
                       TrainConfig(epochs=15, lr=0.02, device="cpu"), seed=0)
    assert set(result) == RESULT_KEYS and result["epochs_run"] == 15
    assert result["train_acc"] > 0.5  # 7 skewed classes: the majority class alone is far less
    assert list(tmp_path.glob("metis-p12-*.npy"))


def test_history_buffer_and_errors(tmp_path):
    history = History(5, 2)
    history.push(torch.ones(2, 2, requires_grad=True) * 3, torch.tensor([1, 4]))
    pulled = history.pull(torch.tensor([4, 0]))
    assert not pulled.requires_grad and pulled.tolist() == [[3.0, 3.0], [0.0, 0.0]]
    with pytest.raises(ShapeError, match=r"\[2, 2\]"):
        history.push(torch.ones(3, 2), torch.tensor([1, 4]))
    with pytest.raises(ConfigError, match="ConvStack"):
        GASModel(build_node_model("appnp", 3, 2), symmetric_graph(10, 20, 0))
    with pytest.raises(ConfigError, match="expected 'gas'"):
        gas_sampler_config("neighbor")
    assert gas_sampler_config(None).name == "gas" and gas_sampler_config({"num_parts": 3}).num_parts == 3
    assert gas_sampler_config("cluster").name == "cluster"
    data = load_synthetic(num_nodes=100, num_features=4, seed=0)
    with pytest.raises(ConfigError, match="ConvStack"):
        train_gas(data, "sgc", None, {"cache_dir": str(tmp_path)}, TrainConfig(epochs=1, device="cpu"), 0)
