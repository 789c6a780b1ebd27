"""Sparse kernel timings: graphscale gSpMM / gSDDMM / edge softmax against torch.sparse CSR matmul.

Default input is an ogbn-arxiv-shaped random graph (169,343 nodes, 2,332,486 directed edges). Every
measurement is the median of ``--repeat`` runs after a warm-up call; the warm-up (numba compile or cache
load) is reported separately as ``op="compile:<name>"``. One JSON line per measurement:
``{"bench": "kernels", "impl": "graphscale"|"torch-sparse", "op": ..., "task": ..., "time_s": ..., "min_s": ...}``
(``task`` names what the op computes, the same for graphscale's op and the torch.sparse op it is compared with),
after a ``setup`` line (graph size, machine, commit). Every line is also appended to the committed record
``benchmarks/records/kernels/random-n<nodes>-e<edges>.jsonl`` (with cores, load, commit and the torch / numba
versions); ``python benchmarks/report.py`` tables the records into RESULTS.md.

Usage: ``python benchmarks/kernels.py [--repeat 5] [--feats 128 256] [--threads 2] [--only spmm] [--no-records]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

import graphscale as gs
from graphscale.saga.ops import gsddmm, gspmm  # the fused kernels behind saga() (internal)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (stdlib only)
from record_fields import loaded_versions  # noqa: E402

warnings.filterwarnings("ignore", message=".*Sparse.*")
# what an op computes: graphscale's op and the torch.sparse op that computes the same thing share a task
TASKS = {"gspmm_copy_lhs_sum": "sum of neighbour rows", "spmm_sum": "sum of neighbour rows",
         "gspmm_mul_sum": "edge-weighted sum of neighbour rows",
         "spmm_weighted_sum": "edge-weighted sum of neighbour rows"}
RECORD: dict = {}  # run fields shared by every line, and where the lines go (set by main)


def task_of(op: str) -> str:
    """What ``op`` (``<name>_f<feats>_<fwd|bwd>``) computes, in words shared with the op it is compared with;
    an op without a counterpart is its own task."""
    for prefix, task in TASKS.items():
        if op.startswith(prefix + "_f"):
            feats, direction = op[len(prefix) + 2:].split("_")
            return f"{task}, {feats} features, {direction}"
    return op


def emit(impl: str, op: str, times: list[float], **extra) -> None:
    record = {"bench": "kernels", "impl": impl, "op": op, "task": task_of(op.removeprefix("compile:")),
              "time_s": round(statistics.median(times), 5), "min_s": round(min(times), 5),
              "threads": torch.get_num_threads(), **extra, **RECORD.get("fields", {})}
    write(record)


def write(record: dict) -> None:
    print(json.dumps(record), flush=True)
    if RECORD.get("name"):
        common.append_record("kernels", RECORD["name"], record)


def forward_timer(op_fn):
    """Seconds of one forward call (no autograd graph)."""
    def run() -> float:
        start = time.perf_counter()
        with torch.no_grad():
            op_fn()
        return time.perf_counter() - start

    return run


def backward_timer(op_fn, inputs: list[torch.Tensor]):
    """Seconds of one backward call (its forward runs untimed before it)."""
    def run() -> float:
        out = op_fn()
        grad = torch.ones_like(out)
        start = time.perf_counter()
        torch.autograd.grad(out, inputs, grad)
        return time.perf_counter() - start

    return run


def measure(cases: list[tuple[str, str, object]], repeat: int) -> None:
    """Warm every case up once, then time them round-robin ``repeat`` times, so that load from other
    processes on a shared machine hits every implementation alike."""
    first = {(impl, name): timer() for impl, name, timer in cases}
    times: dict[tuple[str, str], list[float]] = {key: [] for key in first}
    for _ in range(repeat):
        for impl, name, timer in cases:
            times[(impl, name)].append(timer())
    for (impl, name), values in times.items():
        if impl == "graphscale":
            emit(impl, f"compile:{name}", [max(first[(impl, name)] - statistics.median(values), 0.0)])
        emit(impl, name, values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=169_343)
    parser.add_argument("--edges", type=int, default=2_332_486)
    parser.add_argument("--feats", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", default=None, help="run only ops whose name contains this string")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-records", action="store_true",
                        help="smoke runs: do not append to benchmarks/records/kernels/")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import numba  # noqa: F401  (its version goes into the records)

    RECORD["fields"] = {"nodes": args.nodes, "edges": args.edges, "seed": args.seed, "repeat": args.repeat,
                        "run": time.strftime("%Y-%m-%dT%H:%M:%S"), **loaded_versions()}
    RECORD["name"] = None if args.no_records else f"random-n{args.nodes}-e{args.edges}"
    write({"bench": "kernels", "record": "setup", "status": "ok", "graph": "uniform random (seeded)",
           **RECORD["fields"], **common.machine_info(), **common.git_state()})
    generator = torch.Generator().manual_seed(args.seed)
    src = torch.randint(0, args.nodes, (args.edges,), generator=generator)
    dst = torch.randint(0, args.nodes, (args.edges,), generator=generator)
    start = time.perf_counter()
    graph = gs.Graph(src, dst, args.nodes)
    graph.csc(), graph.csr()
    emit("graphscale", "build_csr_csc", [time.perf_counter() - start], nodes=args.nodes, edges=args.edges)
    indptr, cols, eids = graph.csc()
    weight = torch.rand(args.edges, generator=generator)
    adj = torch.sparse_csr_tensor(indptr, cols.long(), weight[eids], size=(args.nodes, args.nodes))
    adj_ones = torch.sparse_csr_tensor(indptr, cols.long(), torch.ones(args.edges), size=(args.nodes, args.nodes))

    def want(name: str) -> bool:
        return args.only is None or args.only in name

    cases = []

    def add(impl: str, name: str, fn, inputs: list[torch.Tensor]) -> None:
        if want(name):
            cases.append((impl, f"{name}_fwd", forward_timer(fn)))
            cases.append((impl, f"{name}_bwd", backward_timer(fn, inputs)))

    for feats in args.feats:
        x = torch.randn(args.nodes, feats, generator=generator).requires_grad_()
        w = weight.clone().requires_grad_()
        add("graphscale", f"gspmm_copy_lhs_sum_f{feats}", lambda x=x: gspmm(graph, "copy_lhs", "sum", x), [x])
        add("torch-sparse", f"spmm_sum_f{feats}", lambda x=x: torch.sparse.mm(adj_ones, x), [x])
        add("graphscale", f"gspmm_mul_sum_f{feats}", lambda x=x, w=w: gspmm(graph, "mul", "sum", x, w), [x, w])
        add("torch-sparse", f"spmm_weighted_sum_f{feats}", lambda x=x: torch.sparse.mm(adj, x), [x])
        add("graphscale", f"gspmm_copy_lhs_mean_f{feats}", lambda x=x: gspmm(graph, "copy_lhs", "mean", x), [x])
        add("graphscale", f"gspmm_copy_lhs_max_f{feats}", lambda x=x: gspmm(graph, "copy_lhs", "max", x), [x])
    heads, per_head = 4, 64
    h = torch.randn(args.nodes, heads, per_head, generator=generator).requires_grad_()
    q = torch.randn(args.nodes, heads, per_head, generator=generator).requires_grad_()
    logits = torch.randn(args.edges, heads, 1, generator=generator).requires_grad_()
    attn = torch.rand(args.edges, heads, 1, generator=generator).requires_grad_()
    add("graphscale", "gsddmm_dot_h4x64", lambda: gsddmm(graph, "dot", h, q, "src", "dst"), [h, q])
    add("graphscale", "edge_softmax_h4", lambda: gs.edge_softmax(graph, logits), [logits])
    add("graphscale", "gspmm_mul_sum_h4x64", lambda: gspmm(graph, "mul", "sum", h, attn), [h, attn])
    measure(cases, args.repeat)


if __name__ == "__main__":
    main()
