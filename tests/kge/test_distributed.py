"""Entity partitions over torchrun ranks: disjoint rounds, partitions moved intact, one-process accuracy."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest
import torch

from graphscale.distributed.buckets import rounds_of

from .conftest import ring_kg, write_kg_folder

TINY = ["--model", "rotate", "--dim", "8", "--negatives", "16", "--no-progress", "--json",
        "train.batch_size=32", "train.lr=0.05", "model.gamma=4.0", "train.threads=1", "--entity-partitions", "4"]


@pytest.mark.parametrize(("parts", "world"), [(4, 2), (6, 3), (5, 2)])
def test_rounds_cover_every_bucket_once_without_sharing_a_partition(parts, world):
    keys = list(product(range(parts), repeat=2))
    rounds = rounds_of(keys, world, torch.Generator().manual_seed(3))
    assert sorted(k for r in rounds for k in r) == sorted(keys)
    for chosen in rounds:
        touched = [p for key in chosen for p in set(key)]
        assert 1 <= len(chosen) <= world and len(touched) == len(set(touched))
    assert len(rounds) <= 2 * len(keys) / world  # most rounds keep most ranks busy
    again = rounds_of(keys, world, torch.Generator().manual_seed(3))
    assert again == rounds  # the same schedule on every rank


@pytest.fixture
def kg(graphscale_cli):
    """``kg(args, cwd, ranks=1)``: ``graphscale kg`` (under torchrun for ranks > 1); ``kg.summary(proc)``."""
    return graphscale_cli.command("kg")


def test_two_ranks_train_four_partitions_like_one_process(tmp_path, kg):
    folder = write_kg_folder(tmp_path / "ring", ring_kg(80))
    one = kg.summary(kg(["--dataset", str(folder), *TINY, "--epochs", "30", "--out", str(tmp_path / "one")],
                        tmp_path))
    two = kg.summary(kg(["--dataset", str(folder), *TINY, "--epochs", "30", "--out", str(tmp_path / "two")],
                        tmp_path, ranks=2))
    assert two["world_size"] == 2 and two["partitions"] == 4 and two["bytes_sent_per_epoch"] > 0
    assert one["mrr"] > 0.9 and two["mrr"] == pytest.approx(one["mrr"], abs=0.05)
    assert (tmp_path / "two" / "embeddings" / "entity_embeddings.npy").is_file()


def test_partitions_travel_intact_between_ranks(tmp_path, kg):
    """With a learning rate below float resolution the assembled table is the initial one: rows come back
    where they left, on the rows they left."""
    folder = write_kg_folder(tmp_path / "ring", ring_kg(50))
    frozen = ["--epochs", "2", "train.lr=1e-30", "evaluate.test=false"]
    for name, ranks in (("one", 1), ("two", 2)):
        kg.summary(kg(["--dataset", str(folder), *TINY, *frozen, "--out", str(tmp_path / name)], tmp_path, ranks))
    for table in ("entity_embeddings.npy", "relation_embeddings.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "two" / "embeddings" / table),
                                      np.load(tmp_path / "one" / "embeddings" / table))


def test_too_few_partitions_for_the_ranks_exit_2(tmp_path, kg):
    folder = write_kg_folder(tmp_path / "ring", ring_kg(40))
    args = ["--dataset", str(folder), *TINY[:-2], "--entity-partitions", "2", "--epochs", "1", "--out",
            str(tmp_path / "x")]
    proc = kg(args, tmp_path, ranks=2)
    assert proc.returncode != 0 and "expected at least 4 entity partitions for 2 ranks" in proc.stderr


def test_a_resumed_group_continues_from_its_shards_bit_for_bit(tmp_path, kg):
    """Two epochs, then --resume to four (epochs may change on resume), equal four epochs in one go: every
    rank's shard (home partitions, optimiser state, generator) comes back as it was written."""
    folder = write_kg_folder(tmp_path / "ring", ring_kg(60))
    args = ["--dataset", str(folder), *TINY, "output.checkpoint_every=1", "evaluate.test=false"]
    clean = kg.summary(kg([*args, "--epochs", "4", "--out", str(tmp_path / "clean")], tmp_path, ranks=2))
    kg.summary(kg([*args, "--epochs", "2", "--out", str(tmp_path / "split")], tmp_path, ranks=2))
    manifest = json.loads((tmp_path / "split" / "checkpoints" / "shards" / "manifest.json").read_text())
    assert manifest["epoch"] == 2 and sorted(manifest["shards"]) == ["0", "1"]
    first = json.loads((tmp_path / "split" / "metrics.json").read_text())["history"]
    resumed = kg.summary(kg([*args, "--epochs", "4", "--out", str(tmp_path / "split"), "--resume"], tmp_path,
                            ranks=2))
    assert resumed["epochs_done"] == 4 and resumed["valid_mrr"] == clean["valid_mrr"]
    history = json.loads((tmp_path / "split" / "metrics.json").read_text())["history"]
    assert history[:2] == first  # the two epochs came from the shards (their recorded times), not retrained
    for table in ("entity_embeddings.npy", "relation_embeddings.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "split" / "embeddings" / table),
                                      np.load(tmp_path / "clean" / "embeddings" / table))
