"""Fixtures of the saga kernel tests (helpers live in saga_helpers.py)."""

import pytest
from saga_helpers import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Force the kernel family: "cpu" (numba) or "cuda" (the torch-ops path, run on CPU tensors)."""
    monkeypatch.setenv("GRAPHSCALE_KERNELS", request.param)
    return request.param
