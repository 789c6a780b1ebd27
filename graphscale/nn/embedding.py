"""Learnable node embeddings as model input (``data.node_embedding=D``): ``D`` free rows per node appended to the
features, for featureless graphs or as extra capacity (DGL's ``NodeEmbedding`` / ``DistEmbedding`` with a sparse
optimizer, PyG's ``Embedding(sparse=True)``).

A batch reads only its input nodes' rows and the optimizer updates only those rows (lazy Adam as
``torch.optim.SparseAdam``, or Adagrad: :func:`graphscale.kge.optim.sparse_step`), so a step costs what the batch
touches, however large the table. Across a torchrun group the same rows live in the KV store, sharded by
partition (:class:`graphscale.distributed.kvstore.KVStore`), and train the same way.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

CHUNK = 1 << 16  # nodes whose initial rows one seeded generator draws


def initial_rows(ids: Tensor, dim: int, seed: int) -> Tensor:
    """The initial rows ``[len(ids), dim]`` of global node ``ids``: N(0, 1/dim), drawn per chunk of ``CHUNK``
    consecutive ids by a generator seeded with ``(seed, chunk)``, so a node's row is the same however the table
    is sharded."""
    ids = ids.long().view(-1)
    out = torch.empty(ids.numel(), dim)
    chunks = torch.div(ids, CHUNK, rounding_mode="floor")
    for c in torch.unique(chunks).tolist():
        generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(c))
        block = torch.randn(CHUNK, dim, generator=generator) / math.sqrt(dim)
        where = chunks == c
        out[where] = block[ids[where] - c * CHUNK]
    return out


class NodeEmbedding:
    """Rows ``[N, dim]`` of every node, trained with a row-sparse optimizer.

    Args:
        num_nodes, dim: Table shape.
        seed: Initialisation seed (:func:`initial_rows`).
        lr: Learning rate of the row-sparse optimizer.
        optimizer: ``adam`` (lazy, as ``torch.optim.SparseAdam``) or ``adagrad``.

    Use: ``x_in = emb.inputs(x[ids], ids)``, forward and backward, then ``emb.step()``.
    """

    def __init__(self, num_nodes: int, dim: int, seed: int, lr: float, optimizer: str = "adam") -> None:
        from ..kge.optim import EmbeddingTable

        self.table = EmbeddingTable.create(initial_rows(torch.arange(num_nodes), dim, seed), optimizer)
        self.lr, self.optimizer, self.steps = float(lr), optimizer, 0
        self._read: tuple[Tensor, Tensor] | None = None

    @property
    def dim(self) -> int:
        return int(self.table.weight.shape[1])

    def inputs(self, x: Tensor, ids: Tensor) -> Tensor:
        """``x`` (the features of ``ids``) with the rows of ``ids`` appended; ``ids`` unique. The rows are a
        leaf of the graph: their gradient is applied by :meth:`step`."""
        ids = ids.long().to(self.table.weight.device)
        rows = self.table.weight.index_select(0, ids).to(x.device).requires_grad_()
        self._read = (ids, rows)
        return torch.cat([x, rows], dim=1)

    def all(self, x: Tensor) -> Tensor:
        """Every node's input (evaluation): ``[N, F + dim]``, no gradient."""
        return torch.cat([x, self.table.weight.to(x.device)], dim=1)

    def step(self) -> None:
        """One optimizer step on the rows the last :meth:`inputs` read (nothing if they got no gradient)."""
        from ..kge.optim import sparse_step

        if self._read is None or self._read[1].grad is None:
            return
        ids, rows = self._read
        self.steps += 1
        sparse_step(self.table, ids, rows.grad.to(self.table.weight.device), self.lr, self.steps, self.optimizer)
        self._read = None

    def state(self) -> dict[str, Any]:
        return {"node_embedding": self.table.weight.clone(),
                "node_embedding_state": {k: v.clone() for k, v in self.table.state.items()},
                "node_embedding_steps": self.steps}

    def load(self, state: dict[str, Any], epoch: int = 0) -> None:
        self.table.weight.copy_(state["node_embedding"])
        for key, value in state["node_embedding_state"].items():
            self.table.state[key].copy_(value)
        self.steps = int(state["node_embedding_steps"])


__all__ = ["CHUNK", "NodeEmbedding", "initial_rows"]
