"""File access for dataset loaders: data root, compressed files, safe unpickling, downloads.

* ``data_root(root)``: explicit ``root`` > ``$GRAPHSCALE_DATA`` > ``~/.cache/graphscale``.
* ``resolve(folder, name)``: the path of ``name`` or of its ``.xz`` / ``.gz`` variant.
* ``open_text`` / ``open_binary``: open a file, decompressing ``.xz`` / ``.gz`` transparently.
* ``load_pickle``: a restricted unpickler that only builds the numpy / scipy / collections objects
  the Planetoid Python 2 pickles need; any other global raises ``DatasetError``.
* ``fetch(url, dest)``: download to a temporary file and rename (atomic); without network the
  ``DatasetError`` names the missing file, the URL and where to put the file by hand.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import pickle
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..errors import DatasetError

COMPRESSED_SUFFIXES = (".xz", ".gz")
DEFAULT_ROOT = Path("~/.cache/graphscale")
DOWNLOAD_TIMEOUT_S = 60.0


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Directory holding one folder per dataset: ``root`` > ``$GRAPHSCALE_DATA`` > ``~/.cache/graphscale``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GRAPHSCALE_DATA")
    if env:
        return Path(env).expanduser()
    return DEFAULT_ROOT.expanduser()


def in_ci() -> bool:
    """True when ``$CI`` says we run under continuous integration (missing data is then an error)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def resolve(folder: Path, name: str) -> Path | None:
    """Path of ``folder/name``, ``folder/name.xz`` or ``folder/name.gz`` (first that exists), else None."""
    for candidate in (name, *(name + suffix for suffix in COMPRESSED_SUFFIXES)):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading bytes; ``.xz`` and ``.gz`` files are decompressed on the fly."""
    path = Path(path)
    if path.suffix == ".xz":
        return lzma.open(path, "rb")
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def open_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> IO[str]:
    """Open ``path`` as text (universal newlines, so CRLF files read like LF ones); ``.xz``/``.gz`` transparent."""
    return io.TextIOWrapper(open_binary(path), encoding=encoding, newline=None)


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """Whole file as one string (decompressed)."""
    with open_text(path, encoding) as handle:
        return handle.read()


# -- restricted unpickling ------------------------------------------------------------------------------------
def _numpy_multiarray() -> Any:
    try:
        from numpy._core import multiarray  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return multiarray


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import collections

    import numpy as np
    import scipy.sparse as sp

    multiarray = _numpy_multiarray()
    return {
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,  # renamed numpy._core in NumPy 2
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,  # module is scipy.sparse._csr since SciPy 1.8
        ("scipy.sparse._csr", "csr_matrix"): sp.csr_matrix,
        ("scipy.sparse", "csr_matrix"): sp.csr_matrix,
        ("collections", "defaultdict"): collections.defaultdict,
        ("__builtin__", "list"): list,  # Python 2 name of builtins
        ("builtins", "list"): list,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals of the Planetoid pickles (numpy arrays, scipy CSR,
    ``defaultdict(list)``); everything else (``os.system``, ``builtins.eval`` ...) raises ``DatasetError``."""

    def __init__(self, file: IO[bytes], source: str = "pickle") -> None:
        super().__init__(file, encoding="latin1", fix_imports=True)
        self._source = source
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed.get((module, name))
        if obj is None:
            raise DatasetError(
                f"{self._source}: expected only numpy/scipy/collections objects in the pickle, got a reference to "
                f"'{module}.{name}'. The file is not a Planetoid data file or was tampered with; replace it with "
                "the published copy."
            )
        return obj


def load_pickle(path: str | os.PathLike[str]) -> Any:
    """Unpickle a Python 2 / 3 pickle of numpy / scipy / defaultdict objects with ``RestrictedUnpickler``."""
    path = Path(path)
    with open_binary(path) as handle:
        try:
            return RestrictedUnpickler(handle, source=path.name).load()
        except DatasetError:
            raise
        except Exception as err:  # truncated or corrupt pickles raise many different types
            raise DatasetError(
                f"{path.name}: expected a readable pickle, got {type(err).__name__}: {err}. "
                "Replace the file with the published copy."
            ) from err


# -- downloads ------------------------------------------------------------------------------------------------
def is_writable_dir(path: str | os.PathLike[str]) -> bool:
    """Whether files may be created under ``path`` (or its nearest existing ancestor).

    The owner's write bit is honoured even for root, so a data folder made read-only (``chmod a-w``) is never
    written into by downloads or caches.
    """
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return path.is_dir() and bool(mode & stat.S_IWUSR) and os.access(path, os.W_OK | os.X_OK)


def _manual_hint(url: str, dest: Path) -> str:
    return f"Download {url} and save it as {dest}, or set GRAPHSCALE_DATA / root= to a folder that has it"


def fetch(url: str, dest: str | os.PathLike[str], timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` through a temporary file renamed into place (no half-written files).

    Raises:
        DatasetError: Without network, on an HTTP error, or when ``dest``'s folder is not writable; the
            message names the file, the URL and where to put the file by hand.
    """
    dest = Path(dest)
    try:
        if not is_writable_dir(dest.parent):
            raise PermissionError(f"{dest.parent} is read-only")
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as err:
        raise DatasetError(
            f"fetch: expected a writable folder for {dest.name}, got {type(err).__name__}: {err}. "
            f"{_manual_hint(url, dest)}."
        ) from err
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        os.replace(tmp_name, dest)
    except (urllib.error.URLError, OSError, ValueError) as err:
        Path(tmp_name).unlink(missing_ok=True)
        raise DatasetError(
            f"fetch: expected to download {dest.name} from {url}, got {type(err).__name__}: {err}. "
            f"{_manual_hint(url, dest)}."
        ) from err
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def fetch_zip_members(url: str, folder: Path, members: Iterable[str], timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Download the zip ``url`` and extract the files whose base name is in ``members`` into ``folder``.

    Each member is written to a temporary file and renamed, so an interrupted run leaves nothing half-written.
    """
    wanted = set(members)
    archive = fetch(url, folder / (Path(url).name + ".download"), timeout=timeout)
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if base not in wanted or "__MACOSX" in info.filename:
                    continue
                tmp = folder / (base + ".part")
                with zipped.open(info) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, length=1 << 20)
                os.replace(tmp, folder / base)
    except (zipfile.BadZipFile, OSError) as err:
        raise DatasetError(
            f"fetch: expected a zip archive from {url}, got {type(err).__name__}: {err}. "
            f"Download it by hand and extract {sorted(wanted)} into {folder}."
        ) from err
    finally:
        archive.unlink(missing_ok=True)


def require_files(folder: Path, names: Iterable[str], urls: dict[str, str] | None = None, *,
                  download: bool = False, dataset: str = "") -> dict[str, Path]:
    """Map each file name to its path in ``folder`` (``.xz``/``.gz`` variants accepted).

    A missing file is downloaded from ``urls[name]`` when ``download`` is true; otherwise (or when the
    download fails) ``DatasetError`` names the file, its canonical URL and where to put it.
    """
    urls = urls or {}
    where = dataset or folder.name
    found: dict[str, Path] = {}
    for name in names:
        path = resolve(folder, name)
        if path is None and download and name in urls:
            path = fetch(urls[name], folder / name)
        if path is None:
            url = urls.get(name)
            source = f"Download it from {url} into {folder}" if url else f"Copy it into {folder}"
            raise DatasetError(
                f"{where}: expected file {name} in {folder}, got no such file (nor {name}.xz / {name}.gz). "
                f"{source}, or point GRAPHSCALE_DATA / root= at a folder that has it."
            )
        found[name] = path
    return found
