"""Distributed full batch: 2 and 3 gloo ranks on 127.0.0.1 give the single-process outputs and gradients."""

from __future__ import annotations

import multiprocessing
import os
import socket

import pytest
import torch
from test_partition import community_dataset

from graphscale.nn.models import build_node_model

MODELS = {"gcn": {"hidden_dim": 8}, "sage": {"hidden_dim": 8}, "gat": {"hidden_dim": 4, "heads": 2,
                                                                       "attn_dropout": 0.0}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def model_for(name: str, in_dim: int, classes: int) -> torch.nn.Module:
    torch.manual_seed(7)
    return build_node_model(name, in_dim, classes, dropout=0.0, input_dropout=0.0, **MODELS[name])


def rank_main(rank: int, world: int, folder: str, name: str, out: str) -> None:
    """One rank: forward (eval and train mode), a weighted-sum loss, summed gradients, bytes sent."""
    from graphscale.distributed.halo import HaloStack, reduce_gradients
    from graphscale.distributed.load import load_book, load_partition

    part, book = load_partition(folder, rank), load_book(folder)
    model = model_for(name, part.x.shape[1], int(part.manifest["num_classes"]))
    runner = HaloStack(model, part, book, world)
    model.eval()
    with torch.no_grad():
        evaluation = runner(part.x)
    chunked = runner.evaluate(part.x, rows_per_chunk=7)  # destinations in chunks, halo rows pulled per chunk
    model.train()
    logits = runner(part.x)
    weight = torch.cos(part.nodes.double()).float().unsqueeze(1) * torch.arange(1.0, logits.shape[1] + 1)
    (logits * weight).sum().backward()
    reduce_gradients(model, world)
    torch.save({"nodes": part.nodes, "eval": evaluation, "chunked": chunked, "train": logits.detach(),
                "grads": [p.grad for p in model.parameters()], "bytes": runner.traffic.bytes_sent},
               os.path.join(out, f"rank{rank}.pt"))


def joined(target, rank: int, world: int, port: int, *args: str) -> None:
    """A spawned rank: join the gloo group on 127.0.0.1, run ``target(rank, world, *args)``, leave it."""
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        target(rank, world, *args)
    finally:
        dist.destroy_process_group()


def run_ranks(world: int, folder, name: str, out, target=rank_main) -> list[dict]:
    """``target(rank, world, folder, name, out)`` in ``world`` spawned processes; their saved results."""
    context = multiprocessing.get_context("spawn")
    port = free_port()
    procs = [context.Process(target=joined, args=(target, r, world, port, str(folder), name, str(out)))
             for r in range(world)]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join(timeout=180)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(10)
    assert [proc.exitcode for proc in procs] == [0] * world
    return [torch.load(os.path.join(out, f"rank{r}.pt"), weights_only=True) for r in range(world)]


@pytest.mark.parametrize(("world", "name"), [(2, "gcn"), (3, "gcn"), (2, "sage"), (3, "gat")])
def test_ranks_give_the_single_process_outputs_and_gradients(tmp_path, world, name):
    from graphscale.distributed.partition import write_partitions

    data = community_dataset(150, 3, seed=2)
    write_partitions(data, tmp_path / "parts", world, "metis")
    results = run_ranks(world, tmp_path / "parts", name, tmp_path)

    model = model_for(name, data.num_features, data.num_classes)
    model.eval()
    with torch.no_grad():
        want_eval = model(data.graph, data.x)
    model.train()
    logits = model(data.graph, data.x)
    weight = torch.cos(torch.arange(data.num_nodes).double()).float().unsqueeze(1) * torch.arange(
        1.0, logits.shape[1] + 1)
    (logits * weight).sum().backward()
    for result in results:
        torch.testing.assert_close(result["eval"], want_eval[result["nodes"]], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(result["chunked"], want_eval[result["nodes"]], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(result["train"], logits.detach()[result["nodes"]], rtol=1e-5, atol=1e-5)
        for got, param in zip(result["grads"], model.parameters(), strict=True):
            torch.testing.assert_close(got, param.grad, rtol=1e-4, atol=1e-5)
    assert all(result["bytes"] > 0 for result in results)  # halo rows really crossed between ranks
