"""EGC (Tailor et al., ICLR 2022) against GAT: full-batch epoch time and peak RSS on synthetic-arxiv, and the
accuracy of the shipped configs (Cora, MUTAG) beside the baselines' configs.

Speed (``--bench speed``): one worker process per model, back to back in one run, each loading the seeded
``synthetic-arxiv`` graph (169,343 nodes, 2,332,486 edges, 128 features), building the 2-layer node model
with the same hidden size (GAT: 8 heads x 8; EGC: 64 wide, 8 heads, 4 bases) and timing full-batch training
epochs (forward, cross-entropy on the training nodes, backward, Adam). Each worker reports its whole-process
peak RSS (``peak_rss_mb``) and the growth during the timed epochs (``train_rss_mb``, after data and model
are loaded); a final "ratio" line gives EGC / GAT for both and for the median epoch time.

Accuracy (``--bench accuracy``): ``graphscale train --config <yaml> --json`` for each config, one record line
with the summary's test accuracy (mean and std over the seeds or folds) and the config's expected figure.

Records: ``benchmarks/records/egc/synthetic-arxiv.jsonl`` (speed) and ``benchmarks/records/egc/accuracy.jsonl``.

Examples:
    python benchmarks/egc.py --bench speed --epochs 5
    python benchmarks/egc.py --bench accuracy --configs graphscale/configs/node-egc-cora.yaml \\
        graphscale/configs/node-gat-cora.yaml
    python benchmarks/egc.py --bench accuracy --record-dir revgnn --bench-label revgnn-accuracy \\
        --record-name synthetic-arxiv-accuracy --configs graphscale/configs/node-revgnn-synthetic-arxiv.yaml \\
        --set model.num_layers=112 --set train.epochs=2 --set train.patience=0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import rss_window
from record_fields import loaded_versions, repo_relative

SPEED_MODELS = {
    "gat": {"hidden_dim": 8, "heads": 8, "out_heads": 1, "num_layers": 2, "dropout": 0.6, "attn_dropout": 0.6},
    "egc": {"hidden_dim": 64, "heads": 8, "num_bases": 4, "num_layers": 2, "dropout": 0.6,
            "aggregators": ["symnorm"]},
}


def train_worker(model: str, hparams: dict[str, Any], epochs: int, warmup: int, seed: int = 0,
                 evaluate: bool = False) -> dict[str, Any]:
    """Load synthetic-arxiv, build ``model`` and time ``epochs`` full-batch training epochs in this process.

    Returns the record: median epoch time, peak RSS (whole process and the timed epochs' growth), the loss,
    and with ``evaluate`` the validation and test accuracy after the last epoch.
    """
    import torch
    import torch.nn.functional as F

    import graphscale
    from graphscale.datasets import load
    from graphscale.nn.models import build_node_model

    torch.manual_seed(seed)
    record: dict[str, Any] = {"model": model, "hparams": hparams, "num_threads": torch.get_num_threads()}
    data = load("synthetic-arxiv")
    graph, x, y = data.graph, data.x.float(), data.y.long()
    train_idx = data.train_mask.nonzero().view(-1)
    net = build_node_model(model, x.shape[1], data.num_classes, **hparams)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.005)
    losses: list[float] = []

    def step() -> None:
        net.train()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(graph, x)[train_idx], y[train_idx])
        loss.backward()
        optimizer.step()
        losses.append(float(loss))

    record["rss_before_train_mb"] = round(common.current_rss_mb(), 1)
    warm, _ = common.time_epochs(step, warmup)
    window = rss_window.MeasuredWindow()
    window.open()
    wall, cpu = common.time_epochs(step, epochs)
    memory = window.close()
    record.update(status="ok", **common.summarize_times(wall, cpu), **memory, epochs=epochs,
                  train_rss_mb=round(memory["peak_rss_mb"] - record["rss_before_train_mb"], 1),
                  warmup_s=round(sum(warm), 3), loss_first=round(losses[0], 4), loss_last=round(losses[-1], 4),
                  parameters=sum(p.numel() for p in net.parameters()), **loaded_versions())
    if evaluate:
        net.eval()
        with torch.no_grad():
            pred = net(graph, x).argmax(1)
        for split in ("val", "test"):
            mask = getattr(data, f"{split}_mask")
            record[f"{split}_acc"] = round(float((pred[mask] == y[mask]).float().mean()), 4)
    record["graphscale_version"] = graphscale.__version__
    return record


def run_workers(bench: str, jobs: list[tuple[str, str, dict[str, Any]]], args: argparse.Namespace,
                extra: list[str] = ()) -> list[dict[str, Any]]:
    """Run every ``(label, model, hparams)`` in its own worker process, back to back; return their records.

    The workers run with glibc's ``MALLOC_MMAP_THRESHOLD_`` fixed at 1 MiB (``--mmap-threshold``): large tensors
    are then mapped and unmapped, so the resident set follows the live tensors; with the dynamic default a freed
    tensor's pages stay in the heap and peak RSS measures fragmentation as much as the model.
    """
    if args.mmap_threshold > 0:
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(args.mmap_threshold)
    records = []
    for label, model, hparams in jobs:
        worker_args = [str(Path(__file__).resolve()), "--worker", model, "--hparams", json.dumps(hparams),
                       "--epochs", str(args.epochs), "--warmup", str(args.warmup), *extra]
        record = common.run_worker(sys.executable, worker_args, base={"bench": bench, "impl": label, "model": model},
                                   num_threads=args.threads, timeout_s=args.timeout)
        record = {"bench": bench, "impl": label, **record, "dataset": "synthetic-arxiv",
                  "malloc_mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_")}
        records.append(record)
        common.emit(record)
    return records


def speed(args: argparse.Namespace) -> None:
    records = run_workers("egc-speed", [(name, name, hp) for name, hp in SPEED_MODELS.items()], args)
    by_impl = {r["impl"]: r for r in records if r.get("status") == "ok"}
    if {"gat", "egc"} <= set(by_impl):
        gat, egc = by_impl["gat"], by_impl["egc"]
        ratio = {"bench": "egc-speed", "record": "ratio", "impl": "ratio", "dataset": "synthetic-arxiv",
                 "peak_rss_ratio": round(egc["peak_rss_mb"] / gat["peak_rss_mb"], 3),
                 "train_rss_ratio": round(egc["train_rss_mb"] / gat["train_rss_mb"], 3),
                 "epoch_time_ratio": round(egc["epoch_time_s"] / gat["epoch_time_s"], 3),
                 "target_peak_rss_ratio": 0.5, "target_epoch_time_ratio": 0.6}
        records.append(ratio)
        common.emit(ratio)
    if not args.no_records:
        for record in records:
            common.append_record("egc", "synthetic-arxiv", repo_relative(record))


def accuracy(args: argparse.Namespace) -> None:
    import yaml

    env = {**os.environ, "PYTHONPATH": str(common.REPO_ROOT)}
    for config in args.configs:
        expected = (yaml.safe_load(Path(config).read_text()) or {}).get("expected", {})
        if args.summary:  # a finished run's --json summary (its commit given with --commit)
            proc = subprocess.CompletedProcess([], 0, Path(args.summary).read_text(), "")
        else:
            command = [sys.executable, "-m", "graphscale", "train", "--config", config, "--json", "--no-progress",
                       "--overwrite", "--out", str(common.OUT_DIR / "egc" / "-".join([Path(config).stem, *args.overrides])),
                       *args.overrides]
            proc = subprocess.run(command, cwd=common.REPO_ROOT, env=env, capture_output=True, text=True,
                                  check=False)
        summary = common.last_json(proc.stdout) or {}
        keep = ("dataset", "model", "seeds", "num_folds", "test_acc", "test_acc_std", "val_acc", "val_acc_std",
                "per_seed_test_acc", "epoch_time_s", "peak_rss_mb", "train_time_s", "epochs_run", "epochs")
        record = {"bench": args.bench_label, "impl": "graphscale", "config": config,
                  "status": "ok" if proc.returncode == 0 else f"error: exit {proc.returncode}: {proc.stderr[-300:]}",
                  **{k: summary[k] for k in keep if k in summary}, "overrides": list(args.overrides),
                  "expected_test_acc": expected.get("test_acc"), "target": expected.get("target"),
                  "source": expected.get("source")}
        if args.summary:
            record.update(git_commit=args.commit, git_dirty=[], from_summary=True)
        common.emit(record)
        if not args.no_records:
            common.append_record(args.record_dir, args.record_name, repo_relative(record))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", choices=("speed", "accuracy"), default="speed")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--mmap-threshold", type=int, default=1 << 20, help="MALLOC_MMAP_THRESHOLD_ of the workers "
                        "(bytes; 0 keeps glibc's dynamic default)")
    parser.add_argument("--configs", nargs="*", default=[])
    parser.add_argument("--record-name", default="accuracy")
    parser.add_argument("--record-dir", default="egc", help="accuracy: records folder (revgnn for RevGNN runs)")
    parser.add_argument("--bench-label", default="egc-accuracy", help="accuracy: the records' bench field")
    parser.add_argument("--summary", help="record this finished run's --json output instead of running the config")
    parser.add_argument("--commit", help="with --summary: the commit that run measured")
    parser.add_argument("--no-records", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--hparams", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--evaluate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="accuracy: a config override for every config (repeat the flag)")
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        common.emit(train_worker(args.worker, json.loads(args.hparams), args.epochs, args.warmup,
                                 evaluate=args.evaluate))
    elif args.bench == "speed":
        speed(args)
    else:
        accuracy(args)


if __name__ == "__main__":
    main()
