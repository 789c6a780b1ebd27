"""Quality table of graphscale's node embeddings (issue 5): the shipped ``embed-<model>-<dataset>.yaml`` configs
run through ``graphscale embed``, one JSON line per run, and a markdown table of the lines.

    python benchmarks/embedding_quality.py                       # every shipped config, appended to the JSON lines
    python benchmarks/embedding_quality.py --datasets ppi --models deepwalk line
    python benchmarks/embedding_quality.py --report              # markdown table of benchmarks/out/embed_quality.jsonl

Each line: ``bench`` ("embed-quality"), ``impl`` ("graphscale"), ``status`` ("ok" or "error: ..."), dataset, model,
micro_f1 / macro_f1 at 50% labels (mean of the config's splits), the F1 curve over training ratios, the
timings of ``graphscale embed`` (total_time_s = sampling + training, compile warm-up excluded) and peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
OUT = BENCH_DIR / "out" / "embed_quality.jsonl"


def run_one(dataset: str, model: str, threads: int | None, extra: list[str]) -> dict:
    out_dir = BENCH_DIR / "out" / "embed-quality" / f"{dataset}-{model}"
    command = [sys.executable, "-m", "graphscale", "embed", "--dataset", dataset, "--model", model, "--out",
               str(out_dir), "--overwrite", "--json", "--no-progress", *(["--threads", str(threads)] if threads else []), *extra]
    record = {"bench": "embed-quality", "impl": "graphscale", "dataset": dataset, "model": model,
              "command": " ".join(["graphscale", *command[3:]])}
    proc = subprocess.run(command, check=False, capture_output=True, text=True, env=dict(os.environ))
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {**record, "status": f"error: {error}"}
    summary = json.loads(lines[-1])
    keep = ("num_nodes", "num_edges", "dim", "num_samples", "walk_mode", "total_time_s", "cpu_time_s", "train_time_s",
            "sample_time_s", "samples_per_s", "threads", "micro_f1", "macro_f1", "micro_f1_std", "macro_f1_std",
            "eval_repeats", "classification", "expected", "settings", "peak_rss_mb")
    return {**record, "status": "ok", **{k: summary.get(k) for k in keep}}


def report(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    latest: dict[tuple[str, str], dict] = {}
    for row in rows:
        latest[(row["dataset"], row["model"])] = row
    header = ("| dataset | model | samples | Micro-F1 @50% | Macro-F1 @50% | published (50%) | total s | train s | "
              "sample s (overlapped) | peak RSS MB |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for (dataset, model), row in sorted(latest.items()):
        if row["status"] != "ok":
            lines.append(f"| {dataset} | {model} | | {row['status']} | | | | | | |")
            continue
        exp = row.get("expected") or {}
        published = ", ".join(f"{k.replace('_f1', '')} {exp[k]:.3f}" for k in ("micro_f1", "macro_f1")
                              if exp.get(k) is not None)
        settings = row.get("settings") or {}
        extra = f" (p={settings.get('p')}, q={settings.get('q')})" if model == "node2vec" else ""
        lines.append(
            f"| {dataset} | {model}{extra} | {row['num_samples'] / 1e6:.0f}M | {row['micro_f1']:.4f} ± "
            f"{row['micro_f1_std']:.4f} | {row['macro_f1']:.4f} ± {row['macro_f1_std']:.4f} | {published} | "
            f"{row['total_time_s']:.1f} | {row['train_time_s']:.1f} | {row['sample_time_s']:.1f} | "
            f"{row['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["blogcatalog", "ppi"])
    parser.add_argument("--models", nargs="*", default=["deepwalk", "node2vec", "line"])
    parser.add_argument("--threads", type=int, help="numba threads (default: all cores)")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON-lines file (appended)")
    parser.add_argument("--report", action="store_true", help="print the markdown table of --out and exit")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="passed to graphscale embed")
    args = parser.parse_args()
    if args.report:
        print(report(args.out))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets:
        for model in args.models:
            record = run_one(dataset, model, args.threads, args.overrides)
            with args.out.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(json.dumps({k: record.get(k) for k in ("dataset", "model", "status", "micro_f1", "macro_f1",
                                                          "total_time_s")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
