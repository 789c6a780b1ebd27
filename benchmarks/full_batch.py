"""Full-batch node-classification training: graphscale vs PyTorch Geometric and DGL, epoch time and peak RSS.

Models (2 layers each, dropout 0.5 between them, Adam lr 0.01, cross-entropy on the train nodes):
GCN (hidden 256, ReLU), GraphSAGE (mean aggregation, hidden 256, ReLU), GAT (4 heads x 64 concatenated,
ELU, then a 1-head output layer). Graph: the seeded synthetic graph shaped like ogbn-arxiv that
``graphscale.datasets.load("synthetic-arxiv")`` builds (169,343 nodes, 2,332,486 directed edges,
128 features, 40 classes). It is written once as .npy files and every worker, graphscale or peer,
loads the same files.

Implementations: "graphscale" (graphscale.nn.models.build_node_model), "graphscale-stream" (the same model
run by ``graphscale.scale.stream.streamed_model`` with an in-memory plan, ``STREAM_PLANS``: 4,096-row
chunks, the hidden layer recomputed in backward, logits for the training rows only, ``A_0`` of the raw
features computed once and kept (the plan's default); GCN and SAGE, attention layers do not stream), "pyg" (GCNConv/SAGEConv/GATConv on
an int64 ``edge_index``), "pyg-csr" (the same layers on the adjacency as a ``torch.sparse_csr_tensor``,
rows = destinations: PyG's fused sparse path without torch-sparse), "pyg-sparse" (the same layers on a
``torch_sparse.SparseTensor`` ``adj_t``, rows = destinations, as PyG documents its sparse path: needs the
compiled torch-sparse / torch-scatter, which ``setup_peers.sh pyg`` builds from their source distributions;
where that build failed the rows report its error, ``pyg_backend_status``), "dgl" (dgl.nn GraphConv
(norm "both") / SAGEConv ("mean") / GATConv on a ``dgl.graph`` of the same edges, with a self-loop on every
node for GCN and GAT as PyG and graphscale add them; DGL 2.1.0 on torch 2.2.1 in its own virtualenv,
``setup_peers.sh dgl``).
GCNConv runs with ``cached=True`` in all PyG modes, as graphscale caches its normalisation on the graph;
DGL's GraphConv has no cache and recomputes its degree norms each forward, as DGL always does.

Memory (``rss_window.py``): ``peak_rss_mb`` (the worker's whole peak), ``train_rss_mb`` (peak minus the RSS
once data and model are loaded) and ``rss_growth_mb``, how far the resident set grew during the timed epochs
(their peak minus the RSS after warm-up): it leaves out library pages, which differ between a CPU build of
torch and the CUDA build the DGL peer runs on CPU.

Usage:
    python benchmarks/full_batch.py                                  # everything, full size
    python benchmarks/full_batch.py --scale 0.01 --epochs 1 --no-records   # smoke run, seconds
    python benchmarks/full_batch.py --models gcn --impls graphscale --profile

Output: one JSON line per measurement (bench, impl, model, status, epoch_time_s, peak_rss_mb, ...), then
one "ratio" line per model and graphscale mode against the fastest peer mode (PyG or DGL); a markdown table on
stderr. Every JSON line is also appended to the committed ``benchmarks/records/full_batch/<graph>.jsonl``
(``common.append_record``; ``--no-records`` for smoke runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (stdlib only: safe in the peer interpreters)
import rss_window  # noqa: E402  (stdlib only)

MODELS = ("gcn", "sage", "gat")
IMPLS = ("graphscale", "graphscale-stream", "pyg", "pyg-csr", "pyg-sparse", "dgl")
OURS = ("graphscale", "graphscale-stream")
# graphscale-stream: the same model run by graphscale.scale.stream (NGra-style row chunks, recomputation in
# backward, logits of the training rows only), everything in memory, nothing spilled to disk. GCN recomputes
# the rows of A_0 (the aggregated raw features, [N, 128]) per chunk instead of storing them: 87 MB less
# resident for ~0.1 s more per epoch (measured: ~800 MB -> ~720 MB peak); SAGE keeps A_0 (it already fits).
# GAT streams block-wise (graphscale.scale.stream_blocks): destination-row chunks of ~256K in-edges through the
# layer's own forward, so its [E, H] attention tensors exist for one chunk at a time.
STREAM_PLANS: dict[str, dict[str, Any]] = {
    **{model: {"rows_per_chunk": 4096, "edges_per_block": 1 << 20, "cache_constant": True} for model in ("gcn", "sage")},
    "gat": {"edges_per_chunk": 1 << 18}}
PEER_VENV = {"pyg": "pyg", "pyg-csr": "pyg", "pyg-sparse": "pyg", "dgl": "dgl"}
HIDDEN_DIM, HEADS, DROPOUT, LEARNING_RATE = 256, 4, 0.5, 0.01
TARGET_SPEEDUP, TARGET_RSS_RATIO = 2.0, 0.5


# -- data: written once by the orchestrator (graphscale side), read by every worker -------------------------
def arxiv_dataset(scale: float, seed: int) -> tuple[Any, str]:
    """graphscale's synthetic-arxiv dataset; for ``scale < 1`` the same generator at a fraction of the size."""
    if scale >= 1.0:
        from graphscale.datasets import load

        return load("synthetic-arxiv", seed=seed), f"graphscale.datasets.load('synthetic-arxiv', seed={seed})"
    from dataclasses import replace

    from graphscale.datasets.synthetic import ARXIV, load_planted

    spec = replace(ARXIV, num_nodes=max(int(ARXIV.num_nodes * scale), 100),
                   num_pairs=max(int(ARXIV.num_pairs * scale), 200),
                   split_sizes=tuple(max(int(size * scale), 1) for size in ARXIV.split_sizes))
    return (load_planted(f"synthetic-arxiv-x{scale}", spec, seed=seed, cache=False),
            f"graphscale.datasets.synthetic.load_planted(ARXIV scaled by {scale}, seed={seed})")


def graph_name(dataset: Any, seed: int) -> str:
    """Records file name: the dataset's name and generator version (``synthetic-arxiv-v3``), seed if not 0."""
    version = dataset.meta.get("generator_version")
    return f"{dataset.name}{f'-v{version}' if version else ''}{f'-seed{seed}' if seed else ''}"


def write_dataset(out_dir: Path, scale: float, seed: int) -> dict[str, Any]:
    """Build the synthetic arxiv-like dataset with graphscale and save it as .npy files in ``out_dir``."""
    import numpy as np

    dataset, source = arxiv_dataset(scale, seed)
    graph = dataset.graph
    train = dataset.train_mask
    if train is None:
        raise RuntimeError("full_batch: expected synthetic-arxiv to carry a train_mask, got None.")
    arrays = {"src": graph.src.long().numpy(), "dst": graph.dst.long().numpy(),
              "x": dataset.x.float().numpy(), "y": dataset.y.long().numpy(),
              "train_idx": train.nonzero().view(-1).numpy()}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(out_dir / f"{name}.npy", np.ascontiguousarray(array))
    meta = {"source": source, "graph": graph_name(dataset, seed),
            "num_nodes": graph.num_nodes, "num_edges": graph.num_edges, "num_features": dataset.num_features,
            "num_classes": dataset.num_classes, "num_train": int(arrays["train_idx"].size)}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def read_dataset(data_dir: Path) -> dict[str, Any]:
    """Load the .npy files as torch tensors (numpy-backed, no copy) plus the metadata."""
    import numpy as np
    import torch

    data: dict[str, Any] = json.loads((data_dir / "meta.json").read_text())
    for name in ("src", "dst", "x", "y", "train_idx"):
        data[name] = torch.from_numpy(np.load(data_dir / f"{name}.npy"))
    return data


# -- the implementations: each returns (model, forward) -------------------------------------------------
def pyg_backend_status(packages: tuple[str, ...] = ("torch-scatter", "torch-sparse", "pyg-lib")) -> str:
    """What ``setup_peers.sh`` recorded for PyG's compiled backends in this interpreter's virtualenv.

    One line per package in ``<venv>/backend-status/`` (``peers/pyg_backends.bash``): "installed ..." or
    "not installed: <the build's error line>"; joined as "package: line; ...". Run in the peer interpreter.
    """
    folder = Path(sys.prefix) / "backend-status"
    parts = []
    for package in packages:
        try:
            line = (folder / package).read_text().strip()
        except OSError:
            line = "no build recorded (run bash benchmarks/setup_peers.sh pyg)"
        parts.append(f"{package}: {line}")
    return "; ".join(parts)


def setup_graphscale(model_name: str, data: dict[str, Any], stream: bool = False
                     ) -> tuple[Any, Callable[[], Any], dict[str, Any]]:
    import graphscale
    from graphscale.nn.models import build_node_model

    graph = graphscale.Graph(data.pop("src"), data.pop("dst"), data["num_nodes"])
    x = data["x"]
    # Same shapes as the PyG models: dropout only between the layers, no attention dropout.
    hparams: dict[str, Any] = {"num_layers": 2, "dropout": DROPOUT, "input_dropout": 0.0}
    if model_name == "gat":  # hidden_dim is the width per head there
        hparams.update(hidden_dim=HIDDEN_DIM // HEADS, heads=HEADS, out_heads=1, attn_dropout=0.0)
    else:
        hparams.update(hidden_dim=HIDDEN_DIM)
    model = build_node_model(model_name, data["num_features"], data["num_classes"], **hparams)
    versions = {"graphscale": graphscale.__version__}
    if stream:  # forward() gives the logits of the training rows only (what the loss reads)
        from graphscale.scale.stream_blocks import BlockPlan
        from graphscale.scale.stream_plan import StreamPlan
        from graphscale.scale.streaming import streamed_model

        plan = STREAM_PLANS[model_name]
        runner = streamed_model(model, graph, x, plan=BlockPlan(**plan) if model_name == "gat" else StreamPlan(**plan))
        train_idx = data["train_idx"]
        return model, lambda: runner(x, train_idx), {**versions, "stream_plan": plan}
    return model, lambda: model(graph, x), versions


def setup_pyg(model_name: str, data: dict[str, Any], mode: str) -> tuple[Any, Callable[[], Any], dict[str, Any]]:
    import torch
    import torch.nn.functional as F
    import torch_geometric
    import torch_geometric.typing
    from torch_geometric.nn import GATConv, GCNConv, SAGEConv

    num_nodes, in_dim, out_dim = data["num_nodes"], data["num_features"], data["num_classes"]
    versions = {"torch_geometric": torch_geometric.__version__}
    if mode == "pyg-sparse" and not torch_geometric.typing.WITH_TORCH_SPARSE:  # the build's error is the status
        raise ImportError("torch_sparse.SparseTensor unavailable: "
                          + pyg_backend_status(("torch-sparse", "torch-scatter")))
    src, dst = data.pop("src"), data.pop("dst")
    if mode == "pyg":
        adjacency = torch.stack([src, dst])  # [2, E] int64 edge_index
    elif mode == "pyg-sparse":  # adj_t: row = destination, col = source (PyG's ToSparseTensor layout)
        import torch_scatter
        import torch_sparse

        adjacency = torch_sparse.SparseTensor(row=dst, col=src, sparse_sizes=(num_nodes, num_nodes))
        versions.update(torch_sparse=torch_sparse.__version__, torch_scatter=torch_scatter.__version__)
    else:  # adj_t: rows = destinations, columns = sources, as PyG's sparse path expects
        order = torch.sort(dst, stable=True).indices
        crow = torch.zeros(num_nodes + 1, dtype=torch.int64)
        torch.cumsum(torch.bincount(dst, minlength=num_nodes), 0, out=crow[1:])
        adjacency = torch.sparse_csr_tensor(crow, src[order], torch.ones(order.numel()), (num_nodes, num_nodes))
    del src, dst
    if model_name == "gcn":
        convs = [GCNConv(in_dim, HIDDEN_DIM, cached=True), GCNConv(HIDDEN_DIM, out_dim, cached=True)]
    elif model_name == "sage":
        convs = [SAGEConv(in_dim, HIDDEN_DIM, aggr="mean"), SAGEConv(HIDDEN_DIM, out_dim, aggr="mean")]
    else:
        convs = [GATConv(in_dim, HIDDEN_DIM // HEADS, heads=HEADS, concat=True),
                 GATConv(HIDDEN_DIM, out_dim, heads=1, concat=False)]
    activation = F.elu if model_name == "gat" else F.relu

    class TwoLayer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = torch.nn.ModuleList(convs)

        def forward(self, x: torch.Tensor, adj: Any) -> torch.Tensor:
            h = F.dropout(activation(self.convs[0](x, adj)), p=DROPOUT, training=self.training)
            return self.convs[1](h, adj)

    model, x = TwoLayer(), data["x"]
    return model, lambda: model(x, adjacency), versions


def setup_dgl(model_name: str, data: dict[str, Any]) -> tuple[Any, Callable[[], Any], dict[str, Any]]:
    """dgl.nn's GraphConv / SAGEConv / GATConv stacks of the same shapes as the PyG and graphscale models."""
    os.environ.setdefault("DGLBACKEND", "pytorch")  # else DGL writes its choice to ~/.dgl/config.json
    import dgl
    import torch
    import torch.nn.functional as F
    from dgl.nn import GATConv, GraphConv, SAGEConv

    num_nodes, in_dim, out_dim = data["num_nodes"], data["num_features"], data["num_classes"]
    graph = dgl.graph((data.pop("src"), data.pop("dst")), num_nodes=num_nodes)
    if model_name in ("gcn", "gat"):  # PyG's GCNConv / GATConv and graphscale's add a self-loop on every node
        graph = dgl.add_self_loop(dgl.remove_self_loop(graph))
    graph.create_formats_()  # DGL's CSR/CSC built once here, not in the first epoch
    if model_name == "gcn":
        convs = [GraphConv(in_dim, HIDDEN_DIM, norm="both"), GraphConv(HIDDEN_DIM, out_dim, norm="both")]
    elif model_name == "sage":
        convs = [SAGEConv(in_dim, HIDDEN_DIM, "mean"), SAGEConv(HIDDEN_DIM, out_dim, "mean")]
    else:
        convs = [GATConv(in_dim, HIDDEN_DIM // HEADS, num_heads=HEADS), GATConv(HIDDEN_DIM, out_dim, num_heads=1)]
    activation = F.elu if model_name == "gat" else F.relu

    class TwoLayer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = torch.nn.ModuleList(convs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.convs[0](graph, x).flatten(1)  # GAT: [N, heads, 64] -> [N, 256] (concatenated heads)
            h = F.dropout(activation(h), p=DROPOUT, training=self.training)
            out = self.convs[1](graph, h)
            return out.squeeze(1) if out.dim() == 3 else out  # GAT: [N, 1, C] -> [N, C]

    model, x = TwoLayer(), data["x"]
    return model, lambda: model(x), {"dgl": dgl.__version__}


# -- worker: one (impl, model) measurement in this process ----------------------------------------------
@contextmanager
def numba_compile_timer() -> Iterator[list[float]]:
    """Collect the durations of outermost numba compile events (a compile or a cache load) in a list."""
    totals: list[float] = []
    try:
        from numba.core.event import install_timer
    except ImportError:  # the peer interpreters have no numba
        yield totals
        return
    with install_timer("numba:compile", totals.append):
        yield totals


def profile_epoch(step: Callable[[], Any], out_dir: Path, label: str) -> dict[str, str]:
    """One epoch under cProfile and one under torch.profiler (time and memory); tables go to ``out_dir``."""
    import cProfile
    import io
    import pstats

    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile()
    profiler.runcall(step)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
    cprofile_path = out_dir / f"{label}.cprofile.txt"
    cprofile_path.write_text(text.getvalue())
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    table = prof.key_averages()
    torch_path = out_dir / f"{label}.torch_profile.txt"
    torch_path.write_text("## by self CPU time\n" + table.table(sort_by="self_cpu_time_total", row_limit=30)
                          + "\n## by self CPU memory\n"
                          + table.table(sort_by="self_cpu_memory_usage", row_limit=20) + "\n")
    return {"cprofile": str(cprofile_path), "torch_profile": str(torch_path)}


def build_step(args: argparse.Namespace, record: dict[str, Any]) -> tuple[Callable[[], None], list[float]]:
    """Load the data, build the model and return one training epoch as a function (and its loss log)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    data = read_dataset(Path(args.data))
    if args.impl in OURS:
        import numba

        numba.set_num_threads(args.threads)
        record["numba"] = numba.__version__
        model, forward, versions = setup_graphscale(args.model, data, stream=args.impl == "graphscale-stream")
    elif args.impl == "dgl":
        model, forward, versions = setup_dgl(args.model, data)
    else:
        model, forward, versions = setup_pyg(args.model, data, args.impl)
    record.update(versions)
    y, train_idx = data["y"], data["train_idx"]
    rows = slice(None) if args.impl == "graphscale-stream" else train_idx  # streamed: already those rows
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses: list[float] = []

    def step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward()[rows], y[train_idx])
        loss.backward()
        optimizer.step()
        losses.append(float(loss))

    return step, losses


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One (impl, model) measurement in this process; never raises (failures become the status)."""
    record: dict[str, Any] = {"bench": "full_batch", "impl": args.impl, "model": args.model}
    common.limit_address_space(args.memory_limit_gb)
    try:
        import torch

        torch.set_num_threads(args.threads)
        record.update(torch=torch.__version__, num_threads=torch.get_num_threads(),
                      omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"), memory_limit_gb=args.memory_limit_gb)
        with numba_compile_timer() as compile_times:  # setup and warm-up: where numba compiles
            step, losses = build_step(args, record)
            record["rss_before_train_mb"] = round(common.current_rss_mb(), 1)
            warmup_times, _ = common.time_epochs(step, args.warmup)
        window = rss_window.MeasuredWindow()  # the timed epochs' own peak and growth (library pages excluded)
        window.open()
        epoch_times, epoch_cpu = common.time_epochs(step, args.epochs)
        memory = window.close()
        record.update(status="ok", **common.summarize_times(epoch_times, epoch_cpu), **memory,
                      train_rss_mb=round(memory["peak_rss_mb"] - record["rss_before_train_mb"], 1),
                      warmup_s=round(sum(warmup_times), 3), compile_s=round(sum(compile_times), 3),
                      epochs=args.epochs, loss_first=round(losses[0], 4), loss_last=round(losses[-1], 4))
        if args.profile:
            record["profile"] = profile_epoch(step, Path(args.profile_dir), f"{args.impl}-{args.model}")
    except Exception as err:  # noqa: BLE001  (a failed measurement is a result, not a crash)
        record.update(status=common.failure_status(err), peak_rss_mb=round(rss_window.peak_mb(), 1),
                      detail=(str(err).strip().splitlines() or [""])[0][:300])
    return record


# -- orchestrator ---------------------------------------------------------------------------------------
def ratio_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each graphscale mode vs the fastest peer mode (pyg, pyg-csr, pyg-sparse or dgl) that finished, per model."""
    out = []
    for model, impl in ((m, i) for m in dict.fromkeys(r["model"] for r in records) for i in OURS):
        ours = next((r for r in records if r["model"] == model and r["impl"] == impl
                     and r["status"] == "ok"), None)
        peers = [r for r in records if r["model"] == model and r["impl"] not in OURS and r["status"] == "ok"]
        if ours is None or not peers:
            continue
        best = min(peers, key=lambda r: r["epoch_time_s"])
        speedup = best["epoch_time_s"] / ours["epoch_time_s"]
        rss_ratio = ours["peak_rss_mb"] / best["peak_rss_mb"]
        train_rss_ratio = ours["train_rss_mb"] / max(best["train_rss_mb"], 1.0)
        growth_ratio = ours["total_rss_growth_mb"] / max(best["total_rss_growth_mb"], 1.0)
        out.append({"bench": "full_batch", "record": "ratio", "model": model, "impl": impl,
                    "baseline": best["impl"], "speedup": round(speedup, 3), "rss_ratio": round(rss_ratio, 3),
                    "train_rss_ratio": round(train_rss_ratio, 3), "rss_growth_ratio": round(growth_ratio, 3),
                    "meets_target": speedup >= TARGET_SPEEDUP and rss_ratio <= TARGET_RSS_RATIO})
    return out


def markdown_table(records: list[dict[str, Any]], ratios: list[dict[str, Any]]) -> str:
    by_model = {(r["model"], r["impl"]): r for r in ratios}
    lines = ["| impl | model | epoch_time_s | peak_rss_mb | train_rss_mb | rss_growth_mb | status "
             "| speedup vs fastest peer | rss ratio | train rss ratio | rss growth ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        ratio = by_model.get((r["model"], r["impl"]))
        cells = [r["impl"], r["model"], r.get("epoch_time_s", "-"), r.get("peak_rss_mb", "-"),
                 r.get("train_rss_mb", "-"), r.get("rss_growth_mb", "-"), r["status"],
                 f"{ratio['speedup']}x vs {ratio['baseline']}" if ratio else "-",
                 ratio["rss_ratio"] if ratio else "-", ratio["train_rss_ratio"] if ratio else "-",
                 ratio["rss_growth_ratio"] if ratio else "-"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def orchestrate(args: argparse.Namespace) -> int:
    models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    impls = [i.strip().lower() for i in args.impls.split(",") if i.strip()]
    for name, given, allowed in (("--models", models, MODELS), ("--impls", impls, IMPLS)):
        unknown = sorted(set(given) - set(allowed))
        if unknown or not given:
            raise SystemExit(f"full_batch: expected {name} from {','.join(allowed)}, got {unknown or 'nothing'}.")
    temp_dir = None if args.data_dir else Path(tempfile.mkdtemp(prefix="graphscale-full-batch-"))
    data_dir = Path(args.data_dir) if args.data_dir else temp_dir / "data"
    output = open(args.output, "a") if args.output else None
    graph = "synthetic-arxiv" if args.scale >= 1.0 else f"synthetic-arxiv-x{args.scale}"  # until meta names it

    def emit(record: dict[str, Any]) -> None:  # print, and append to benchmarks/records/full_batch/<graph>.jsonl
        common.emit(record)
        if not args.no_records:
            common.append_record("full_batch", graph, record)

    try:
        start = time.perf_counter()
        try:
            if args.data_dir and (data_dir / "meta.json").exists():
                meta = json.loads((data_dir / "meta.json").read_text())
            else:
                meta = write_dataset(data_dir, args.scale, args.seed)
        except Exception as err:  # noqa: BLE001  (no data, no benchmark: say why in the same format)
            emit({"bench": "full_batch", "record": "setup", "status": common.failure_status(err)})
            return 1
        info = {"bench": "full_batch", "record": "setup", "status": "ok", **meta, "scale": args.scale,
                "seed": args.seed, "omp_wait_policy": args.omp_wait_policy, "threads": args.threads,
                "data_s": round(time.perf_counter() - start, 2), **common.machine_info(),
                **common.git_state()}
        graph = meta.get("graph", graph)
        records = [info]
        emit(info)
        for model in models:
            for impl in impls:
                python = sys.executable if impl in OURS else common.peer_python(PEER_VENV[impl])
                worker_args = [str(Path(__file__).resolve()), "--worker", "--impl", impl, "--model", model,
                               "--data", str(data_dir), "--epochs", str(args.epochs), "--warmup", str(args.warmup),
                               "--threads", str(args.threads), "--seed", str(args.seed),
                               "--memory-limit-gb", str(args.memory_limit_gb)]
                if args.profile:
                    worker_args += ["--profile", "--profile-dir", args.profile_dir]
                base = {"bench": "full_batch", "impl": impl, "model": model, "num_threads": args.threads}
                record = common.run_worker(python, worker_args, base=base, num_threads=args.threads,
                                           timeout_s=args.timeout, omp_wait_policy=args.omp_wait_policy)
                records.append(record)
                emit(record)
        results = [r for r in records if "record" not in r]
        ratios = ratio_records(results)
        for ratio in ratios:
            emit(ratio)
        if output is not None:
            for record in records + ratios:
                common.emit(record, output)
        print(markdown_table(results, ratios), file=sys.stderr)
    finally:
        if output is not None:
            output.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: gcn,sage,gat")
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated: " + ",".join(IMPLS))
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first (numba compile, caches)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for torch, BLAS and numba")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the arxiv-sized graph (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit-gb", type=float, default=18.0,
                        help="address-space limit per worker (RLIMIT_AS); beyond it a run reports 'oom'")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per measurement")
    parser.add_argument("--omp-wait-policy", default="PASSIVE", choices=("PASSIVE", "ACTIVE", "inherit"),
                        help="OMP_WAIT_POLICY for every worker alike (graphscale's own default is PASSIVE)")
    parser.add_argument("--data-dir", help="keep/reuse the .npy dataset here instead of a temp dir")
    parser.add_argument("--output", help="also append the JSON lines to this file")
    parser.add_argument("--no-records", action="store_true",
                        help="do not append the lines to benchmarks/records/full_batch/ (smoke runs)")
    parser.add_argument("--profile", action="store_true",
                        help="after timing, profile one epoch per run (cProfile + torch.profiler)")
    parser.add_argument("--profile-dir", default=str(common.OUT_DIR / "profile"), help="where profile tables go")
    common.add_worker_arguments(parser, "model")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return common.worker_or_orchestrate(parse_args(argv), worker, orchestrate)


if __name__ == "__main__":
    sys.exit(main())
