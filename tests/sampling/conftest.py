"""Fixtures of the sampler tests."""

from __future__ import annotations

import pytest

import graphscale as gs

from .graphs import random_graph


@pytest.fixture
def graph() -> gs.Graph:
    return random_graph()
