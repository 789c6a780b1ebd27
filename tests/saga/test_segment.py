"""segment_reduce / scatter_reduce (numba on CPU, torch ops with GRAPHSCALE_KERNELS=cuda) against
reference.py: values and gradients, empty segments, int32/int64 ids, gradcheck."""

from __future__ import annotations

import pytest
import torch
from saga_helpers import assert_close, grads, leaf

import graphscale as gs
from graphscale.errors import ShapeError
from graphscale.saga.kernels import reference

REDUCES = ("sum", "mean", "max", "min")


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_segment_reduce_matches_reference(backend, reduce, shape):
    ptr = torch.tensor([0, 3, 3, 7, 8, 12, 12])  # empty segments inside and at the end
    data = leaf((12, *shape), seed=1)
    out = gs.segment_reduce(data, ptr, reduce)
    expected = reference.segment_reduce(data, ptr, reduce)
    assert_close(out, expected, f"{reduce} {shape}")
    for got, want in zip(grads(out, [data]), grads(expected, [data])):
        assert_close(got, want, f"{reduce} {shape} grad")


@pytest.mark.parametrize("idtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_matches_reference(backend, idtype, reduce):
    index = torch.randint(0, 9, (40,), generator=torch.Generator().manual_seed(0)).to(idtype)
    index[index == 4] = 5  # segment 4 stays empty
    for shape in [(), (3,), (2, 2)]:
        data = leaf((40, *shape), seed=2)
        out = gs.scatter_reduce(data, index, 11, reduce)
        expected = reference.scatter(data, index, 11, reduce)
        assert_close(out, expected, f"{reduce} {shape}")
        for got, want in zip(grads(out, [data]), grads(expected, [data])):
            assert_close(got, want, f"{reduce} {shape} grad")


def test_segment_ops_on_empty_data(backend):
    data = leaf((0, 3), seed=3)
    assert gs.segment_reduce(data, torch.tensor([0, 0, 0]), "max").tolist() == [[0.0] * 3] * 2
    assert gs.scatter_reduce(data, torch.zeros(0, dtype=torch.long), 2, "sum").tolist() == [[0.0] * 3] * 2


@pytest.mark.parametrize("reduce", REDUCES)
def test_segment_gradcheck(backend, reduce):
    ptr = torch.tensor([0, 2, 2, 5, 6])
    data = leaf((6, 2), seed=4)
    assert torch.autograd.gradcheck(lambda d: gs.segment_reduce(d, ptr, reduce), (data,))
    index = torch.tensor([2, 0, 2, 1, 0, 2])
    assert torch.autograd.gradcheck(lambda d: gs.scatter_reduce(d, index, 4, reduce), (data,))


def test_segment_float32_matches_reference(backend):
    data = torch.randn(1000, 16)
    ptr = torch.tensor([0, 10, 500, 500, 1000])
    for reduce in REDUCES:
        torch.testing.assert_close(gs.segment_reduce(data, ptr, reduce), reference.segment_reduce(data, ptr, reduce))


def test_segment_errors():
    with pytest.raises(ShapeError, match="ptr"):
        gs.segment_reduce(torch.randn(5, 2), torch.tensor([0, 2, 4]), "sum")
    with pytest.raises(ShapeError, match="index values"):
        gs.scatter_reduce(torch.randn(3, 2), torch.tensor([0, 1, 5]), 3, "sum")
