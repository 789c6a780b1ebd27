"""The documentation site builds strictly (every link and reference resolves, the generated CLI and config
references included), and the guides' Python examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "docs" / page).read_text(), flags=re.S)


def test_site_builds_strictly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, check=False, timeout=600,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = (tmp_path / "site" / "reference" / "config" / "index.html").read_text()
    assert "node_embedding" in config and "entity" in config.lower()  # generated from the three schemas
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "--entity-partitions" in cli and "--tensorboard" in cli
    assert "from_networkx" in (tmp_path / "site" / "reference" / "api" / "index.html").read_text()


def test_message_passing_examples_run():
    import graphscale as gs

    graph = gs.Graph(torch.tensor([0, 1, 2, 2]), torch.tensor([1, 2, 0, 1]), 3)
    namespace = {"graph": graph, "h": torch.randn(3, 4), "w": torch.rand(4), "q": torch.randn(3, 4),
                 "k": torch.randn(3, 4)}
    for block in python_blocks("saga.md"):
        exec(block, namespace)  # noqa: S102 (the docs' own examples)
    assert namespace["out"].shape == (3, 4) and namespace["score"].shape[0] == 4
    layer = namespace["MeanConv"](4, 2)
    assert layer(graph, namespace["h"]).shape == (3, 2)


def test_heterogeneous_examples_run():
    namespace: dict = {}
    for block in python_blocks("heterogeneous.md"):
        exec(block, namespace)  # noqa: S102 (the docs' own examples)
    assert namespace["h_paper"].shape == (4, 16)
    assert set(namespace["out"]) == {"paper", "author", "field"}
    assert namespace["blocks"][-1].dst_ids["paper"].numel() == 2


def test_getting_started_example_trains_cora(require_dataset):
    require_dataset("cora")
    namespace: dict = {}
    exec(python_blocks("getting-started.md")[0], namespace)  # noqa: S102 (the guide's loop, as written)
    model, data = namespace["model"], namespace["data"]
    model.eval()
    with torch.no_grad():
        predicted = model(data.graph, data.x).argmax(1)
    accuracy = float((predicted[data.test_mask] == data.y[data.test_mask]).float().mean())
    assert accuracy > 0.75, accuracy  # GCN on Cora: about 0.81
