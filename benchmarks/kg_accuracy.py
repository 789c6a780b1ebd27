"""Knowledge-graph accuracy runs: ``graphscale kg`` trained and evaluated, its summary kept as a committed record.

    python benchmarks/kg_accuracy.py --name fb15k-237-rotate -- --dataset fb15k-237 --model rotate
    python benchmarks/kg_accuracy.py --name fb15k-237-rotate-d100-screen -- --dataset fb15k-237 --model rotate \\
        --dim 100 --epochs 12 train.lr=0.01 model.reciprocal=true

Everything after ``--`` goes to ``graphscale kg`` (its flags and ``key=value`` overrides); the run's folder is
``benchmarks/out/kg/<name>`` unless ``--out`` is among them. The ``--json`` summary (filtered test metrics,
timings, peak RSS) becomes one line of ``benchmarks/records/kg/<name>.jsonl`` (with cores, load and commit, the
command and ``run``, when it started), its per-epoch history reduced to ``valid_curve``: ``[epoch, training
seconds, validation MRR]`` at each periodic validation. A failed run is a line with status "error: ...".
``python benchmarks/report.py`` tables the records into RESULTS.md.

Model selection on validation only (``--screen NAME``): the screen's settings (``SCREENS``: the shipped config
at a small dimension, then one changed setting at a time) each train with the tuning seed ``TUNING_SEED`` and
``evaluate.test=false``, so no test metric of a screen is ever computed; each run is one line of
``benchmarks/records/kg/<NAME>-screen.jsonl`` (``screen`` and ``variant`` name it). ``--select NAME`` reads those
lines and prints the choice (``select``): the variant with the highest full validation MRR; variants within
``TIE_MRR`` of the best are a tie, broken by the lower training cost (steps x candidates x dimension, from the
settings: measured times move with the machine's load). The chosen recipe is the shipped config
at its full dimension, whose test metrics are read once, with the reported seed 0 (a plain run above).

    python benchmarks/kg_accuracy.py --screen fb15k-237-rotate        # every variant not yet recorded
    python benchmarks/kg_accuracy.py --select fb15k-237-rotate
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (stdlib only)
from record_fields import repo_relative  # noqa: E402

RECORDS = "kg"
TUNING_SEED = 1  # screens train with it; reported runs use the configs' seed 0
TIE_MRR = 0.002  # validation MRRs closer than this are a tie: the cheaper variant wins (``cost``)
# Screens: base arguments (the shipped config at dim 100, where a run takes minutes) and one-setting variants.
SCREENS: dict[str, dict[str, Any]] = {
    "fb15k-237-rotate": {
        "base": ["--config", "configs/kg-rotate-fb15k-237.yaml", "--dim", "100", "--epochs", "12", "train.lr=0.01",
                 "train.threads=2", "train.eval_every=0", "output.export=false"],
        "variants": {
            "shipped": [],
            "no-reciprocal": ["model.reciprocal=false"],
            "negatives-1024": ["--negatives", "1024"],
            "gamma-12": ["model.gamma=12.0"],
            "adversarial-0.5": ["train.adversarial_temperature=0.5"],
        },
    },
}


def valid_curve(history: list[dict[str, Any]]) -> list[list[float]]:
    """``[epoch, training seconds, validation MRR]`` of every history entry with a validation."""
    return [[entry["epoch"], round(entry["train_time_s"], 1), round(entry["valid"]["mrr"], 4)]
            for entry in history if isinstance(entry.get("valid"), dict) and "mrr" in entry["valid"]]


def run(name: str, kg_args: list[str]) -> dict[str, Any]:
    """One ``graphscale kg`` run; its record line (never raises on a failed run)."""
    extra = [] if "--out" in kg_args else ["--out", str(common.OUT_DIR / "kg" / name)]
    if "--out" not in kg_args and "--resume" not in kg_args:
        extra.append("--overwrite")  # a rerun of a name replaces its folder (the records keep the earlier line)
    command = [sys.executable, "-m", "graphscale", "kg", *kg_args, *extra, "--json", "--no-progress"]
    record: dict[str, Any] = {"bench": "kg-accuracy", "impl": "graphscale", "name": name,
                              "command": " ".join(["graphscale", *command[3:]]),
                              "run": time.strftime("%Y-%m-%dT%H:%M:%S")}
    proc = subprocess.run(command, cwd=common.REPO_ROOT, stdout=subprocess.PIPE, text=True, check=False)
    summary = common.last_json(proc.stdout)
    if proc.returncode != 0 or summary is None:
        return {**record, "status": f"error: graphscale kg exit code {proc.returncode} (its stderr above)"}
    return {**record, "status": "ok", **summary, "valid_curve": valid_curve(history(summary))}


def history(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-epoch history the run wrote to ``<output_dir>/metrics.json`` (none if it cannot be read)."""
    folder = Path(summary.get("output_dir") or ".")
    try:
        metrics = json.loads(((common.REPO_ROOT / folder) / "metrics.json").read_text())
    except (OSError, ValueError):
        return []
    return metrics.get("history") or []


def screen_lines(screen: str) -> list[dict[str, Any]]:
    """The recorded lines of ``screen`` (the latest line of each variant wins)."""
    path = common.BENCH_DIR / "records" / RECORDS / f"{screen}-screen.jsonl"
    if not path.is_file():
        return []
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip().startswith("{"):
            row = json.loads(line)
            latest[row.get("variant", "")] = row
    return list(latest.values())


def cost(row: dict[str, Any]) -> int:
    """A variant's training work, from its settings (not its measured time, which the machine's load moves):
    optimizer steps x scored candidates per positive (1 + negatives) x dimension."""
    return int(row["steps"]) * (1 + int(row["negatives"])) * int(row["dim"])


def choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The declared rule: highest validation MRR; within ``TIE_MRR`` of it, the lowest ``cost`` wins, and
    among equal costs the higher validation MRR. Test metrics are never looked at (screens compute none)."""
    ok = [r for r in rows if r.get("status") == "ok" and r.get("valid_mrr") is not None]
    if not ok:
        return {"status": "error: no screen line with a validation MRR"}
    best = max(r["valid_mrr"] for r in ok)
    tied = [r for r in ok if r["valid_mrr"] >= best - TIE_MRR]
    winner = min(tied, key=lambda r: (cost(r), -r["valid_mrr"]))
    ranking = sorted(ok, key=lambda r: -r["valid_mrr"])
    return {"status": "ok", "chosen": winner["variant"], "valid_mrr": round(winner["valid_mrr"], 4),
            "best_valid_mrr": round(best, 4), "tied": [r["variant"] for r in tied], "tie_mrr": TIE_MRR,
            "ranking": [[r["variant"], round(r["valid_mrr"], 4), cost(r)] for r in ranking]}


def run_screen(screen: str, record: bool, only: list[str] | None) -> int:
    spec = SCREENS[screen]
    done = {r.get("variant") for r in screen_lines(screen) if r.get("status") == "ok"}
    failures = 0
    for variant, extra in spec["variants"].items():
        if (only and variant not in only) or (not only and variant in done):
            continue
        kg_args = [*spec["base"], *extra, f"train.seed={TUNING_SEED}", "evaluate.test=false"]
        line = repo_relative({**run(f"{screen}-screen-{variant}", kg_args), "screen": screen, "variant": variant})
        failures += line["status"] != "ok"
        if record:
            common.append_record(RECORDS, f"{screen}-screen", line)
        print(json.dumps(line), flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", help="record name: benchmarks/records/kg/<name>.jsonl")
    parser.add_argument("--screen", choices=sorted(SCREENS), help="train the screen's variants (validation only)")
    parser.add_argument("--variants", help="with --screen: only these (comma-separated), even if recorded")
    parser.add_argument("--select", choices=sorted(SCREENS), help="print the screen's choice from its records")
    parser.add_argument("--no-records", action="store_true", help="smoke runs: print the line, record nothing")
    parser.add_argument("kg_args", nargs=argparse.REMAINDER, help="-- then graphscale kg's arguments")
    args = parser.parse_args(argv)
    if args.select:
        print(json.dumps({"bench": "kg-select", "screen": args.select, **choose(screen_lines(args.select))}))
        return 0
    if args.screen:
        only = args.variants.split(",") if args.variants else None
        return run_screen(args.screen, not args.no_records, only)
    if not args.name:
        parser.error("give --name (one run), --screen or --select")
    kg_args = args.kg_args[1:] if args.kg_args[:1] == ["--"] else args.kg_args
    if not kg_args:
        parser.error("give graphscale kg's arguments after --, e.g. -- --dataset fb15k-237 --model rotate")
    record = repo_relative(run(args.name, kg_args))
    if not args.no_records:
        common.append_record(RECORDS, args.name, record)
    print(json.dumps(record), flush=True)
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
