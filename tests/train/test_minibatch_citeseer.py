"""Issue 4's mini-batch methods on the real CiteSeer (public Planetoid split), through their shipped configs.

One seed each of neighbour sampling, ClusterGCN, GraphSAINT-RW and GAS, as ``graphscale train`` runs them. The
study (benchmarks/minibatch_accuracy.py, seeds 2-6) measures them against full-batch GraphSAGE (70.04 %; the
table is in benchmarks/RESULTS.md); one seed of each scored 68.6-70.7 % there. The bar here, 67 %, leaves room for one seed's noise and still
fails when the batches stop carrying the graph: with the sampled Blocks' sources replaced by random ones,
neighbour sampling scored 56.1 % (69.0 % intact).
"""

from __future__ import annotations

import pytest

from graphscale import config
from graphscale.train.run import load_dataset, run

METHODS = ("neighbor", "cluster", "saint-rw", "gas")


@pytest.fixture(scope="module")
def citeseer():
    cfg = config.load(config.config_dir() / "node-sage-citeseer.yaml")
    return load_dataset(cfg)


@pytest.mark.parametrize("sampler", METHODS)
def test_shipped_minibatch_config_reaches_full_batch_accuracy(require_dataset, citeseer, tmp_path, sampler):
    require_dataset("citeseer")
    path = config.find_shipped("node", "sage", "citeseer", sampler)
    metis = [f"sampler.cache_dir={tmp_path / 'metis'}"] if sampler in ("cluster", "gas") else []
    cfg = config.load(path, [f"output.dir={tmp_path / 'run'}", "output.plot=false", "train.seeds=1",
                             "train.device=cpu", *metis])
    assert cfg.sampler.name == sampler and cfg.expected.test_acc == pytest.approx(0.7004)
    summary = run(cfg, progress=False, dataset=citeseer)
    assert summary["sampler"] == sampler and summary["num_nodes"] == 3327
    assert summary["test_acc"] >= 0.67, (sampler, summary["test_acc"])
