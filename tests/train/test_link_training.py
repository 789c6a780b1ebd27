"""Link training end to end: GAE / VGAE on Cora near Kipf & Welling's figures, mini-batches learn, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from graphscale.cli import main
from graphscale.config.link import LinkConfig
from graphscale.datasets.base import NodeDataset
from graphscale.graph import Graph
from graphscale.train.link import train_link


def communities(num_nodes=400, groups=4, features=16, seed=0):
    """A planted partition: dense inside groups, sparse across; features are noisy group centroids."""
    g = torch.Generator().manual_seed(seed)
    group = torch.arange(num_nodes) % groups
    src = torch.randint(0, num_nodes, (12000,), generator=g)
    dst = torch.randint(0, num_nodes, (12000,), generator=g)
    keep = (group[src] == group[dst]) | (torch.rand(12000, generator=g) < 0.01)
    x = torch.randn(groups, features, generator=g)[group] + torch.randn(num_nodes, features, generator=g)
    return NodeDataset("planted", Graph(src[keep], dst[keep], num_nodes), x, group, groups)


def config(**sections) -> LinkConfig:
    cfg = LinkConfig()
    for dotted, value in sections.items():
        section, key = dotted.split("__")
        setattr(getattr(cfg, section), key, value)
    return cfg


@pytest.mark.parametrize("model", ["gae", "vgae"])
def test_gae_and_vgae_on_cora_come_near_the_paper(require_dataset, model):
    require_dataset("cora")
    import graphscale

    cfg = config(train__epochs=200, train__loss="sampled", model__name=model, train__seed=0)
    summary = train_link(cfg, graphscale.datasets.load("cora"), torch.device("cpu"), progress=False)
    # Kipf & Welling: GAE 91.0 / 92.0, VGAE 91.4 / 92.6 (10 runs); one seed here, honest margin of 3 points
    assert summary["test_auc"] > 0.88 and summary["test_ap"] > 0.88, summary["test_auc"]
    assert summary["runs"][0]["best_epoch"] > 20  # selection on validation AUC, not the first epochs


def test_minibatch_sage_learns_and_matches_full_batch_roughly():
    data = communities()
    # scoring by group alone reaches about 0.86 AUC here (97 % of edges inside a group, 25 % of random pairs)
    full = train_link(config(model__name="sage", model__hidden_dim=32, train__epochs=30, train__lr=0.001), data,
                      torch.device("cpu"), progress=False)
    mini = train_link(config(model__name="sage", model__hidden_dim=32, train__epochs=8, sampler__name="neighbor",
                             sampler__fanouts=[10, 5], sampler__batch_size=256, train__lr=0.001), data,
                      torch.device("cpu"), progress=False)
    assert full["test_auc"] > 0.8 and mini["test_auc"] > 0.8, (full["test_auc"], mini["test_auc"])
    assert abs(full["test_auc"] - mini["test_auc"]) < 0.05


TINY = ["link", "--dataset", "cora", "--model", "gae", "--epochs", "4", "--seeds", "2", "--no-progress",
        "--device", "cpu", "--loss", "sampled"]


def test_cli_link_json_metrics_checkpoints_and_resume(require_dataset, tmp_path, capsys):
    require_dataset("cora")
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("test_auc", "test_ap", "test_mrr", "test_hits_at_10", "val_auc", "epoch_time_s", "peak_rss_mb"):
        assert isinstance(summary[key], float), key
    assert len(summary["per_seed_test_auc"]) == 2 and summary["test_auc_std"] >= 0
    assert list(summary)[-5:] == ["test_auc", "test_ap", "test_mrr", "epoch_time_s", "peak_rss_mb"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_auc"] == summary["test_auc"] and len(saved["runs"]) == 2
    assert (out / "checkpoints" / "run1.pt").is_file() and (out / "history.json").is_file()
    assert main([*TINY, "--out", str(out), "--json", "--resume"]) == 0  # finished runs are read back
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["per_seed_test_auc"] == summary["per_seed_test_auc"]


def test_minibatch_cli_runs(require_dataset, tmp_path, capsys):
    require_dataset("cora")
    code = main(["link", "--dataset", "cora", "--model", "sage", "--sampler", "neighbor", "--fanouts", "5,5",
                 "--batch-size", "2048", "--epochs", "1", "--seeds", "1", "--no-progress", "--device", "cpu",
                 "--out", str(tmp_path / "mini"), "--json", "model.hidden_dim=16"])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sampler"] == "neighbor"


@pytest.mark.parametrize("argv, message", [
    (["--loss", "dense", "--sampler", "neighbor"], "train.loss: expected sampled"),
    (["--model", "gat"], "model.name"),
    (["--decoder", "mlp", "--loss", "dense"], "dot decoder"),
    (["--sampler", "neighbor", "--fanouts", "5"], "sampler.fanouts: expected 2 values"),
    (["train.lr=0"], "train.lr: expected float > 0"),
    (["data.val_fraction=0.5", "data.test_fraction=0.5"], "val_fraction + test_fraction < 1"),
    (["train.lrr=0.1"], "train.lrr: unknown key"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    code = main(["link", "--dataset", "cora", "--epochs", "1", "--no-progress", "--device", "cpu",
                 "--out", str(tmp_path / "bad"), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "bad" / "metrics.json").exists()


def test_shipped_configs_load_and_state_their_figures():
    from graphscale.commands.link import shipped_link
    from graphscale.config import config_dir, load, shipped_configs

    names = [n for n in shipped_configs() if n.startswith("link-")]
    assert {"link-gae-cora", "link-vgae-cora", "link-gae-citeseer", "link-sage-github",
            "link-sage-neighbor-github"} <= set(names)
    for name in names:
        cfg = load(config_dir() / f"{name}.yaml", cls=LinkConfig)
        assert cfg.expected.source and cfg.expected.protocol and cfg.train.seed == 0
    assert shipped_link("GAE", None, "cora") == config_dir() / "link-gae-cora.yaml"
    assert shipped_link("sage", "neighbor", "github") == config_dir() / "link-sage-neighbor-github.yaml"


def test_dense_loss_equals_the_weighted_cross_entropy_over_all_pairs():
    from graphscale.sampling.link import split_edges
    from graphscale.train.link import dense_loss

    data = communities(num_nodes=60)
    split = split_edges(data.graph, seed=0)
    g = split.train_graph
    n = g.num_nodes
    labels = torch.eye(n)
    labels[g.src.long(), g.dst.long()] = 1.0
    ones = labels.nonzero()
    z = torch.randn(n, 8, dtype=torch.float64, requires_grad=True)
    edges = float(labels.sum())
    pos_weight, norm = (n * n - edges) / edges, n * n / (2 * (n * n - edges))
    reference = norm * torch.nn.functional.binary_cross_entropy_with_logits(
        z @ z.t(), labels.double(), pos_weight=torch.tensor(pos_weight, dtype=torch.float64))
    ours = dense_loss(z, ones, pos_weight, norm)
    assert torch.allclose(ours, reference, rtol=1e-12)
    grad_ours, = torch.autograd.grad(ours, z)
    grad_reference, = torch.autograd.grad(reference, z)
    assert torch.allclose(grad_ours, grad_reference, rtol=1e-10)
