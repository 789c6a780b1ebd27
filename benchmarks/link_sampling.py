"""Link-level sampling throughput: graphscale's ``LinkLoader`` vs DGL's edge-prediction sampler and PyG's
``LinkNeighborLoader``, sampled batches per second.

Workload (the same for every implementation): github developers (MUSAE, ``graphscale.datasets.load("github")``),
its undirected edges split 85 / 5 / 10 (``split_edges``, seed 0); the message-passing graph holds the training
edges in both directions (491,306 directed edges), the seed edges are the 245,653 training pairs, shuffled. A batch
is 1,024 seed edges, 1 uniform negative per positive (destination corruption) drawn in the loader, both
endpoints' neighbourhoods sampled with fanouts [15, 10] (15 at the endpoints) into per-layer message-flow graphs;
no seed-edge exclusion (none of the peers' defaults excludes). Only the sampling is timed (no features, no model).

* ``graphscale``: ``LinkSampler.sample`` batch after batch in one thread (the neighbour kernels run parallel over
  destinations on ``--threads`` numba threads);
* ``graphscale-loader``: ``LinkLoader`` with ``--threads`` background workers of one numba thread each;
* ``dgl``: ``dgl.dataloading.as_edge_prediction_sampler(NeighborSampler([10, 15]),
  negative_sampler=negative_sampler.Uniform(1))`` through ``dgl.dataloading.DataLoader`` over the training edge
  ids, ``--threads`` persistent worker processes (DGL 2.1 in its own virtualenv);
* ``pyg``: ``torch_geometric.loader.LinkNeighborLoader(num_neighbors=[15, 10], edge_label_index=<training pairs>,
  neg_sampling_ratio=1.0)``, ``--threads`` persistent worker processes (needs pyg-lib or torch-sparse; where their
  build failed the row's status says so).

Every measurement runs in a fresh subprocess (``common.run_worker``; peers under an address-space limit); a
failing peer is a status line, never a crash. The first ``--warmup`` batches (numba compile or cache load) are
not timed. Per implementation: ``batches_per_s`` (the reported figure), ``edges_per_s`` (seed edges per second),
mean sampled nodes and edges per batch, peak RSS; then a ``ratio`` line (best graphscale / best peer, target 3x).
Every line is appended to ``benchmarks/records/link_sampling/github.jsonl`` (``--no-records`` for smoke runs).

Usage:
    python benchmarks/link_sampling.py --threads 2
    python benchmarks/link_sampling.py --impls graphscale --batches 20 --no-records      # smoke run
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

IMPLS = ("graphscale", "graphscale-loader", "dgl", "pyg")
PEER_VENV = {"pyg": "pyg", "dgl": "dgl"}
FANOUTS = (15, 10)
BATCH_SIZE = 1024
NEG_PER_POS = 1
TARGET_SPEEDUP = 3.0


def write_dataset(out_dir: Path, dataset: str, seed: int) -> dict[str, Any]:
    """The training graph and pairs of ``dataset``'s edge split as .npy files (+ meta) in ``out_dir``."""
    import numpy as np

    import graphscale
    from graphscale.sampling.link import split_edges

    data = graphscale.datasets.load(dataset)
    split = split_edges(data.graph, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {"src": split.train_graph.src.long().numpy(), "dst": split.train_graph.dst.long().numpy(),
              "pairs": split.train_pos.numpy()}
    for name, array in arrays.items():
        np.save(out_dir / f"{name}.npy", np.ascontiguousarray(array))
    meta = {"graph": dataset, "num_nodes": data.num_nodes, "num_edges": int(arrays["src"].size),
            "num_pairs": int(arrays["pairs"].shape[0]), "split_seed": seed}
    (out_dir / "meta.json").write_text(json.dumps(meta))
    return meta


def read_arrays(data_dir: Path) -> dict[str, Any]:
    return common.read_npy_arrays(data_dir, "meta.json", ("src", "dst", "pairs"))


# -- workers: each returns a function giving one epoch's iterator of (seed edges, sampled nodes, sampled edges) --
def graphscale_batches(args: argparse.Namespace, data: dict[str, Any], record: dict[str, Any]):
    import numba
    import numpy as np

    import graphscale
    from graphscale.loader.link import LinkLoader, LinkSampler
    from graphscale.sampling.rng import mix_seed

    numba.set_num_threads(args.threads)
    record.update(graphscale=graphscale.__version__, numba=numba.__version__)
    start = time.perf_counter()
    graph = graphscale.Graph(data["src"], data["dst"], data["num_nodes"])
    sampler = LinkSampler(graph, data["pairs"], list(FANOUTS), neg_per_pos=NEG_PER_POS)
    record["setup_s"] = round(time.perf_counter() - start, 3)

    def stats(batch) -> tuple[int, int, int]:
        return batch.pos_pairs.shape[0], batch.blocks[0].num_src_nodes, sum(b.num_edges for b in batch.blocks)

    if args.impl == "graphscale":
        rng = np.random.default_rng(args.seed)
        state = {"epoch": 0}

        def epoch():
            order = rng.permutation(sampler.num_pairs)
            state["epoch"] += 1
            for i, begin in enumerate(range(0, order.size, BATCH_SIZE)):
                yield stats(sampler.sample(order[begin:begin + BATCH_SIZE], mix_seed(args.seed, state["epoch"], i)))
        return epoch
    loader = LinkLoader(sampler, BATCH_SIZE, seed=args.seed, num_workers=args.threads, prefetch=2 * args.threads,
                        threads_per_worker=1, pin_memory=False)
    return lambda: (stats(batch) for batch in loader)


def dgl_batches(args: argparse.Namespace, data: dict[str, Any], record: dict[str, Any]):
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl
    import torch

    record["dgl"] = dgl.__version__
    start = time.perf_counter()
    graph = dgl.graph((data["src"], data["dst"]), num_nodes=data["num_nodes"])
    graph.create_formats_()
    sampler = dgl.dataloading.as_edge_prediction_sampler(
        dgl.dataloading.NeighborSampler(list(reversed(FANOUTS))),  # DGL: fanouts[0] is the input layer
        negative_sampler=dgl.dataloading.negative_sampler.Uniform(NEG_PER_POS))
    seed_edges = torch.arange(data["pairs"].shape[0])  # the training graph's edge i is training pair i
    loader = dgl.dataloading.DataLoader(graph, seed_edges, sampler, batch_size=BATCH_SIZE, shuffle=True,
                                        drop_last=False, num_workers=args.threads,
                                        persistent_workers=args.threads > 0)
    record.update(setup_s=round(time.perf_counter() - start, 3), loader_workers=args.threads)
    return lambda: ((pos.num_edges(), len(inputs), sum(b.num_edges() for b in blocks))
                    for inputs, pos, neg, blocks in loader)


def pyg_batches(args: argparse.Namespace, data: dict[str, Any], record: dict[str, Any]):
    import torch
    import torch_geometric
    import torch_geometric.typing as pyg_typing
    from torch_geometric.data import Data
    from torch_geometric.loader import LinkNeighborLoader

    record["torch_geometric"] = torch_geometric.__version__
    if not (pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE):
        from full_batch import pyg_backend_status

        raise ImportError("LinkNeighborLoader needs pyg-lib or torch-sparse: "
                          + pyg_backend_status(("torch-sparse", "torch-scatter", "pyg-lib")))
    record["sampler_backend"] = "pyg-lib" if pyg_typing.WITH_PYG_LIB else "torch-sparse"
    start = time.perf_counter()
    graph = Data(edge_index=torch.stack([data["src"], data["dst"]]), num_nodes=data["num_nodes"])
    loader = LinkNeighborLoader(graph, num_neighbors=list(FANOUTS), edge_label_index=data["pairs"].t().contiguous(),
                                neg_sampling_ratio=float(NEG_PER_POS), batch_size=BATCH_SIZE, shuffle=True,
                                num_workers=args.threads, persistent_workers=args.threads > 0)
    record.update(setup_s=round(time.perf_counter() - start, 3), loader_workers=args.threads)
    return lambda: ((int(batch.edge_label.shape[0]) // (1 + NEG_PER_POS), batch.num_nodes, batch.num_edges)
                    for batch in loader)


PEER_BATCHES = {"pyg": pyg_batches, "dgl": dgl_batches}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One implementation's measurement in this process; never raises (a failure becomes the status)."""
    record: dict[str, Any] = {"bench": "link_sampling", "impl": args.impl, "fanouts": list(FANOUTS),
                              "batch_size": BATCH_SIZE, "neg_per_pos": NEG_PER_POS}
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
        del warm
        record["warmup_s"] = round(time.perf_counter() - start, 3)
        window = rss_window.MeasuredWindow()
        window.open()
        edges = nodes = sampled = batches = 0
        start = time.perf_counter()
        while batches < args.batches:  # whole epochs' iterators, cut at --batches
            for seed_edges, num_nodes, num_edges in make_epoch():
                edges, nodes, sampled, batches = edges + seed_edges, nodes + num_nodes, sampled + num_edges, batches + 1
                if batches >= args.batches:
                    break
        total = time.perf_counter() - start
        record.update(status="ok", batches_per_s=round(batches / total, 3), edges_per_s=round(edges / total, 1),
                      batches=batches, time_s=round(total, 3), mean_sampled_nodes=round(nodes / batches, 1),
                      mean_sampled_edges=round(sampled / batches, 1), **window.close())
    except Exception as err:  # noqa: BLE001  (a failed measurement is a result, not a crash)
        record.update(status=common.failure_status(err), peak_rss_mb=round(rss_window.peak_mb(), 1))
    return record


def ratio_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    ours = [r for r in records if r["impl"].startswith("graphscale") and r["status"] == "ok"]
    peers = [r for r in records if not r["impl"].startswith("graphscale") and r["status"] == "ok"]
    record: dict[str, Any] = {"bench": "link_sampling", "record": "ratio"}
    if not ours:
        return {**record, "status": "error: no graphscale measurement finished"}
    best = max(ours, key=lambda r: r["batches_per_s"])
    record.update(impl=best["impl"], batches_per_s=best["batches_per_s"])
    if not peers:
        failures = {r["impl"]: r["status"] for r in records if not r["impl"].startswith("graphscale")}
        return {**record, "status": "no peer sampler ran on this machine", "peer_status": failures}
    peer = max(peers, key=lambda r: r["batches_per_s"])
    speedup = best["batches_per_s"] / peer["batches_per_s"]
    return {**record, "status": "ok", "baseline": peer["impl"], "baseline_batches_per_s": peer["batches_per_s"],
            "speedup": round(speedup, 3), "meets_target": speedup >= TARGET_SPEEDUP}


def orchestrate(args: argparse.Namespace) -> int:
    impls = [i.strip().lower() for i in args.impls.split(",") if i.strip()]
    unknown = sorted(set(impls) - set(IMPLS))
    if unknown or not impls:
        raise SystemExit(f"link_sampling: expected --impls from {','.join(IMPLS)}, got {unknown or 'nothing'}.")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    temp_dir = None if args.data_dir else Path(tempfile.mkdtemp(prefix="graphscale-link-sampling-"))
    data_dir = Path(args.data_dir) if args.data_dir else temp_dir / "data"

    def emit(record: dict[str, Any]) -> None:
        common.emit(record)
        if not args.no_records:
            common.append_record("link_sampling", args.dataset, record)

    try:
        try:
            meta = json.loads((data_dir / "meta.json").read_text()) if (data_dir / "meta.json").exists() \
                else write_dataset(data_dir, args.dataset, args.seed)
        except Exception as err:  # noqa: BLE001
            emit({"bench": "link_sampling", "record": "setup", "status": common.failure_status(err)})
            return 1
        emit({"bench": "link_sampling", "record": "setup", "status": "ok", **meta, **common.machine_info(),
              **common.git_state()})
        flags = ["--batches", str(args.batches), "--warmup", str(args.warmup), "--threads", str(args.threads),
                 "--seed", str(args.seed), "--memory-limit-gb", str(args.memory_limit_gb)]
        records = common.run_impls(__file__, impls, PEER_VENV, data_dir=data_dir, flags=flags,
                                   base={"bench": "link_sampling", "num_threads": args.threads},
                                   num_threads=args.threads, timeout_s=args.timeout, emit_record=emit)
        emit(ratio_record(records))
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated: " + ",".join(IMPLS))
    parser.add_argument("--dataset", default="github", help="node dataset whose edges are split")
    parser.add_argument("--batches", type=int, default=240, help="timed batches (240: one epoch of github)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first (numba compile / cache load)")
    parser.add_argument("--threads", type=int, default=2, help="numba / torch threads (loaders: workers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit-gb", type=float, default=12.0, help="address-space limit per worker")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    parser.add_argument("--data-dir", help="keep/reuse the .npy split here instead of a temp dir")
    parser.add_argument("--no-records", action="store_true", help="do not append to benchmarks/records/link_sampling/")
    common.add_worker_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return common.worker_or_orchestrate(parse_args(argv), worker, orchestrate)


if __name__ == "__main__":
    sys.exit(main())
