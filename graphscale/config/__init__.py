"""Typed run configs: dataclass schema, YAML + ``key=value`` overrides, path-aware errors, registries.

Example:
    >>> from graphscale import config
    >>> cfg = config.load("configs/node-gcn-cora.yaml", overrides=["train.epochs=50"])
    >>> cfg.train.epochs
    50
"""

from .loader import (
                     apply_overrides,
                     defaults,
                     dump,
                     from_command,
                     from_dict,
                     load,
                     parse_override,
                     set_key,
                     set_section,
                     to_dict,
)
from .registry import Registry, did_you_mean, normalize_key
from .schema import (
                     CONFIG_VERSION,
                     SAMPLERS,
                     DataConfig,
                     ExpectedConfig,
                     ModelConfig,
                     OutputConfig,
                     RunConfig,
                     SamplerConfig,
                     TrainConfig,
                     field_help,
                     parse_size,
                     task_defaults,
)
from .shipped import config_dir, find_shipped, shipped_configs
from .values import check_value, describe, read_yaml

__all__ = [
                     "CONFIG_VERSION",
                     "SAMPLERS",
                     "DataConfig",
                     "ExpectedConfig",
                     "ModelConfig",
                     "OutputConfig",
                     "Registry",
                     "RunConfig",
                     "SamplerConfig",
                     "TrainConfig",
                     "apply_overrides",
                     "check_value",
                     "config_dir",
                     "defaults",
                     "describe",
                     "did_you_mean",
                     "dump",
                     "field_help",
                     "find_shipped",
                     "from_command",
                     "from_dict",
                     "load",
                     "normalize_key",
                     "parse_override",
                     "parse_size",
                     "read_yaml",
                     "set_key",
                     "set_section",
                     "shipped_configs",
                     "task_defaults",
                     "to_dict",
]
