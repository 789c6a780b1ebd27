"""Registries: case-insensitive lookup and did-you-mean suggestions."""

import pytest

from graphscale.config import Registry, did_you_mean
from graphscale.errors import ConfigError


def test_lookup_is_case_and_separator_insensitive():
    reg = Registry("model")
    reg.register("graph-sage", 1)
    reg.register("gcn", 2)
    assert reg.get("Graph_SAGE") == 1 and reg.get(" GCN ") == 2
    assert "GCN" in reg and "gat" not in reg and len(reg) == 2 and reg.names() == ["graph-sage", "gcn"]


def test_unknown_name_lists_choices_and_suggests():
    reg = Registry("model")
    reg.register("gcn", 1)
    reg.register("gat", 2)
    with pytest.raises(ConfigError) as info:
        reg.get("gcm")
    assert str(info.value) == "model: expected one of 'gcn', 'gat', got 'gcm'. Did you mean 'gcn'?"
    with pytest.raises(ConfigError):
        reg.register("GCN", 3)


def test_did_you_mean_cutoff():
    assert did_you_mean("hiden_dim", ["hidden_dim", "dropout"]) == " Did you mean 'hidden_dim'?"
    assert did_you_mean("zzz", ["hidden_dim", "dropout"]) == ""
