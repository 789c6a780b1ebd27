"""R-GCN link prediction (``graphscale kg --model rgcn``): the encoder against eq. (2) written densely, fused
corruption scores against plain DistMult, evaluation through the shared filtered evaluator against a brute-force
ranking, learning on a small KG, exact resume, and config errors through the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from graphscale.cli import main
from graphscale.config import load
from graphscale.kge.config import KGConfig
from graphscale.kge.rgcn import RGCNLinkPredictor, message_graph
from graphscale.kge.rgcn_train import RGCNEpochs, build_rgcn, train_rgcn
from graphscale.kge.run import run, run_eval
from graphscale.kge.train import fingerprint
from graphscale.kge.triples import FilterIndex, KGDataset

from .conftest import write_kg_folder

SETTINGS = ["model.name=rgcn", "model.dim=16", "rgcn.num_blocks=4", "rgcn.graph_batch_size=128",
            "rgcn.edge_dropout=0.2", "train.negatives=10", "train.lr=0.01", "train.threads=1", "output.plot=false",
            "output.export=false"]


def cluster_kg(clusters: int = 8, size: int = 10, links: int = 120, seed: int = 0) -> KGDataset:
    """``clusters`` groups of ``size`` entities; relation ``k`` links random members of groups ``2k`` and
    ``2k + 1`` (either direction): learnable by DistMult (symmetric) on top of an encoder that finds the groups."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for r in range(clusters // 2):
        a = torch.randint(size, (links,), generator=g) + 2 * r * size
        b = torch.randint(size, (links,), generator=g) + (2 * r + 1) * size
        flip = torch.rand(links, generator=g) < 0.5
        h, t = torch.where(flip, b, a), torch.where(flip, a, b)
        rows.append(torch.stack([h, torch.full_like(h, r), t], dim=1))
    triples = torch.unique(torch.cat(rows), dim=0)
    triples = triples[torch.randperm(triples.shape[0], generator=g)]
    held = triples.shape[0] // 10
    return KGDataset("clusters", triples[2 * held:], triples[:held], triples[held:2 * held],
                     [f"e{i}" for i in range(clusters * size)], [f"r{i}" for i in range(clusters // 2)])


@pytest.fixture(scope="module")
def clusters() -> KGDataset:
    return cluster_kg()


def config(*overrides: str) -> KGConfig:
    return load(None, [*SETTINGS, *overrides], cls=KGConfig)


def dense_rgcn_layer(conv, h: torch.Tensor, triples: torch.Tensor, num_relations: int) -> torch.Tensor:
    """Eq. (2) by hand: ``W_0 h_i + sum_r sum_{j in N_i^r} W_r h_j / |N_i^r| + b`` with inverse relations
    ``r + R`` (edges ``t -> h``) and each block-diagonal ``W_r`` built as a dense matrix."""
    n, dim = h.shape
    blocks = conv.blocks.detach()  # [2R, B, dim/B, dim/B]
    out = h @ conv.root.weight.detach().t() + conv.bias.detach()
    edges = [(int(s), int(r), int(d)) for s, r, d in triples.tolist()]
    edges += [(d, r + num_relations, s) for s, r, d in edges]
    for i in range(n):
        for r in range(2 * num_relations):
            sources = [s for s, rel, d in edges if d == i and rel == r]
            if sources:
                weight = torch.block_diag(*blocks[r])  # [dim, dim]
                out[i] += sum(h[s] @ weight for s in sources) / len(sources)
    return out


def test_encoder_is_eq_2_with_inverse_relations():
    torch.manual_seed(0)
    triples = torch.tensor([[0, 0, 1], [2, 0, 1], [1, 1, 3], [3, 0, 0], [4, 1, 2], [0, 1, 2]])
    model = RGCNLinkPredictor(5, 2, 8, layers=2, num_blocks=2, seed=3)
    graph, edge_type = message_graph(triples, 5, 2)
    got = model.encode(graph, edge_type)
    h = model.entity.detach()
    expected = dense_rgcn_layer(model.convs[1], torch.relu(dense_rgcn_layer(model.convs[0], h, triples, 2)),
                                triples, 2)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    keep = torch.tensor([[1.0], [0.0], [1.0], [1.0], [0.0]])  # self-loop dropout: rows 1 and 4 lose W_0 h_i
    one_layer = RGCNLinkPredictor(5, 2, 8, layers=1, num_blocks=2, seed=3)
    dropped = one_layer.encode(graph, edge_type, self_loop_keep=keep)
    root = one_layer.entity.detach() @ one_layer.convs[0].root.weight.detach().t()
    full = one_layer.encode(graph, edge_type)
    torch.testing.assert_close(dropped, full - root * (1 - keep), rtol=1e-5, atol=1e-5)


def test_fused_corruption_scores_match_distmult_values_and_gradients():
    torch.manual_seed(1)
    model = RGCNLinkPredictor(30, 4, 8, num_blocks=2)
    entity = torch.randn(30, 8, dtype=torch.float32, requires_grad=True)
    positives = torch.stack([torch.randint(30, (7,)), torch.randint(4, (7,)), torch.randint(30, (7,))], dim=1)
    candidates, head = torch.randint(30, (21,)), torch.rand(21) < 0.5
    sample = {"positives": positives, "candidates": candidates, "head": head}
    fused = model.score_corrupted(entity, positives, candidates, head)
    plain = model.score(entity, torch.cat([positives, RGCNEpochs.negatives(sample)]))
    torch.testing.assert_close(fused, plain)
    weights = torch.randn(fused.shape[0])
    got = torch.autograd.grad((fused * weights).sum(), [entity, model.relation])
    expected = torch.autograd.grad((plain * weights).sum(), [entity, model.relation])
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    negatives = RGCNEpochs.negatives(sample)
    assert torch.equal(negatives[head, 2], positives.repeat(3, 1)[head, 2])  # a head corruption keeps the tail
    assert torch.equal(negatives[~head, 0], positives.repeat(3, 1)[~head, 0])


def brute_force_mrr(entity: torch.Tensor, relation: torch.Tensor, test: torch.Tensor, known: set) -> float:
    """Filtered realistic ranks (ties count half) of both sides, one candidate at a time."""
    reciprocal = []
    for h, r, t in test.tolist():
        for side in ("head", "tail"):
            def score(e):
                a, b = (e, t) if side == "head" else (h, e)
                return float((entity[a] * relation[r] * entity[b]).sum())
            target = h if side == "head" else t
            true = score(target)
            greater = ties = 0
            for e in range(entity.shape[0]):
                triple = (e, r, t) if side == "head" else (h, r, e)
                if e == target or triple in known:
                    continue
                s = score(e)
                greater += s > true
                ties += s == true
            reciprocal.append(1.0 / (1 + greater + ties / 2))
    return sum(reciprocal) / len(reciprocal)


def test_evaluation_goes_through_the_shared_evaluator(clusters):
    data = cluster_kg(clusters=4, size=5, links=20, seed=2)
    cfg = config()
    model = build_rgcn(cfg, data.num_entities, data.num_relations)
    kge = model.as_kge(*message_graph(data.train, data.num_entities, data.num_relations))
    graph, edge_type = message_graph(data.train, data.num_entities, data.num_relations)
    with torch.no_grad():
        torch.testing.assert_close(kge.entity, model.encode(graph, edge_type))  # eval mode: no dropout
    index = FilterIndex.build([data.train, data.valid, data.test], data.num_relations)
    metrics = run_eval(kge, data.test, index, cfg, torch.device("cpu"))
    known = {tuple(x) for x in torch.cat([data.train, data.valid, data.test]).tolist()}
    expected = brute_force_mrr(kge.entity.detach(), kge.relation.detach(), data.test, known)
    assert metrics["mrr"] == pytest.approx(expected, rel=1e-9)


def test_rgcn_learns_a_small_kg(clusters, tmp_path):
    summary = run(config("train.epochs=80", "train.eval_every=40", f"output.dir={tmp_path}"), data=clusters,
                  progress=False)
    random_mrr = sum(1 / k for k in range(1, 81)) / 80  # a random order of 80 candidates: about 0.062
    assert summary["complete"] and summary["epochs_done"] == 80 and summary["steps"] == 80 * 3
    assert summary["mrr"] > 4 * random_mrr and summary["valid_mrr"] > 4 * random_mrr
    assert summary["hits_at_10"] > 0.5
    curve = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in curve] == list(range(1, 81)) and "valid" in curve[39] and "valid" in curve[79]
    assert curve[-1]["loss"] < curve[0]["loss"]
    assert summary["rgcn_num_blocks"] == 4 and summary["peak_rss_mb"] > 0 and summary["train_time_s"] > 0


def test_resume_continues_bit_for_bit(clusters, tmp_path):
    def fit(out, *overrides, on_epoch=None, resume=False):
        cfg = config("train.epochs=6", "rgcn.dropout=0.3", *overrides)
        torch.set_num_threads(1)
        model = build_rgcn(cfg, clusters.num_entities, clusters.num_relations)
        result, kge = train_rgcn(model, clusters.train, cfg, device=torch.device("cpu"), out_dir=out,
                                 resume=resume, progress=False, on_epoch=on_epoch)
        return model, result, kge

    straight, _, straight_kge = fit(tmp_path / "a")

    class Stop(Exception):
        pass

    def interrupt(record):
        if record["epoch"] == 3:
            raise Stop

    with pytest.raises(Stop):
        fit(tmp_path / "b", on_epoch=interrupt)
    resumed, result, resumed_kge = fit(tmp_path / "b", resume=True)
    assert result["epochs_done"] == 6 and [r["epoch"] for r in result["history"]] == list(range(1, 7))
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    assert torch.equal(straight_kge.entity, resumed_kge.entity)
    with pytest.raises(Exception, match="same data, model and train settings"):
        fit(tmp_path / "b", "rgcn.edge_dropout=0.3", resume=True)


def test_time_limit_stops_with_a_checkpoint_and_resume_finishes(clusters, tmp_path):
    cfg = config("train.epochs=5", "train.max_time_s=0.001", f"output.dir={tmp_path}")
    stopped = run(cfg, data=clusters, progress=False)
    assert not stopped["complete"] and stopped["epochs_done"] == 1 and "mrr" not in stopped
    finished = run(config("train.epochs=5", f"output.dir={tmp_path}"), data=clusters, progress=False, resume=True)
    assert finished["complete"] and finished["epochs_done"] == 5 and "mrr" in finished


def test_rgcn_section_counts_in_the_fingerprint_only_for_rgcn():
    assert "rgcn" in fingerprint(config())
    other = load(None, ["model.name=rotate"], cls=KGConfig)
    assert "rgcn" not in fingerprint(other)  # checkpoints of the embedding models written before it still resume


def test_cli_json_summary(tmp_path, capsys, clusters):
    folder = write_kg_folder(tmp_path / "kg", clusters)
    code = main(["kg", "--dataset", str(folder), "--model", "rgcn", "--dim", "16", "--epochs", "2", "--json",
                 "--no-progress", "--out", str(tmp_path / "run"), *SETTINGS[2:]])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["model"] == "rgcn" and summary["epochs_done"] == 2
    assert list(summary)[-8:] == ["mrr", "mr", "hits_at_1", "hits_at_3", "hits_at_10", "train_time_s",
                                  "triples_per_s", "peak_rss_mb"]


@pytest.mark.parametrize("argv, message", [
    (["train.partitions=2"], "train.partitions: expected 1 with model.name rgcn"),
    (["train.optimizer=adagrad"], "train.optimizer: expected 'adam' with model.name rgcn"),
    (["train.negative_mode=all"], "train.negative_mode: expected 'shared' with model.name rgcn"),
    (["model.reciprocal=true"], "model.reciprocal: expected false with model.name rgcn"),
    (["rgcn.num_blocks=3"], "rgcn.num_blocks: expected a divisor of model.dim (16), got 3"),
    (["rgcn.edge_dropout=1.0"], "rgcn.edge_dropout: expected float in [0, 1), got 1.0"),
    (["rgcn.layer=3"], "rgcn.layer: unknown key"),
])
def test_config_errors_exit_2(tmp_path, capsys, clusters, argv, message):
    folder = write_kg_folder(tmp_path / "kg", clusters)
    code = main(["kg", "--dataset", str(folder), "--model", "rgcn", "--dim", "16", "--epochs", "2", "--no-progress",
                 "--out", str(tmp_path / "o"), *SETTINGS[2:], *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # rejected before anything is written


def test_shipped_config_has_the_paper_settings(capsys):
    assert main(["kg", "--dataset", "fb15k-237", "--model", "rgcn", "--print-config"]) == 0
    text = capsys.readouterr().out
    for line in ("name: rgcn", "dim: 500", "num_blocks: 100", "edge_dropout: 0.4", "self_loop_dropout: 0.2",
                 "graph_batch_size: 30000", "negatives: 10", "target_mrr: 0.24"):
        assert line in text, line
