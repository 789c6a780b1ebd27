"""The package's one alias-table builder, for single tables and for segments (the generators' layout)."""

from __future__ import annotations

import numpy as np

from graphscale.datasets.gen_kernels import _build_alias
from graphscale.sampling.alias import build_alias


def mass_of(prob: np.ndarray, alias: np.ndarray, lo: int = 0) -> np.ndarray:
    """The distribution a table draws: slot ``k`` with ``1/n``, kept with ``prob[k]``, else ``alias[k]``."""
    n = prob.size
    mass = prob.astype(np.float64) / n
    for slot in range(n):
        mass[alias[slot] - lo] += (1 - float(prob[slot])) / n
    return mass


def test_a_table_reproduces_the_weights():
    weights = np.array([0.5, 3.0, 0.0, 1.5, 5.0])
    prob, alias = build_alias(weights)
    assert prob.dtype == np.float32 and alias.dtype == np.int32
    np.testing.assert_allclose(mass_of(prob, alias), weights / weights.sum(), atol=1e-7)
    prob, alias = build_alias(np.zeros(4))  # all-zero weights: uniform
    np.testing.assert_allclose(mass_of(prob, alias), 0.25)


def test_segment_tables_reproduce_each_segment_with_global_aliases():
    rng = np.random.default_rng(3)
    weights = np.where(rng.random(60) < 0.2, 0.0, rng.pareto(1.5, 60))
    ptr = np.array([0, 7, 7, 30, 31, 60])
    prob, alias = _build_alias(weights, ptr)
    for lo, hi in zip(ptr[:-1], ptr[1:]):
        if hi > lo:
            assert ((alias[lo:hi] >= lo) & (alias[lo:hi] < hi)).all()
            np.testing.assert_allclose(mass_of(prob[lo:hi], alias[lo:hi], lo), weights[lo:hi] / weights[lo:hi].sum(),
                                       atol=1e-12)
