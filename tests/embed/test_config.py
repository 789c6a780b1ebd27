"""Shipped embed configs load and name their model and dataset; config errors are path-aware."""

from __future__ import annotations

import pytest

from graphscale.config import config_dir, shipped_configs
from graphscale.config import dump
from graphscale.embed.config import find_shipped, load
from graphscale.errors import ConfigError


def test_shipped_embed_configs_load():
    names = [n for n in shipped_configs() if n.startswith("embed-")]
    for required in ("embed-deepwalk-blogcatalog", "embed-node2vec-blogcatalog", "embed-line-blogcatalog",
                     "embed-deepwalk-ppi", "embed-node2vec-ppi", "embed-line-ppi"):
        assert required in names
    for name in names:
        _, model, dataset = name.split("-", 2)
        cfg = load(config_dir() / f"{name}.yaml")
        assert (cfg.task, cfg.model.name, cfg.data.dataset) == ("embed", model, dataset)
        assert cfg.expected.source and find_shipped(model.upper(), dataset) == config_dir() / f"{name}.yaml"
        assert load(None, []).model.dim == 128 and "model:" in dump(cfg)


def test_config_errors_name_the_key_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nmodel:\n  name: deepwalk\n  window: -2\n")
    with pytest.raises(ConfigError, match=r"model.window: expected int >= 1, got -2 \(.*bad.yaml:4\)"):
        load(path)
    path.write_text("modle:\n  dim: 3\n")
    with pytest.raises(ConfigError, match="modle: unknown key.*Did you mean 'model'"):
        load(path)
    with pytest.raises(ConfigError, match="evaluate.ratios: expected"):
        load(None, ["evaluate.ratios=[0.5,1.5]"])
    assert load(None, ["model.p=0.25", "evaluate.ratios=[0.5]"]).model.p == 0.25
