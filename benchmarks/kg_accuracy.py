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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="record name: benchmarks/records/kg/<name>.jsonl")
    parser.add_argument("--no-records", action="store_true", help="smoke runs: print the line, record nothing")
    parser.add_argument("kg_args", nargs=argparse.REMAINDER, help="-- then graphscale kg's arguments")
    args = parser.parse_args(argv)
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
