"""Sparse kernel timings: graphscale gSpMM / gSDDMM / edge softmax against torch.sparse CSR matmul.

Default input is an ogbn-arxiv-shaped random graph (169,343 nodes, 2,332,486 directed edges). Every
measurement is the median of ``--repeat`` runs after a warm-up call; the warm-up (numba compile or cache
load) is reported separately as ``op="compile:<name>"``. One JSON line per measurement:
``{"bench": "kernels", "impl": "graphscale"|"torch-sparse", "op": ..., "time_s": ..., "min_s": ...}``.

Usage: ``python benchmarks/kernels.py [--repeat 5] [--feats 128 256] [--threads 2] [--only spmm]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch

import graphscale as gs

warnings.filterwarnings("ignore", message=".*Sparse.*")


def emit(impl: str, op: str, times: list[float], **extra) -> None:
    record = {"bench": "kernels", "impl": impl, "op": op, "time_s": round(statistics.median(times), 5),
              "min_s": round(min(times), 5), "threads": torch.get_num_threads(), **extra}
    print(json.dumps(record), flush=True)


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, times


def run(impl: str, name: str, fn, repeat: int, **extra) -> None:
    first, times = timed(fn, repeat)
    if impl == "graphscale":
        emit(impl, f"compile:{name}", [max(first - statistics.median(times), 0.0)], **extra)
    emit(impl, name, times, **extra)


def forward_backward(op_fn, inputs: list[torch.Tensor]):
    """(forward closure, backward closure): backward reuses one forward graph per call."""
    def forward():
        with torch.no_grad():
            op_fn()

    def backward():
        out = op_fn()
        grad = torch.ones_like(out)
        start = time.perf_counter()
        torch.autograd.grad(out, inputs, grad)
        backward.elapsed = time.perf_counter() - start

    return forward, backward


def run_backward(impl: str, name: str, backward, repeat: int, **extra) -> None:
    backward()
    times = []
    for _ in range(repeat):
        backward()
        times.append(backward.elapsed)
    emit(impl, name, times, **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=169_343)
    parser.add_argument("--edges", type=int, default=2_332_486)
    parser.add_argument("--feats", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", default=None, help="run only ops whose name contains this string")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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

    for feats in args.feats:
        x = torch.randn(args.nodes, feats, generator=generator).requires_grad_()
        w = weight.clone().requires_grad_()
        cases = {
            f"gspmm_copy_lhs_sum_f{feats}": (lambda: gs.gspmm(graph, "copy_lhs", "sum", x), [x]),
            f"gspmm_mul_sum_f{feats}": (lambda: gs.gspmm(graph, "mul", "sum", x, w), [x, w]),
            f"gspmm_copy_lhs_mean_f{feats}": (lambda: gs.gspmm(graph, "copy_lhs", "mean", x), [x]),
            f"gspmm_copy_lhs_max_f{feats}": (lambda: gs.gspmm(graph, "copy_lhs", "max", x), [x]),
        }
        for name, (fn, inputs) in cases.items():
            if want(name):
                forward, backward = forward_backward(fn, inputs)
                run("graphscale", f"{name}_fwd", forward, args.repeat)
                run_backward("graphscale", f"{name}_bwd", backward, args.repeat)
        peer = {
            f"spmm_sum_f{feats}": (lambda: torch.sparse.mm(adj_ones, x), [x]),
            f"spmm_weighted_sum_f{feats}": (lambda: torch.sparse.mm(adj, x), [x]),
        }
        for name, (fn, inputs) in peer.items():
            if want(name):
                forward, backward = forward_backward(fn, inputs)
                run("torch-sparse", f"{name}_fwd", forward, args.repeat)
                run_backward("torch-sparse", f"{name}_bwd", backward, args.repeat)
    heads, per_head = 4, 64
    h = torch.randn(args.nodes, heads, per_head, generator=generator).requires_grad_()
    q = torch.randn(args.nodes, heads, per_head, generator=generator).requires_grad_()
    logits = torch.randn(args.edges, heads, 1, generator=generator).requires_grad_()
    attn = torch.rand(args.edges, heads, 1, generator=generator).requires_grad_()
    cases = {
        "gsddmm_dot_h4x64": (lambda: gs.gsddmm(graph, "dot", h, q, "src", "dst"), [h, q]),
        "edge_softmax_h4": (lambda: gs.edge_softmax(graph, logits), [logits]),
        "gspmm_mul_sum_h4x64": (lambda: gs.gspmm(graph, "mul", "sum", h, attn), [h, attn]),
    }
    for name, (fn, inputs) in cases.items():
        if want(name):
            forward, backward = forward_backward(fn, inputs)
            run("graphscale", f"{name}_fwd", forward, args.repeat)
            run_backward("graphscale", f"{name}_bwd", backward, args.repeat)


if __name__ == "__main__":
    main()
