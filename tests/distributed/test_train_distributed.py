"""``torchrun ... graphscale train --partitions``: the single-process result, on one node and on two "nodes"."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_halo import free_port
from test_partition import community_dataset

COMMON = ["--model", "gcn", "--epochs", "30", "--json", "--no-progress", "model.dropout=0.0",
          "model.input_dropout=0.0", "train.seeds=1", "model.hidden_dim=16", "train.lr=0.05"]


@pytest.fixture(scope="module")
def csv_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "communities"
    folder.mkdir()
    data = community_dataset(180, 3, seed=4)
    src, dst = data.graph.src.tolist(), data.graph.dst.tolist()
    (folder / "edges.csv").write_text("src,dst\n" + "".join(f"{s},{d}\n" for s, d in zip(src, dst)))
    features = "".join(f"{i},{int(data.y[i])}," + ",".join(f"{v:.5f}" for v in data.x[i].tolist()) + "\n"
                       for i in range(data.num_nodes))
    (folder / "nodes.csv").write_text("id,label,f0,f1,f2,f3,f4\n" + features)
    return folder


def run(args: list[str], cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          check=False)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_ranks_train_like_one_process(csv_dataset, tmp_path):
    parts = tmp_path / "parts"
    last_json(run(["-m", "graphscale", "partition", "--dataset", str(csv_dataset), "--parts", "2", "--out",
                   str(parts), "--json"], tmp_path))
    single = last_json(run(["-m", "graphscale", "train", "--dataset", str(csv_dataset), "--out",
                            str(tmp_path / "single"), *COMMON], tmp_path))
    launch = ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
              "--master-port", str(free_port()), "-m", "graphscale", "train", "--partitions", str(parts)]
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
