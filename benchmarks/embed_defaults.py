"""Choosing ``graphscale embed``'s defaults across the shipped labelled graphs together, on validation.

Every candidate setting runs ``graphscale embed`` (DeepWalk, no shipped config: the defaults plus the
candidate's overrides) on every dataset with ``evaluate.validation_fraction=0.2``: the classifier protocol of
the shipped configs on the held-out selection nodes gives the validation Micro / Macro-F1; test F1 comes from
the other nodes and plays no part in the choice. The chosen defaults maximise the mean over the datasets of the
validation Micro-F1 + Macro-F1; the table in RESULTS.md sets each dataset's figures with the defaults beside its
own shipped config's. Tuning seed 1 (the shipped configs' reported runs use seed 0).

One JSON line per run (``bench`` embed_defaults, ``candidate``, ``dataset``, validation and test F1, time),
appended to ``benchmarks/records/embed_defaults/<dataset>.jsonl``; a final ``choice`` line names the winner.

Usage:
    python benchmarks/embed_defaults.py                       # every candidate on blogcatalog and ppi
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

CANDIDATES = {
    "current": [],  # the defaults as they stand: 10 walks of 40, window 5, one negative of weight 5
    "walks40-w10": ["model.num_walks=40", "model.window=10"],
    "deepwalk-80-w10": ["model.num_walks=80", "model.window=10"],  # Perozzi et al.'s published settings
    "deepwalk-80-w10-neg3": ["model.num_walks=80", "model.window=10", "model.negatives=3",
                             "model.negative_weight=2.0"],
}
DATASETS = ("blogcatalog", "ppi")
KEYS = ("validation_micro_f1", "validation_macro_f1", "micro_f1", "macro_f1", "total_time_s", "num_samples")


def run(candidate: list[str], dataset: str, folder: Path, timeout: float) -> tuple[dict | None, str]:
    base = folder / "base.yaml"
    base.write_text("version: 1\ntask: embed\n")  # no shipped config: the defaults
    proc = subprocess.run([sys.executable, "-m", "graphscale", "embed", "--config", str(base), "--dataset", dataset,
                           "--model", "deepwalk", "--json", "--no-progress", "--out", str(folder / dataset),
                           "--seed", "1", "evaluate.validation_fraction=0.2", "output.word2vec=false",
                           "output.plot=false", *candidate], capture_output=True, text=True, timeout=timeout,
                          check=False)
    summary = common.last_json(proc.stdout) if proc.returncode == 0 else None
    return summary, "ok" if summary is not None else f"exit {proc.returncode}: {common._tail(proc.stderr)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--no-records", action="store_true")
    args = parser.parse_args()
    info = {"bench": "embed_defaults", "record": "setup", **common.machine_info(), **common.git_state()}
    common.emit(info)
    scores: dict[str, list[float]] = {}
    for name in args.candidates.split(","):
        for dataset in args.datasets.split(","):
            with tempfile.TemporaryDirectory(prefix="graphscale-embed-defaults-") as tmp:
                summary, status = run(CANDIDATES[name], dataset, Path(tmp), args.timeout)
            line = {"bench": "embed_defaults", "impl": "graphscale", "candidate": name,
                    "overrides": CANDIDATES[name], "dataset": dataset, "status": status,
                    **({k: summary.get(k) for k in KEYS} if summary else {})}
            common.emit(line)
            if not args.no_records:
                common.append_record("embed_defaults", dataset, line)
            if summary is not None:
                scores.setdefault(name, []).append(summary["validation_micro_f1"] + summary["validation_macro_f1"])
    complete = {n: mean(s) for n, s in scores.items() if len(s) == len(args.datasets.split(","))}
    if complete:
        best = max(complete, key=complete.get)
        choice = {"bench": "embed_defaults", "record": "choice", "impl": "graphscale", "status": "ok",
                  "chosen": best, "overrides": CANDIDATES[best],
                  "mean_validation_micro_plus_macro": {n: round(v, 4) for n, v in complete.items()}}
        common.emit(choice)
        if not args.no_records:
            common.append_record("embed_defaults", "choice", choice)
    print(json.dumps({"done": True}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
