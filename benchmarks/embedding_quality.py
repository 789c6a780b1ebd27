"""Quality table of graphscale's node embeddings (issue 5): the shipped ``embed-<model>-<dataset>.yaml`` configs
run through ``graphscale embed``, one JSON line per run, and a markdown table of the lines.

    python benchmarks/embedding_quality.py                       # every shipped config, appended to the records
    python benchmarks/embedding_quality.py --datasets ppi --models deepwalk line
    python benchmarks/embedding_quality.py --report              # markdown table of the records

Each line: ``bench`` ("embed-quality"), ``impl`` ("graphscale"), ``status`` ("ok" or "error: ..."), dataset, model,
micro_f1 / macro_f1 at 50% labels (mean of the config's splits), the F1 curve over training ratios, the
timings of ``graphscale embed`` (total_time_s = sampling + training, compile warm-up excluded) and peak_rss_mb.
Lines are appended to the committed record ``benchmarks/records/embedding_quality/<dataset>.jsonl`` (with cores,
load and commit) and, with ``--out``, to that file too; ``python benchmarks/report.py`` puts the table of the
records into RESULTS.md.

Selection on validation only. Every run holds out ``VALIDATION_FRACTION`` of the labelled nodes (one fixed draw,
``evaluate.validation_fraction``): configs are compared on the F1 inside that set, and the reported F1 scores only
the other nodes (the classifier still trains on the published share of all labelled nodes).

    python benchmarks/embedding_quality.py --stage tune --datasets blogcatalog --models deepwalk
    python benchmarks/embedding_quality.py --stage select

``--stage tune`` trains each variant of ``GRIDS[model]`` (the shipped config, then one changed setting at a time)
with the tuning seed ``TUNING_SEED``; its lines (``benchmarks/records/embedding_quality/<dataset>-tune.jsonl``)
keep only the validation F1, never the held-out one. ``--stage select`` prints each (dataset, model)'s choice:
the highest validation Micro-F1; variants within ``TIE_F1`` of it are a tie, won by the fewest training samples
(then the higher validation Micro-F1).
The default stage (``final``) runs the shipped configs with their seed 0 and reports the held-out F1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import common  # noqa: E402  (stdlib only)
from record_fields import repo_relative  # noqa: E402

RECORDS = "embedding_quality"  # benchmarks/records/embedding_quality/<dataset>.jsonl
VALIDATION_FRACTION = 0.3
TUNING_SEED = 1  # tuning runs; the reported runs use the configs' seed 0
TIE_F1 = 0.003  # validation Micro-F1s closer than this are a tie: the variant with fewer samples wins
# One changed setting at a time around each shipped config (the same grid for every dataset): the window, the
# negatives (count and weight, the two recipes the configs use), the walk budget; node2vec's return / in-out
# parameters from the node2vec paper's grid; LINE's negatives and sample budget.
GRIDS: dict[str, dict[str, list[str]]] = {
    "deepwalk": {"shipped": [], "window-3": ["model.window=3"], "window-10": ["model.window=10"],
                 "negatives-1x5": ["model.negatives=1", "model.negative_weight=5.0"],
                 "negatives-3x2": ["model.negatives=3", "model.negative_weight=2.0"],
                 "walks-80": ["model.num_walks=80"]},
    "node2vec": {"shipped": [], "pq-1-1": ["model.p=1.0", "model.q=1.0"], "pq-4-1": ["model.p=4.0", "model.q=1.0"],
                 "pq-0.25-0.25": ["model.p=0.25", "model.q=0.25"], "pq-1-4": ["model.p=1.0", "model.q=4.0"]},
    "line": {"shipped": [], "negatives-5x1": ["model.negatives=5", "model.negative_weight=1.0"],
             "samples-half": ["model.num_samples=70000000"]},
}
TUNE_DROP = ("micro_f1", "macro_f1", "micro_f1_std", "macro_f1_std", "classification")  # held-out F1: never read


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
            "eval_repeats", "classification", "expected", "settings", "peak_rss_mb", "validation_micro_f1",
            "validation_macro_f1", "validation_fraction")
    return {**record, "status": "ok", **{k: summary.get(k) for k in keep}}


def read_rows(paths: list[Path]) -> list[dict]:
    """The JSON lines of ``paths`` (a missing file gives none)."""
    return [json.loads(line) for path in paths if path.is_file()
            for line in path.read_text().splitlines() if line.strip().startswith("{")]


def provenance(row: dict) -> str:
    """``commit | load / cores`` cells of a line (``+`` marks uncommitted graphscale changes)."""
    commit = (row.get("git_commit") or "-") + ("+" if row.get("git_dirty") else "")
    load = "-" if row.get("load_1m") is None else f"{row['load_1m']} / {row.get('cpus', '-')}"
    return f"{commit} | {load}"


def report(rows: list[dict]) -> str:
    """Markdown table of the latest line of each (dataset, model)."""
    latest: dict[tuple[str, str], dict] = {}
    for row in rows:
        if row.get("stage") != "tune":  # tuning lines carry validation F1 only: --stage select reads them
            latest[(row["dataset"], row["model"])] = row
    header = ("| dataset | model | samples | Micro-F1 @50% | Macro-F1 @50% | published (50%) | total s | train s | "
              "sample s (overlapped) | peak RSS MB | commit | load / cores |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (dataset, model), row in sorted(latest.items()):
        if row["status"] != "ok":
            lines.append(f"| {dataset} | {model} | | {row['status']} | | | | | | | {provenance(row)} |")
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
            f"{row['peak_rss_mb']:.0f} | {provenance(row)} |")
    return "\n".join(lines)


def tune_lines(dataset: str) -> list[dict]:
    return read_rows([common.RECORDS_DIR / RECORDS / f"{dataset}-tune.jsonl"])


def choose(rows: list[dict]) -> dict:
    """The declared rule: highest validation Micro-F1; within ``TIE_F1`` of it, the fewest training samples win
    (the cost, from the settings), and among equal costs the higher validation Micro-F1. Only validation
    fields are read."""
    latest = {row["variant"]: row for row in rows if row.get("status") == "ok"}
    if not latest:
        return {"status": "error: no tuning line"}
    best = max(r["validation_micro_f1"] for r in latest.values())
    tied = [r for r in latest.values() if r["validation_micro_f1"] >= best - TIE_F1]
    winner = min(tied, key=lambda r: (r["num_samples"], -r["validation_micro_f1"]))
    ranking = sorted(latest.values(), key=lambda r: -r["validation_micro_f1"])
    return {"status": "ok", "chosen": winner["variant"], "shipped_kept": winner["variant"] == "shipped",
            "validation_micro_f1": round(winner["validation_micro_f1"], 4), "tie_f1": TIE_F1,
            "tied": sorted(r["variant"] for r in tied),
            "ranking": [[r["variant"], round(r["validation_micro_f1"], 4), r["num_samples"]] for r in ranking]}


def tune(args, run: str) -> None:
    for dataset in args.datasets:
        for model in args.models:
            for variant, extra in GRIDS[model].items():
                if (model, variant) in {(r.get("model"), r["variant"]) for r in tune_lines(dataset)
                                        if r.get("status") == "ok"} and not args.rerun:
                    continue
                overrides = [*extra, f"train.seed={TUNING_SEED}", f"evaluate.validation_fraction={VALIDATION_FRACTION}",
                             "evaluate.ratios=[0.5]", "output.plot=false", *args.overrides]
                record = run_one(dataset, model, args.threads, overrides)
                record = {k: v for k, v in record.items() if k not in TUNE_DROP}
                record = repo_relative({**record, "stage": "tune", "variant": variant, "run": run})
                if not args.no_records:
                    common.append_record(RECORDS, f"{dataset}-tune", record)
                print(json.dumps({k: record.get(k) for k in ("dataset", "model", "variant", "status",
                                                              "validation_micro_f1", "total_time_s")}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["blogcatalog", "ppi"])
    parser.add_argument("--models", nargs="*", default=["deepwalk", "node2vec", "line"])
    parser.add_argument("--threads", type=int, help="numba threads (default: all cores)")
    parser.add_argument("--out", type=Path, help="also append the JSON lines to this file")
    parser.add_argument("--no-records", action="store_true",
                        help="smoke runs: do not append to benchmarks/records/embedding_quality/")
    parser.add_argument("--report", action="store_true",
                        help="print the markdown table of the records (of --out when given) and exit")
    parser.add_argument("--stage", choices=("final", "tune", "select"), default="final",
                        help="final: the shipped configs, held-out F1; tune: the validation grid; select: the choice")
    parser.add_argument("--rerun", action="store_true", help="tune: run variants that already have a line")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="passed to graphscale embed")
    args = parser.parse_args()
    run = time.strftime("%Y-%m-%dT%H:%M:%S")
    if args.stage == "select":
        for dataset in args.datasets:
            for model in args.models:
                rows = [r for r in tune_lines(dataset) if r.get("model") == model]
                print(json.dumps({"bench": "embed-select", "dataset": dataset, "model": model, **choose(rows)}))
        return 0
    if args.stage == "tune":
        tune(args, run)
        return 0
    if args.report:
        paths = [args.out] if args.out else sorted((common.RECORDS_DIR / RECORDS).glob("*.jsonl"))
        print(report(read_rows(paths)))
        return 0
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
    held_out = [f"evaluate.validation_fraction={VALIDATION_FRACTION}"]
    for dataset in args.datasets:
        for model in args.models:
            record = repo_relative({**run_one(dataset, model, args.threads, [*held_out, *args.overrides]),
                                    "run": run})
            if not args.no_records:
                common.append_record(RECORDS, dataset, record)
            if args.out:
                with args.out.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
            print(json.dumps({k: record.get(k) for k in ("dataset", "model", "status", "micro_f1", "macro_f1",
                                                          "total_time_s")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
