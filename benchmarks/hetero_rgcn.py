"""Full-batch R-GCN on a heterogeneous graph: graphscale vs PyTorch Geometric and DGL, epoch time and peak RSS.

Graph: ``synthetic-mag`` (``graphscale.datasets.load("synthetic-mag", num_papers=...)``: paper / author /
institution / field_of_study, 4 relations plus their ``rev_`` reverses, 128 paper features, venue labels), written
once as .npy files that every worker, graphscale or peer, loads.

Model (the same in every implementation): typed inputs (a linear map of the paper features to 64, a learnable
64-dim embedding per author / institution / field), two R-GCN layers 64 -> 64 -> classes with basis
decomposition (4 bases shared by the 8 relations), the mean over each relation's in-edges (``1 / c_{i,r}``), a
self-loop weight and a bias, ReLU between; Adam (lr 0.01); cross-entropy on the training papers.

Implementations: "graphscale" (``graphscale.nn.hetero_models.RGCN``: one matmul per relation over the distinct
(relation, source) pairs and one fused gather), "pyg" (``torch_geometric.nn.RGCNConv(aggr="mean")`` on the
homogeneous ``edge_index`` / ``edge_type``; it uses pyg-lib's ``segment_matmul`` where pyg-lib is installed),
"dgl" (``dgl.nn.RelGraphConv`` with the per-relation mean as its ``norm``, edges sorted by type and
``presorted=True``: DGL's ``gather_mm`` path; DGL 2.1.0 on torch 2.2.1 in its own virtualenv).

Usage:
    python benchmarks/hetero_rgcn.py                               # default size (20,000 papers)
    python benchmarks/hetero_rgcn.py --papers 2000 --epochs 1 --no-records   # smoke run

Output: one JSON line per measurement (bench, impl, status, epoch_time_s, peak_rss_mb ...), then one "ratio" line
(graphscale against the fastest peer); every line is appended to ``benchmarks/records/hetero_rgcn/<graph>.jsonl``.
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
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (stdlib only: safe in the peer interpreters)
import rss_window  # noqa: E402  (stdlib only)

IMPLS = ("graphscale", "pyg", "dgl")
PEER_VENV = {"pyg": "pyg", "dgl": "dgl"}
HIDDEN, BASES, LEARNING_RATE = 64, 4, 0.01
TARGET_SPEEDUP = 2.0


# -- data: written once by the orchestrator, read by every worker -------------------------------------------
def write_dataset(out_dir: Path, papers: int, seed: int) -> dict[str, Any]:
    import numpy as np

    from graphscale.datasets import load

    data = load("synthetic-mag", num_papers=papers, seed=seed)
    graph = data.graph.add_reverse()
    out_dir.mkdir(parents=True, exist_ok=True)
    etypes = [list(e) for e in graph.canonical_etypes]
    for r, (_, rel) in enumerate(graph.relations()):
        np.save(out_dir / f"src{r}.npy", rel.src.long().numpy())
        np.save(out_dir / f"dst{r}.npy", rel.dst.long().numpy())
    np.save(out_dir / "x.npy", data.x["paper"].numpy())
    np.save(out_dir / "y.npy", data.y.numpy())
    np.save(out_dir / "train_idx.npy", data.train_mask.nonzero().view(-1).numpy())
    meta = {"graph": f"synthetic-mag-{papers}p-seed{seed}", "ntypes": list(graph.ntypes), "etypes": etypes,
            "num_nodes": graph.num_nodes_dict, "num_edges": graph.num_edges(), "num_classes": data.num_classes,
            "num_features": int(data.x["paper"].shape[1]), "dataset_version": data.meta.get("generator")}
    (out_dir / "meta.json").write_text(json.dumps(meta))
    return meta


def read_dataset(data_dir: Path) -> dict[str, Any]:
    import numpy as np
    import torch

    meta = json.loads((data_dir / "meta.json").read_text())
    edges = [(torch.from_numpy(np.load(data_dir / f"src{r}.npy")), torch.from_numpy(np.load(data_dir / f"dst{r}.npy")))
             for r in range(len(meta["etypes"]))]
    return {**meta, "edges": edges, "x": torch.from_numpy(np.load(data_dir / "x.npy")),
            "y": torch.from_numpy(np.load(data_dir / "y.npy")),
            "train_idx": torch.from_numpy(np.load(data_dir / "train_idx.npy"))}


def homogeneous(data: dict[str, Any]) -> tuple[Any, Any, Any, dict[str, int]]:
    """``(src, dst, edge_type, offsets)`` over all nodes (types in order), edges relation after relation."""
    import torch

    offsets, total = {}, 0
    for t in data["ntypes"]:
        offsets[t] = total
        total += data["num_nodes"][t]
    src = torch.cat([s + offsets[e[0]] for (s, _), e in zip(data["edges"], data["etypes"])])
    dst = torch.cat([d + offsets[e[2]] for (_, d), e in zip(data["edges"], data["etypes"])])
    edge_type = torch.cat([torch.full((s.numel(),), r, dtype=torch.int64) for r, (s, _) in enumerate(data["edges"])])
    return src, dst, edge_type, offsets


class TypedInput:
    """The shared input layer of the peers: paper features -> 64, an embedding for every other type."""

    @staticmethod
    def build(data: dict[str, Any]) -> Any:
        import torch
        from torch import nn

        class Inputs(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.paper = nn.Linear(data["num_features"], HIDDEN)
                self.tables = nn.ParameterDict({t: nn.Parameter(nn.init.xavier_uniform_(
                    torch.empty(data["num_nodes"][t], HIDDEN))) for t in data["ntypes"] if t != "paper"})

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.cat([self.paper(x) if t == "paper" else self.tables[t] for t in data["ntypes"]])

        return Inputs()


def setup_graphscale(data: dict[str, Any]) -> tuple[Any, Callable[[], Any], dict[str, Any]]:
    import graphscale
    from graphscale.graph import HeteroGraph
    from graphscale.nn.hetero_models import RGCN, HeteroSchema

    graph = HeteroGraph(data["num_nodes"], {tuple(e): pair for e, pair in zip(data["etypes"], data["edges"])})
    x = {"paper": data["x"]}
    model = RGCN(HeteroSchema.of(graph, x, "paper"), data["num_classes"], hidden_dim=HIDDEN, num_layers=2,
                 dropout=0.0, regularizer="basis", num_bases=BASES)
    return model, lambda: model(graph, x), {"graphscale": graphscale.__version__}


def setup_pyg(data: dict[str, Any]) -> tuple[Any, Callable[[], Any], dict[str, Any]]:
    import torch
    import torch.nn.functional as F
    import torch_geometric
    from torch import nn
    from torch_geometric.nn import RGCNConv

    src, dst, edge_type, offsets = homogeneous(data)
    edge_index = torch.stack([src, dst])
    num_rel, papers = len(data["etypes"]), (offsets["paper"], offsets["paper"] + data["num_nodes"]["paper"])

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inputs = TypedInput.build(data)
            self.conv1 = RGCNConv(HIDDEN, HIDDEN, num_rel, num_bases=BASES, aggr="mean")
            self.conv2 = RGCNConv(HIDDEN, data["num_classes"], num_rel, num_bases=BASES, aggr="mean")

        def forward(self) -> torch.Tensor:
            h = F.relu(self.conv1(self.inputs(data["x"]), edge_index, edge_type))
            return self.conv2(h, edge_index, edge_type)[papers[0]:papers[1]]

    try:
        import pyg_lib  # noqa: F401
        backend = "pyg-lib segment_matmul"
    except ImportError:
        backend = "no pyg-lib (loop over relations)"
    model = Net()
    return model, model, {"torch_geometric": torch_geometric.__version__, "pyg_backend": backend}


def setup_dgl(data: dict[str, Any]) -> tuple[Any, Callable[[], Any], dict[str, Any]]:
    import dgl
    import torch
    import torch.nn.functional as F
    from dgl.nn import RelGraphConv
    from torch import nn

    src, dst, edge_type, offsets = homogeneous(data)
    num_nodes = sum(data["num_nodes"].values())
    graph = dgl.graph((src, dst), num_nodes=num_nodes)
    key = edge_type * num_nodes + dst
    counts = torch.bincount(key)
    norm = (1.0 / counts[key].float()).unsqueeze(1)
    num_rel, papers = len(data["etypes"]), (offsets["paper"], offsets["paper"] + data["num_nodes"]["paper"])

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inputs = TypedInput.build(data)
            self.conv1 = RelGraphConv(HIDDEN, HIDDEN, num_rel, regularizer="basis", num_bases=BASES, self_loop=True)
            self.conv2 = RelGraphConv(HIDDEN, data["num_classes"], num_rel, regularizer="basis", num_bases=BASES,
                                      self_loop=True)

        def forward(self) -> torch.Tensor:
            h = F.relu(self.conv1(graph, self.inputs(data["x"]), edge_type, norm=norm, presorted=True))
            return self.conv2(graph, h, edge_type, norm=norm, presorted=True)[papers[0]:papers[1]]

    model = Net()
    return model, model, {"dgl": dgl.__version__}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in this process; never raises (failures become the status)."""
    record: dict[str, Any] = {"bench": "hetero_rgcn", "impl": args.impl, "model": "rgcn"}
    common.limit_address_space(args.memory_limit_gb)
    try:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(args.threads)
        torch.manual_seed(args.seed)
        record.update(torch=torch.__version__, num_threads=torch.get_num_threads())
        data = read_dataset(Path(args.data))
        setup = {"graphscale": setup_graphscale, "pyg": setup_pyg, "dgl": setup_dgl}[args.impl]
        model, forward, versions = setup(data)
        record.update(versions)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        y, train_idx = data["y"], data["train_idx"]

        def step() -> None:
            model.train()
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(forward()[train_idx], y[train_idx])
            loss.backward()
            optimizer.step()

        common.time_epochs(step, args.warmup)
        times, cpu = common.time_epochs(step, args.epochs)
        record.update(status="ok", **common.summarize_times(times, cpu), peak_rss_mb=round(rss_window.peak_mb(), 1))
    except Exception as err:  # noqa: BLE001  (a failing implementation is a status line, never a crash)
        record.update(status=common.failure_status(err), peak_rss_mb=round(rss_window.peak_mb(), 1))
    return record


def ratio_record(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    ours = next((r for r in results if r["impl"] == "graphscale" and r.get("status") == "ok"), None)
    peers = [r for r in results if r["impl"] != "graphscale" and r.get("status") == "ok"]
    if ours is None or not peers:
        return None
    best = min(peers, key=lambda r: r["epoch_time_s"])
    speedup = best["epoch_time_s"] / ours["epoch_time_s"]
    return {"bench": "hetero_rgcn", "record": "ratio", "impl": "graphscale", "vs": best["impl"],
            "speedup": round(speedup, 3), "rss_ratio": round(ours["peak_rss_mb"] / best["peak_rss_mb"], 3),
            "target_speedup": TARGET_SPEEDUP, "met": bool(speedup >= TARGET_SPEEDUP)}


def orchestrate(args: argparse.Namespace) -> int:
    impls = [i.strip().lower() for i in args.impls.split(",") if i.strip()]
    unknown = sorted(set(impls) - set(IMPLS))
    if unknown or not impls:
        raise SystemExit(f"hetero_rgcn: expected --impls from {','.join(IMPLS)}, got {unknown or 'nothing'}.")
    temp_dir = Path(tempfile.mkdtemp(prefix="graphscale-hetero-rgcn-"))
    graph = f"synthetic-mag-{args.papers}p-seed{args.seed}"

    def emit(record: dict[str, Any]) -> None:
        common.emit(record)
        if not args.no_records:
            common.append_record("hetero_rgcn", graph, record)

    try:
        start = time.perf_counter()
        try:
            meta = write_dataset(temp_dir / "data", args.papers, args.seed)
        except Exception as err:  # noqa: BLE001  (no data, no benchmark: say why in the same format)
            emit({"bench": "hetero_rgcn", "record": "setup", "status": common.failure_status(err)})
            return 1
        emit({"bench": "hetero_rgcn", "record": "setup", "status": "ok", **meta, "threads": args.threads,
              "data_s": round(time.perf_counter() - start, 2), **common.machine_info(), **common.git_state()})
        flags = ["--epochs", str(args.epochs), "--warmup", str(args.warmup), "--threads", str(args.threads),
                 "--seed", str(args.seed), "--memory-limit-gb", str(args.memory_limit_gb)]
        results = common.run_impls(__file__, impls, PEER_VENV, data_dir=temp_dir / "data", flags=flags,
                                   base={"bench": "hetero_rgcn", "model": "rgcn", "num_threads": args.threads},
                                   num_threads=args.threads, timeout_s=args.timeout, emit_record=emit)
        ratio = ratio_record(results)
        if ratio is not None:
            emit(ratio)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated: " + ",".join(IMPLS))
    parser.add_argument("--papers", type=int, default=20000, help="papers of synthetic-mag (other types follow)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first (numba compile, caches)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for torch, BLAS and numba")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit-gb", type=float, default=18.0, help="address-space limit per worker")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per measurement")
    parser.add_argument("--no-records", action="store_true", help="do not append to benchmarks/records/ (smoke)")
    common.add_worker_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return common.worker_or_orchestrate(parse_args(argv), worker, orchestrate)


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main())
