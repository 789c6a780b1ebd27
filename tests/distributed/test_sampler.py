"""Distributed neighbour sampling gives the single-process sampler's Blocks, edge for edge."""

from __future__ import annotations

import os

import pytest
import torch
from test_halo import run_ranks
from test_partition import community_dataset

from graphscale.sampling.neighbor import NeighborSampler

FANOUTS = {"fanouts": [4, 3, -1]}


def seeds_of(rank: int, num_nodes: int) -> torch.Tensor:
    """Each rank's seeds: a strided share of the nodes (owned here or not), rank 2 none at all."""
    return torch.arange(rank, num_nodes, 5) if rank < 2 else torch.zeros(0, dtype=torch.int64)


def sample_main(rank: int, world: int, folder: str, name: str, out: str) -> None:
    from graphscale.distributed.load import load_book, load_partition
    from graphscale.distributed.sampler import DistNeighborSampler

    part = load_partition(folder, rank)
    sampler = DistNeighborSampler(part, load_book(folder), FANOUTS["fanouts"], world)
    seeds = seeds_of(rank, int(part.manifest["num_nodes"]))
    batches = [sampler.sample_blocks(seeds, seed=s) for s in (3, 4)]
    torch.save({"blocks": [[(b.src, b.dst, b.src_ids, b.dst_ids, b.edge_ids) for b in blocks]
                           for blocks in batches], "bytes": sampler.traffic.bytes_sent},
               os.path.join(out, f"rank{rank}.pt"))


@pytest.mark.parametrize("world", [2, 3])
def test_blocks_equal_single_process_sampling(tmp_path, world):
    from graphscale.distributed.partition import write_partitions

    data = community_dataset(200, 4, seed=3)
    write_partitions(data, tmp_path / "parts", world, "random", seed=1)
    results = run_ranks(world, tmp_path / "parts", "", tmp_path, target=sample_main)
    reference = NeighborSampler(data.graph, FANOUTS["fanouts"])
    for rank, result in enumerate(results):
        for s, blocks in zip((3, 4), result["blocks"], strict=True):
            seeds = seeds_of(rank, data.num_nodes)
            if seeds.numel() == 0:  # a rank without seeds still takes part in every exchange
                assert blocks[-1][3].numel() == 0
                continue
            for got, block in zip(blocks, reference.sample_blocks(seeds, seed=s), strict=True):
                for a, b in zip(got, (block.src, block.dst, block.src_ids, block.dst_ids, block.edge_ids),
                                strict=True):
                    assert torch.equal(a.long(), b.long())
    assert sum(result["bytes"] for result in results) > 0
