"""Reading YAML with the line of every key, and checking one value against its declared type and bounds:
the pieces of the config core (:mod:`graphscale.config.loader`) that know nothing of any config class."""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .registry import did_you_mean
from .schema import parse_size


# -- YAML with line numbers ---------------------------------------------------------------------------------
def _walk_lines(node: yaml.Node, prefix: str, where: str, lines: dict[str, str]) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = str(key_node.value)
        path = f"{prefix}{key}"
        loc = f"{where}:{key_node.start_mark.line + 1}"
        if key in seen:
            raise ConfigError(f"{path}: expected each key once per section, got it again ({loc}). "
                              "Remove the duplicate.")
        seen.add(key)
        lines[path] = loc
        _walk_lines(value_node, path + ".", where, lines)


def shipped_path(path: Path) -> Path:
    """``path`` itself when it exists or names a folder; else the shipped config it names (``node-gcn-cora`` or
    ``node-gcn-cora.yaml``), when there is one."""
    if path.exists() or len(path.parts) != 1:
        return path
    from .shipped import config_dir

    name = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
    shipped = config_dir() / name
    return shipped if shipped.is_file() else path


def read_yaml(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse a YAML file into ``(mapping, {dotted key: "file:line"})``.

    Raises:
        ConfigError: Missing file, invalid YAML (with its line), duplicate keys, or a top level that is
            not a mapping.
    """
    path = shipped_path(Path(path))
    where = path.name if path.is_absolute() else str(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}': expected an existing YAML file or a shipped config name, got a "
                          "missing path. Check the path, or list the shipped configs with `graphscale train --help`.")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}{line}: expected valid YAML, got a syntax error ({problem}). "
                          "Fix the indentation or quoting on that line.") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections (data:, model:, train: ...), "
                          f"got {type(data).__name__}.")
    lines: dict[str, str] = {}
    _walk_lines(node, "", where, lines)
    return data, lines


# -- value checks -------------------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(value)


def describe(kind: Any, checks: dict[str, Any]) -> str:
    """Human form of a type and its checks: ``"float > 0"``, ``"int >= 1 or null"``."""
    optional = False
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        optional, kind = True, args[0]
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        text = f"a list of {describe(item, {})}s" + (f", each {_bounds(checks)}" if _bounds(checks) else "")
        return text + " (e.g. [15, 10] or 15,10)" + (" or null" if optional else "")
    if checks.get("size"):
        text = "a size like 6GB, 512MB or 1.5G"
    elif "choices" in checks:
        text = "one of " + ", ".join(repr(c) for c in checks["choices"])
    else:
        name = {int: "int", float: "float", bool: "bool (true/false)", str: "string"}.get(kind, "mapping")
        text = " ".join([name, _bounds(checks)]).strip()
    return text + (" or null" if optional else "")


def _bounds(checks: dict[str, Any]) -> str:
    """``">= 1"``, ``"in [0, 1)"``, ``">= 1 or -1"`` (with ``allow``) or ``""``."""
    text = ""
    lo = ("ge", ">=") if "ge" in checks else ("gt", ">") if "gt" in checks else None
    hi = ("le", "<=") if "le" in checks else ("lt", "<") if "lt" in checks else None
    if lo and hi:
        left = "[" if lo[0] == "ge" else "("
        right = "]" if hi[0] == "le" else ")"
        text = f"in {left}{_fmt(checks[lo[0]])}, {_fmt(checks[hi[0]])}{right}"
    elif lo:
        text = f"{lo[1]} {_fmt(checks[lo[0]])}"
    elif hi:
        text = f"{hi[1]} {_fmt(checks[hi[0]])}"
    for allowed in checks.get("allow", ()):
        text += f" or {allowed}"
    return text


def _in_bounds(value: Any, checks: dict[str, Any]) -> bool:
    if value in checks.get("allow", ()):
        return True
    return not (("gt" in checks and not value > checks["gt"]) or ("ge" in checks and not value >= checks["ge"]) or
                ("lt" in checks and not value < checks["lt"]) or ("le" in checks and not value <= checks["le"]))


def check_value(value: Any, kind: Any, checks: dict[str, Any], key: str, loc: str) -> Any:
    """Coerce ``value`` to ``kind`` and apply ``checks``; raise a path-aware ConfigError otherwise."""
    suffix = f" ({loc})" if loc else ""
    original = value

    def fail() -> ConfigError:
        if original is None or isinstance(original, bool):
            shown = {None: "null", True: "true", False: "false"}[original]
        else:
            shown = repr(original) if isinstance(original, str) else str(original)
        return ConfigError(f"{key}: expected {describe(kind, checks)}, got {shown}{suffix}.")

    base = kind
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        if value is None:
            return None
        base = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(base) is dict or base is dict:
        if not isinstance(value, dict):
            raise fail()
        return dict(value)
    if typing.get_origin(base) is list:
        if isinstance(value, str):  # "15,10" from the command line or an override
            value = [yaml.safe_load(part) if part.strip() else None for part in value.strip("[] ").split(",")]
        elif isinstance(value, int) and not isinstance(value, bool):  # a single-layer "fanouts: 10"
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise fail()
        (item_kind,) = typing.get_args(base)
        items = []
        for item in value:
            if item_kind is int and (isinstance(item, bool) or not isinstance(item, int)):
                raise fail()
            if not _in_bounds(item, checks):
                raise fail()
            items.append(item_kind(item))
        return items
    if base is bool:
        if not isinstance(value, bool):
            raise fail()
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise fail()
    elif base is float:
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, str):  # YAML 1.1 reads 5e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise fail() from None
        if not isinstance(value, (int, float)):
            raise fail()
        value = float(value)
    elif base is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise fail()
        value = str(value)
        if checks.get("size"):
            try:
                parse_size(value)
            except ValueError:
                raise fail() from None
            return value.strip()
        if "choices" in checks:
            lowered = value.lower()
            if lowered not in checks["choices"]:
                raise ConfigError(f"{key}: expected {describe(kind, checks)}, got {value!r}{suffix}."
                                  f"{did_you_mean(lowered, checks['choices'])}")
            value = lowered
        return value
    if not _in_bounds(value, checks):
        raise fail()
    return value
