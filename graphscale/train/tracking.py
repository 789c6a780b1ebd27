"""TensorBoard event files of every scalar a run logs (``--tensorboard`` / ``output.tensorboard: true``), through
``torch.utils.tensorboard`` (the ``tensorboard`` package is an optional extra); ``metrics.json`` and the other
run files stay as they are.

The hook takes the engine's per-epoch metrics (:func:`graphscale.train.loop.fit`'s ``on_epoch``): every number
becomes the scalar of its name at step ``epoch``, under ``run<r>/`` (or ``rep<r>/fold<f>/``) when the run has
several seeds or folds, so their curves sit side by side.
"""

from __future__ import annotations

from collections.abc import Callable
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


def with_tensorboard(enabled: bool, folder: Path, hook: Callable[[dict[str, Any]], None] | None
                     ) -> tuple[Callable[[dict[str, Any]], None] | None, TensorBoardLog | None]:
    """``(hook calling ``hook`` and the TensorBoard log, the log to close)``; ``hook`` alone when not enabled."""
    if not enabled:
        return hook, None
    log = TensorBoardLog(folder / FOLDER)
    if hook is None:
        return log, log

    def both(metrics: dict[str, Any]) -> None:
        log(metrics)  # first: an epoch the hook interrupts after is logged too
        hook(metrics)

    return both, log


__all__ = ["FOLDER", "TensorBoardLog", "require_tensorboard", "with_tensorboard"]
