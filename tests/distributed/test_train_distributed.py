"""``torchrun ... graphscale train --partitions``: the single-process result, on one node and on two "nodes"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_halo import free_port
from test_partition import community_dataset

COMMON = ["--model", "gcn", "--epochs", "30", "--json", "--no-progress", "model.dropout=0.0",
          "model.input_dropout=0.0", "train.seeds=1", "model.hidden_dim=16", "train.lr=0.05"]


def write_csv(folder: Path, data) -> Path:
    """``data`` as a graphscale CSV folder (edges.csv, nodes.csv with label and five feature columns)."""
    folder.mkdir()
    src, dst = data.graph.src.tolist(), data.graph.dst.tolist()
    (folder / "edges.csv").write_text("src,dst\n" + "".join(f"{s},{d}\n" for s, d in zip(src, dst)))
    features = "".join(f"{i},{int(data.y[i])}," + ",".join(f"{v:.5f}" for v in data.x[i].tolist()) + "\n"
                       for i in range(data.num_nodes))
    (folder / "nodes.csv").write_text("id,label,f0,f1,f2,f3,f4\n" + features)
    return folder


@pytest.fixture(scope="module")
def csv_dataset(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "communities", community_dataset(180, 3, seed=4))


@pytest.fixture(scope="module")
def larger_csv_dataset(tmp_path_factory):
    data = community_dataset(600, 3, seed=4)
    data.x[:, :3] += 0.5 * torch.nn.functional.one_hot(data.y, 3)  # weak features: the graph must help
    return write_csv(tmp_path_factory.mktemp("data") / "communities", data)


def run(args: list[str], cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          check=False)


def two_ranks() -> list[str]:
    """``python`` arguments of a two-rank torchrun on 127.0.0.1."""
    return ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port",
            str(free_port())]


def partition_in_two(csv_dataset: Path, parts: Path, cwd) -> dict:
    """``graphscale partition`` of the CSV dataset into two METIS parts; its summary."""
    return last_json(run(["-m", "graphscale", "partition", "--dataset", str(csv_dataset), "--parts", "2", "--out",
                          str(parts), "--json"], cwd))


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_ranks_train_like_one_process(csv_dataset, tmp_path):
    parts = tmp_path / "parts"
    partition_in_two(csv_dataset, parts, tmp_path)
    single = last_json(run(["-m", "graphscale", "train", "--dataset", str(csv_dataset), "--out",
                            str(tmp_path / "single"), *COMMON], tmp_path))
    launch = [*two_ranks(), "-m", "graphscale", "train", "--partitions", str(parts)]
    both = last_json(run([*launch, "--out", str(tmp_path / "dist"), *COMMON], tmp_path))
    assert both["world_size"] == 2 and len(both["peak_rss_mb_per_rank"]) == 2
    assert both["bytes_sent_per_epoch"] > 0 and 0 < both["halo_fraction"] < 1
    assert both["test_acc"] == pytest.approx(single["test_acc"], abs=0.012)  # at most two test nodes apart
    assert both["val_acc"] == pytest.approx(single["val_acc"], abs=0.012)
    assert json.loads((tmp_path / "dist" / "metrics.json").read_text())["test_acc"] == both["test_acc"]
    mismatch = run([*launch[:-1], str(tmp_path / "single"), "--out", str(tmp_path / "x"), *COMMON], tmp_path)
    assert mismatch.returncode != 0 and "manifest.json" in mismatch.stderr


def test_two_nodes_meet_through_the_c10d_rendezvous(csv_dataset, tmp_path):
    parts = tmp_path / "parts"
    last_json(run(["-m", "graphscale", "partition", "--dataset", str(csv_dataset), "--parts", "2", "--out",
                   str(parts), "--method", "random", "--json"], tmp_path))
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                               "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "graphscale-test",
                               "-m", "graphscale", "train", "--partitions", str(parts), "--out",
                               str(tmp_path / "run"), *COMMON], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path) for _ in range(2)]
    outputs = []
    try:
        for node in nodes:
            outputs.append(node.communicate(timeout=300))
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    assert [node.returncode for node in nodes] == [0, 0], [err[-2000:] for _, err in outputs]
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs if out.strip()]
    assert len(summaries) == 1 and summaries[0]["world_size"] == 2  # rank 0 alone reports


def worker_of(agent: int, local_rank: int) -> int | None:
    """The pid of ``agent``'s first-attempt worker with ``local_rank`` (a child of torchrun), if running."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == agent and f"LOCAL_RANK={local_rank}".encode() in environ and \
                b"TORCHELASTIC_RESTART_COUNT=0" in environ:
            return int(entry)
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker through /proc")
def test_a_killed_rank_restarts_and_resumes_from_the_last_complete_checkpoint(csv_dataset, tmp_path):
    parts = tmp_path / "parts"
    partition_in_two(csv_dataset, parts, tmp_path)
    common = ["--model", "sage", "--sampler", "neighbor", "--epochs", "24", "--json", "--no-progress",
              "train.seeds=1", "sampler.batch_size=32", "output.checkpoint_every=1", "model.hidden_dim=16"]

    def launch(out: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                                 "--max-restarts", "1", "--master-addr", "127.0.0.1", "--master-port",
                                 str(free_port()), "-m", "graphscale", "train", "--partitions", str(parts),
                                 "--out", str(out), *common], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=tmp_path)

    killed, agent = None, launch(tmp_path / "killed")
    manifest = tmp_path / "killed" / "checkpoints" / "run0" / "manifest.json"
    try:
        deadline = time.monotonic() + 240
        while killed is None and agent.poll() is None and time.monotonic() < deadline:
            ready = manifest.is_file() and json.loads(manifest.read_text())["epoch"] >= 4
            if ready and (pid := worker_of(agent.pid, 1)) is not None:
                os.kill(pid, signal.SIGKILL)  # mid-epoch: checkpoints are written every epoch
                killed = pid
            time.sleep(0.02)
        out, err = agent.communicate(timeout=300)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert killed is not None, err[-2000:]
    assert agent.returncode == 0, err[-3000:]
    resumed = json.loads(out.strip().splitlines()[-1])
    clean = last_json(run(["-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                           "--master-port", str(free_port()), "-m", "graphscale", "train", "--partitions",
                           str(parts), "--out", str(tmp_path / "clean"), *common], tmp_path))
    history = json.loads((tmp_path / "killed" / "metrics.json").read_text())["curves"][0]
    assert all(len(values) == 24 for values in history.values())  # one entry per epoch, none twice
    assert history == clean["curves"][0]  # resumed shards continue the run bit for bit
    assert resumed["test_acc"] == clean["test_acc"]
    assert [p.name for p in (tmp_path / "killed" / "checkpoints" / "run0").iterdir()] != []
    assert not list((tmp_path / "killed").glob("**/*.tmp"))


def test_neighbor_sampling_on_two_ranks_learns_like_one_process(larger_csv_dataset, tmp_path):
    parts, csv_dataset = tmp_path / "parts", larger_csv_dataset
    partition_in_two(csv_dataset, parts, tmp_path)
    common = ["--model", "sage", "--sampler", "neighbor", "--epochs", "40", "--json", "--no-progress",
              "train.seeds=2", "sampler.batch_size=64", "model.hidden_dim=16", "sampler.fanouts=[5,5]"]
    single = last_json(run(["-m", "graphscale", "train", "--dataset", str(csv_dataset), "--out",
                            str(tmp_path / "single"), *common], tmp_path))
    both = last_json(run([*two_ranks(), "-m", "graphscale", "train", "--partitions",
                          str(parts), "--out", str(tmp_path / "dist"), *common], tmp_path))
    assert both["sampler"] == "neighbor" and both["world_size"] == 2 and both["bytes_sent_per_epoch"] > 0
    assert both["test_acc"] > 0.7 and single["test_acc"] > 0.7  # both learn the communities (chance: 1/3)
    assert both["test_acc"] == pytest.approx(single["test_acc"], abs=0.08)


def test_learnable_node_embeddings_learn_where_the_features_are_noise(csv_dataset, tmp_path):
    """The features of these communities are noise: learnable input rows (one process, or sharded in the KV
    store over two ranks) learn them where the plain model cannot."""
    parts = tmp_path / "parts"
    partition_in_two(csv_dataset, parts, tmp_path)
    common = ["--model", "sage", "--sampler", "neighbor", "--epochs", "40", "--json", "--no-progress",
              "sampler.batch_size=32", "model.hidden_dim=16", "sampler.fanouts=[5,5]", "train.seeds=2"]
    plain = last_json(run(["-m", "graphscale", "train", "--dataset", str(csv_dataset), "--out",
                           str(tmp_path / "plain"), *common], tmp_path))
    single = last_json(run(["-m", "graphscale", "train", "--dataset", str(csv_dataset), "--out",
                            str(tmp_path / "single"), *common, "data.node_embedding=8"], tmp_path))
    both = last_json(run([*two_ranks(), "-m", "graphscale", "train", "--partitions",
                          str(parts), "--out", str(tmp_path / "dist"), *common, "data.node_embedding=8"], tmp_path))
    assert plain["test_acc"] < 0.7 < single["test_acc"], (plain["test_acc"], single["test_acc"])
    assert both["world_size"] == 2 and both["test_acc"] > 0.7, both["test_acc"]
    full = run(["-m", "graphscale", "train", "--dataset", str(csv_dataset), "--out", str(tmp_path / "full"),
                "--model", "gcn", "data.node_embedding=8"], tmp_path)
    assert full.returncode == 2 and "data.node_embedding: expected a sampled trainer" in full.stderr
