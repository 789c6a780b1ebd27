"""YAML + ``key=value`` overrides -> one checked :class:`RunConfig`, with path-aware errors.

Every error names the dotted key, says what was expected and what was found, and ends with the
``file:line`` it came from (PBG's DeepTypeError, friendlier)::

    train.lr: expected float > 0, got -1 (node-gcn-cora.yaml:12).
    train.lrr: unknown key (my.yaml:9). Did you mean 'lr'?
"""

from __future__ import annotations

import copy
import os
import typing
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any

import yaml

from ..errors import ConfigError
from .registry import did_you_mean
from .schema import SECTIONS, ModelConfig, RunConfig, SamplerConfig, field_default
from .values import check_value, read_yaml

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


# -- building a RunConfig -----------------------------------------------------------------------------------
def _unknown(key: str, name: str, known: Iterable[str], loc: str) -> ConfigError:
    suffix = f" ({loc})" if loc else ""
    known = list(known)
    hint = did_you_mean(name, known)
    if not hint:
        hint = f" Known keys: {', '.join(known)}."
    return ConfigError(f"{key}: unknown key{suffix}.{hint}")


def _hparams() -> dict[str, Any]:
    """The typed hyper-parameters of the model registries (:data:`graphscale.nn.hparams.HPARAMS`)."""
    from ..nn.hparams import HPARAMS  # the models' own table; loaded on first use of a model section

    return HPARAMS


def _set_model(model: ModelConfig, values: dict[str, Any], locate: Any, prefix: str = "model") -> None:
    for name, value in values.items():
        key = f"{prefix}.{name}"
        loc = locate(key)
        if name == "name":
            model.name = check_value(value, str, {}, key, loc).strip().lower()
        elif name == "hparams" and prefix == "model":
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a mapping of hyper-parameters, got {value!r}"
                                  f"{f' ({loc})' if loc else ''}.")
            _set_model(model, value, locate, prefix=key)
        elif name in _hparams():
            from ..nn.hparams import check_hparam

            model.hparams[name] = check_hparam(name, value, key, loc)
        else:
            raise _unknown(key, name, ["name", *_hparams()], loc)


def set_section(section: Any, values: Any, prefix: str, locate: Any) -> None:
    """Check and set the keys of one section dataclass from a mapping; ``locate(key)`` gives "file:line"."""
    loc = locate(prefix)
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix}: expected a mapping of keys, got {values!r}{f' ({loc})' if loc else ''}.")
    if isinstance(section, ModelConfig):
        _set_model(section, values, locate)
        return
    hints = _hints(type(section))
    by_name = {f.name: f for f in fields(section)}
    for name, value in values.items():
        key = f"{prefix}.{name}"
        if name not in by_name:
            raise _unknown(key, str(name), by_name, locate(key))
        meta = by_name[name].metadata
        checks = {k: v for k, v in meta.items() if k != "help"}
        setattr(section, name, check_value(value, hints[name], checks, key, locate(key)))


def _settable(cfg: Any) -> dict[str, Any]:
    """The top-level fields of a config dataclass a file or an override may set (``internal`` ones not)."""
    return {f.name: f for f in fields(cfg) if not f.metadata.get("internal")}


def _apply(cfg: Any, data: dict[str, Any], locate: Any) -> None:
    """Check and set a nested mapping on any config dataclass: scalar top-level keys and section dataclasses."""
    top = _settable(cfg)
    hints = _hints(type(cfg))
    for name, value in data.items():
        name = str(name)
        if name not in top:
            raise _unknown(name, name, top, locate(name))
        current = getattr(cfg, name)
        if is_dataclass(current):
            set_section(current, value, name, locate)
        else:
            checks = {k: v for k, v in top[name].metadata.items() if k != "help"}
            setattr(cfg, name, check_value(value, hints[name], checks, name, locate(name)))


def _remember(cfg: Any, lines: dict[str, str]) -> None:
    """Record where keys came from on configs that keep ``locations`` (for errors raised later)."""
    if isinstance(getattr(cfg, "locations", None), dict):
        cfg.locations.update(lines)


def from_dict(data: dict[str, Any], lines: dict[str, str] | None = None, base: Any = None,
              cls: type = RunConfig) -> Any:
    """Build a checked config (``cls``, default :class:`RunConfig`) from a nested mapping (as read from YAML)
    on top of ``base`` or the defaults."""
    cfg = base if base is not None else cls()
    lines = lines or {}
    _remember(cfg, lines)
    _apply(cfg, data, lambda key: lines.get(key, ""))
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"train.epochs=50"`` into ``("train.epochs", 50)``; the value is read as a YAML scalar."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise ConfigError(f"override '{text}': expected key=value (e.g. train.epochs=50), got no '='. "
                          "Write overrides as section.key=value.")
    key, raw = (part.strip() for part in text.split("=", 1))
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        value = raw
    return key, value


def from_command(base: Any, path: str | os.PathLike | None, flags: Iterable[tuple[str, str, Any]],
                 overrides: Iterable[str]) -> Any:
    """A command's config: ``base`` (its defaults), then the YAML file at ``path``, then the command's flags
    ``(flag, dotted key, value)`` (a None value was not given; errors name the flag), then ``key=value``
    overrides (errors name the override)."""
    cfg = copy.deepcopy(base)
    if path is not None:
        data, lines = read_yaml(path)
        cfg = from_dict(data, lines, base=cfg)
    for flag, key, value in flags:
        if value is not None:
            set_key(cfg, key, value, flag)
    if isinstance(getattr(cfg, "locations", None), dict):
        cfg.locations.setdefault("config", str(path) if path is not None else "defaults")
    return _validated(apply_overrides(cfg, overrides))


def apply_overrides(cfg: Any, overrides: Iterable[str]) -> Any:
    """Apply ``section.key=value`` overrides in order (later ones win); errors name the override."""
    for text in overrides:
        key, value = parse_override(text)
        set_key(cfg, key, value, f"override '{text}'")
    return cfg


def set_key(cfg: Any, key: str, value: Any, where: str) -> Any:
    """Set one dotted ``key`` to an already-typed ``value`` (checked); errors end with ``(where)``."""
    parts = key.split(".")
    nested: Any = value
    for part in reversed(parts[1:]):
        nested = {part: nested}
    _remember(cfg, {".".join(parts[:i + 1]): where for i in range(len(parts))})
    _apply(cfg, {parts[0]: nested}, lambda _key: where)
    return cfg


def load(path: str | os.PathLike | None = None, overrides: Iterable[str] = (),
         base: Any = None, cls: type = RunConfig) -> Any:
    """Read a YAML config (or start from the defaults when ``path`` is None) and apply overrides.

    The one schema engine of every command: ``cls`` is the command's config dataclass (``RunConfig`` for
    ``graphscale train``, ``KGConfig``, ``EmbedConfig``), whose fields are scalars or section dataclasses
    built with :func:`~graphscale.config.schema.option`.

    Args:
        path: YAML file with any of the sections data, model, train, output, expected, plus version and task.
        overrides: ``"section.key=value"`` strings applied after the file.
        base: Config to start from instead of the defaults.
        cls: The config dataclass.

    Raises:
        ConfigError: With the dotted key and ``file:line`` of the first problem.
    """
    cfg = copy.deepcopy(base) if base is not None else cls()
    if path is not None:
        data, lines = read_yaml(path)
        cfg = from_dict(data, lines, base=cfg)
    return _validated(apply_overrides(cfg, overrides))


def _validated(cfg: Any) -> Any:
    """``cfg`` after its cross-key checks (a config class's ``validate()``, where it has one)."""
    if callable(getattr(cfg, "validate", None)):
        cfg.validate()
    return cfg


# -- dumping ------------------------------------------------------------------------------------------------
def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config in YAML layout (``train``'s model hyper-parameters flat beside ``name``)."""
    out: dict[str, Any] = {}
    for name in _settable(cfg):
        value = getattr(cfg, name)
        if isinstance(value, ModelConfig):
            out[name] = {"name": value.name, **copy.deepcopy(value.hparams)}
        elif isinstance(value, SamplerConfig):  # one section per sampler: only its own keys
            out[name] = {key: copy.deepcopy(getattr(value, key)) for key in value.own_keys()}
        elif is_dataclass(value):
            out[name] = {g.name: copy.deepcopy(getattr(value, g.name)) for g in fields(value)}
        else:
            out[name] = value
    return out


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def dump(cfg: Any, comments: bool = False) -> str:
    """The resolved config as YAML text; with ``comments`` every key carries its help text."""
    if not comments:
        return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=False)
    lines: list[str] = []
    data = to_dict(cfg)
    for f in _settable(cfg).values():
        value = data[f.name]
        help_text = f.metadata.get("help", "")
        if not isinstance(value, dict):
            lines.append(f"{f.name}: {_scalar(value)}" + (f"  # {help_text}" if help_text else ""))
            continue
        lines.append(f"{f.name}:" + (f"  # {help_text}" if help_text else ""))
        section = getattr(cfg, f.name)
        helps = {g.name: g.metadata.get("help", "") for g in fields(section)}
        if isinstance(section, ModelConfig):
            helps.update({name: spec.help for name, spec in _hparams().items()})
        for key, item in value.items():
            help_text = helps.get(key, "")
            lines.append(f"  {key}: {_scalar(item)}" + (f"  # {help_text}" if help_text else ""))
    return "\n".join(lines) + "\n"


def defaults() -> dict[str, Any]:
    """Default value of every key, as a nested dict (for documentation and tests)."""
    return {name: {f.name: field_default(f) for f in fields(cls)} for name, cls in SECTIONS.items()}
