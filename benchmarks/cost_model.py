"""Scale on paper: epoch time of distributed neighbour-sampling training on an ogbn-papers100M-shaped graph,
projected from what ``benchmarks/distributed.py`` measured here.

Inputs (the latest ok ``graphscale-dist`` neighbour-sampling line of ``benchmarks/records/distributed/``, and
its config): seconds per global step and steps per epoch (so core-seconds per training seed, with the
machine's cores), bytes sent per seed (sampling requests and answers, feature rows pulled), the fanouts and
batch size. The model, per epoch on ``M`` machines of ``C`` cores each:

    compute  = S * core_s_per_seed * (W_target / W_measured) / (M * C)
    network  = S * B_target * remote(M) / (M * bandwidth)
    latency  = steps(M) * collectives_per_step * alpha * ceil(log2 M),  steps(M) = S / (batch_per_machine * M)
    epoch    = compute + network + latency   (no overlap of compute and communication: an upper bound)

``S`` training seeds (papers100M: 1,207,179), ``W`` the multiply-adds per seed of a GraphSAGE forward on the
sampled tree (:func:`work_per_seed`: widths 128-256-256-172 and fanouts [15, 10, 5] there, the measured
config's here; graphs of similar mean degree, about 14 here and there, saturate the fanouts alike),
``B_target`` the bytes of a seed's sampling tree with no node repeated (:func:`bytes_per_seed`: ids asked,
(source, edge id) pairs drawn, 128-float input rows; the measured run's share of its own bound is reported:
a batch covering much of a small graph repeats most nodes, a 111M-node graph hardly any),
``remote(M) = (M - 1) / M`` the share of a random partition's neighbours on other machines (METIS does better:
this over-counts), ``alpha`` the per-message latency. Compute scales with cores linearly in the
``C = 96`` rows (DistDGL's machines had 96 vCPUs; an optimistic assumption), as measured in the ``C = <this
machine's>`` rows.

One JSON line per projection (``bench`` ``cost_model``), appended to
``benchmarks/records/distributed/cost-model.jsonl`` unless ``--no-records``.

Usage:
    python benchmarks/cost_model.py
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

RECORDS = Path(__file__).resolve().parent / "records" / "distributed"
PAPERS100M = {"graph": "ogbn-papers100M-shaped", "num_nodes": 111_059_956, "num_edges": 1_615_685_872,
              "train_seeds": 1_207_179, "fanouts": [15, 10, 5], "dims": [128, 256, 256, 172]}
DISTDGL = {"machines": 16, "epoch_s": 13.0, "graph": "100M nodes, 3B edges", "source": "DistDGL (Zheng et al. "
           "2020), GraphSAGE on ogbn-papers100M, 16 machines"}


def bytes_per_seed(fanouts: list[int], feature_dim: int) -> float:
    """Bytes a seed's sampling tree moves when every node in it is remote and none repeats: the ids asked per
    hop (8 bytes), the drawn (source, edge id) pairs (16) and the input rows (``feature_dim`` floats)."""
    hops = [1]
    for fanout in fanouts:
        hops.append(hops[-1] * fanout)
    return 8.0 * sum(hops[:-1]) + 16.0 * sum(hops[1:]) + 4.0 * feature_dim * sum(hops)


def work_per_seed(fanouts: list[int], dims: list[int]) -> float:
    """Multiply-adds of a GraphSAGE forward per seed without de-duplication: layer ``l`` (input side first)
    aggregates its sampled edges at width ``dims[l]`` and transforms its destinations with two weights."""
    hops = [1]
    for fanout in fanouts:
        hops.append(hops[-1] * fanout)  # nodes at hop h from the seed
    layers = len(fanouts)
    total = 0.0
    for layer in range(layers):
        dst, edges = hops[layers - 1 - layer], hops[layers - layer]
        total += edges * dims[layer] + 2.0 * dst * dims[layer] * dims[layer + 1]
    return total


def latest_input(records: Path) -> dict[str, Any] | None:
    """The newest ok distributed neighbour-sampling line (with its setup's core count) across the records."""
    best = None
    for path in sorted(records.glob("*.jsonl")):
        cores = None
        for text in path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if line.get("record") == "setup":
                cores = line.get("cpus")
            if (line.get("impl") == "graphscale-dist" and line.get("status") == "ok"
                    and line.get("sampler") == "neighbor" and line.get("steps_per_epoch")):
                best = {**line, "cores": cores, "_file": path.name}
    return best


def config_of(path: str, dataset: str) -> tuple[int, list[int], list[int]]:
    """``(batch size, fanouts, layer widths input first)`` of a shipped config on ``dataset``."""
    from graphscale import datasets
    from graphscale.config import load

    cfg = load(path)
    data = datasets.load(dataset)
    layers, hidden = cfg.model.hparams.get("num_layers", 2), cfg.model.hparams.get("hidden_dim", 64)
    dims = [cfg.data.feature_svd or data.num_features, *([hidden] * (layers - 1)), data.num_classes]
    return cfg.sampler.batch_size, list(cfg.sampler.fanouts or [25, 10]), dims


def project(source: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    batch, fanouts, dims = config_of(source["config"], source["dataset"])
    steps, epoch_s = source["steps_per_epoch"], source["epoch_time_s"]
    seeds = steps * batch  # the last step of a rank may be short: a slight over-count of seeds
    cores, world = int(source["cores"] or 2), int(source["world_size"])
    core_s_per_seed = epoch_s / steps * cores / batch
    measured_bytes = source["bytes_sent_per_epoch"] / seeds
    # what the measured run moved per seed against the no-repeat, all-remote bound of its own config: a batch
    # covering much of a small graph repeats most nodes; on a 111M-node graph repeats are rare (factor 1)
    bound = bytes_per_seed(fanouts, dims[0]) * (world - 1) / world
    target_bytes = bytes_per_seed(PAPERS100M["fanouts"], PAPERS100M["dims"][0])
    work = work_per_seed(PAPERS100M["fanouts"], PAPERS100M["dims"]) / work_per_seed(fanouts, dims)
    inputs = {"measured_on": source["_file"], "measured_config": source["config"], "measured_world_size": world,
              "measured_fanouts": fanouts, "measured_dims": dims, "batch_size": batch,
              "core_s_per_seed": round(core_s_per_seed, 7), "bytes_per_seed": round(measured_bytes, 1),
              "measured_share_of_bound": round(measured_bytes / bound, 4),
              "target_bytes_per_seed": round(target_bytes), "work_scale": round(work, 3),
              "bandwidth_gbit_s": args.bandwidth, "alpha_us": args.alpha_us,
              "collectives_per_step": 3 * len(PAPERS100M["fanouts"]) + 3,
              "batch_per_machine": args.batch_per_machine, **{f"target_{k}": v for k, v in PAPERS100M.items()}}
    lines = []
    for cores_per_machine in (cores, 96):
        for machines in (8, 16, 32):
            s = PAPERS100M["train_seeds"]
            compute = s * core_s_per_seed * work / (machines * cores_per_machine)
            remote = (machines - 1) / machines
            network = s * target_bytes * remote / (machines * args.bandwidth * 1e9 / 8)
            steps_m = math.ceil(s / (args.batch_per_machine * machines))
            latency = steps_m * inputs["collectives_per_step"] * args.alpha_us * 1e-6 * math.ceil(math.log2(machines))
            epoch = compute + network + latency
            line = {"bench": "cost_model", "impl": "graphscale-dist (projected)", "status": "ok",
                    "machines": machines, "cores_per_machine": cores_per_machine,
                    "compute_s": round(compute, 1), "network_s": round(network, 1), "latency_s": round(latency, 2),
                    "epoch_s": round(epoch, 1), **inputs}
            if machines == DISTDGL["machines"]:
                line.update(distdgl_epoch_s=DISTDGL["epoch_s"], vs_distdgl=round(DISTDGL["epoch_s"] / epoch, 3))
            lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bandwidth", type=float, default=25.0, help="Gb/s per machine")
    parser.add_argument("--alpha-us", type=float, default=50.0, help="latency per message round, microseconds")
    parser.add_argument("--batch-per-machine", type=int, default=2000, help="seeds per machine per step")
    parser.add_argument("--no-records", action="store_true")
    args = parser.parse_args()
    source = latest_input(RECORDS)
    if source is None:
        common.emit({"bench": "cost_model", "impl": "graphscale-dist (projected)", "status": "no input: run "
                     "benchmarks/distributed.py with --sampler neighbor first"})
        return 1
    info = {"bench": "cost_model", "record": "setup", "distdgl": DISTDGL, **common.machine_info(),
            **common.git_state()}
    for line in [info, *project(source, args)]:
        common.emit(line)
        if not args.no_records:
            common.append_record("distributed", "cost-model", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
