"""Real interruptions: ``SIGKILL`` a ``graphscale train`` / ``graphscale embed`` process mid-run, finish it with
``--resume`` and compare with an uninterrupted run of the same command.

Each test starts the command twice as subprocesses: into ``A`` (killed once a checkpoint exists and has been
replaced at least once more, i.e. clearly mid-run) and into ``B`` (uninterrupted, run alongside). ``A`` is then
finished with ``--resume``. The resumed outputs must equal ``B``'s: metrics, per-epoch / per-pool histories
(each epoch / pool listed once), final checkpoints and embeddings. Single-threaded (``OMP_NUM_THREADS=1``,
``NUMBA_NUM_THREADS=1``, ``--threads 1``), so both runs are bit-for-bit deterministic.

If a run finishes before the kill lands, the attempt is repeated with twice the work (a slower or faster
machine moves the kill, never silently passes the test); after the last attempt the test fails.
``kg`` interruptions are tested in ``tests/kge``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from graphscale.train.checkpoint import load_checkpoint

TIMEOUT_S = 60.0
ATTEMPTS = 3
POLL_S = 0.005


def make_dataset(folder: Path, n: int = 400, classes: int = 4, feats: int = 16, seed: int = 0) -> Path:
    """A seeded SBM-like custom folder: ``edges.csv`` (src,dst) and ``nodes.csv`` (id,label,split,f0..)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    prob = np.where(y[:, None] == y[None, :], 0.04, 0.008)
    src, dst = np.nonzero(np.triu(rng.random((n, n)) < prob, 1))
    ring = np.arange(n)  # a ring through each class: no isolated node
    src, dst = np.concatenate([src, ring]), np.concatenate([dst, (ring + classes) % n])
    x = 0.4 * np.eye(classes)[y] @ rng.normal(size=(classes, feats)) + rng.normal(size=(n, feats))
    split = np.array(["train", "val", "test"])[rng.permutation(np.arange(n) % 3)]
    folder.mkdir(parents=True)
    (folder / "edges.csv").write_text("src,dst\n" + "".join(f"n{a},n{b}\n" for a, b in zip(src, dst)))
    header = "id,label,split," + ",".join(f"f{i}" for i in range(feats))
    rows = [f"n{i},c{y[i]},{split[i]}," + ",".join(f"{v:.5f}" for v in x[i]) for i in range(n)]
    (folder / "nodes.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return folder


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1", GRAPHSCALE_DOWNLOAD="0",
               OMP_WAIT_POLICY="PASSIVE")
    return env


class Proc:
    """A ``python -m graphscale ...`` subprocess with its stdout / stderr in files next to its output folder."""

    def __init__(self, argv: list[str], log: Path, cwd: Path) -> None:
        self.log = log
        self.argv = argv
        self._out = open(log.with_suffix(".out"), "wb")  # noqa: SIM115 (closed in wait/kill)
        self._err = open(log.with_suffix(".err"), "wb")  # noqa: SIM115
        self.popen = subprocess.Popen([sys.executable, "-m", "graphscale", *argv], stdout=self._out,
                                      stderr=self._err, env=_env(), cwd=cwd)

    def _close(self) -> None:
        self._out.close()
        self._err.close()

    def wait(self) -> int:
        try:
            code = self.popen.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"graphscale {' '.join(self.argv)}: still running after {TIMEOUT_S:.0f} s{self.tail()}")
        self._close()
        return code

    def kill(self) -> int:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        code = self.popen.wait(timeout=TIMEOUT_S)
        self._close()
        return code

    def tail(self) -> str:
        text = "\n".join(self.log.with_suffix(s).read_text(errors="replace")[-2000:] for s in (".out", ".err"))
        return f"\n--- output ---\n{text}"

    def last_json(self) -> dict:
        lines = self.log.with_suffix(".out").read_text().strip().splitlines()
        assert lines, f"no --json line{self.tail()}"
        return json.loads(lines[-1])


def _version(path: Path) -> tuple[int, int] | None:
    """``(inode, mtime_ns)`` of ``path``: changes with every atomic replace; None when absent."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def kill_mid_run(proc: Proc, checkpoint: Path, versions: int) -> bool:
    """SIGKILL ``proc`` once ``checkpoint`` has existed in ``versions`` distinct versions.

    Returns False when the process ended on its own first (the caller retries with more work).
    """
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            code = proc.kill()
            assert code == 0, f"graphscale {' '.join(proc.argv)} failed with exit code {code}{proc.tail()}"
            return False
        version = _version(checkpoint)
        if version is not None:
            seen.add(version)
            if len(seen) >= versions:
                code = proc.kill()
                if code == 0:  # finished between the last poll and the signal
                    return False
                assert code == -signal.SIGKILL, f"exit code {code}, expected -SIGKILL{proc.tail()}"
                return True
        time.sleep(POLL_S)
    proc.kill()
    pytest.fail(f"{checkpoint.name} did not appear {versions} times within {TIMEOUT_S:.0f} s{proc.tail()}")


def interrupted_and_reference(tmp_path: Path, argv_for, checkpoint_of, versions: int, finished_mid_run):
    """Run ``argv_for(scale, out)`` into A (killed mid-run, then finished with ``--resume``) and into B
    (uninterrupted) side by side; ``scale`` doubles with each attempt.

    ``finished_mid_run(A)`` checks A's partial state after the kill; False (e.g. the last checkpoint already
    says done) counts as "finished before the kill". Returns ``(argv of A, A, B, A's resumed process,
    B's process)``, both processes ended with exit code 0.
    """
    procs: list[Proc] = []
    try:
        for attempt in range(ATTEMPTS):
            scale = 2 ** attempt
            out_a, out_b = tmp_path / f"A{attempt}", tmp_path / f"B{attempt}"
            argv_a, argv_b = argv_for(scale, out_a), argv_for(scale, out_b)
            proc_a = Proc(argv_a, tmp_path / f"A{attempt}-killed.log", tmp_path)
            proc_b = Proc(argv_b, tmp_path / f"B{attempt}.log", tmp_path)
            procs += [proc_a, proc_b]
            if kill_mid_run(proc_a, checkpoint_of(out_a), versions) and finished_mid_run(out_a):
                resumed = resume(tmp_path, argv_a, out_a)  # while B is still running
                code = proc_b.wait()
                assert code == 0, f"uninterrupted run failed with exit code {code}{proc_b.tail()}"
                return argv_a, out_a, out_b, resumed, proc_b
            proc_b.kill()
        pytest.fail(f"graphscale {' '.join(argv_a)}: every attempt ({ATTEMPTS}, up to {2 ** (ATTEMPTS - 1)}x the "
                    "work) finished before the kill landed mid-run; raise the work per attempt")
    finally:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.kill()


def resume(tmp_path: Path, argv: list[str], out: Path) -> Proc:
    proc = Proc([*argv, "--resume"], tmp_path / f"{out.name}-resume.log", tmp_path)
    try:
        code = proc.wait()
    finally:
        if proc.popen.poll() is None:
            proc.kill()
    assert code == 0, f"--resume failed with exit code {code}{proc.tail()}"
    return proc


TRAIN_EPOCHS = 150
TRAIN_SEEDS = 2


def test_train_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    data = make_dataset(tmp_path / "sbmgraph")

    def argv_for(scale: int, out: Path) -> list[str]:
        # dropout (torch RNG), a step schedule (scheduler state) and the best-epoch selector all cross the kill
        return ["train", "--dataset", str(data), "--model", "gcn", "--out", str(out), "--no-progress", "--json",
                "--seeds", str(TRAIN_SEEDS), "--epochs", str(TRAIN_EPOCHS * scale), "--device", "cpu",
                "output.checkpoint_every=25", "output.plot=false", "model.hidden_dim=16", "model.dropout=0.5",
                "train.lr=0.02", "train.lr_step=40", "train.lr_gamma=0.7", "train.patience=0"]

    partial: dict[str, dict] = {}

    def finished_mid_run(out: Path) -> bool:
        if (out / "metrics.json").exists():
            return False
        states = [load_checkpoint(out / "checkpoints" / f"run{i}.pt") for i in range(TRAIN_SEEDS)]
        if states[-1] is None or states[-1]["done"]:
            return False
        partial["last"] = states[-1]
        return True

    # the last seed's checkpoint written twice: seed 0 is finished, seed 1 is between checkpoints
    argv, out_a, out_b, proc_a, proc_b = interrupted_and_reference(
        tmp_path, argv_for, lambda out: out / "checkpoints" / f"run{TRAIN_SEEDS - 1}.pt", 2, finished_mid_run)
    epochs = int(argv[argv.index("--epochs") + 1])
    state = partial["last"]
    assert 0 < state["epoch"] < epochs and state["epoch"] % 25 == 0
    assert all(len(v) == state["epoch"] for v in state["history"].values())
    assert load_checkpoint(out_a / "checkpoints" / "run0.pt")["done"]

    a, b = proc_a.last_json(), proc_b.last_json()
    for key in ("test_acc", "test_acc_std", "val_acc", "val_acc_std", "train_acc", "epochs_run", "per_seed_test_acc",
                "num_nodes", "num_edges"):
        assert a[key] == b[key], (key, a[key], b[key])
    assert a["epochs_run"] == [epochs] * TRAIN_SEEDS
    assert 0.4 < a["test_acc"] < 1.0  # a task the model learns but does not solve outright

    metrics_a = json.loads((out_a / "metrics.json").read_text())
    metrics_b = json.loads((out_b / "metrics.json").read_text())
    for run_a, run_b in zip(metrics_a["runs"], metrics_b["runs"], strict=True):
        for key in ("seed", "split", "best_epoch", "epochs_run", "test_acc", "val_acc", "val_loss", "train_acc",
                    "last_test_acc"):
            assert run_a[key] == run_b[key], (run_a["run"], key, run_a[key], run_b[key])

    # history.json: every epoch once, in order, with the uninterrupted run's numbers
    curves_a = json.loads((out_a / "history.json").read_text())["curves"]
    curves_b = json.loads((out_b / "history.json").read_text())["curves"]
    assert len(curves_a) == len(curves_b) == TRAIN_SEEDS
    for run, (curve_a, curve_b) in enumerate(zip(curves_a, curves_b)):
        assert sorted(curve_a) == sorted(curve_b)
        for key in curve_b:
            assert len(curve_a[key]) == epochs, (run, key, len(curve_a[key]))
            assert curve_a[key] == curve_b[key], (run, key)
    # the partial history was extended, not repeated
    for key, values in state["history"].items():
        assert curves_a[-1][key][:state["epoch"]] == values

    # final checkpoints: same (best-epoch) weights, optimiser and schedule
    for run in range(TRAIN_SEEDS):
        ckpt_a = load_checkpoint(out_a / "checkpoints" / f"run{run}.pt")
        ckpt_b = load_checkpoint(out_b / "checkpoints" / f"run{run}.pt")
        assert ckpt_a["done"] and ckpt_b["done"] and ckpt_a["epoch"] == ckpt_b["epoch"] == epochs
        assert ckpt_a["history"] == ckpt_b["history"]
        assert ckpt_a["model"].keys() == ckpt_b["model"].keys()
        for name in ckpt_b["model"]:
            assert torch.equal(ckpt_a["model"][name], ckpt_b["model"][name]), (run, name)
        assert ckpt_a["scheduler"] == ckpt_b["scheduler"]
        assert ckpt_a["selector"]["best"] == ckpt_b["selector"]["best"]
        assert len(ckpt_a["times"]) == epochs


EMBED_WALKS = 160
EMBED_WALK_LENGTH, EMBED_WINDOW, EMBED_POOL_SIZE = 20, 5, 4096


def embed_pools(num_walks: int, num_nodes: int) -> int:
    """Pools of a walk-model run: every node starts ``num_walks`` walks, a pool holds whole walks' pairs."""
    pairs = sum(min(EMBED_WINDOW, EMBED_WALK_LENGTH - 1 - i) for i in range(EMBED_WALK_LENGTH - 1))
    return -(-num_walks * num_nodes // (EMBED_POOL_SIZE // pairs))


def test_embed_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    data = make_dataset(tmp_path / "sbmgraph")

    def argv_for(scale: int, out: Path) -> list[str]:
        return ["embed", "--dataset", str(data), "--model", "node2vec", "--p", "0.5", "--q", "2", "--dim", "16",
                "--threads", "1", "--seed", "3", "--out", str(out), "--no-progress", "--json",
                f"model.num_walks={EMBED_WALKS * scale}", f"model.walk_length={EMBED_WALK_LENGTH}",
                f"model.window={EMBED_WINDOW}", f"train.pool_size={EMBED_POOL_SIZE}",
                "output.checkpoint_every_s=0.02", "evaluate.repeats=2", "evaluate.ratios=[0.5]", "output.plot=false"]

    partial: dict[str, dict] = {}

    def finished_mid_run(out: Path) -> bool:
        if (out / "metrics.json").exists() or (out / "embeddings.npy").exists():
            return False
        state = load_checkpoint(out / "checkpoint.pt")
        num_walks = int(state["settings"]["num_walks"])
        partial.update(state=state, pools=embed_pools(num_walks, state["num_nodes"]))
        return state["epoch"] < partial["pools"]  # else killed after the final save (one pool per epoch)

    # three versions of checkpoint.pt: the tables have been saved twice during training
    argv, out_a, out_b, proc_a, proc_b = interrupted_and_reference(tmp_path, argv_for,
                                                                   lambda out: out / "checkpoint.pt", 3,
                                                                   finished_mid_run)
    final_b = load_checkpoint(out_b / "checkpoint.pt")
    num_pools = final_b["epoch"]
    assert num_pools == partial["pools"] and final_b["done"]  # the count finished_mid_run judged the kill by
    state = partial["state"]
    assert 0 < state["epoch"] < num_pools, (state["epoch"], num_pools)
    assert len(state["history"]["train_loss"]) == state["epoch"]

    a, b = proc_a.last_json(), proc_b.last_json()
    for key in ("num_nodes", "num_edges", "num_samples", "final_loss", "micro_f1", "macro_f1", "micro_f1_std",
                "macro_f1_std", "classification", "settings"):
        assert a[key] == b[key], (key, a[key], b[key])
    assert a["num_samples"] == final_b["extra"]["done"]

    np.testing.assert_array_equal(np.load(out_a / "embeddings.npy"), np.load(out_b / "embeddings.npy"))
    assert (out_a / "embeddings.nodes.txt").read_text() == (out_b / "embeddings.nodes.txt").read_text()

    # the per-pool loss history: every pool once, the partial one extended, equal to the uninterrupted run's
    final_a = load_checkpoint(out_a / "checkpoint.pt")
    assert final_a["epoch"] == num_pools and final_a["extra"]["done"] == final_b["extra"]["done"]
    loss_a, loss_b = final_a["history"]["train_loss"], final_b["history"]["train_loss"]
    assert len(loss_a) == len(loss_b) == num_pools
    assert loss_a[:state["epoch"]] == state["history"]["train_loss"]
    assert loss_a == loss_b
    tables_a, tables_b = final_a["extra"], final_b["extra"]
    assert torch.equal(tables_a["vertex"], tables_b["vertex"]) and torch.equal(tables_a["context"], tables_b["context"])
