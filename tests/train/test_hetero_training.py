"""Entity classification on heterogeneous graphs: R-GCN / HGT through the one engine, full batch and sampled."""

import dataclasses

import pytest
import torch

from graphscale.config import from_command, task_defaults
from graphscale.errors import ConfigError
from graphscale.graph import HeteroGraph
from graphscale.train.run import run


@dataclasses.dataclass
class ToyHetero:
    """A heterogeneous node dataset (the fields the trainer reads)."""

    name: str
    graph: HeteroGraph
    x: dict
    y: torch.Tensor
    target: str
    num_classes: int
    train_mask: torch.Tensor
    val_mask: torch.Tensor
    test_mask: torch.Tensor
    meta: dict = dataclasses.field(default_factory=dict)


def toy(seed=0, papers=400, authors=300, classes=4):
    """Paper classes are weak in the features and strong through the authors (each writes papers of one class)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (papers,), generator=g)
    author_class = torch.randint(0, classes, (authors,), generator=g)
    writer = torch.randint(0, authors, (1500,), generator=g)
    by_class = [torch.nonzero(y == c).view(-1) for c in range(classes)]
    paper = torch.stack([by_class[int(c)][torch.randint(0, by_class[int(c)].numel(), (1,), generator=g)][0]
                         for c in author_class[writer]])
    graph = HeteroGraph({"paper": papers, "author": authors}, {("author", "writes", "paper"): (writer, paper)})
    x = {"paper": torch.randn(papers, 16, generator=g) + 0.3 * torch.nn.functional.one_hot(y, 16).float()}
    perm = torch.randperm(papers, generator=g)
    masks = [torch.zeros(papers, dtype=torch.bool) for _ in range(3)]
    masks[0][perm[:200]], masks[1][perm[200:300]], masks[2][perm[300:]] = True, True, True
    return ToyHetero("toy-hetero", graph, x, y, "paper", classes, *masks)  # the trainer adds rev_writes


def config(tmp_path, model, sampler="none", *extra):
    overrides = ["train.epochs=40", "train.seeds=1", f"output.dir={tmp_path / (model + sampler)}",
                 "model.hidden_dim=16", *extra] + (["sampler.batch_size=64", "sampler.fanouts=[5,5]"]
                                                   if sampler == "neighbor" else [])
    return from_command(task_defaults("node"), None, (("--model", "model.name", model),
                                                      ("--sampler", "sampler.name", sampler)), overrides)


def test_rgcn_full_batch_and_sampled_learn_the_relations(tmp_path):
    data = toy()
    full = run(config(tmp_path, "rgcn", "none", "train.epochs=100"), dataset=data, progress=False)
    sampled = run(config(tmp_path, "rgcn", "neighbor"), dataset=data, progress=False)
    # features alone give about 45 % here; the authors' classes lift the relational model far above it
    assert full["test_acc"] > 0.85 and sampled["test_acc"] > 0.85
    assert abs(full["test_acc"] - sampled["test_acc"]) < 0.06
    assert full["target"] == "paper" and full["num_edges"]["paper__rev_writes__author"] == 1500
    assert sampled["sampler"] == "neighbor"


def test_hgt_trains_and_resumes(tmp_path):
    data = toy(1)
    cfg = config(tmp_path, "hgt", "none", "train.epochs=60")
    stopped = {}

    def interrupt(event):
        if event["epoch"] == 20:
            stopped["at"] = 20
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg, dataset=data, progress=False, on_epoch=interrupt)
    resumed = run(cfg, dataset=data, progress=False, resume=True)
    fresh = run(config(tmp_path / "fresh", "hgt", "none", "train.epochs=60"), dataset=data, progress=False)
    assert stopped["at"] == 20 and resumed["test_acc"] == pytest.approx(fresh["test_acc"])
    assert resumed["test_acc"] > 0.8


def test_model_and_dataset_kinds_must_match(tmp_path):
    with pytest.raises(ConfigError, match="heterogeneous model"):
        run(config(tmp_path, "gcn"), dataset=toy(), progress=False)
    with pytest.raises(ConfigError, match="none or neighbor"):
        run(config(tmp_path, "rgcn", "cluster"), dataset=toy(), progress=False)
    with pytest.raises(ConfigError, match="unknown hparam"):
        run(config(tmp_path, "rgcn", "none", "model.heads=2"), dataset=toy(), progress=False)
