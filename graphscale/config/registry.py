"""Case-insensitive name registries with "did you mean" suggestions (PyKEEN / PBG pattern)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from ..errors import ConfigError

T = TypeVar("T")


def normalize_key(name: str) -> str:
    """Registry keys are lower-case and hyphenated: ``"GraphSAGE_mean"`` -> ``"graphsage-mean"``."""
    return str(name).strip().lower().replace("_", "-")


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` (difflib), or ``""`` when none is close."""
    lowered = {str(c).lower(): str(c) for c in choices}
    name = str(name).lower()

    def score(candidate: str) -> tuple[float, bool, int]:
        # ties go to a transposition of the same letters ('gni' -> 'gin'), then to the longer common prefix
        prefix = len(os.path.commonprefix([name, candidate]))
        return difflib.SequenceMatcher(None, name, candidate).ratio(), sorted(name) == sorted(candidate), prefix

    ranked = sorted(lowered, key=score, reverse=True)
    if not ranked or score(ranked[0])[0] < cutoff:
        return ""
    return f" Did you mean '{lowered[ranked[0]]}'?"


class Registry(Generic[T]):
    """A name -> object table looked up case-insensitively.

    Args:
        kind: What the registry holds, used in error messages (``"optimizer"``).

    Example:
        >>> optimizers = Registry("optimizer")
        >>> optimizers.register("adam", torch.optim.Adam)
        >>> optimizers.get("ADAM") is torch.optim.Adam
        True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T) -> T:
        """Add ``obj`` under ``name``; raises ConfigError when the name is taken."""
        key = normalize_key(name)
        if key in self._items:
            raise ConfigError(f"{self.kind} registry: expected a new name, got '{name}' twice. Pick another name.")
        self._items[key] = obj
        return obj

    def get(self, name: str, where: str | None = None) -> T:
        """The object registered as ``name`` (any case, ``_`` or ``-``).

        Raises:
            ConfigError: Unknown name, with the list of known names and the closest match.
        """
        key = normalize_key(name)
        if key in self._items:
            return self._items[key]
        prefix = where or self.kind
        raise ConfigError(f"{prefix}: expected one of {', '.join(repr(k) for k in self._items)}, got '{name}'."
                          f"{did_you_mean(key, self._items)}")

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_key(name) in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
