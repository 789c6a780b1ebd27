"""Typed run configs: dataclass schema, YAML + ``key=value`` overrides, path-aware errors, registries.

Example:
    >>> from graphscale import config
    >>> cfg = config.load("configs/node-gcn-cora.yaml", overrides=["train.epochs=50"])
    >>> cfg.train.epochs
    50
"""

from .loader import (
                     apply_overrides,
                     check_value,
                     defaults,
                     describe,
                     dump,
                     from_dict,
                     load,
                     parse_override,
                     read_yaml,
                     set_key,
                     to_dict,
)
from .registry import Registry, did_you_mean, normalize_key
from .schema import (
                     CONFIG_VERSION,
                     HPARAMS,
                     DataConfig,
                     ExpectedConfig,
                     ModelConfig,
                     OutputConfig,
                     RunConfig,
                     TrainConfig,
                     field_help,
                     task_defaults,
)
from .shipped import config_dir, find_shipped, shipped_configs

__all__ = [
    "load", "from_dict", "apply_overrides", "parse_override", "read_yaml", "set_key", "dump", "to_dict", "defaults",
    "check_value", "describe", "Registry", "did_you_mean", "normalize_key", "CONFIG_VERSION", "HPARAMS",
    "RunConfig", "DataConfig", "ModelConfig", "TrainConfig", "OutputConfig", "ExpectedConfig", "field_help", "task_defaults",
    "config_dir", "find_shipped", "shipped_configs",
]
