"""Distributed neighbour-sampling workers of ``benchmarks/distributed.py --sampling`` (one module, run by each side's
interpreter; stdlib-only at import so the DGL peer venv can run it).

Roles (the first argument):

* ``graphscale``: one rank under ``torchrun`` (graphscale's interpreter): its part of a ``graphscale partition``
  folder, ``DistNeighborSampler`` over the ranks (gloo ``all_to_all`` per hop), one pass over its training seeds
  in batches of ``--batch-size`` per rank;
* ``dgl-partition``: ``dgl.distributed.partition_graph`` of the arrays ``sampling.write_dataset`` wrote (METIS,
  balanced training nodes and edges, as DistDGL's examples);
* ``dgl-server``: one DGL graph server (``DGL_ROLE=server`` and the rest of the environment
  ``distributed.py`` sets, as DGL's ``tools/launch.py`` would);
* ``dgl``: one DGL trainer under the DGL venv's ``torchrun``: ``DistGraph``, ``node_split`` of the training
  mask, ``dgl.dataloading.DistNodeDataLoader`` with ``NeighborSampler`` (the same fanouts, seeds first
  15) and the same per-trainer batch size, one pass.

Each trainer times ``--epochs`` passes after one warm-up pass; rank 0 prints one JSON line: ``seeds_per_s``
(seeds of all ranks over the slowest rank's time, per epoch), ``epoch_time_s``, ``batches``, ``peak_rss_mb``
per rank.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

FANOUTS = (15, 10, 5)  # seeds first


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def report(epoch_times: list[float], seeds: int, batches: int, extra: dict) -> None:
    """All ranks: combine (slowest rank's time, all ranks' seeds); rank 0 prints the JSON line."""
    import torch
    import torch.distributed as dist

    times = torch.tensor(epoch_times, dtype=torch.float64)
    dist.all_reduce(times, op=dist.ReduceOp.MAX)
    counts = torch.tensor([float(seeds), float(batches)], dtype=torch.float64)
    dist.all_reduce(counts)
    peaks = [torch.zeros(1, dtype=torch.float64) for _ in range(dist.get_world_size())]
    dist.all_gather(peaks, torch.tensor([peak_rss_mb()], dtype=torch.float64))
    if dist.get_rank() == 0:
        per_epoch = float(times.sum()) / len(epoch_times)
        print(json.dumps({"status": "ok", "world_size": dist.get_world_size(), "epochs": len(epoch_times),
                          "seeds_per_s": round(float(counts[0]) / len(epoch_times) / per_epoch, 1),
                          "epoch_time_s": round(per_epoch, 3), "seeds_per_epoch": int(counts[0]) // len(epoch_times),
                          "batches_per_epoch": int(counts[1]) // len(epoch_times),
                          "peak_rss_mb_per_rank": [round(float(p), 1) for p in peaks], **extra}), flush=True)


def timed(epoch, epochs: int) -> tuple[list[float], int, int]:
    """One warm-up pass of ``epoch(e) -> iterator of batch seed counts``, then ``epochs`` timed ones."""
    import torch.distributed as dist

    for _ in epoch(0):
        pass
    times, seeds, batches = [], 0, 0
    for e in range(1, epochs + 1):
        dist.barrier()
        start = time.perf_counter()
        for count in epoch(e):
            seeds, batches = seeds + count, batches + 1
        times.append(time.perf_counter() - start)
    return times, seeds, batches


def graphscale_main(args: argparse.Namespace) -> None:
    import numba
    import torch

    import graphscale
    from graphscale.distributed.comm import init_from_env
    from graphscale.distributed.load import load_book, load_partition
    from graphscale.distributed.minibatch import SeedBatches, step_seed
    from graphscale.distributed.sampler import DistNeighborSampler

    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rank, world = init_from_env()
    part, book = load_partition(args.partitions, rank), load_book(args.partitions)
    sampler = DistNeighborSampler(part, book, list(FANOUTS), world)
    mask = part.train_mask if part.train_mask.dim() == 1 else part.train_mask[:, 0]
    batches = SeedBatches(part.nodes[mask], args.batch_size * world, world, rank, seed=0)

    def epoch(e: int):
        for index, seeds in enumerate(batches.epoch(e)):
            blocks = sampler.sample_blocks(seeds, step_seed(0, e, index, rank))
            if seeds.numel():
                yield blocks[-1].num_dst_nodes

    times, seeds, count = timed(epoch, args.epochs)
    report(times, seeds, count, {"graphscale": graphscale.__version__, "threads_per_rank": args.threads})
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def dgl_partition(args: argparse.Namespace) -> None:
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl
    import numpy as np
    import torch

    with open(os.path.join(args.data, "sampling_meta.json")) as f:
        meta = json.load(f)
    src, dst = (torch.from_numpy(np.load(os.path.join(args.data, f"{k}.npy"))) for k in ("src", "dst"))
    graph = dgl.graph((src, dst), num_nodes=meta["num_nodes"])
    train = torch.zeros(meta["num_nodes"], dtype=torch.bool)
    train[torch.from_numpy(np.load(os.path.join(args.data, "train_idx.npy")))] = True
    graph.ndata["train_mask"] = train
    start = time.perf_counter()
    dgl.distributed.partition_graph(graph, args.graph_name, args.parts, args.out, part_method="metis" if args.parts > 1
                                    else "random", balance_ntypes=train, balance_edges=True)
    print(json.dumps({"status": "ok", "partition_time_s": round(time.perf_counter() - start, 1)}), flush=True)


def dgl_server(args: argparse.Namespace) -> None:
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl

    dgl.distributed.initialize(os.environ["DGL_IP_CONFIG"])  # serves until the trainers exit


def dgl_main(args: argparse.Namespace) -> None:
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl
    import torch

    torch.set_num_threads(args.threads)
    dgl.distributed.initialize(os.environ["DGL_IP_CONFIG"])
    torch.distributed.init_process_group("gloo")
    graph = dgl.distributed.DistGraph(args.graph_name, part_config=os.environ["DGL_CONF_PATH"])
    train = dgl.distributed.node_split(graph.ndata["train_mask"], graph.get_partition_book())
    sampler = dgl.dataloading.NeighborSampler(list(reversed(FANOUTS)))  # DGL: fanouts[0] is the input layer
    loader = dgl.dataloading.DistNodeDataLoader(graph, train, sampler, batch_size=args.batch_size, shuffle=True,
                                                drop_last=False)

    def epoch(e: int):
        return (len(seeds) for _, seeds, _ in loader)

    times, seeds, count = timed(epoch, args.epochs)
    report(times, seeds, count, {"dgl": dgl.__version__, "threads_per_rank": args.threads})
    torch.distributed.barrier()
    dgl.distributed.exit_client()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=("graphscale", "dgl-partition", "dgl-server", "dgl"))
    parser.add_argument("--partitions", help="graphscale: the partition folder")
    parser.add_argument("--data", help="dgl-partition: the folder sampling.write_dataset wrote")
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--out", help="dgl-partition: output folder")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1024, help="seeds per batch per trainer")
    parser.add_argument("--threads", type=int, default=1, help="threads per trainer")
    parser.add_argument("--graph-name", default="graph", help="DGL: the partitioned graph's name (also the prefix "
                                                               "of its servers' shared-memory segments)")
    args = parser.parse_args()
    {"graphscale": graphscale_main, "dgl-partition": dgl_partition, "dgl-server": dgl_server,
     "dgl": dgl_main}[args.role](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
