"""Config loading: types and checks, file:line errors, did-you-mean, overrides, dump round trip."""

from __future__ import annotations

import textwrap

import pytest

from graphscale import config
from graphscale.errors import ConfigError

GOOD = """\
version: 1
data:
  dataset: cora
model:
  name: GCN
  hidden_dim: 16
  dropout: 0.5
train:
  epochs: 200
  lr: 0.01
  weight_decay: 5e-4
  seeds: 10
expected: {test_acc: 0.815, source: "Kipf & Welling 2017"}
"""


def write(tmp_path, text, name="node-gcn-cora.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(func, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        func(*args, **kwargs)
    return str(info.value)


def test_load_types_and_defaults(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.data.dataset == "cora"
    assert cfg.model.name == "gcn"  # names are case-insensitive, stored lower-case
    assert cfg.model.hparams == {"hidden_dim": 16, "dropout": 0.5}
    assert cfg.train.weight_decay == pytest.approx(5e-4)  # YAML 1.1 reads 5e-4 as a string
    assert isinstance(cfg.train.weight_decay, float)
    assert cfg.train.seeds == 10 and cfg.train.optimizer == "adam"  # default kept
    assert cfg.expected.test_acc == 0.815 and cfg.expected.source.startswith("Kipf")


def test_bad_value_names_key_file_and_line(tmp_path):
    path = write(tmp_path, GOOD.replace("lr: 0.01", "lr: -1"))
    assert error_of(config.load, path) == "train.lr: expected float > 0, got -1 (node-gcn-cora.yaml:10)."


@pytest.mark.parametrize("line,key,expected", [
    ("  batch_size: 2.5", "train.batch_size", "expected int >= 1, got 2.5"),
    ("  batch_size: true", "train.batch_size", "expected int >= 1, got true"),
    ("  optimizer: adm", "train.optimizer", "expected one of 'adam', 'adamw', 'sgd', got 'adm'"),
    ("  patience: -3", "train.patience", "expected int >= 0, got -3"),
])
def test_bad_train_values(tmp_path, line, key, expected):
    message = error_of(config.load, write(tmp_path, GOOD.replace("  seeds: 10", line)))
    assert message.startswith(f"{key}: {expected} (node-gcn-cora.yaml:12)")


def test_bad_hparam_value(tmp_path):
    message = error_of(config.load, write(tmp_path, GOOD.replace("dropout: 0.5", "dropout: 1.5")))
    assert message == "model.dropout: expected float in [0, 1), got 1.5 (node-gcn-cora.yaml:7)."


def test_unknown_keys_suggest_closest(tmp_path):
    message = error_of(config.load, write(tmp_path, GOOD.replace("hidden_dim", "hiden_dim")))
    assert message == "model.hiden_dim: unknown key (node-gcn-cora.yaml:6). Did you mean 'hidden_dim'?"
    message = error_of(config.load, write(tmp_path, GOOD.replace("  epochs:", "  epoch:")))
    assert "train.epoch: unknown key (node-gcn-cora.yaml:9). Did you mean 'epochs'?" == message
    message = error_of(config.load, write(tmp_path, GOOD.replace("train:", "trian:")))
    assert message.startswith("trian: unknown key (node-gcn-cora.yaml:8). Did you mean 'train'?")
    message = error_of(config.load, write(tmp_path, GOOD + "zzzz: 1\n"))
    assert "Known keys: version, task, data, model, sampler, train, output, expected" in message


def test_structural_errors(tmp_path):
    assert "(x.yaml:1)" in error_of(config.load, write(tmp_path, "train: 5\n", "x.yaml"))
    message = error_of(config.load, write(tmp_path, "train:\n  lr: 0.1\n  lr: 0.2\n", "x.yaml"))
    assert message.startswith("train.lr: expected each key once per section") and "x.yaml:3" in message
    message = error_of(config.load, write(tmp_path, "train:\n  lr: [0.1\n  epochs: 3\n", "x.yaml"))
    assert message.startswith("x.yaml:3: expected valid YAML")
    assert "expected a mapping of sections" in error_of(config.load, write(tmp_path, "- 1\n- 2\n", "x.yaml"))
    assert "missing path" in error_of(config.load, tmp_path / "nope.yaml")
    message = error_of(config.load, write(tmp_path, "version: 2\n", "x.yaml"))
    assert message == "version: expected int in [1, 1], got 2 (x.yaml:1)."


def test_overrides_are_yaml_scalars_and_win(tmp_path):
    cfg = config.load(write(tmp_path, GOOD), overrides=[
        "train.epochs=50", "model.hidden_dim=64", "train.lr=5e-3", "data.root=null", "output.plot=false",
        "task=Node", "model.name=GAT", "train.epochs=60"])
    assert cfg.train.epochs == 60 and cfg.model.hparams["hidden_dim"] == 64
    assert cfg.train.lr == pytest.approx(5e-3) and cfg.data.root is None and cfg.output.plot is False
    assert cfg.task == "node" and cfg.model.name == "gat"
    assert cfg.model.hparams["dropout"] == 0.5  # untouched keys of the file survive


def test_bad_overrides():
    assert error_of(config.load, None, ["train.epochs"]).startswith("override 'train.epochs': expected key=value")
    assert error_of(config.load, None, ["train.epochs=abc"]) == \
        "train.epochs: expected int >= 1, got 'abc' (override 'train.epochs=abc')."
    assert error_of(config.load, None, ["train.lrr=0.1"]) == \
        "train.lrr: unknown key (override 'train.lrr=0.1'). Did you mean 'lr'?"
    assert "Did you mean 'dropout'?" in error_of(config.load, None, ["model.dropuot=0.1"])


def test_set_key_and_where():
    cfg = config.load(None)
    config.set_key(cfg, "train.epochs", 7, "--epochs")
    assert cfg.train.epochs == 7 and cfg.where("train.epochs") == " (--epochs)"
    assert error_of(config.set_key, cfg, "train.seeds", 0, "--seeds") == "train.seeds: expected int >= 1, got 0 (--seeds)."


def test_dump_round_trip(tmp_path):
    cfg = config.load(write(tmp_path, GOOD), overrides=["train.lr=0.02"])
    for comments in (False, True):
        path = tmp_path / f"dumped{comments}.yaml"
        path.write_text(config.dump(cfg, comments=comments))
        again = config.load(path)
        assert config.to_dict(again) == config.to_dict(cfg)
    assert "# Learning rate." in config.dump(cfg, comments=True)


def test_describe_and_task_defaults():
    assert config.describe(float, {"gt": 0.0}) == "float > 0"
    assert config.describe(float | None, {"ge": 0, "le": 1}) == "float in [0, 1] or null"
    graph = config.task_defaults("graph")
    assert graph.model.name == "gin" and graph.train.epochs == 350 and graph.train.lr_step == 50


def test_shipped_configs_load_and_state_expectations():
    names = [n for n in config.shipped_configs() if n.split("-")[0] in ("node", "graph")]  # kg-/embed-: own schemas
    for required in ("node-gcn-cora", "node-gat-cora", "node-appnp-cora", "node-sgc-cora", "node-sage-cora",
                     "node-gcn-citeseer", "node-gat-citeseer", "graph-gin-mutag", "graph-gin-proteins"):
        assert required in names
    for name in names:
        cfg = config.load(config.config_dir() / f"{name}.yaml")
        task, model, rest = name.split("-", 2)
        quant = next((q for q in ("dq-int8", "dq-int4") if rest.startswith(f"{q}-")), None)  # Degree-Quant variants
        rest = rest.removeprefix(f"{quant}-") if quant else rest
        assert cfg.train.quant == (quant.removeprefix("dq-") if quant else None), name
        sampler = next((s for s in config.SAMPLERS if rest.startswith(f"{s}-")), None)
        dataset = rest.removeprefix(f"{sampler}-") if sampler else rest
        assert (cfg.task, cfg.model.name, cfg.data.dataset) == (task, model, dataset), name
        assert cfg.sampler.name == (sampler or "none"), name
        assert cfg.expected.test_acc is not None and cfg.expected.source and cfg.expected.target is not None, name
        if quant is None:  # a variant is named with --config; --dataset/--model find the float config
            assert config.find_shipped(task, model.upper(), dataset, sampler) == config.config_dir() / f"{name}.yaml"
