"""Fields of benchmark record lines (stdlib only: the peer interpreters load it too).

* ``loaded_versions()``: versions of the libraries a worker has imported. It looks only at modules already in
  ``sys.modules``, so it never imports a library a worker did not use (a PyKEEN worker reports pykeen and torch,
  a graphscale worker graphscale, torch and numba).
* ``repo_relative(value)``: the value with this checkout's folder taken out of every string in it, so that a
  committed record names paths relative to the repository and never a folder of the machine that ran it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# distribution names as record keys, in the order they are reported
LIBRARIES = ("graphscale", "torch", "numba", "numpy", "torch_geometric", "dgl", "pykeen", "gensim", "pecanpy",
             "sklearn")


def loaded_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """``{name: version}`` of the ``names`` this process has imported."""
    found = {}
    for name in names:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module is not None else None
        if version is not None:
            found[name] = str(version)
    return found


def repo_relative(value: Any) -> Any:
    """``value`` (a string, or dicts / lists of them) with paths inside the checkout made relative to it and
    paths beside it (``../shared/...``) relative too."""
    if isinstance(value, str):
        return value.replace(f"{REPO_ROOT}/", "").replace(str(REPO_ROOT), ".").replace(str(REPO_ROOT.parent), "..")
    if isinstance(value, dict):
        return {key: repo_relative(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [repo_relative(item) for item in value]
    return value
