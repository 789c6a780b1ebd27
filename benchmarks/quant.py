"""Degree-Quant (Tailor et al., ICLR 2021): accuracy of INT8 / INT4 quantization-aware training against FP32,
and the integer model's size and inference time against the float model of the same weights.

Every case runs ``graphscale train --json`` in a fresh interpreter (its shipped config, ``--quant`` where the
case quantizes) and appends one JSON line (bench "quant", impl "fp32" / "dq-int8" / "dq-int4", status, the
summary's accuracy and quant fields, load, commit) to ``benchmarks/records/quant/<case>.jsonl``. ``--tune`` runs
the tuning seeds (``train.seed=100``, 3 seeds: 100..102) and records validation accuracy for choosing settings
(``purpose`` "tuning"); reported runs use the config's own seeds 0..9. ``python benchmarks/report.py`` tables
the reported lines against the paper (Table 1 / 2: Cora GCN FP32 81.4, DQ-INT8 81.7, DQ-INT4 78.3).

Examples:
    python benchmarks/quant.py --case cora-gcn-int8
    python benchmarks/quant.py --case cora-gcn-int4 --tune --set train.quant_p_max=0.2
    python benchmarks/quant.py --case arxiv-gcn-int8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # (stdlib only)
from record_fields import repo_relative

CONFIGS = "graphscale/configs"
TUNE_SEEDS = 3  # tuning seeds 100, 101, 102
# case -> (impl, dataset, model, command arguments, paper figure or None)
CASES: dict[str, tuple[str, str, str, list[str], float | None]] = {
    "cora-gcn-fp32": ("fp32", "cora", "gcn", ["--config", f"{CONFIGS}/node-gcn-cora.yaml"], 0.814),
    "cora-gcn-int8": ("dq-int8", "cora", "gcn", ["--config", f"{CONFIGS}/node-gcn-dq-int8-cora.yaml"], 0.817),
    "cora-gcn-int4": ("dq-int4", "cora", "gcn", ["--config", f"{CONFIGS}/node-gcn-dq-int4-cora.yaml"], 0.783),
    "mutag-gin-fp32": ("fp32", "mutag", "gin", ["--config", f"{CONFIGS}/graph-gin-mutag.yaml"], None),
    "mutag-gin-int8": ("dq-int8", "mutag", "gin", ["--config", f"{CONFIGS}/graph-gin-dq-int8-mutag.yaml"], None),
    "cora-gat-fp32": ("fp32", "cora", "gat", ["--config", f"{CONFIGS}/node-gat-cora.yaml"], None),
    "cora-gat-int8": ("dq-int8", "cora", "gat", ["--config", f"{CONFIGS}/node-gat-dq-int8-cora.yaml"], None),
    # speed and size: a 3-layer GCN of width 256 (the usual ogbn-arxiv model) on the generated arxiv graph
    "arxiv-gcn-int8": ("dq-int8", "synthetic-arxiv", "gcn",
                       ["--dataset", "synthetic-arxiv", "--model", "gcn", "--quant", "int8", "model.hidden_dim=256",
                        "model.num_layers=3", "model.dropout=0.5", "train.weight_decay=0", "--epochs", "2",
                        "--seeds", "1"], None),
}
SUMMARY_KEYS = ("test_acc", "test_acc_std", "val_acc", "val_acc_std", "per_seed_test_acc", "per_fold_last_test_acc",
                "last_epoch_test_acc", "epoch_time_s", "peak_rss_mb", "quant", "quant_bits", "quant_p_min",
                "quant_p_max", "int_test_acc", "int_test_acc_std", "int_last_epoch_test_acc", "last_epoch_test_acc_std", "int_val_acc", "int_agreement", "model_bytes_fp32",
                "model_bytes_int", "fp32_inference_ms", "int_inference_ms", "int_speedup", "seeds", "epochs",
                "num_nodes", "num_edges")


def run_case(case: str, tune: bool, overrides: list[str], timeout_s: float) -> dict[str, Any]:
    """Run one case in a fresh interpreter and return its record line."""
    impl, dataset, model, arguments, paper = CASES[case]
    extra = [*overrides, *(["train.seed=100", f"train.seeds={TUNE_SEEDS}"] if tune else [])]
    base = {"bench": "quant", "impl": impl, "case": case, "dataset": dataset, "model": model,
            "purpose": "tuning" if tune else "reported", "overrides": extra, "paper_test_acc": paper,
            "command": "graphscale train " + " ".join([*arguments, *extra])}
    env = {**os.environ, "PYTHONPATH": str(common.REPO_ROOT)}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "graphscale", "train", *arguments, *extra, "--out", out, "--overwrite",
                   "--json", "--no-progress", "--device", "cpu"]
        try:
            done = subprocess.run(command, check=False, cwd=common.REPO_ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {**base, "status": "timeout"}
    summary = common.last_json(done.stdout) if done.returncode == 0 else None
    if summary is None:
        return {**base, "status": f"error: exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return {**base, "status": "ok", "wall_s": round(time.perf_counter() - began, 1),
            **{key: summary[key] for key in SUMMARY_KEYS if key in summary}}


def merge(case: str) -> dict[str, Any] | None:
    """One "reported" line of ``case`` from its latest "reported-part" lines (runs of disjoint seed ranges of the
    same settings, made in parallel): accuracies over all their seeds, other figures as the parts' mean."""
    path = common.RECORDS_DIR / "quant" / f"{case}.jsonl"
    parts: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        record = json.loads(line)
        if record.get("purpose") == "reported-part" and record.get("status") == "ok":
            parts[record["part"]] = record
    if not parts:
        return None
    lines = list(parts.values())
    per_seed = [acc for line in lines for acc in line["per_seed_test_acc"]]
    merged = {key: value for key, value in lines[0].items() if key not in ("part", "git_commit", "git_dirty")}
    merged.update(purpose="reported", parts=sorted(parts), seeds=len(per_seed), per_seed_test_acc=per_seed,
                  test_acc=statistics.fmean(per_seed), test_acc_std=statistics.pstdev(per_seed))
    for key in ("val_acc", "int_test_acc", "int_val_acc", "int_agreement", "fp32_inference_ms", "int_inference_ms",
                "epoch_time_s", "peak_rss_mb", "wall_s"):
        values = [line[key] for line in lines if isinstance(line.get(key), (int, float))]
        if values:
            merged[key] = statistics.fmean(values)
    if merged.get("int_inference_ms"):
        merged["int_speedup"] = merged["fp32_inference_ms"] / merged["int_inference_ms"]
    merged["overrides"] = [o for o in lines[0]["overrides"] if not o.startswith(("train.seed=", "train.seeds="))]
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", required=True, action="append", choices=sorted(CASES))
    parser.add_argument("--tune", action="store_true", help="tuning seeds 100..102; records validation accuracy")
    parser.add_argument("--set", action="append", default=[], help="key=value override passed to graphscale train")
    parser.add_argument("--timeout", type=float, default=5400.0)
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to the records")
    parser.add_argument("--part", help="FIRST:COUNT: run seeds FIRST..FIRST+COUNT-1 as one part of a reported run "
                                       "(parts run in parallel; --merge combines them)")
    parser.add_argument("--merge", action="store_true", help="combine the case's reported parts into one line")
    args = parser.parse_args()
    for case in args.case:
        if args.merge:
            merged = merge(case)
            if merged is not None:
                common.emit(merged)
                common.append_record("quant", case, merged)
            continue
        extra = list(args.set)
        if args.part:
            first, count = args.part.split(":")
            extra += [f"train.seed={first}", f"train.seeds={count}"]
        record = run_case(case, args.tune, extra, args.timeout)
        if args.part:
            record.update(purpose="reported-part", part=args.part)
        record = repo_relative(record)
        common.emit(record)
        if not args.no_record:
            common.append_record("quant", case, record)


if __name__ == "__main__":
    main()
