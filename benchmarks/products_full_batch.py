"""Full-batch GCN training on an ogbn-products-shaped graph, unbudgeted and under --memory-budget, vs PyG and DGL.

Graph: ``graphscale.datasets.load("synthetic-products", seed=0)``: 2,449,029 nodes, 123,718,280 directed
edges, 100 features, 47 classes, power-law degrees, 196,615 training nodes (cached as .npy after the first
generation). Model: 2-layer GCN, hidden 256, ReLU, dropout 0.5 between the layers (none on the input),
Adam lr 0.01, cross-entropy on the training nodes. One training epoch = forward + backward + Adam step.

Measurements, each in its own process (one JSON line each: bench, impl, status, epoch_time_s, peak_rss_mb,
memory_budget, ...):

* ``graphscale`` unbudgeted: ``model(graph, x)`` as ``graphscale train`` runs it without a budget;
* ``graphscale`` with ``--memory-budget`` (default 6GB): :mod:`graphscale.scale.stream` (the streamed
  executor ``graphscale train --memory-budget`` uses), loss on the training rows;
* ``graphscale`` CLI: ``graphscale train --dataset synthetic-products --model gcn --memory-budget 6GB``
  (training and per-epoch evaluation; its own JSON summary gives epoch time and peak RSS);
* ``pyg`` / ``pyg-csr``: PyTorch Geometric's GCNConv (cached) on an int64 ``edge_index`` or a
  ``torch.sparse_csr_tensor`` (see ``full_batch.py``), in the pyg peer venv;
* ``dgl``: dgl.nn's GraphConv (norm "both", self-loops added once) on a ``dgl.graph`` of the same edges
  (``full_batch.setup_dgl``), DGL 2.1.0 on torch 2.2.1 in its own venv (``setup_peers.sh dgl``).

Every worker, graphscale's (the ``graphscale train`` run included) and the peers', runs under the same
address-space cap, ``--memory-limit-gb`` (``RLIMIT_AS``, default 22 GB), so running out of memory is a
``MemoryError`` reported as status "oom", not the kernel's OOM killer; each worker also raises its own
``oom_score_adj`` so that, should the kernel have to kill, it picks the benchmark worker and nothing else on a
shared machine (reported as "oom (killed by SIGKILL)"). Note that the cap counts address space, not
resident memory: the DGL peer's torch is a CUDA build whose libraries reserve more of it than a CPU build's.

Peak RSS is the worker's whole peak: it includes loading the dataset. ``rss_growth_mb`` is how far the resident
set grew during the timed epochs (their peak minus the RSS after warm-up; ``rss_window.py``). Before each
worker the orchestrator waits until the machine has the memory that worker may need (shared machine), and
reports the worker as skipped if it does not within ``--wait`` seconds. Every JSON line printed is also
appended to the committed ``benchmarks/records/products_full_batch/<graph>.jsonl`` (``--no-records``: not).

Usage:
    python benchmarks/products_full_batch.py                        # everything (~40 min on 2 cores)
    python benchmarks/products_full_batch.py --impls graphscale --modes budget --epochs 2
    python benchmarks/products_full_batch.py --impls pyg,dgl --data-dir DIR --no-records   # peers on another
        # graph in full_batch.py's .npy format (a DIR holding meta.json is used as it is; a smoke test)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import rss_window  # stdlib only

BENCH = "products_full_batch"
HIDDEN_DIM, DROPOUT, LEARNING_RATE = 256, 0.5, 0.01
MODES = ("budget", "cli", "unbudgeted")
PEERS = ("pyg", "pyg-csr", "dgl")
PEER_VENV = {"pyg": "pyg", "pyg-csr": "pyg", "dgl": "dgl"}
NEEDS_GB = {"unbudgeted": 17.0, "budget": 7.0, "cli": 7.0, "prepare": 6.0, "peer": 17.0}  # free memory to wait for


def available_gb() -> float:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return float("inf")


def wait_for_memory(gigabytes: float, timeout_s: float) -> tuple[bool, float]:
    """Block until ``gigabytes`` are available or ``timeout_s`` passed: ``(available in time, GB available)``."""
    start = time.perf_counter()
    while available_gb() < gigabytes and time.perf_counter() - start < timeout_s:
        time.sleep(15)
    free = round(available_gb(), 1)
    return free >= gigabytes, free


def graph_name(seed: int) -> str:
    """Records file name: ``synthetic-products-v<generator version>`` (``-seed<seed>`` unless 0)."""
    from graphscale.datasets.synthetic import CACHE_VERSION

    return f"synthetic-products-v{CACHE_VERSION}{f'-seed{seed}' if seed else ''}"


def raise_oom_score() -> None:
    """Make this process the kernel OOM killer's first choice (raising it needs no privilege)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass


# -- data for the peers: the same graph as .npy (full_batch.py's format) --------------------------------------
def prepare(data_dir: Path, seed: int) -> dict[str, Any]:
    import numpy as np

    from graphscale.datasets import load

    dataset = load("synthetic-products", seed=seed)
    graph = dataset.graph
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (("src", graph.src), ("dst", graph.dst)):
        np.save(data_dir / f"{name}.npy", value.long().numpy())
    np.save(data_dir / "x.npy", dataset.x.float().numpy())
    np.save(data_dir / "y.npy", dataset.y.long().numpy())
    np.save(data_dir / "train_idx.npy", dataset.train_mask.nonzero().view(-1).numpy())
    meta = {"source": f"graphscale.datasets.load('synthetic-products', seed={seed})", "graph": graph_name(seed),
            "num_nodes": graph.num_nodes,
            "num_edges": graph.num_edges, "num_features": dataset.num_features, "num_classes": dataset.num_classes,
            "num_train": int(dataset.train_mask.sum()), "generation_seconds": dataset.meta.get("generation_seconds")}
    (data_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


# -- workers ----------------------------------------------------------------------------------------------------
def graphscale_step(args: argparse.Namespace, record: dict[str, Any]):
    import torch
    import torch.nn.functional as F

    from graphscale.config import parse_size
    from graphscale.datasets import load
    from graphscale.nn.models import build_node_model

    began = time.perf_counter()
    dataset = load("synthetic-products", seed=args.seed)
    graph, x, y = dataset.graph, dataset.x, dataset.y
    train_idx = dataset.train_mask.nonzero().view(-1)
    record["load_s"] = round(time.perf_counter() - began, 2)
    torch.manual_seed(args.seed)
    model = build_node_model("gcn", dataset.num_features, dataset.num_classes, hidden_dim=HIDDEN_DIM, num_layers=2,
                             dropout=DROPOUT, input_dropout=0.0)
    if args.mode == "budget":
        from graphscale.scale.streaming import streamed_model

        began = time.perf_counter()
        runner = streamed_model(model, graph, x, parse_size(args.memory_budget))
        plan = runner.graph.plan
        record["setup_s"] = round(time.perf_counter() - began, 2)
        record["plan"] = {"rows_per_chunk": plan.rows_per_chunk, "edges_per_block": plan.edges_per_block,
                          "col_tiles": plan.col_tiles, "spill_adjacency": plan.spill_adjacency,
                          "spill_inputs": plan.spill_inputs, "spill_nodes": plan.spill_nodes,
                          "estimate_mb": {k: round(v / 2**20) for k, v in plan.estimate.items()}}
        forward = lambda: runner(x, train_idx)
    else:
        forward = lambda: model(graph, x)[train_idx]
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses: list[float] = []

    def step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(), y[train_idx])
        loss.backward()
        optimizer.step()
        losses.append(round(loss.item(), 5))

    return step, losses


def peer_step(args: argparse.Namespace, record: dict[str, Any]):
    import torch
    import torch.nn.functional as F
    from full_batch import read_dataset, setup_dgl, setup_pyg

    torch.manual_seed(args.seed)
    data = read_dataset(Path(args.data))
    if args.impl == "dgl":
        model, forward, versions = setup_dgl("gcn", data)
    else:
        model, forward, versions = setup_pyg("gcn", data, args.impl)
    record.update(versions)
    y, train_idx = data["y"], data["train_idx"]
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses: list[float] = []

    def step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward()[train_idx], y[train_idx])
        loss.backward()
        optimizer.step()
        losses.append(round(loss.item(), 5))

    return step, losses


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in this process; never raises (a failure is the status)."""
    budget = args.memory_budget if args.mode == "budget" else None
    record: dict[str, Any] = {"bench": BENCH, "impl": args.impl, "mode": args.mode, "memory_budget": budget}
    common.limit_address_space(args.memory_limit_gb)
    raise_oom_score()
    try:
        import torch

        torch.set_num_threads(args.threads)
        record.update(torch=torch.__version__, num_threads=args.threads, memory_limit_gb=args.memory_limit_gb)
        if args.impl == "graphscale":
            import numba

            numba.set_num_threads(args.threads)
            step, losses = graphscale_step(args, record)
        else:
            step, losses = peer_step(args, record)
        record["rss_before_train_mb"] = round(common.current_rss_mb(), 1)
        warmup, _ = common.time_epochs(step, args.warmup)
        window = rss_window.MeasuredWindow()
        window.open()
        wall, cpu = common.time_epochs(step, args.epochs)
        record.update(status="ok", **common.summarize_times(wall, cpu), **window.close(),
                      warmup_s=round(sum(warmup), 2), epochs=args.epochs, losses=losses)
    except Exception as err:  # noqa: BLE001  (a failed measurement is a result, not a crash)
        record.update(status=common.failure_status(err), peak_rss_mb=round(rss_window.peak_mb(), 1),
                      detail=(str(err).strip().splitlines() or [""])[0][:300])
    return record


# -- orchestrator ---------------------------------------------------------------------------------------------
def cli_record(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """``graphscale train --memory-budget`` end to end (training + evaluation every epoch)."""
    base = {"bench": BENCH, "impl": "graphscale", "mode": "cli", "memory_budget": args.memory_budget,
            "memory_limit_gb": args.memory_limit_gb}
    # under the same RLIMIT_AS as every other worker: this script sets it, then becomes `python -m graphscale`
    command = [str(Path(__file__).resolve()), "--exec-capped", str(args.memory_limit_gb),
               "-m", "graphscale", "train", "--dataset", "synthetic-products", "--model", "gcn", "--json",
               "--no-progress", "--memory-budget", args.memory_budget, "--epochs", str(args.epochs + args.warmup),
               "--device", "cpu", "--out", str(out_dir / "cli-run"), "--overwrite", f"model.hidden_dim={HIDDEN_DIM}",
               "model.num_layers=2", f"model.dropout={DROPOUT}", "model.input_dropout=0.0", f"train.lr={LEARNING_RATE}",
               "train.weight_decay=0.0", "output.plot=false", "output.checkpoint_every=0", f"train.seed={args.seed}"]
    record = common.run_worker(sys.executable, command, base=base, num_threads=args.threads, timeout_s=args.timeout)
    keep = ("bench", "impl", "mode", "memory_budget", "memory_limit_gb", "status", "epoch_time_s", "peak_rss_mb",
            "warmup_time_s",
            "test_acc", "val_acc", "train_time_s", "stream_plan", "worker_wall_s", "epochs")
    record.setdefault("status", "ok")
    return {k: record[k] for k in keep if k in record}


def orchestrate(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    modes = [m for m in args.modes.split(",") if m]
    impls = [i for i in args.impls.split(",") if i]
    unknown = sorted(set(impls) - {"graphscale", *PEERS})
    if unknown or not impls:
        raise SystemExit(f"products_full_batch: expected --impls from graphscale,{','.join(PEERS)}, "
                         f"got {unknown or 'nothing'}.")
    output = open(args.output, "a") if args.output else None  # noqa: SIM115  (closed in the finally below)
    meta_path = data_dir / "meta.json"
    graph = json.loads(meta_path.read_text()).get("graph") if meta_path.exists() else None
    graph = graph or graph_name(args.seed)

    def emit(record: dict[str, Any]) -> None:  # print, append to --output and to records/<bench>/<graph>.jsonl
        common.emit(record)
        if output is not None:
            common.emit(record, output)
        if not args.no_records:
            common.append_record(BENCH, graph, record)

    emit({"bench": BENCH, "record": "setup", "status": "ok", "graph": graph, "modes": modes, "impls": impls,
          "threads": args.threads, "memory_limit_gb": args.memory_limit_gb, **common.machine_info(),
          **common.git_state()})
    script = str(Path(__file__).resolve())
    shared = ["--epochs", str(args.epochs), "--warmup", str(args.warmup), "--threads", str(args.threads),
              "--seed", str(args.seed), "--memory-budget", args.memory_budget, "--data", str(data_dir)]
    try:
        if any(i in PEERS for i in impls) and not (data_dir / "meta.json").exists():
            wait_for_memory(NEEDS_GB["prepare"], args.wait)  # (the loader alone peaks near 3 GB)
            record = common.run_worker(sys.executable, [script, "--prepare", "--data", str(data_dir),
                                                        "--seed", str(args.seed)],
                                       base={"bench": BENCH, "record": "prepare"}, num_threads=args.threads,
                                       timeout_s=args.timeout)
            emit(record)
        for impl in impls:
            for mode in (modes if impl == "graphscale" else ["unbudgeted"]):
                need = NEEDS_GB[mode] if impl == "graphscale" else NEEDS_GB["peer"]
                enough, free = wait_for_memory(need, args.wait)
                if not enough:  # never start a worker the shared machine cannot hold
                    emit({"bench": BENCH, "impl": impl, "mode": mode, "status": f"skipped: {free} GB available "
                          f"after waiting {args.wait:.0f} s, {need} GB needed", "free_gb_at_start": free})
                    continue
                if impl == "graphscale" and mode == "cli":
                    record = cli_record(args, data_dir.parent)
                else:
                    python = sys.executable if impl == "graphscale" else common.peer_python(PEER_VENV[impl])
                    base = {"bench": BENCH, "impl": impl, "mode": mode, "memory_limit_gb": args.memory_limit_gb,
                            "memory_budget": args.memory_budget if mode == "budget" else None}
                    record = common.run_worker(python, [script, "--worker", "--impl", impl, "--mode", mode,
                                                        "--memory-limit-gb", str(args.memory_limit_gb), *shared],
                                               base=base, num_threads=args.threads, timeout_s=args.timeout)
                record["free_gb_at_start"] = free
                emit(record)
    finally:
        if output is not None:
            output.close()
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impls", default="graphscale," + ",".join(PEERS),
                        help="comma-separated: graphscale," + ",".join(PEERS))
    parser.add_argument("--modes", default=",".join(MODES), help="graphscale modes: unbudgeted,budget,cli")
    parser.add_argument("--memory-budget", default="6GB", help="budget of the streamed runs")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit-gb", type=float, default=22.0,
                        help="RLIMIT_AS of every worker, graphscale's and the peers' alike (0 = none)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per measurement")
    parser.add_argument("--wait", type=float, default=1800.0, help="seconds to wait for free memory per worker")
    parser.add_argument("--data-dir", default=str(common.OUT_DIR / "products-seed0"),
                        help="the .npy copy of the graph for the peers (made once)")
    parser.add_argument("--output", help="also append the JSON lines to this file")
    parser.add_argument("--no-records", action="store_true",
                        help="do not append the lines to benchmarks/records/products_full_batch/ (smoke runs)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def exec_capped(argv: list[str]) -> None:
    """``--exec-capped GB ARGS...``: cap the address space, then replace this process by ``python ARGS...``."""
    import os

    common.limit_address_space(float(argv[1]))
    raise_oom_score()
    os.execv(sys.executable, [sys.executable, *argv[2:]])  # RLIMIT_AS and oom_score_adj survive exec


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--exec-capped"]:
        exec_capped(argv)
    args = parse_args(argv)
    if args.prepare:
        common.emit({"bench": BENCH, "record": "prepare", "status": "ok", **prepare(Path(args.data), args.seed)})
        return 0
    if args.worker:
        common.emit(worker(args))
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
