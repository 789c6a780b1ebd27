"""Accuracy of precomputed-propagation models (SGC, SIGN) and GNNAutoScale against full-batch training.

One JSON line per run (bench "precomputed-accuracy", impl "graphscale", status, dataset, model, mode,
seed, test_acc, val_acc, times) appended to the committed record
``benchmarks/records/precomputed_accuracy/<dataset>.jsonl`` (with cores, load and commit; ``--output FILE``: to FILE
too), so an interrupted sweep keeps what it measured; a final line per (dataset, model, mode) gives the mean and
std over the seeds (``seed`` "mean"). ``python benchmarks/report.py`` tables the final lines into RESULTS.md.

Examples:
    python benchmarks/precomputed_accuracy.py --dataset cora --model sgc --mode precomputed --seeds 10 \\
        --config graphscale/configs/node-sgc-cora.yaml
    python benchmarks/precomputed_accuracy.py --dataset citeseer --model sign --mode precomputed --seeds 5 \\
        --hparams '{"K": 2, "hidden_dim": 64}' --train '{"lr": 0.01, "weight_decay": 5e-4}'
    python benchmarks/precomputed_accuracy.py --dataset citeseer --model sage --mode full --seeds 5
    python benchmarks/precomputed_accuracy.py --dataset citeseer --model sage --mode gas --seeds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import graphscale.datasets as gd
from graphscale.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from graphscale.train.gas import train_gas
from graphscale.train.precomputed import train_precomputed
from graphscale.train.node import train_node

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (stdlib only)
from record_fields import repo_relative  # noqa: E402


def yaml_data(path: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def load_config(path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model hparams, train fields)`` of a shipped YAML config (flat model keys beside ``name``)."""
    if path is None:
        return {}, {}
    data = yaml_data(path)
    model = {k: v for k, v in data.get("model", {}).items() if k != "name"}
    train = {k: v for k, v in data.get("train", {}).items() if k in TrainConfig.__dataclass_fields__}
    return model, train


def run_one(args: argparse.Namespace, dataset: Any, hparams: dict[str, Any], train: dict[str, Any],
            seed: int) -> dict[str, Any]:
    train_cfg = TrainConfig(**{**train, "device": "cpu", "seed": seed, "seeds": 1})
    if args.mode == "precomputed":
        return train_precomputed(dataset, args.model, hparams, train_cfg, seed, memory_budget=args.memory_budget)
    if args.mode == "gas":
        return train_gas(dataset, args.model, hparams, json.loads(args.sampler), train_cfg, seed)
    cfg = RunConfig(data=DataConfig(dataset=dataset.name), model=ModelConfig(name=args.model, hparams=hparams),
                    train=train_cfg)
    return train_node(cfg, dataset, torch.device("cpu"), progress=False)["runs"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True, help="sgc, sign (precomputed); gcn, sage ... (full, gas)")
    parser.add_argument("--mode", choices=("precomputed", "full", "gas"), required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--config", help="shipped YAML whose model and train sections are used")
    parser.add_argument("--hparams", default="{}", help="JSON model hyper-parameters (override --config)")
    parser.add_argument("--train", default="{}", help="JSON TrainConfig fields (override --config)")
    parser.add_argument("--sampler", default='{"name": "gas"}', help="JSON sampler config (mode gas)")
    parser.add_argument("--memory-budget", default=None)
    parser.add_argument("--feature-svd", type=int, default=None,
                        help="replace x by its top-k singular directions (data.feature_svd of the accuracy study)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--tag", default="", help="free label copied into every line")
    parser.add_argument("--output", default=None, help="also append the JSON lines to this file")
    parser.add_argument("--no-records", action="store_true",
                        help="smoke runs: do not append to benchmarks/records/precomputed_accuracy/")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model_hparams, train = load_config(args.config)
    hparams = {**model_hparams, **json.loads(args.hparams)}
    train = {**train, **json.loads(args.train)}
    dataset = gd.load(args.dataset)
    if args.config and (yaml_data(args.config).get("data") or {}).get("normalize_features"):
        dataset = gd.normalize_features(dataset)  # as the CLI does with the config's data.normalize_features
    if args.feature_svd:
        from graphscale.train.run import reduce_features

        dataset = reduce_features(dataset, args.feature_svd)
    output = Path(args.output) if args.output else None
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)

    def write(line: dict[str, Any]) -> None:
        if not args.no_records:
            common.append_record("precomputed_accuracy", args.dataset, repo_relative(line))
        if output is not None:
            with output.open("a") as handle:
                handle.write(json.dumps(line) + "\n")
        print(json.dumps(line), flush=True)

    base = {"bench": "precomputed-accuracy", "impl": "graphscale", "dataset": args.dataset, "model": args.model,
            "mode": args.mode, "hparams": hparams, "train": train, "feature_svd": args.feature_svd, "tag": args.tag,
            "run": time.strftime("%Y-%m-%dT%H:%M:%S")}
    accuracies, vals = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        began = time.perf_counter()
        try:
            result = run_one(args, dataset, hparams, train, seed)
            line = {**base, "status": "ok", "seed": seed, "test_acc": result["test_acc"], "val_acc": result["val_acc"],
                    "best_epoch": result["best_epoch"], "epoch_time_s": result["epoch_time_s"],
                    "precompute_time_s": result.get("precompute_time_s"), "wall_s": time.perf_counter() - began}
            accuracies.append(result["test_acc"])
            vals.append(result["val_acc"])
        except Exception as err:  # noqa: BLE001 - reported, never fatal to the sweep
            line = {**base, "status": f"error: {type(err).__name__}: {err}", "seed": seed}
        write(line)
    summary = {**base, "status": "ok" if accuracies else "error", "seed": "mean", "seeds": len(accuracies),
               "test_acc": statistics.mean(accuracies) if accuracies else None,
               "test_acc_std": statistics.pstdev(accuracies) if accuracies else None,
               "val_acc": statistics.mean(vals) if vals else None}
    write(summary)
    sys.exit(0 if accuracies else 1)


if __name__ == "__main__":
    main()
