"""Distillation training: the teacher term helps on a planted problem; ``graphscale distill`` end to end."""

from __future__ import annotations

import json

import pytest
import torch

from graphscale.cli import main
from graphscale.compress.distill import MLP, inference_times
from graphscale.config.distill import DistillConfig
from graphscale.datasets.base import NodeDataset
from graphscale.graph import Graph
from graphscale.nn import build_node_model
from graphscale.train.distill import TeacherOutput, student_run


def planted(num_nodes=360, num_classes=3, features=20, per_class=3, seed=0):
    """Noisy class centroids as features, 3 labelled training nodes per class, a random graph."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % num_classes
    centroids = torch.randn(num_classes, features, generator=g)
    x = centroids[y] + 1.6 * torch.randn(num_nodes, features, generator=g)
    train = torch.zeros(num_nodes, dtype=torch.bool)
    train[:num_classes * per_class] = True
    val = torch.zeros(num_nodes, dtype=torch.bool)
    val[60:120] = True
    test = ~(train | val)
    graph = Graph(torch.randint(0, num_nodes, (1000,), generator=g), torch.randint(0, num_nodes, (1000,), generator=g),
                  num_nodes)
    return NodeDataset("planted", graph, x, y, num_classes, train, val, test)


def test_the_teacher_term_beats_the_same_mlp_without_it():
    data = planted()
    cfg = DistillConfig()
    cfg.student.hidden_dim, cfg.student.epochs, cfg.student.patience, cfg.student.dropout = 32, 150, 0, 0.2
    teacher = TeacherOutput(logits=4.0 * torch.nn.functional.one_hot(data.y, 3).float(), hidden=None,
                            model=torch.nn.Identity())  # a GNN that got every node right
    device = torch.device("cpu")
    distilled = student_run(cfg, data, device, teacher, 0)[0]
    alone = student_run(cfg, data, device, None, 0)[0]
    assert distilled["test_acc"] > alone["test_acc"] + 0.1, (distilled["test_acc"], alone["test_acc"])
    assert distilled["test_acc"] > 0.85


def test_representation_methods_train_a_gnn_student():
    data = planted(num_nodes=120)
    teacher_model = build_node_model("sage", 20, 3, hidden_dim=8).eval()
    from graphscale.compress.distill import hidden_and_logits

    with torch.no_grad():
        hidden, logits = hidden_and_logits(teacher_model, data.graph, data.x)
    teacher = TeacherOutput(logits, hidden, teacher_model)
    for method in ("lsp", "gcrd"):
        cfg = DistillConfig()
        cfg.student.name, cfg.student.hidden_dim, cfg.student.epochs = "gcn", 4, 5
        cfg.distill.method, cfg.distill.label_weight, cfg.distill.gcrd_negatives = method, 1.0, 16
        result, curves = student_run(cfg, data, torch.device("cpu"), teacher, 0)
        assert len(curves["train_loss"]) == 5 and 0.0 <= result["test_acc"] <= 1.0
        # the representation term is part of the loss: the first epoch's loss exceeds the plain cross-entropy's
        plain = student_run(cfg, data, torch.device("cpu"), None, 0)[1]
        assert curves["train_loss"][0] > plain["train_loss"][0] + 1e-4, method


def test_inference_times_fetch_the_full_neighbourhood():
    data = planted(num_nodes=200)
    teacher = build_node_model("sage", 20, 3, hidden_dim=8)
    nodes = torch.arange(0, 200, 7)
    timing = inference_times(teacher, MLP(20, 3), data.graph, data.x, nodes, [-1, -1], repeats=1)
    csc_src = data.graph.src
    hop1 = set(nodes.tolist()) | {int(s) for s, d in zip(csc_src, data.graph.dst) if int(d) in set(nodes.tolist())}
    hop2 = hop1 | {int(s) for s, d in zip(csc_src, data.graph.dst) if int(d) in hop1}
    assert timing["teacher_fetch_nodes"] == len(hop2)
    assert timing["teacher_ms_per_10k"] > 0 and timing["student_ms_per_10k"] > 0 and timing["inference_nodes"] == 29


TINY = ["--dataset", "synthetic", "--teacher", "sage", "--student", "mlp", "--seeds", "1", "--epochs", "5",
        "--no-progress", "train.epochs=5", "model.hidden_dim=8", "distill.inference_nodes=300",
        "distill.inference_repeats=1", "--device", "cpu"]


def test_cli_distill_json_prints_the_fields(tmp_path, capsys):
    code = main(["distill", *TINY, "--out", str(tmp_path / "run"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    for key in ("teacher_acc", "student_acc", "mlp_acc", "baseline_acc", "teacher_ms_per_10k", "student_ms_per_10k",
                "inference_speedup"):
        assert isinstance(summary[key], float), key
    assert summary["mlp_acc"] == summary["baseline_acc"] and summary["teacher_fetch_nodes"] > 300
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["student_acc"] == summary["student_acc"] and set(saved["details"]) == {"teacher", "student",
                                                                                      "baseline"}
    assert (tmp_path / "run" / "teacher" / "checkpoints" / "run0.pt").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--method", "distil"], "distill.method"),
    (["distill.temperature=0"], "distill.temperature: expected float > 0"),
    (["--student", "transformer"], "student.name"),
    (["--teacher", "sgc"], "model.name"),
    (["student.lrr=0.1"], "student.lrr: unknown key"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    code = main(["distill", *TINY, "--out", str(tmp_path / "bad"), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "bad" / "metrics.json").exists()


def test_shipped_configs_load_and_state_their_figures():
    from graphscale.commands.distill import shipped_distill
    from graphscale.config import config_dir, load, shipped_configs

    names = [n for n in shipped_configs() if n.startswith("distill-")]
    assert len(names) >= 3
    for name in names:
        cfg = load(config_dir() / f"{name}.yaml", cls=DistillConfig)
        assert cfg.expected.source and cfg.expected.protocol and cfg.train.seeds == 10 and cfg.train.seed == 0
    assert shipped_distill("SAGE", "mlp", None, "cora") == config_dir() / "distill-sage-mlp-cora.yaml"
