"""The KV store: pulled rows equal the global table's, pushed gradients take the single-process sparse step
(Adagrad by its formula, Adam as torch.optim.SparseAdam)."""

from __future__ import annotations

import os

import torch
from test_halo import run_ranks
from test_partition import community_dataset

LR = 0.1


def global_table(num_nodes: int) -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, num_nodes * 3).view(num_nodes, 3)


def request(rank: int, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids a rank pulls and pushes (repeats included; rank 2 none) and its gradients."""
    if rank == 2:
        return torch.zeros(0, dtype=torch.int64), torch.zeros(0, 3)
    ids = torch.randint(0, num_nodes, (40,), generator=torch.Generator().manual_seed(rank))
    return ids, torch.cos(ids.double() + rank).float().unsqueeze(1).expand(-1, 3).contiguous()


def kv_main(rank: int, world: int, folder: str, name: str, out: str) -> None:
    from graphscale.distributed.kvstore import KVStore
    from graphscale.distributed.load import load_book, load_partition

    part, book = load_partition(folder, rank), load_book(folder)
    store = KVStore(book, rank, world)
    store.add("x", part.x)
    store.add("emb", global_table(book.node_part.numel())[part.nodes].clone(), optimizer="adagrad", lr=LR)
    store.add("adam", global_table(book.node_part.numel())[part.nodes].clone(), optimizer="adam", lr=LR)
    ids, grads = request(rank, book.node_part.numel())
    pulled = store.pull("x", ids)
    store.push("emb", ids, grads)
    for _ in range(2):  # two steps: Adam's bias correction and moments carry over
        store.push("adam", ids, grads)
    torch.save({"pulled": pulled, "nodes": part.nodes, "emb": store.tables["emb"].rows,
                "adam": store.tables["adam"].rows, "bytes": store.traffic.bytes_sent},
               os.path.join(out, f"rank{rank}.pt"))


def test_pull_and_push_across_three_ranks(tmp_path):
    from graphscale.distributed.partition import write_partitions

    data = community_dataset(120, 3, seed=6)
    write_partitions(data, tmp_path / "parts", 3, "random", seed=2)
    results = run_ranks(3, tmp_path / "parts", "", tmp_path, target=kv_main)
    table, state = global_table(data.num_nodes), torch.zeros(data.num_nodes, 3)
    grad = torch.zeros(data.num_nodes, 3)
    for rank in range(3):
        ids, grads = request(rank, data.num_nodes)
        grad.index_add_(0, ids, grads)
        if ids.numel():
            torch.testing.assert_close(results[rank]["pulled"], data.x[ids])
    touched = grad.abs().sum(1) > 0
    state[touched] += grad[touched] ** 2
    table[touched] -= LR * grad[touched] / (state[touched].sqrt() + 1e-10)
    embedding = torch.nn.Embedding.from_pretrained(global_table(data.num_nodes), freeze=False, sparse=True)
    adam = torch.optim.SparseAdam(embedding.parameters(), lr=LR)
    for _ in range(2):  # the single-process reference: SparseAdam on the summed gradients of every rank
        adam.zero_grad()
        ids = torch.cat([request(r, data.num_nodes)[0] for r in range(3)])
        embedding(ids).backward(torch.cat([request(r, data.num_nodes)[1] for r in range(3)]))
        adam.step()
    for result in results:
        torch.testing.assert_close(result["emb"], table[result["nodes"]])
        torch.testing.assert_close(result["adam"], embedding.weight.detach()[result["nodes"]], rtol=1e-5,
                                   atol=1e-6)
    assert sum(r["bytes"] for r in results) > 0
