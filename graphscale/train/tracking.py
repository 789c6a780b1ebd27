"""TensorBoard event files of every scalar a run logs (``--tensorboard`` / ``output.tensorboard: true``), through
``torch.utils.tensorboard`` (the ``tensorboard`` package is an optional extra); ``metrics.json`` and the other
run files stay as they are.

The hook takes the engine's per-epoch metrics (:func:`graphscale.train.loop.fit`'s ``on_epoch``): every number
becomes the scalar of its name at step ``epoch``, under ``run<r>/`` (or ``rep<r>/fold<f>/``) when the run has
several seeds or folds, so their curves sit side by side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError

TAG_KEYS = ("run", "rep", "fold")
FOLDER = "tensorboard"


def require_tensorboard() -> None:
    """ConfigError (before any output is written) when the tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError("output.tensorboard: expected the tensorboard package, got none installed. Install it "
                          "with `pip install tensorboard` (or graphscale[tensorboard]), or drop --tensorboard.") from None


class TensorBoardLog:
    """An ``on_epoch`` hook writing each numeric metric as a scalar under ``folder``.

    Args:
        folder: Where the event files go (``<run folder>/tensorboard``).
    """

    def __init__(self, folder: str | Path) -> None:
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))

    def __call__(self, metrics: dict[str, Any]) -> None:
        prefix = "".join(f"{k}{metrics[k]}/" for k in TAG_KEYS if k in metrics)
        step = int(metrics.get("epoch", 0))
        for key, value in metrics.items():
            if key in TAG_KEYS or key == "epoch" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self.writer.add_scalar(f"{prefix}{key}", float(value), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


@contextlib.contextmanager
def with_tensorboard(enabled: bool, folder: Path,
                     hook: Callable[[dict[str, Any]], None] | None) -> Iterator[Callable[[dict[str, Any]], None] | None]:
    """The ``on_epoch`` hook to train with: ``hook`` alone when not enabled, else ``hook`` and a TensorBoard log
    under ``folder/tensorboard`` (the log first: an epoch the hook interrupts after is logged too), closed on
    leaving the block."""
    if not enabled:
        yield hook
        return
    log = TensorBoardLog(folder / FOLDER)

    def both(metrics: dict[str, Any]) -> None:
        log(metrics)
        if hook is not None:
            hook(metrics)

    try:
        yield both
    finally:
        log.close()


__all__ = ["FOLDER", "TensorBoardLog", "require_tensorboard", "with_tensorboard"]
