"""Distributed mini-batch steps: a step on every rank's seeds is the single-process step on their union."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from test_halo import run_ranks
from test_partition import community_dataset

from graphscale.nn.models import build_node_model
from graphscale.sampling.neighbor import NeighborSampler

FANOUTS, LR, STEP_SEED = [5, 3], 0.5, 11
EMB_DIM, EMB_LR, EMB_SEED = 4, 0.05, 9


def model_for(in_dim: int, classes: int) -> torch.nn.Module:
    torch.manual_seed(3)
    return build_node_model("sage", in_dim, classes, hidden_dim=8, dropout=0.0, input_dropout=0.0)


def seeds_of(rank: int, nodes: torch.Tensor, world: int) -> torch.Tensor:
    """A rank's seeds among its owned nodes; the last rank of three has none (an empty batch)."""
    return nodes[::3] if not (world == 3 and rank == 2) else nodes[:0]


def rank_step(rank: int, world: int, folder: str, emb_dim: int = 0):
    """One rank's ``(part, model, store, step, SGD optimizer, seeds)``; with ``emb_dim`` the store also holds
    learnable node embeddings (lazy Adam)."""
    from graphscale.distributed.kvstore import KVStore
    from graphscale.distributed.load import load_book, load_partition
    from graphscale.distributed.minibatch import MiniBatchStep
    from graphscale.distributed.sampler import DistNeighborSampler
    from graphscale.nn.embedding import initial_rows

    part, book = load_partition(folder, rank), load_book(folder)
    model = model_for(part.x.shape[1] + emb_dim, int(part.manifest["num_classes"]))
    store = KVStore(book, rank, world)
    store.add("x", part.x)
    if emb_dim:
        store.add("emb", initial_rows(part.nodes, emb_dim, EMB_SEED), optimizer="adam", lr=EMB_LR)
    step = MiniBatchStep(model, DistNeighborSampler(part, book, FANOUTS, world), store, part, world)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    return part, model, store, step, optimizer, seeds_of(rank, part.nodes, world)


def step_main(rank: int, world: int, folder: str, name: str, out: str) -> None:
    from graphscale.distributed.minibatch import SeedBatches

    part, model, store, step, optimizer, seeds = rank_step(rank, world, folder)
    loss, count = step(optimizer, seeds, STEP_SEED)
    batches = SeedBatches(part.nodes, 64, world, rank, seed=5)
    epochs = [[b.clone() for b in batches.epoch(e)] for e in (0, 1, 0)]
    torch.save({"params": [p.detach() for p in model.parameters()], "loss": loss, "count": count,
                "seeds": seeds, "steps": batches.steps, "epochs": epochs, "nodes": part.nodes,
                "bytes": store.traffic.bytes_sent}, os.path.join(out, f"rank{rank}.pt"))


@pytest.mark.parametrize("world", [2, 3])
def test_step_equals_the_single_process_step_on_the_union(tmp_path, world):
    from graphscale.distributed.partition import write_partitions

    data = community_dataset(210, 3, seed=5)
    write_partitions(data, tmp_path / "parts", world, "metis")
    results = run_ranks(world, tmp_path / "parts", "", tmp_path, target=step_main)
    union = torch.cat([r["seeds"] for r in results])
    model = model_for(data.num_features, data.num_classes)
    blocks = NeighborSampler(data.graph, FANOUTS).sample_blocks(union, seed=STEP_SEED)
    loss = F.cross_entropy(model(blocks, data.x[blocks[0].src_ids]), data.y[union])
    loss.backward()
    with torch.no_grad():
        want = [p - LR * p.grad for p in model.parameters()]
    for result in results:
        assert int(result["count"][0]) == union.numel()
        for got, expected in zip(result["params"], want, strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert sum(float(r["loss"]) for r in results) / union.numel() == pytest.approx(float(loss.detach()), rel=1e-5)
    # an epoch: the same number of steps everywhere, every owned node once, a fixed order per (seed, epoch, rank)
    assert len({r["steps"] for r in results}) == 1
    for result in results:
        first, second, again = result["epochs"]
        assert len(first) == result["steps"] and all(b.numel() <= -(-64 // world) for b in first)
        assert torch.equal(torch.cat(first).sort().values, result["nodes"])
        assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
        assert not torch.equal(torch.cat(first), torch.cat(second))



def embedded_step_main(rank: int, world: int, folder: str, name: str, out: str) -> None:
    """One step with learnable node embeddings in the KV store (lazy Adam on the rows the batch read)."""
    part, model, store, step, optimizer, seeds = rank_step(rank, world, folder, EMB_DIM)
    for _ in range(2):  # two steps: the second reads rows the first updated, Adam's bias correction at step 2
        step(optimizer, seeds, STEP_SEED)
    torch.save({"params": [p.detach() for p in model.parameters()], "seeds": seeds, "nodes": part.nodes,
                "rows": store.state("emb")["rows"]}, os.path.join(out, f"rank{rank}.pt"))


@pytest.mark.parametrize("world", [2, 3])
def test_learnable_node_embeddings_step_like_one_process(tmp_path, world):
    from graphscale.distributed.partition import write_partitions
    from graphscale.nn.embedding import NodeEmbedding

    data = community_dataset(210, 3, seed=5)
    write_partitions(data, tmp_path / "parts", world, "metis")
    results = run_ranks(world, tmp_path / "parts", "", tmp_path, target=embedded_step_main)
    union = torch.cat([r["seeds"] for r in results])
    model = model_for(data.num_features + EMB_DIM, data.num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    embedding = NodeEmbedding(data.num_nodes, EMB_DIM, EMB_SEED, EMB_LR)
    initial = embedding.table.weight.clone()
    blocks = NeighborSampler(data.graph, FANOUTS).sample_blocks(union, seed=STEP_SEED)
    for _ in range(2):
        optimizer.zero_grad()
        x_in = embedding.inputs(data.x[blocks[0].src_ids].float(), blocks[0].src_ids)
        F.cross_entropy(model(blocks, x_in), data.y[union]).backward()
        optimizer.step()
        embedding.step()
    read = torch.zeros(data.num_nodes, dtype=torch.bool)
    read[blocks[0].src_ids] = True
    assert not torch.equal(embedding.table.weight[read], initial[read])  # the rows the batch read moved ...
    assert torch.equal(embedding.table.weight[~read], initial[~read])  # ... and no other row (lazy Adam)
    for result in results:
        torch.testing.assert_close(result["rows"], embedding.table.weight[result["nodes"]], rtol=1e-5, atol=1e-6)
        for got, expected in zip(result["params"], model.parameters(), strict=True):
            torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-6)
