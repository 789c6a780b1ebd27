"""Neighbour-sampling throughput: graphscale's numba sampler vs PyG's ``NeighborLoader``, seeds per second.

Workload (the issue's): fanouts [15, 10, 5] (``fanouts[0]`` at the seeds, PyG's ``num_neighbors`` order),
1,024 seeds per batch, the training nodes of ``graphscale.datasets.load("synthetic-arxiv")`` (169,343 nodes,
2,332,486 directed edges, 90,941 training nodes) shuffled, one pass over them per timed epoch. Only the
sampling is timed (no feature gathering, no model). Implementations:

* ``graphscale``: ``NeighborSampler.sample_blocks`` called batch after batch in one thread (its kernels
  run parallel over the destination nodes on ``--threads`` numba threads);
* ``graphscale-loader``: the same sampler through ``NodeLoader`` with ``--threads`` background workers of one
  numba thread each (parallel over batches, what a training loop gets);
* ``pyg``: ``torch_geometric.loader.NeighborLoader`` with ``--threads`` (persistent) worker processes, as DGL's
  loader, in the peer virtualenv (``setup_peers.sh pyg``). It needs pyg-lib or torch-sparse: pyg-lib has no distribution on
  PyPI, torch-sparse is built there from its source distribution against the venv's torch
  (``peers/pyg_backends.bash``); where that build failed, the row's status is its recorded error
  (``full_batch.pyg_backend_status``);
* ``dgl``: ``dgl.dataloading.NeighborSampler`` through ``dgl.dataloading.DataLoader`` with ``--threads``
  (persistent) worker processes, as many as graphscale-loader's workers, in its own virtualenv
  (``setup_peers.sh dgl``: DGL 2.1.0 on torch 2.2.1, the newest torch it was built for; fanouts given input
  layer first, so the seeds get 15 as for the others).

Every measurement runs in a fresh subprocess (peer under an address-space limit) with
``OMP_WAIT_POLICY=PASSIVE`` for all. The first ``--warmup`` batches (numba compile or cache load) are not
timed; their time is reported as ``warmup_s``. Output: one JSON line per measurement (bench, impl, status,
seeds_per_s (wall clock, the reported figure), seeds_per_cpu_s (per CPU-second of the process and its loader
worker processes: reads the noise of a shared machine), batches_per_s, mean_sampled_nodes, mean_sampled_edges, ...), then a ``ratio`` line.
Memory (``rss_window.py``): ``peak_rss_mb`` of the whole worker, and ``rss_growth_mb``, how far its resident
set grew during the timed epochs (peak after warm-up minus RSS after warm-up), which leaves out library pages
(DGL's torch is a CUDA build used on CPU); loader worker processes are reported apart (``worker_peak_rss_mb``,
``workers_rss_growth_mb``). Every line printed is also appended to the committed
``benchmarks/records/sampling/<graph>.jsonl`` (``common.append_record``; ``--no-records`` for smoke runs).

Usage:
    python benchmarks/sampling.py                       # everything, full size (about a minute per impl)
    python benchmarks/sampling.py --scale 0.05 --epochs 1 --impls graphscale --no-records   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # stdlib only: safe in the peer interpreters
import rss_window  # stdlib only

IMPLS = ("graphscale", "graphscale-loader", "pyg", "dgl")
PEER_VENV = {"pyg": "pyg", "dgl": "dgl"}
FANOUTS = (15, 10, 5)
BATCH_SIZE = 1024
TARGET_SPEEDUP = 3.0


# -- data (orchestrator, graphscale side) ------------------------------------------------------------------
def write_dataset(out_dir: Path, scale: float, seed: int) -> dict[str, Any]:
    """The synthetic arxiv graph's edges and training nodes as .npy files (+ meta.json) in ``out_dir``."""
    import numpy as np
    from full_batch import arxiv_dataset, graph_name  # same generator (and scaling) as the full-batch benchmark

    dataset, source = arxiv_dataset(scale, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {"src": dataset.graph.src.long().numpy(), "dst": dataset.graph.dst.long().numpy(),
              "train_idx": dataset.train_mask.nonzero().view(-1).numpy()}
    for name, array in arrays.items():
        np.save(out_dir / f"{name}.npy", np.ascontiguousarray(array))
    meta = {"source": source, "graph": graph_name(dataset, seed), "num_nodes": dataset.num_nodes,
            "num_edges": dataset.graph.num_edges, "num_train": int(arrays["train_idx"].size)}
    (out_dir / "sampling_meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def read_arrays(data_dir: Path) -> dict[str, Any]:
    return common.read_npy_arrays(data_dir, "sampling_meta.json", ("src", "dst", "train_idx"))


# -- workers ---------------------------------------------------------------------------------------------
def graphscale_batches(args: argparse.Namespace, data: dict[str, Any], record: dict[str, Any]):
    """A function returning an iterator over one epoch of (num_seeds, num_nodes, num_edges) per batch."""
    import numba
    import numpy as np

    import graphscale
    from graphscale.loader import NodeLoader
    from graphscale.sampling import NeighborSampler

    numba.set_num_threads(args.threads)
    record.update(graphscale=graphscale.__version__, numba=numba.__version__)
    start = time.perf_counter()
    graph = graphscale.Graph(data["src"], data["dst"], data["num_nodes"])
    sampler = NeighborSampler(graph, list(FANOUTS))
    record["setup_s"] = round(time.perf_counter() - start, 3)  # CSC build
    train_idx = data["train_idx"].numpy()
    rng = np.random.default_rng(args.seed)

    def stats(blocks) -> tuple[int, int, int]:
        return blocks[-1].num_dst_nodes, blocks[0].num_src_nodes, sum(b.num_edges for b in blocks)

    if args.impl == "graphscale":
        def epoch():
            order = rng.permutation(train_idx)
            for i, begin in enumerate(range(0, order.size, BATCH_SIZE)):
                yield stats(sampler.sample_blocks(order[begin:begin + BATCH_SIZE], seed=i))
        return epoch
    loader = NodeLoader(sampler, train_idx, BATCH_SIZE, seed=args.seed, num_workers=args.threads,
                        prefetch=2 * args.threads, threads_per_worker=1, pin_memory=False)
    return lambda: (stats(batch.graph) for batch in loader)


def pyg_batches(args: argparse.Namespace, data: dict[str, Any], record: dict[str, Any]):
    import torch
    import torch_geometric
    import torch_geometric.typing as pyg_typing
    from full_batch import pyg_backend_status  # stdlib-only at import: safe in the peer interpreter
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader

    record["torch_geometric"] = torch_geometric.__version__
    if not (pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE):  # the builds' errors are the status
        raise ImportError("NeighborLoader needs pyg-lib or torch-sparse: "
                          + pyg_backend_status(("torch-sparse", "torch-scatter", "pyg-lib")))
    # the sampler PyG picks: pyg-lib's when importable, else torch-sparse's neighbor_sample
    record["sampler_backend"] = "pyg-lib" if pyg_typing.WITH_PYG_LIB else "torch-sparse"
    if pyg_typing.WITH_TORCH_SPARSE:
        import torch_sparse

        record["torch_sparse"] = torch_sparse.__version__
    start = time.perf_counter()
    graph = Data(edge_index=torch.stack([data["src"], data["dst"]]), num_nodes=data["num_nodes"])
    # as many (persistent) loader worker processes as DGL's loader and graphscale-loader's worker threads
    loader = NeighborLoader(graph, num_neighbors=list(FANOUTS), batch_size=BATCH_SIZE, input_nodes=data["train_idx"],
                            shuffle=True, num_workers=args.threads, persistent_workers=args.threads > 0)
    record.update(setup_s=round(time.perf_counter() - start, 3), loader_workers=args.threads)
    return lambda: ((batch.batch_size, batch.num_nodes, batch.num_edges) for batch in loader)


def dgl_batches(args: argparse.Namespace, data: dict[str, Any], record: dict[str, Any]):
    os.environ.setdefault("DGLBACKEND", "pytorch")  # else DGL writes its choice to ~/.dgl/config.json
    import dgl  # torch's thread count is set by worker()

    record["dgl"] = dgl.__version__
    start = time.perf_counter()
    graph = dgl.graph((data["src"], data["dst"]), num_nodes=data["num_nodes"])
    graph.create_formats_()  # DGL's own CSC/CSR, built once here as graphscale builds its CSC in setup
    sampler = dgl.dataloading.NeighborSampler(list(reversed(FANOUTS)))  # DGL: fanouts[0] is the input layer
    # as many loader worker processes as graphscale-loader has worker threads; persistent, so the timed
    # epochs reuse the processes the warm-up started (torch gives each worker one intra-op thread)
    loader = dgl.dataloading.DataLoader(graph, data["train_idx"], sampler, batch_size=BATCH_SIZE, shuffle=True,
                                        drop_last=False, num_workers=args.threads,
                                        persistent_workers=args.threads > 0)
    record.update(setup_s=round(time.perf_counter() - start, 3), loader_workers=args.threads)
    return lambda: ((len(seeds), len(inputs), sum(block.num_edges() for block in blocks))
                    for inputs, seeds, blocks in loader)


PEER_BATCHES = {"pyg": pyg_batches, "dgl": dgl_batches}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One implementation's measurement in this process; never raises (a failure becomes the status)."""
    record: dict[str, Any] = {"bench": "sampling", "impl": args.impl, "fanouts": list(FANOUTS),
                              "batch_size": BATCH_SIZE}
    common.limit_address_space(args.memory_limit_gb)
    try:
        import torch

        torch.manual_seed(args.seed)
        torch.set_num_threads(args.threads)
        record.update(torch=torch.__version__, num_threads=args.threads)
        data = read_arrays(Path(args.data))
        make_epoch = PEER_BATCHES.get(args.impl, graphscale_batches)(args, data, record)
        start = time.perf_counter()
        warm = make_epoch()
        for _ in range(args.warmup):
            next(warm, None)
        record["warmup_s"] = round(time.perf_counter() - start, 3)
        if args.impl.startswith("graphscale"):
            import numba

            record["threading_layer"] = numba.threading_layer()
        window = rss_window.MeasuredWindow()
        window.open()
        seeds = nodes = edges = batches = 0
        elapsed, cpu = [], []
        for _ in range(args.epochs):
            start, start_cpu = time.perf_counter(), process_tree_cpu_s()
            for num_seeds, num_nodes, num_edges in make_epoch():
                seeds, nodes, edges, batches = seeds + num_seeds, nodes + num_nodes, edges + num_edges, batches + 1
            elapsed.append(time.perf_counter() - start)
            cpu.append(process_tree_cpu_s() - start_cpu)
        total = sum(elapsed)
        memory = window.close()
        # CPU seconds of all this process's threads: less sensitive to other load than wall time (README)
        record.update(status="ok", seeds_per_s=round(seeds / total, 1), batches_per_s=round(batches / total, 2),
                      seeds_per_cpu_s=round(seeds / max(sum(cpu), 1e-9), 1),
                      epoch_time_s=round(total / len(elapsed), 3), epochs=args.epochs, batches=batches,
                      mean_sampled_nodes=round(nodes / batches, 1), mean_sampled_edges=round(edges / batches, 1),
                      **memory)
    except Exception as err:  # noqa: BLE001  (a failed measurement is a result, not a crash)
        record.update(status=common.failure_status(err), peak_rss_mb=round(rss_window.peak_mb(), 1))
    return record


def process_tree_cpu_s() -> float:
    """CPU seconds of this process and its live worker processes (DGL's loader samples in its workers)."""
    total = time.process_time()
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in rss_window.descendants():
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return total


# -- orchestrator ----------------------------------------------------------------------------------------
def ratio_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    ours = [r for r in records if r["impl"].startswith("graphscale") and r["status"] == "ok"]
    peers = [r for r in records if not r["impl"].startswith("graphscale") and r["status"] == "ok"]
    best_ours = max(ours, key=lambda r: r["seeds_per_s"]) if ours else None
    record: dict[str, Any] = {"bench": "sampling", "record": "ratio", "impl": best_ours["impl"] if ours else None}
    if best_ours is None:
        return {**record, "status": "error: no graphscale measurement finished"}
    if not peers:
        failures = {r["impl"]: r["status"] for r in records if not r["impl"].startswith("graphscale")}
        return {**record, "status": "no peer sampler ran on this machine", "peer_status": failures,
                "seeds_per_s": best_ours["seeds_per_s"]}
    best_peer = max(peers, key=lambda r: r["seeds_per_s"])
    speedup = best_ours["seeds_per_s"] / best_peer["seeds_per_s"]
    return {**record, "status": "ok", "baseline": best_peer["impl"], "speedup": round(speedup, 3),
            "rss_ratio": round(best_ours["peak_rss_mb"] / best_peer["peak_rss_mb"], 3),
            "rss_growth_ratio": round(best_ours["total_rss_growth_mb"] / max(best_peer["total_rss_growth_mb"], 1.0),
                                      3),
            "meets_target": speedup >= TARGET_SPEEDUP}


def orchestrate(args: argparse.Namespace) -> int:
    impls = [i.strip().lower() for i in args.impls.split(",") if i.strip()]
    unknown = sorted(set(impls) - set(IMPLS))
    if unknown or not impls:
        raise SystemExit(f"sampling: expected --impls from {','.join(IMPLS)}, got {unknown or 'nothing'}.")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by every worker (graphscale and peer)
    temp_dir = None if args.data_dir else Path(tempfile.mkdtemp(prefix="graphscale-sampling-"))
    data_dir = Path(args.data_dir) if args.data_dir else temp_dir / "data"
    graph = "synthetic-arxiv" if args.scale >= 1.0 else f"synthetic-arxiv-x{args.scale}"  # until meta names it

    def emit(record: dict[str, Any]) -> None:  # print, and append to benchmarks/records/sampling/<graph>.jsonl
        common.emit(record)
        if not args.no_records:
            common.append_record("sampling", graph, record)

    try:
        start = time.perf_counter()
        try:
            if (data_dir / "sampling_meta.json").exists():
                meta = json.loads((data_dir / "sampling_meta.json").read_text())
            else:
                meta = write_dataset(data_dir, args.scale, args.seed)
        except Exception as err:  # noqa: BLE001
            emit({"bench": "sampling", "record": "setup", "status": common.failure_status(err)})
            return 1
        graph = meta.get("graph", graph)
        emit({"bench": "sampling", "record": "setup", "status": "ok", **meta, "scale": args.scale,
              "seed": args.seed, "data_s": round(time.perf_counter() - start, 2), **common.machine_info(),
              **common.git_state()})
        flags = ["--epochs", str(args.epochs), "--warmup", str(args.warmup), "--threads", str(args.threads),
                 "--seed", str(args.seed), "--memory-limit-gb", str(args.memory_limit_gb)]
        records = common.run_impls(__file__, impls, PEER_VENV, data_dir=data_dir, flags=flags,
                                   base={"bench": "sampling", "num_threads": args.threads}, num_threads=args.threads,
                                   timeout_s=args.timeout, emit_record=emit)
        emit(ratio_record(records))
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated: " + ",".join(IMPLS))
    parser.add_argument("--epochs", type=int, default=2, help="timed passes over the training nodes")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first (numba compile / cache load)")
    parser.add_argument("--threads", type=int, default=2, help="numba / torch threads (graphscale-loader: workers)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the arxiv-sized graph (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit-gb", type=float, default=18.0, help="address-space limit per worker")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    parser.add_argument("--data-dir", help="keep/reuse the .npy graph here instead of a temp dir")
    parser.add_argument("--no-records", action="store_true",
                        help="do not append the lines to benchmarks/records/sampling/ (smoke runs)")
    common.add_worker_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return common.worker_or_orchestrate(parse_args(argv), worker, orchestrate)


if __name__ == "__main__":
    sys.exit(main())
