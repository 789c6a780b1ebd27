"""Distributed training against one process: accuracy, communication and memory per rank, METIS vs random.

Workload: ``graphscale.datasets.load(--dataset)`` (default ``synthetic-arxiv``, 169,343 nodes, 2.3M edges) cut into
``--parts`` parts by ``graphscale partition`` with each of ``--methods``; each partitioning trains under
``torchrun --nproc-per-node <parts>`` on this machine (gloo, 127.0.0.1), and the same config trains in one
process. The config is ``--config`` (a shipped YAML, e.g. configs/node-sage-neighbor-github.yaml) or, without
one, a 2-layer GCN (hidden 256) full batch; ``--sampler``, ``--epochs`` and ``--seeds`` override it. A dataset
without a published split uses the partitioner's random splits, which are the ones the single process draws
(seed ``r`` for run ``r``), so both sides train and test on the same nodes. On one machine with 2 cores this
measures correctness, memory and communication, not speed-up.

One JSON line per measurement: ``impl`` ``graphscale-dist`` (``method``, ``world_size``,
``bytes_sent_per_epoch`` summed over the ranks, ``halo_fraction``, ``edge_cut_fraction``, ``peak_rss_mb_per_rank``,
``test_acc`` mean and per seed) or ``graphscale`` (the single process: ``peak_rss_mb``, ``test_acc``), then a
``ratio`` line per method (bytes of random over METIS, each rank's peak RSS over the single process's, the
accuracy difference). Every line is appended to ``benchmarks/records/distributed/<graph>.jsonl``
(``--no-records`` for smoke runs).

Usage:
    python benchmarks/distributed.py                                 # synthetic-arxiv GCN, 2 parts, 5 epochs
    python benchmarks/distributed.py --dataset citeseer --config configs/node-gcn-citeseer.yaml --seeds 10
    python benchmarks/distributed.py --dataset github --config configs/node-sage-neighbor-github.yaml --seeds 3 \
        --methods metis
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DEFAULT = ["--model", "gcn", "model.hidden_dim=256", "train.patience=0"]


def train_args(args: argparse.Namespace) -> list[str]:
    """The options both sides train with (the config, then the overrides of this benchmark)."""
    chosen = ["--config", args.config] if args.config else list(DEFAULT)
    if args.sampler:
        chosen += ["--sampler", args.sampler]
    if args.epochs:
        chosen += ["--epochs", str(args.epochs)]
    return [*chosen, "--seeds", str(args.seeds), "--json", "--no-progress", *args.overrides]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(ranks: int) -> list[str]:
    """``python`` arguments launching ``ranks`` processes on this machine (127.0.0.1, a free port)."""
    return ["-m", "torch.distributed.run", "--nproc-per-node", str(ranks), "--master-addr", "127.0.0.1",
            "--master-port", str(free_port())]


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL every process left in ``proc``'s process group (its orphaned children included), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run(args: list[str], timeout: float, python: Path | str = sys.executable,
        env: dict[str, str] | None = None) -> tuple[dict[str, Any] | None, str]:
    """``python args``: its last JSON line and, on failure, the tail of its stderr.

    The command runs in a process group of its own, killed when it returns: workers that torchrun (or a
    failed peer) leaves behind never outlive the measurement.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        # files, not pipes: a leftover worker holding a pipe open would keep a read waiting past the exit
        proc = subprocess.Popen([str(python), *args], stdout=out, stderr=err, text=True,
                                env=env or common.worker_env(1, peer=False), start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"timeout after {timeout:.0f} s"
        finally:
            kill_group(proc)
        out.seek(0), err.seek(0)
        proc = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    summary = common.last_json(proc.stdout) if proc.returncode == 0 else None
    if summary is not None:
        return summary, "ok"
    causes = [line.strip() for line in proc.stderr.splitlines()  # a worker's error, not torchrun's report of it
              if ("Error" in line or "Check failed" in line) and "ChildFailedError" not in line
              and "elastic" not in line]
    return None, f"exit {proc.returncode}: {causes[-1] if causes else common._tail(proc.stderr)}"


def measure(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    train = train_args(args)
    base = {"bench": "distributed", "dataset": args.dataset, "config": args.config, "train_args": train}
    lines = []
    single, status = run(["-m", "graphscale", "train", "--dataset", args.dataset, "--out", str(folder / "single"),
                          *train], args.timeout)
    lines.append({**base, "impl": "graphscale", "world_size": 1, "status": status,
                  **({k: single.get(k) for k in ("model", "sampler", "peak_rss_mb", "epoch_time_s", "test_acc",
                                                 "test_acc_std", "per_seed_test_acc", "epochs_run")}
                     if single else {})})
    for method in args.methods.split(","):
        parts = folder / f"parts-{method}"
        svd = ["--feature-svd", str(args.feature_svd)] if args.feature_svd else []
        made, status = run(["-m", "graphscale", "partition", "--dataset", args.dataset, "--parts", str(args.parts),
                            "--out", str(parts), "--method", method, "--json", *svd], args.timeout)
        line = {**base, "impl": "graphscale-dist", "method": method, "world_size": args.parts, "status": status}
        if made is not None:
            line["partition_time_s"] = made["time_s"]
            began = time.perf_counter()
            summary, status = run([*torchrun(args.parts), "-m", "graphscale", "train", "--partitions", str(parts),
                                   "--out", str(folder / f"run-{method}"), *train], args.timeout)
            line.update(status=status, wall_s=round(time.perf_counter() - began, 1))
            if summary is not None:
                line.update({k: summary.get(k) for k in (
                    "model", "sampler", "bytes_sent_per_epoch", "halo_fraction", "edge_cut_fraction", "peak_rss_mb",
                    "peak_rss_mb_per_rank", "test_acc", "test_acc_std", "per_seed_test_acc", "epochs_run",
                    "epoch_time_s", "train_time_s", "steps_per_epoch")})
        lines.append(line)
    return lines


TABLE_KEYS = {"kg": ("model", "partitions", "world_size", "epochs_done", "mrr", "hits_at_10", "bytes_sent_per_epoch",
                     "train_time_s", "peak_rss_mb"),
              "embed": ("model", "partitions", "world_size", "num_samples", "micro_f1", "macro_f1",
                        "bytes_sent_per_pool", "train_time_s", "total_time_s", "peak_rss_mb")}
TABLE_METRIC = {"kg": ("mrr", 0.01), "embed": ("micro_f1", 0.01)}


def measure_tables(args: argparse.Namespace, folder: Path, workload: str, config: str) -> list[dict[str, Any]]:
    """``graphscale kg|embed --config`` in one process, in one process with ``--entity-partitions``, then under
    torchrun with ``--entity-partitions``."""
    base = {"bench": "distributed", "dataset": args.dataset, "config": config, "workload": workload}
    extra = [*(["--epochs", str(args.epochs)] if args.epochs else []), "--json", "--no-progress", *args.overrides]
    lines = []
    partitions = args.entity_partitions or (2 * args.parts if workload == "kg" else args.parts)
    runs = (("graphscale", 1, 1), ("graphscale-partitioned", 1, partitions),
            ("graphscale-dist", args.parts, partitions))
    for impl, ranks, parts in runs:  # partitioned in one process: what partition-local negatives cost alone
        launch = torchrun(ranks) if ranks > 1 else []
        flag = ["--entity-partitions", str(parts)] if parts > 1 else []
        summary, status = run([*launch, "-m", "graphscale", workload, "--config", config, *flag, "--out",
                               str(folder / impl), *extra], args.timeout)
        lines.append({**base, "impl": impl, "world_size": ranks, "status": status,
                      **({k: summary.get(k) for k in TABLE_KEYS[workload]} if summary else {})})
    one, partitioned, dist = lines
    metric, bar = TABLE_METRIC[workload]
    if one["status"] == dist["status"] == "ok":
        ratio = {"bench": "distributed", "record": "ratio", "workload": workload, "impl": "graphscale-dist",
                 "status": "ok", f"{metric}_delta": round(dist[metric] - one[metric], 4),
                 "meets_target": abs(dist[metric] - one[metric]) <= bar}
        if partitioned["status"] == "ok":
            ratio[f"{metric}_delta_vs_partitioned_one_process"] = round(dist[metric] - partitioned[metric], 4)
        lines.append(ratio)
    return lines


SAMPLING_SCRIPT = str(Path(__file__).resolve().parent / "dist_sampling.py")


def measure_sampling(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    """Distributed neighbour sampling, seeds per second with ``--parts`` trainers (``dist_sampling.py``):
    graphscale's ranks on its METIS parts, and DGL's trainers against its graph servers (DistDGL), with
    ``--parts`` partitions and with one (every trainer reads its graph server's shared memory)."""
    import sampling

    base = {"bench": "distributed", "workload": "sampling", "dataset": "synthetic-arxiv",
            "fanouts": list(sampling.FANOUTS), "batch_size_per_trainer": sampling.BATCH_SIZE, "trainers": args.parts}
    data = folder / "data"
    sampling.write_dataset(data, 1.0, 0)
    steps = ["--epochs", str(args.epochs or 2), "--batch-size", str(sampling.BATCH_SIZE)]
    parts = folder / "parts"
    made, status = run(["-m", "graphscale", "partition", "--dataset", "synthetic-arxiv", "--parts", str(args.parts),
                        "--out", str(parts), "--method", "metis", "--json"], args.timeout)
    line = {**base, "impl": "graphscale-dist", "partitions": args.parts, "status": status}
    if made is not None:
        summary, status = run([*torchrun(args.parts), SAMPLING_SCRIPT, "graphscale", "--partitions", str(parts),
                               *steps], args.timeout)
        line.update({**(summary or {}), "status": status})
    lines = [line]
    for count in dict.fromkeys((args.parts, 1)):
        lines.append({**base, "impl": "dgl-dist", "partitions": count, "servers": count,
                      **dgl_sampling(args, folder / f"dgl{count}", data, count, steps)})
    ours = lines[0]
    peers = [x for x in lines[1:] if x.get("status") == "ok"]
    if ours.get("status") == "ok" and peers:
        best = max(peers, key=lambda x: x["seeds_per_s"])
        lines.append({"bench": "distributed", "record": "ratio", "workload": "sampling", "impl": "graphscale-dist",
                      "status": "ok", "baseline": f"dgl-dist ({best['partitions']} partitions)",
                      "speedup": round(ours["seeds_per_s"] / best["seeds_per_s"], 3)})
    return lines


def dgl_sampling(args: argparse.Namespace, folder: Path, data: Path, partitions: int,
                 steps: list[str]) -> dict[str, Any]:
    """DistDGL on this machine: partition, one graph server per partition (127.0.0.1, own ports), ``--parts``
    trainers under the DGL venv's torchrun; the environment DGL's ``tools/launch.py`` would set."""
    python = common.peer_python("dgl")
    if not python.exists():
        return {"status": f"no DGL peer venv ({python}); run benchmarks/setup_peers.sh dgl"}
    folder.mkdir(parents=True)
    env = {**common.worker_env(1, peer=True), "DGLBACKEND": "pytorch"}
    name = f"gsbench{os.getpid()}p{partitions}"  # its own shared-memory names: a failed run's leftovers never clash
    steps = [*steps, "--graph-name", name]
    made, status = run([SAMPLING_SCRIPT, "dgl-partition", "--data", str(data), "--parts", str(partitions), "--out",
                        str(folder / "parts"), "--graph-name", name], args.timeout, python, env)
    if made is None:
        return {"status": f"partition_graph failed: {status}"}
    ip_config = folder / "ip_config.txt"
    ip_config.write_text("".join(f"127.0.0.1 {free_port()}\n" for _ in range(partitions)))
    env.update(DGL_DIST_MODE="distributed", DGL_IP_CONFIG=str(ip_config), DGL_NUM_SERVER="1", DGL_NUM_SAMPLER="0",
               DGL_CONF_PATH=str(folder / "parts" / f"{name}.json"), DGL_GRAPH_FORMAT="csc", DGL_KEEP_ALIVE="0")
    servers = []
    try:
        for k in range(partitions):
            with open(folder / f"server{k}.log", "w") as log:
                servers.append(subprocess.Popen(
                    [str(python), SAMPLING_SCRIPT, "dgl-server"], stdout=log, stderr=subprocess.STDOUT,
                    env={**env, "DGL_ROLE": "server", "DGL_SERVER_ID": str(k), "DGL_NUM_CLIENT": str(args.parts)}))
        time.sleep(5)  # the servers load their partitions and listen
        summary, status = run([*torchrun(args.parts), SAMPLING_SCRIPT, "dgl", *steps], args.timeout, python,
                              {**env, "DGL_ROLE": "client", "DGL_GROUP_ID": "0"})
    finally:
        for server in servers:
            try:
                server.wait(timeout=60)  # they exit once every trainer has left
            except subprocess.TimeoutExpired:
                server.kill()
        for segment in Path("/dev/shm").glob(f"{name}*"):  # what a killed server leaves in shared memory
            segment.unlink(missing_ok=True)
    return {**(summary or {}), "status": status, "partition_time_s": made["partition_time_s"]}


def ratios(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    single = next((x for x in lines if x["impl"] == "graphscale" and x["status"] == "ok"), None)
    dist = {x["method"]: x for x in lines if x["impl"] == "graphscale-dist" and x["status"] == "ok"}
    out = []
    for method, line in dist.items():
        ratio: dict[str, Any] = {"bench": "distributed", "record": "ratio", "impl": "graphscale-dist",
                                 "method": method, "status": "ok"}
        if single is not None:
            ratio["max_rank_rss_ratio"] = round(max(line["peak_rss_mb_per_rank"]) / single["peak_rss_mb"], 3)
            ratio["test_acc_delta"] = round(line["test_acc"] - single["test_acc"], 4)
        if method == "random" and "metis" in dist:
            ratio["bytes_vs_metis"] = round(line["bytes_sent_per_epoch"] / max(dist["metis"]["bytes_sent_per_epoch"],
                                                                               1.0), 2)
        out.append(ratio)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic-arxiv")
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--methods", default="metis,random")
    parser.add_argument("--config", help="a shipped YAML config both sides train with (default: GCN full batch)")
    parser.add_argument("--kg-config", help="a kg config: one process against --parts ranks with "
                                            "--entity-partitions (default 2 per rank)")
    parser.add_argument("--embed-config", help="an embed config: one process against --parts ranks with "
                                               "--entity-partitions (default 1 per rank)")
    parser.add_argument("--entity-partitions", type=int, help="kg / embed: partitions of the distributed run")
    parser.add_argument("--sampling", action="store_true", help="distributed neighbour-sampling throughput: "
                                                                "graphscale against DistDGL, --parts trainers")
    parser.add_argument("--feature-svd", type=int, help="the config's data.feature_svd, for the partitioner")
    parser.add_argument("--sampler", help="override the config's sampler (none, neighbor)")
    parser.add_argument("--epochs", type=int, help="override the config's epochs (default config: 5)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds on both sides (the accuracy is their mean)")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides for both sides")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-records", action="store_true", help="smoke runs: do not append to the records")
    args = parser.parse_args()
    workload = ("sampling" if args.sampling else "kg" if args.kg_config else "embed" if args.embed_config
                else "train")
    if workload == "train" and args.config is None and args.epochs is None:
        args.epochs = 5
    info = {"bench": "distributed", "record": "setup", **common.machine_info(), **common.git_state()}
    common.emit(info)
    with tempfile.TemporaryDirectory(prefix="graphscale-dist-") as tmp:
        if workload == "sampling":
            lines = measure_sampling(args, Path(tmp))
        else:
            lines = (measure(args, Path(tmp)) if workload == "train" else
                     measure_tables(args, Path(tmp), workload, args.kg_config or args.embed_config))
    for line in [info, *lines, *(ratios(lines) if workload == "train" else [])]:
        if line is not info:
            common.emit(line)
        if not args.no_records:
            common.append_record("distributed", "sampling" if workload == "sampling" else args.dataset, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
