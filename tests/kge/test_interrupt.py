"""A real interruption: ``graphscale kg`` killed with SIGKILL between checkpoints, then ``--resume``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from graphscale.cli import main
from graphscale.train.checkpoint import load_checkpoint

from .conftest import ring_kg, write_kg_folder

EPOCHS, EVERY = 16, 5
# 640 training triples in batches of 16: ~40 steps, some tens of ms per epoch on one thread
ARGS = ["--model", "rotate", "--dim", "8", "--negatives", "16", "--epochs", str(EPOCHS), "--no-progress", "--json",
        "train.batch_size=16", "train.lr=0.05", "model.gamma=4.0", "train.threads=1",
        f"output.checkpoint_every={EVERY}", "output.export=false"]
METRICS = ("mrr", "mr", "hits_at_1", "hits_at_3", "hits_at_10")


def logged_epochs(path):
    """Epochs of the complete lines of ``progress.jsonl`` (a line being written is skipped)."""
    if not path.is_file():
        return []
    return [json.loads(line)["epoch"] for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_between_checkpoints_then_resume_matches_an_uninterrupted_run(tmp_path, capsys):
    folder = write_kg_folder(tmp_path / "kg", ring_kg(num_entities=200))
    command = ["kg", "--dataset", str(folder), *ARGS]

    assert main([*command, "--out", str(tmp_path / "straight")]) == 0  # the uninterrupted run, in this process
    straight = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    out = tmp_path / "killed"
    cli = [sys.executable, "-m", "graphscale", *command, "--out", str(out)]
    process = subprocess.Popen(cli, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # kill once the epoch-5 checkpoint exists and epoch 7 is logged, some epochs before the epoch-10 checkpoint
        while not ((out / "checkpoints" / "last.pt").is_file() and max(logged_epochs(out / "progress.jsonl"),
                                                                        default=0) >= EVERY + 2):
            assert process.poll() is None, f"finished before it could be killed: {process.stderr.read()!r}"
            assert time.monotonic() < deadline, "no checkpoint and later epochs within 120 s"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    checkpoint_epoch = load_checkpoint(out / "checkpoints" / "last.pt")["epoch"]
    logged = logged_epochs(out / "progress.jsonl")
    assert checkpoint_epoch % EVERY == 0 and max(logged) > checkpoint_epoch  # killed between checkpoints

    resumed = subprocess.run([*cli, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["complete"] and summary["epochs_done"] == EPOCHS
    for side in ("", "test_head_", "test_tail_"):
        for key in METRICS:
            assert summary[side + key] == straight[side + key], side + key  # bit for bit
    assert logged_epochs(out / "progress.jsonl") == list(range(1, EPOCHS + 1))  # each epoch exactly once
    losses = [json.loads(line)["loss"] for line in (out / "progress.jsonl").read_text().splitlines()]
    reference = [r["loss"] for r in map(json.loads, (tmp_path / "straight" / "progress.jsonl").open())]
    assert losses == reference
    final, expected = (load_checkpoint(path / "checkpoints" / "last.pt") for path in (out, tmp_path / "straight"))
    final, expected = final["extra"], expected["extra"]  # the KG tables: the engine checkpoints them as trainer state
    assert torch.equal(final["entity"], expected["entity"]) and torch.equal(final["relation"], expected["relation"])
