"""The ``sampler`` section and size strings: YAML, overrides, checks with file:line, did-you-mean, shipped lookup."""

from __future__ import annotations

import textwrap

import pytest

from graphscale import config
from graphscale.config import SamplerConfig, parse_size
from graphscale.errors import ConfigError

YAML = """\
version: 1
data:
  dataset: citeseer
model:
  name: sage
sampler:
  name: Neighbor
  fanouts: [15, 10]
  batch_size: 512
  num_workers: 2
train:
  epochs: 20
  memory_budget: 6GB
"""


def write(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(func, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        func(*args, **kwargs)
    return str(info.value)


def test_sampler_section_loads_with_types_and_defaults(tmp_path):
    cfg = config.load(write(tmp_path, YAML))
    assert cfg.sampler.name == "neighbor" and cfg.sampler.fanouts == [15, 10]
    assert cfg.sampler.batch_size == 512 and cfg.sampler.num_workers == 2
    assert cfg.sampler.walk_length == 2 and cfg.sampler.num_parts is None  # defaults kept
    assert cfg.train.memory_budget == "6GB"
    assert config.load(None).sampler.name == "none"  # full batch unless asked


@pytest.mark.parametrize("line,expected", [
    ("  fanouts: [15, 0]", "sampler.fanouts: expected a list of ints, each >= 1 or -1 (e.g. [15, 10] or 15,10) or "
                           "null, got [15, 0] (run.yaml:8)."),
    ("  fanouts: [15, 2.5]", "got [15, 2.5] (run.yaml:8)."),
    ("  fanouts: []", "got [] (run.yaml:8)."),
    ("  batch_size: 0", "sampler.batch_size: expected int >= 1, got 0 (run.yaml:9)."),
    ("  num_workers: -1", "sampler.num_workers: expected int >= 0, got -1 (run.yaml:10)."),
])
def test_bad_sampler_values_name_key_file_and_line(tmp_path, line, expected):
    key = line.split(":")[0]
    text = "\n".join(line if ln.startswith(key + ":") else ln for ln in YAML.splitlines()) + "\n"
    assert error_of(config.load, write(tmp_path, text)).endswith(expected)


def test_unknown_sampler_and_keys_suggest(tmp_path):
    message = error_of(config.load, write(tmp_path, YAML.replace("name: Neighbor", "name: nieghbor")))
    assert message.startswith("sampler.name: expected one of 'none', 'neighbor', 'cluster'")
    assert message.endswith("(run.yaml:7). Did you mean 'neighbor'?")
    message = error_of(config.load, write(tmp_path, YAML.replace("  fanouts:", "  fanout:")))
    assert message == "sampler.fanout: unknown key (run.yaml:8). Did you mean 'fanouts'?"
    assert "Did you mean 'sampler'?" in error_of(config.load, write(tmp_path, YAML.replace("sampler:", "samplr:")))


def test_overrides_and_flags_read_comma_lists():
    cfg = config.load(None, ["sampler.name=neighbor", "sampler.fanouts=25,10", "sampler.batch_size=3"])
    assert cfg.sampler.name == "neighbor" and cfg.sampler.fanouts == [25, 10] and cfg.sampler.batch_size == 3
    config.set_key(cfg, "sampler.fanouts", "5,-1", "--fanouts")
    assert cfg.sampler.fanouts == [5, -1] and cfg.where("sampler.fanouts") == " (--fanouts)"
    assert error_of(config.set_key, cfg, "sampler.fanouts", "15,x", "--fanouts").endswith(
        "got '15,x' (--fanouts).")
    assert error_of(config.set_key, cfg, "train.memory_budget", "6XB", "--memory-budget") == (
        "train.memory_budget: expected a size like 6GB, 512MB or 1.5G or null, got '6XB' (--memory-budget).")


@pytest.mark.parametrize("text,size", [("6GB", 6 * 2**30), ("512MB", 512 * 2**20), ("1.5G", 3 * 2**29),
                                       ("64KiB", 64 * 2**10), ("2 tb", 2 * 2**40), ("1000", 1000), (4096, 4096)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["6XB", "GB", "-1GB", "0", "1.2.3G", "", True])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_from_any_checks_like_yaml():
    assert SamplerConfig.from_any(None).name == "neighbor"  # the mini-batch trainers' default
    assert SamplerConfig.from_any("cluster").name == "cluster"
    cfg = SamplerConfig.from_any({"fanouts": [5, 5], "batch_size": 64})
    assert (cfg.name, cfg.fanouts, cfg.batch_size) == ("neighbor", [5, 5], 64)
    assert SamplerConfig.from_any(cfg) == cfg
    assert "Did you mean 'fanouts'" in error_of(SamplerConfig.from_any, {"fanout": [5]})
    assert error_of(SamplerConfig.from_any, {"batch_size": 0}) == "sampler.batch_size: expected int >= 1, got 0."
    assert "sampler.name" in error_of(SamplerConfig.from_any, "saint")
    assert "expected a SamplerConfig" in error_of(SamplerConfig.from_any, 3)


def test_dump_round_trip_keeps_the_sampler(tmp_path):
    cfg = config.load(write(tmp_path, YAML), ["sampler.fanouts=[-1, 5]"])
    for comments in (False, True):
        path = write(tmp_path, config.dump(cfg, comments=comments), f"dump{comments}.yaml")
        assert config.to_dict(config.load(path)) == config.to_dict(cfg)
    assert "fanouts: [-1, 5]  # neighbor: neighbours per hop" in config.dump(cfg, comments=True)


def test_find_shipped_with_a_sampler():
    assert config.shipped.shipped_name("node", "SAGE", "citeseer", "Saint-RW") == "node-sage-saint-rw-citeseer"
    assert config.shipped.shipped_name("node", "gcn", "cora", "none") == "node-gcn-cora"
    assert config.find_shipped("node", "gcn", "cora", None) == config.config_dir() / "node-gcn-cora.yaml"
    assert config.find_shipped("node", "gcn", "cora", "neighbor") is None  # the CLI falls back to node-gcn-cora


def test_a_key_of_another_sampler_is_an_error(tmp_path):
    """One section per sampler: a key of another sampler never passes silently (file, flag or dict)."""
    assert error_of(config.load, None, ["sampler.name=saint-rw", "sampler.fanouts=25,10"]) == (
        "sampler.fanouts: expected a setting of sampler 'saint-rw' (num_workers, prefetch, eval, eval_batch_size, "
        "num_roots, walk_length, coverage), got a setting of neighbor, shadow (override 'sampler.fanouts=25,10'). "
        "Drop it, or set sampler.name to 'neighbor'.")
    path = tmp_path / "c.yaml"
    path.write_text("sampler:\n  name: cluster\n  clusters_per_batch: 4\n  budget: 100\n")
    assert error_of(config.load, path).endswith("got a setting of saint-node, saint-edge (c.yaml:4). Drop it, or "
                                                 "set sampler.name to 'saint-node'.")
    with pytest.raises(ConfigError, match="sampler.batch_size: expected a setting of sampler 'gas'"):
        config.SamplerConfig.from_any({"name": "gas", "batch_size": 8})
    # a dump holds the sampler's own keys only, so every config.yaml loads back
    cfg = config.load(None, ["sampler.name=saint-rw", "sampler.num_roots=7"])
    assert set(config.to_dict(cfg)["sampler"]) == {"name", "num_workers", "prefetch", "eval", "eval_batch_size",
                                                    "num_roots", "walk_length", "coverage"}
    path.write_text(config.dump(cfg))
    assert config.load(path).sampler.num_roots == 7
