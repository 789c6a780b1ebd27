"""Sub-commands of ``graphscale`` beyond train/datasets: each module has ``register(subparsers)``."""

from __future__ import annotations

from typing import Any


def add_run_options(parser: Any, default_out: str, device_help: str, override_example: str,
                    device_choices: tuple[str, ...] | None = None) -> None:
    """The options every training command shares: ``--config``, ``--out``, ``--resume``, ``--overwrite``,
    ``--device``, ``--json``, ``--print-config``, ``--no-progress`` and the ``key=value`` overrides."""
    parser.add_argument("--config", help="YAML config file")
    parser.add_argument("--out", help=f"output folder (default {default_out})")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in the output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace the earlier run in --out (kept until the "
                                                                 "new run finishes)")
    parser.add_argument("--device", choices=device_choices, help=device_help)
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last stdout line")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar (shown on stderr when it is "
                                                                  "a terminal, or with GRAPHSCALE_PROGRESS=1)")
    parser.add_argument("--tensorboard", action="store_true", default=None,
                        help="write TensorBoard event files under <out>/tensorboard (output.tensorboard)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help=f"config overrides, e.g. {override_example}")


def prepare_run(args: Any, cfg: Any, command: str, writes: str) -> bool:
    """The checks every config-driven command makes before it runs: ``--tensorboard`` is refused where the command
    writes no event files, ``--print-config`` prints the resolved config. Returns True when the command is done.

    Raises:
        ConfigError: ``--tensorboard`` given to a command without TensorBoard logging.
    """
    if args.tensorboard:
        from ..errors import ConfigError

        raise ConfigError(f"--tensorboard: expected no TensorBoard logging for {command} (it writes {writes}), got "
                          "the flag. Drop --tensorboard.")
    if args.print_config:
        from ..config import dump

        print(dump(cfg, comments=True), end="")
        return True
    return False


__all__ = ["add_run_options", "prepare_run"]
