"""Partition folders: every node owned once, in-edges and halos exact, files checked against the manifest."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import graphscale as gs
from graphscale.datasets.base import NodeDataset, random_split
from graphscale.distributed.load import load_book, load_partition, read_manifest
from graphscale.distributed.partition import assign_parts, write_partitions
from graphscale.errors import ConfigError, DatasetError


def community_dataset(num_nodes: int = 240, blocks: int = 4, seed: int = 0, weights: bool = False) -> NodeDataset:
    """Dense blocks with sparse links between them (a partition METIS should find), features and splits."""
    generator = torch.Generator().manual_seed(seed)
    block = torch.arange(num_nodes) % blocks
    prob = torch.where(block[:, None] == block[None, :], 0.08, 0.003)
    adj = (torch.rand(num_nodes, num_nodes, generator=generator) < prob).triu(1)
    src, dst = (adj | adj.T).nonzero().T
    x = torch.randn(num_nodes, 5, generator=generator)
    edge_weight = torch.rand(src.numel(), generator=generator) if weights else None
    return NodeDataset("communities", gs.Graph(src, dst, num_nodes), x, block.clone(), blocks,
                       *random_split(num_nodes, 0.3, 0.2, seed=1), edge_weight=edge_weight)


@pytest.mark.parametrize("method", ["metis", "random"])
def test_parts_hold_every_node_once_with_its_in_edges_and_halo(tmp_path, method):
    data = community_dataset(weights=True)
    manifest = write_partitions(data, tmp_path, 3, method, seed=2)
    book = load_book(tmp_path)
    indptr, sources, edge_ids = (t.numpy() for t in data.graph.csc())
    seen = np.zeros(data.num_nodes, dtype=int)
    total_edges = 0
    for k in range(3):
        part = load_partition(tmp_path, k)
        nodes = part.nodes.numpy()
        seen[nodes] += 1
        assert (np.diff(nodes) > 0).all()
        assert torch.equal(book.owner(part.nodes)[0], torch.full((nodes.size,), k))
        assert torch.equal(book.owner(part.nodes)[1], torch.arange(nodes.size))
        for row, v in enumerate(nodes):  # the in-edges of every owned node, as in the full graph
            lo, hi = part.indptr[row], part.indptr[row + 1]
            np.testing.assert_array_equal(part.indices[lo:hi].numpy(), sources[indptr[v]:indptr[v + 1]])
            np.testing.assert_array_equal(part.edge_ids[lo:hi].numpy(), edge_ids[indptr[v]:indptr[v + 1]])
        foreign = np.unique(part.indices.numpy()[book.node_part.numpy()[part.indices.numpy()] != k])
        np.testing.assert_array_equal(part.halo.numpy(), foreign)
        torch.testing.assert_close(part.x, data.x[part.nodes])
        assert torch.equal(part.out_degree, data.graph.out_degrees()[part.nodes])
        assert torch.equal(part.y, data.y[part.nodes]) and torch.equal(part.train_mask, data.train_mask[part.nodes])
        torch.testing.assert_close(part.edge_weight, data.edge_weight[part.edge_ids])
        assert manifest["parts"][k]["nodes"] == nodes.size and manifest["parts"][k]["halo"] == part.halo.numel()
        total_edges += part.indices.numel()
    assert (seen == 1).all() and total_edges == data.graph.num_edges
    assert read_manifest(tmp_path)["parts"] == manifest["parts"]


def test_metis_cuts_fewer_edges_than_random_and_both_balance():
    data = community_dataset(400)
    metis = assign_parts(data.graph, 4, "metis", balance=data.train_mask)
    random = assign_parts(data.graph, 4, "random", seed=1)
    src, dst = data.graph.src.numpy(), data.graph.dst.numpy()
    assert (metis[src] != metis[dst]).mean() < 0.5 * (random[src] != random[dst]).mean()
    assert np.ptp(np.bincount(random, minlength=4)) <= 1
    assert np.bincount(metis, minlength=4).max() <= 1.05 * 100
    train = data.train_mask.numpy()
    assert np.bincount(metis[train], minlength=4).max() <= 1.15 * train.sum() / 4
    with pytest.raises(ConfigError, match="expected an int in"):
        assign_parts(data.graph, 0)
    with pytest.raises(ConfigError, match="expected one of metis, random"):
        assign_parts(data.graph, 2, "spectral")


def test_changed_missing_or_mixed_files_are_named(tmp_path):
    data = community_dataset()
    write_partitions(data, tmp_path / "a", 2)
    write_partitions(community_dataset(seed=5), tmp_path / "b", 2)
    x_file = tmp_path / "a" / "part1" / "x.npy"
    raw = bytearray(x_file.read_bytes())
    raw[-1] ^= 0xFF
    x_file.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"part1/x\.npy: expected sha256"):
        load_partition(tmp_path / "a", 1)
    load_partition(tmp_path / "a", 0)  # the other part is intact
    (tmp_path / "a" / "part0" / "nodes.npy").write_bytes((tmp_path / "b" / "part0" / "nodes.npy").read_bytes())
    with pytest.raises(DatasetError, match=r"part0/nodes\.npy: expected (sha256|\d+ bytes)"):
        load_partition(tmp_path / "a", 0)
    (tmp_path / "b" / "part1" / "halo.npy").unlink()
    with pytest.raises(DatasetError, match=r"part1/halo\.npy: expected a file the manifest lists"):
        load_partition(tmp_path / "b", 1)
    with pytest.raises(DatasetError, match="expected a partitioning with part 2"):
        load_partition(tmp_path / "b", 2)
    (tmp_path / "b" / "manifest.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"manifest\.json: expected JSON"):
        load_book(tmp_path / "b")
    with pytest.raises(DatasetError, match=r"manifest\.json: expected the manifest of a partition folder"):
        read_manifest(tmp_path)


def test_command_writes_refuses_and_overwrites(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    data = community_dataset(60, 2)
    src, dst = data.graph.src.tolist(), data.graph.dst.tolist()
    (folder / "edges.csv").write_text("src,dst\n" + "".join(f"{s},{d}\n" for s, d in zip(src, dst)))
    (folder / "nodes.csv").write_text("id,label\n" + "".join(f"{i},{int(data.y[i])}\n" for i in range(60)))

    def partition(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "graphscale", "partition", "--dataset", str(folder),
                               "--parts", "2", "--out", str(tmp_path / "parts"), *extra],
                              capture_output=True, text=True, cwd=tmp_path, check=False)

    first = partition("--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["num_parts"] == 2 and summary["num_nodes"] == 60 and len(summary["parts"]) == 2
    refused = partition()
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    again = partition("--overwrite", "--method", "random", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["method"] == "random"
    assert read_manifest(tmp_path / "parts")["method"] == "random"
    bad = partition("--overwrite", "--parts", "0")
    assert bad.returncode == 2 and "--parts" in bad.stderr
