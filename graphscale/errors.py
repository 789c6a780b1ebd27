"""Exception hierarchy of graphscale.

Every error message follows ``<where>: expected <what>, got <actual>. <how to fix>.``
Built-in bases are kept so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import warnings


class GraphscaleError(Exception):
    """Base class of every graphscale error."""


class GraphFormatError(GraphscaleError, ValueError):
    """A graph, an edge list or a graph file is malformed (bad ids, dtypes, shapes)."""


class ShapeError(GraphscaleError, ValueError):
    """A tensor has the wrong shape or dtype for the call."""


class ConfigError(GraphscaleError, ValueError):
    """A configuration value or key is invalid."""


class DatasetError(GraphscaleError, ValueError):
    """A dataset is missing or one of its files is malformed."""


class SamplingError(GraphscaleError, RuntimeError):
    """A sampler cannot produce what was asked of it."""


class DistributedError(GraphscaleError, RuntimeError):
    """A distributed set-up or communication failed."""


class MissingDependencyError(GraphscaleError, ImportError):
    """An optional dependency needed for this call is not installed."""


class GraphscaleWarning(UserWarning):
    """Warnings emitted by graphscale."""


_WARNED: set[str] = set()


def warn_once(message: str, stacklevel: int = 2) -> None:
    """Emit ``message`` as a GraphscaleWarning the first time it is seen."""
    if message in _WARNED:
        return
    _WARNED.add(message)
    warnings.warn(message, GraphscaleWarning, stacklevel=stacklevel + 1)
