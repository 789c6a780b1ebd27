"""Checkpoints: atomic writes, weights-only loading, RNG state round trip."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from graphscale.errors import GraphscaleError
from graphscale.train import checkpoint as ckpt


def test_round_trip(tmp_path):
    state = {"format": "test/1", "epoch": 3, "weights": torch.randn(4, 2), "history": {"loss": [1.0, 0.5]}}
    path = tmp_path / "sub" / "run0.pt"
    ckpt.save_atomic(state, path)
    loaded = ckpt.load_checkpoint(path)
    assert loaded["epoch"] == 3 and loaded["history"] == {"loss": [1.0, 0.5]}
    assert torch.equal(loaded["weights"], state["weights"])
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like a plain open(), not mkstemp's 0600
    assert ckpt.load_checkpoint(tmp_path / "missing.pt") is None


def test_failed_write_keeps_previous_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "run0.pt"
    ckpt.save_atomic({"format": "test/1", "epoch": 1}, path)
    before = path.read_bytes()

    def broken_save(obj, handle):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", broken_save)
    with pytest.raises(OSError):
        ckpt.save_atomic({"format": "test/1", "epoch": 2}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["run0.pt"]
    monkeypatch.undo()
    assert ckpt.load_checkpoint(path)["epoch"] == 1


class NotAllowed:
    """A class a weights-only unpickler must refuse to build."""

    def __init__(self) -> None:
        self.value = 1


def test_load_is_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "test/1", "payload": NotAllowed()}, path)
    with pytest.raises(GraphscaleError, match="unreadable file"):
        ckpt.load_checkpoint(path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(GraphscaleError, match="Delete it or run without --resume"):
        ckpt.load_checkpoint(garbage)
    plain = tmp_path / "plain.pt"
    torch.save([1, 2], plain)
    with pytest.raises(GraphscaleError, match="expected a graphscale checkpoint dict"):
        ckpt.load_checkpoint(plain)


def draw(generator: torch.Generator) -> tuple:
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)],
            torch.rand(3, generator=generator).tolist())


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    generator = torch.Generator().manual_seed(5)
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    draw(generator)
    ckpt.save_atomic({"format": "test/1", "rng": ckpt.rng_state(generator)}, tmp_path / "rng.pt")
    expected = draw(generator)
    draw(generator)  # move every generator on
    restored = torch.Generator()
    ckpt.set_rng_state(ckpt.load_checkpoint(tmp_path / "rng.pt")["rng"], restored)
    assert draw(restored) == expected
