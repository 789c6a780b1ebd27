"""The run helpers every command uses: the device, resume checks, the progress bar, and output folders
(checked before anything is written, never damaged by a failed run).

Every command (``train``, ``embed``, ``kg``, ``visualize``) names the files it writes (its *artifacts*) and
opens its folder through :func:`output_folder`:

* The path is checked first: an existing file, a file among its parents or a read-only folder is a
  :class:`~graphscale.errors.ConfigError` naming the path, before any data is loaded or written.
* A folder that already holds artifacts of an earlier run is refused unless the run resumes it
  (``--resume``) or replaces it (``--overwrite``). Without ``--out`` the default folder is numbered instead
  (``runs/cora-gcn``, then ``runs/cora-gcn-2`` ...); ``--resume`` without ``--out`` picks the newest of them.
* ``--overwrite`` moves the earlier artifacts into a hidden ``.replaced-<pid>/`` folder beside the new ones;
  they are deleted only when the new run has finished.
* A run that fails with a :class:`~graphscale.errors.GraphscaleError` (bad input or config, found late)
  is rolled back: its own artifacts are removed and the earlier ones moved back, so the folder is as it was.
  A killed or interrupted run keeps its checkpoints (``--resume`` continues it); an interrupted
  ``--overwrite`` keeps the earlier run in ``.replaced-<pid>/`` until a later run in the folder finishes.
* Temporary files of atomic writes cut short by a kill are removed when the folder is opened again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..config import RunConfig, to_dict
from ..datasets.io import is_writable_dir
from ..errors import ConfigError, GraphscaleError

BACKUP_PREFIX = ".replaced-"


def check_writable_path(path: Path, flag: str = "--out", kind: str = "folder") -> None:
    """Raise ConfigError unless ``path`` can be created (or written) as a ``kind`` ("folder" or "file").

    Nothing is created: the nearest existing ancestor must be a writable folder, and no ancestor a file.
    """
    path = Path(path)
    if kind == "folder" and path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} '{path}': expected a folder, got an existing file. Pick another {flag} "
                          "or move the file away.")
    if kind == "file" and path.is_dir():
        raise ConfigError(f"{flag} '{path}': expected a file name, got an existing folder. Pass a file inside it, "
                          f"e.g. {flag} {path / 'plot.png'}.")
    existing = path if kind == "folder" else path.parent
    existing = existing.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{flag} '{path}': expected a path whose parents are folders, got the file "
                          f"'{existing}' among them. Pick another {flag}.")
    if not is_writable_dir(existing):
        raise ConfigError(f"{flag} '{path}': expected a writable location, got the read-only folder '{existing}'. "
                          f"Pick another {flag} or make the folder writable.")


def check_same_settings(saved: dict[str, Any], now: dict[str, Any], source: Any) -> None:
    """ConfigError naming the first setting of ``now`` (``{section: {key: value}}`` or ``{name: value}``)
    that ``saved``, the interrupted run's settings read from ``source``, holds with another value."""
    for section, values in now.items():
        old = saved.get(section)
        pairs = values.items() if isinstance(values, dict) else [(None, values)]
        for key, value in pairs:
            before = old.get(key) if isinstance(old, dict) and key is not None else old
            if before != value:
                name = section if key is None else f"{section}.{key}"
                raise ConfigError(f"--resume: {source} was written with {name}={before!r}, got {value!r}. "
                                  "Resume with the same config, or pick a new --out folder.")


def present_artifacts(folder: Path, artifacts: Sequence[str]) -> list[str]:
    """The names of ``artifacts`` that exist in ``folder``."""
    return [name for name in artifacts if (folder / name).exists()] if folder.is_dir() else []


def run_folder(out: str | Path | None, name: str, artifacts: Sequence[str], resume: bool) -> Path:
    """Where a command writes its run: ``out`` (``output.dir`` / ``--out``) when given, else ``runs/<name>``
    numbered past earlier runs (:func:`numbered_default`; with ``resume`` the newest of them)."""
    return Path(out) if out else numbered_default(Path("runs") / name, artifacts, resume)


def numbered_default(base: Path, artifacts: Sequence[str], resume: bool) -> Path:
    """The default output folder: ``base`` or the first ``base-2``, ``base-3`` ... without artifacts; with
    ``resume`` the newest of them that has some (else ``base``)."""
    candidates = [base, *(base.with_name(f"{base.name}-{i}") for i in range(2, 10_000))]
    used: Path | None = None
    for candidate in candidates:
        if not present_artifacts(candidate, artifacts):
            return (used or base) if resume else candidate
        used = candidate
    raise ConfigError(f"output.dir: expected a free default folder next to '{base}', got 10,000 used ones. "
                      "Pass --out.")


def remove_partial_writes(folder: Path, artifacts: Sequence[str]) -> None:
    """Delete the hidden temporary files (``.<name>.<random>.tmp``, ``.<name>.tmp.png`` ...) that an atomic
    write killed before its rename leaves in ``folder`` or in its artifact sub-folders."""
    for where in (folder, *(folder / name for name in artifacts if (folder / name).is_dir())):
        for stale in where.glob(".*.tmp*"):
            if stale.is_file() and not stale.name.startswith(BACKUP_PREFIX):
                stale.unlink(missing_ok=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def check_output_folder(path: Path, artifacts: Sequence[str], *, resume: bool = False, overwrite: bool = False,
                        flag: str = "--out") -> list[str]:
    """The checks :func:`output_folder` makes before anything is written; returns the earlier artifacts.

    Raises:
        ConfigError: See :func:`output_folder`.
    """
    path = Path(path)
    check_writable_path(path, flag)
    earlier = present_artifacts(path, artifacts)
    if earlier and not resume and not overwrite:
        raise ConfigError(f"{flag} '{path}': expected a new or empty folder, got the output of an earlier run "
                          f"({', '.join(earlier[:3])}{' ...' if len(earlier) > 3 else ''}). Pass --resume to continue "
                          f"it, --overwrite to replace it, or pick another {flag}.")
    return earlier


@contextlib.contextmanager
def output_folder(path: Path, artifacts: Sequence[str], *, resume: bool = False, overwrite: bool = False,
                  flag: str = "--out") -> Iterator[Path]:
    """Open ``path`` for a run that writes ``artifacts`` (file or folder names inside it); see the module doc.

    Raises:
        ConfigError: ``path`` is a file, under a file or read-only; or it holds an earlier run's artifacts and
            neither ``resume`` nor ``overwrite`` is set.
    """
    path = Path(path)
    earlier = check_output_folder(path, artifacts, resume=resume, overwrite=overwrite, flag=flag)
    created = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    remove_partial_writes(path, artifacts)
    backup: Path | None = None
    if earlier and overwrite and not resume:
        backup = path / f"{BACKUP_PREFIX}{os.getpid()}"
        _remove(backup)
        backup.mkdir()
        for name in earlier:
            os.replace(path / name, backup / name)
    try:
        yield path
    except GraphscaleError:
        if not resume:  # everything listed was written by this run: take it away, put the earlier run back
            for name in artifacts:
                _remove(path / name)
            if backup is not None:
                for name in earlier:
                    os.replace(backup / name, path / name)
                backup.rmdir()
            for folder in created:  # innermost first; only folders this run made and left empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise
    for stale in path.glob(f"{BACKUP_PREFIX}*"):  # this run's, and any left by an interrupted --overwrite
        _remove(stale)


def group_run(rank: int, world: int, folder: Path, artifacts: Sequence[str], *, resume: bool, overwrite: bool,
              prepare: Callable[[], None], body: Callable[[bool], Any]) -> Any:
    """A run trained by every rank of a torchrun group (or by one process: ``world`` 1) into one folder.

    Rank 0 opens ``folder`` (:func:`output_folder`), calls ``prepare()`` (e.g. writes config.yaml), then every
    rank calls ``body(writer)`` (``writer`` True on rank 0 alone: it writes the rest of the folder; the others
    write only their checkpoint shards) and the ranks leave the group together. Returns rank 0's ``body``
    result (None on the other ranks).
    """
    from ..distributed.comm import leave_group

    if rank > 0:
        torch.distributed.barrier()  # rank 0 has checked and opened the folder
        body(False)
        leave_group()
        return None
    with output_folder(folder, artifacts, resume=resume, overwrite=overwrite):
        prepare()
        if world > 1:
            torch.distributed.barrier()
        result = body(True)
    leave_group()  # after rank 0 has written the folder
    return result


# -- the run helpers every command uses: device, resume checks, progress bar --------------------------------
def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is a ConfigError."""
    name = str(name).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: expected cpu, cuda, cuda:N or auto, got {name!r}.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: expected an available device, got {name!r} but no CUDA device is "
                          "visible. Use --device cpu (or auto).")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"train.device: expected cpu, cuda, cuda:N or auto, got {name!r}.")
    return device


def fingerprint(cfg: RunConfig) -> dict[str, Any]:
    """The parts of a config a resumed run must share with the interrupted one (all but output/device)."""
    data = to_dict(cfg)
    data.pop("output"), data.pop("expected")
    data["train"] = {k: v for k, v in data["train"].items() if k != "device"}
    return data


def check_resume(saved: dict[str, Any], cfg: RunConfig, path: Any) -> None:
    """Raise ConfigError when a checkpoint (or config.yaml) was written under a different config."""
    check_same_settings(saved, fingerprint(cfg), path)


def progress_bar(total: int, desc: str, enabled: bool, **options: Any) -> tqdm:
    """tqdm bar on stderr (the CLI keeps stdout for results); quiet when stderr is not a terminal (a log file, a
    pipe, a batch job) unless ``GRAPHSCALE_PROGRESS=1`` asks for it; off when not ``enabled`` (``--no-progress``).
    ``options`` go to tqdm (``unit``, ``initial``, ``leave`` ...)."""
    forced = os.environ.get("GRAPHSCALE_PROGRESS", "").strip() == "1"
    settings = {"leave": True, "dynamic_ncols": True, "mininterval": 0.5, **options}
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=True if not enabled else (False if forced else None),
                **settings)
