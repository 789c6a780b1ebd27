"""File access for dataset loaders: data root, compressed files, safe unpickling, downloads.

* ``data_root(root)``: explicit ``root`` > ``$GRAPHSCALE_DATA`` > ``~/.cache/graphscale``.
* ``resolve(folder, name)``: the path of ``name`` or of its ``.xz`` / ``.gz`` variant.
* ``open_text`` / ``open_binary``: open a file, decompressing ``.xz`` / ``.gz`` transparently. A truncated or
  corrupt compressed stream raises ``DatasetError`` naming the file; so does text that is not UTF-8 (with the
  line and column of the first bad byte).
* ``load_pickle``: a restricted unpickler that only builds the numpy / scipy / collections objects
  the Planetoid Python 2 pickles need; any other global raises ``DatasetError``.
* ``fetch(url, dest)``: download to a temporary file and rename (atomic); without network the
  ``DatasetError`` names the missing file, the URL and where to put the file by hand.
"""

from __future__ import annotations

import codecs
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
import zlib
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


COMPRESSION_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)
_FORMATS = {".gz": "a gzip file", ".xz": "an xz file"}


def _corrupt_stream(path: Path, err: BaseException) -> DatasetError:
    """The ``DatasetError`` of a truncated or corrupt ``.gz`` / ``.xz`` file."""
    return DatasetError(f"{path.name}: expected {_FORMATS[path.suffix]}, got a truncated or corrupt stream "
                        f"({type(err).__name__}: {err}). Re-download or re-compress it.")


class _Decompressed(io.RawIOBase):
    """Raw reader over a ``GzipFile`` / ``LZMAFile`` that turns decompression errors into ``DatasetError``."""

    def __init__(self, inner: IO[bytes], path: Path) -> None:
        super().__init__()
        self._inner = inner
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._inner.readinto(buffer)  # type: ignore[attr-defined]
        except COMPRESSION_ERRORS as err:
            raise _corrupt_stream(self._path, err) from err

    def readall(self) -> bytes:
        try:
            return self._inner.read()
        except COMPRESSION_ERRORS as err:
            raise _corrupt_stream(self._path, err) from err

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading bytes; ``.xz`` and ``.gz`` files are decompressed on the fly.

    Raises:
        DatasetError: While reading, when a ``.gz`` / ``.xz`` stream is truncated or corrupt (names the file).
    """
    path = Path(path)
    if path.suffix == ".xz":
        return io.BufferedReader(_Decompressed(lzma.open(path, "rb"), path), buffer_size=1 << 16)
    if path.suffix == ".gz":
        return io.BufferedReader(_Decompressed(gzip.open(path, "rb"), path), buffer_size=1 << 16)
    return open(path, "rb")


def _first_bad_byte(path: Path, encoding: str) -> tuple[int, int, int] | None:
    r"""``(line, column, byte)`` (1-based line and character column) of the first byte of ``path`` that does not
    decode, counting lines as universal newlines do (``\n``, ``\r\n`` or a lone ``\r`` ends one); else None."""
    number = 0
    with open_binary(path) as handle:
        for raw in handle:
            body = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
            for piece in body.split(b"\r"):
                number += 1
                try:
                    piece.decode(encoding)
                except UnicodeDecodeError as err:
                    column = len(piece[:err.start].decode(encoding, errors="replace")) + 1
                    return number, column, piece[err.start]
    return None


def _not_text(path: Path, encoding: str, err: UnicodeDecodeError) -> DatasetError:
    """The ``DatasetError`` of a file that is not valid ``encoding`` text, with the line of the first bad byte."""
    name = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") else encoding
    located = _first_bad_byte(path, encoding) if name == "UTF-8" else None
    if located is None:
        byte = err.object[err.start] if err.start < len(err.object) else None
        got = f"byte 0x{byte:02x} ({err.reason})" if byte is not None else err.reason
        return DatasetError(f"{path.name}: expected {name} text, got {got}. Save the file as {name}.")
    line, column, byte = located
    return DatasetError(f"{path.name} line {line}: expected {name} text, got byte 0x{byte:02x} at column {column}. "
                        f"Save the file as {name}.")


_DECODE_HANDLERS: dict[tuple[str, str], str] = {}


def _decode_errors(path: Path, encoding: str) -> str:
    """Name of a codec error handler (registered once per file and encoding) that raises ``_not_text``'s
    ``DatasetError`` for ``path``. The decoder calls it only on a bad byte, so reading good files costs nothing
    extra and the text wrapper stays the C ``TextIOWrapper``."""
    path = path.absolute()
    key = (os.fspath(path), encoding)
    name = _DECODE_HANDLERS.get(key)
    if name is None:
        def handler(err: UnicodeError) -> tuple[str, int]:
            if isinstance(err, UnicodeDecodeError):
                raise _not_text(path, encoding, err)
            raise err

        name = f"graphscale.datasets.io:{len(_DECODE_HANDLERS)}"
        codecs.register_error(name, handler)
        _DECODE_HANDLERS[key] = name
    return name


def open_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> IO[str]:
    """Open ``path`` as text (universal newlines, so CRLF files read like LF ones); ``.xz``/``.gz`` transparent.

    UTF-8 files may start with a byte-order mark (Excel writes one); it is dropped.

    Raises:
        DatasetError: While reading: a byte that is not ``encoding`` text (file, line, column and byte named),
            or a truncated / corrupt ``.gz`` / ``.xz`` stream.
    """
    path = Path(path)
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    return io.TextIOWrapper(open_binary(path), encoding=encoding, errors=_decode_errors(path, encoding),
                            newline=None)


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """Whole file as one string (decompressed); errors as ``open_text``."""
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
