"""Partitioned embedding tables (GraphVite's blocks): the block schedule, one process with P partitions against
the plain trainer, and ``torchrun`` ranks training disjoint blocks through ``graphscale embed``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from graphscale.distributed.buckets import assign, home_of, rounds_of
from graphscale.embed.evaluate import node_classification
from graphscale.embed.trainer import train_embeddings
from graphscale.graph import Graph
from graphscale.kge.partition import plan_partitions
from graphscale.sampling.rng import mix_seed

FAST = {"dim": 16, "num_walks": 20, "walk_length": 20, "window": 3, "pool_size": 4096}


def planted(groups: int = 4, size: int = 40, p_in: float = 0.25, p_out: float = 0.005, seed: int = 0):
    """An undirected planted-partition graph (both directions stored) and its community labels."""
    rng = np.random.default_rng(seed)
    n = groups * size
    label = np.repeat(np.arange(groups), size)
    same = label[:, None] == label[None, :]
    upper = np.triu(rng.random((n, n)) < np.where(same, p_in, p_out), k=1)
    src, dst = np.nonzero(upper)
    graph = Graph(torch.from_numpy(np.concatenate([src, dst])), torch.from_numpy(np.concatenate([dst, src])), n)
    return graph, label, (src, dst)


def micro_f1(embeddings: np.ndarray, label: np.ndarray) -> float:
    return node_classification(embeddings, torch.from_numpy(label), ratios=[0.5], repeats=3)["micro_f1"][0]


@pytest.mark.parametrize("shared", [False, True])
def test_rounds_touch_disjoint_partitions_and_cover_every_block(shared):
    parts, world = 4, 2
    blocks = [(i, j) for i in range(parts) for j in range(parts)]

    def touches(block):
        return {("v", block[0]), ("v", block[1])} if shared else {("v", block[0]), ("c", block[1])}

    rounds = rounds_of(blocks, world, torch.Generator().manual_seed(5), touches)
    assert sorted(b for r in rounds for b in r) == blocks
    for chosen in rounds:
        used = [part for block in chosen for part in touches(block)]
        assert len(used) == len(set(used)) and 1 <= len(chosen) <= world
        ranks = assign(chosen, world, lambda block: home_of(block[0], world))
        assert sorted(b for b in ranks if b is not None) == sorted(chosen)
        for rank, block in enumerate(ranks):  # away from home only when another block took its home rank
            home = home_of(block[0], world) if block is not None else rank
            if home != rank:
                assert ranks[home] is not None and home_of(ranks[home][0], world) == home


@pytest.mark.parametrize(("model", "extra"), [("deepwalk", {}), ("line", {"order": 1}), ("line", {"order": 2})])
def test_partitions_in_one_process_learn_like_the_plain_trainer(model, extra):
    graph, label, _ = planted()
    plain = train_embeddings(graph, model, **FAST, **extra, seed=1)
    parted = train_embeddings(graph, model, **FAST, **extra, seed=1, partitions=4)
    assert parted.group["partitions"] == 4 and parted.num_samples == plain.num_samples
    assert parted.embeddings.shape == plain.embeddings.shape
    f_plain, f_parted = micro_f1(plain.embeddings, label), micro_f1(parted.embeddings, label)
    assert f_plain > 0.9 and f_parted > 0.9, (f_plain, f_parted)


def test_partition_rows_come_back_to_their_nodes():
    """With a learning rate of 1e-30 nothing moves: every assembled row is its partition's initial row."""
    graph, _, _ = planted(groups=2, size=30)
    result = train_embeddings(graph, "deepwalk", **FAST, seed=3, partitions=3, lr=1e-30)
    plan = plan_partitions(graph.num_nodes, 3, 3)
    for p in range(3):
        rng = np.random.default_rng(mix_seed(3, 17, p))
        init = ((rng.random((plan.size(p), 16), dtype=np.float32) - 0.5) / 16).astype(np.float32)
        np.testing.assert_allclose(result.embeddings[plan.members(p).numpy()], init, atol=1e-12)
    assert np.abs(result.context).max() < 1e-20  # only the 1e-30 steps


@pytest.fixture
def embed(graphscale_cli):
    """``embed(args, cwd, ranks=1)``: ``graphscale embed`` (under torchrun for ranks > 1); ``embed.summary``."""
    return graphscale_cli.command("embed")


def planted_folder(tmp_path) -> Path:
    """The planted graph as a CSV folder (edges.csv, nodes.csv with the community labels)."""
    _, label, (src, dst) = planted()
    folder = tmp_path / "planted"
    folder.mkdir()
    (folder / "edges.csv").write_text("src,dst\n" + "".join(f"{a},{b}\n" for a, b in zip(src, dst, strict=True)))
    (folder / "nodes.csv").write_text("id,label\n" + "".join(f"{i},c{c}\n" for i, c in enumerate(label)))
    return folder


CLI = ["--model", "deepwalk", "--dim", "16", "--json", "--no-progress", "model.num_walks=20", "model.walk_length=20",
       "model.window=3", "train.pool_size=4096", "evaluate.repeats=3", "evaluate.ratios=[0.5]", "train.threads=1"]


def test_two_ranks_train_the_tables_like_one_process(tmp_path, embed):
    folder = planted_folder(tmp_path)
    one = embed.summary(embed(["--dataset", str(folder), *CLI, "--out", str(tmp_path / "one")], tmp_path))
    two = embed.summary(embed(["--dataset", str(folder), *CLI, "--entity-partitions", "4", "--out",
                            str(tmp_path / "two")], tmp_path, ranks=2))
    assert two["world_size"] == 2 and two["partitions"] == 4 and two["bytes_sent_per_pool"] > 0
    assert two["num_samples"] == one["num_samples"]
    assert one["micro_f1"] > 0.9 and two["micro_f1"] > 0.9, (one["micro_f1"], two["micro_f1"])
    manifest = json.loads((tmp_path / "two" / "checkpoint-shards" / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and sorted(manifest["shards"]) == ["0", "1"] and manifest["done"]
    tables = np.load(tmp_path / "two" / "embeddings.npy")
    assert tables.shape == (160, 16) and np.isfinite(tables).all()
    # --resume on the finished run reads every rank's shard back: the same tables, nothing trained again
    again = embed.summary(embed(["--dataset", str(folder), *CLI, "--entity-partitions", "4", "--out",
                              str(tmp_path / "two"), "--resume"], tmp_path, ranks=2))
    assert again["num_samples"] == two["num_samples"]
    np.testing.assert_array_equal(np.load(tmp_path / "two" / "embeddings.npy"), tables)
    # fewer partitions than ranks: one clear line, exit 2, nothing written
    bad = embed(["--dataset", str(folder), *CLI, "--entity-partitions", "1", "--out", str(tmp_path / "bad")],
                tmp_path, ranks=2)
    assert bad.returncode != 0 and "expected at least 2 node partitions" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_one_process_partitioned_run_checkpoints_and_resumes(tmp_path, capsys):
    """P > 1 without torchrun (GraphVite's one-device mode) through the CLI: one checkpoint file, resumable."""
    from graphscale.cli import main

    folder = planted_folder(tmp_path)
    args = ["embed", "--dataset", str(folder), *CLI, "--entity-partitions", "3", "--out", str(tmp_path / "one")]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["partitions"] == 3 and first["world_size"] == 1 and first["micro_f1"] > 0.9
    assert (tmp_path / "one" / "checkpoint.pt").is_file() and not (tmp_path / "one" / "checkpoint-shards").exists()
    tables = np.load(tmp_path / "one" / "embeddings.npy")
    assert main([*args, "--resume"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "one" / "embeddings.npy"), tables)
