"""A KV store on ``torch.distributed`` (the parameter-server role, without a server): node rows sharded by
partition, each rank holding its owned rows; ``pull(name, ids)`` gathers rows of any nodes from their owners,
``push(name, ids, grads)`` sends row gradients to their owners, which apply a row-sparse optimizer step.

Both are collectives (every rank calls them the same number of times, possibly with no ids): one ``all_to_all``
of ids grouped by owner, one of rows back. A pushed table's optimizer touches only the rows that received
gradients (Adagrad, or lazy Adam as ``torch.optim.SparseAdam``: :func:`graphscale.kge.optim.sparse_step`, the
KG tables' optimiser; or plain SGD), so an embedding table larger than one machine trains with per-step cost
proportional to the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError
from ..kge.optim import EmbeddingTable, sparse_step
from .comm import Traffic, all_to_all
from .load import PartitionBook

OPTIMIZERS = ("adagrad", "adam", "sgd")


@dataclass
class _Table:
    rows: Tensor                  # [N_k, F] this rank's owned rows
    optimizer: str | None = None  # None: read-only (features)
    lr: float = 0.0
    state: EmbeddingTable | None = None  # the rows with their Adagrad / Adam state
    steps: int = 0


class KVStore:
    """Tables of node rows sharded like the partition book.

    Args:
        book: The partition book (global id -> owner, local row).
        rank, world_size: This rank and the group size.
    """

    def __init__(self, book: PartitionBook, rank: int, world_size: int, traffic: Traffic | None = None) -> None:
        self.book, self.rank, self.world = book, rank, world_size
        self.tables: dict[str, _Table] = {}
        self.traffic = traffic if traffic is not None else Traffic()

    def add(self, name: str, rows: Tensor, *, optimizer: str | None = None, lr: float = 0.01) -> None:
        """Register this rank's owned rows ``[N_k, F]`` of table ``name`` (``optimizer`` for learnable rows).

        Raises:
            ShapeError: ``rows`` not one row per owned node.
            ConfigError: An unknown optimizer.
        """
        owned = int((self.book.node_part == self.rank).sum())
        if rows.dim() < 1 or rows.shape[0] != owned:
            raise ShapeError(f"KVStore.add({name!r}): expected {owned} rows (this rank's owned nodes), got shape "
                             f"{tuple(rows.shape)}.")
        if optimizer is not None and optimizer not in OPTIMIZERS:
            raise ConfigError(f"KVStore.add({name!r}): expected optimizer in {OPTIMIZERS} or None, got {optimizer!r}.")
        state = EmbeddingTable.create(rows, optimizer) if optimizer in ("adagrad", "adam") else None
        self.tables[name] = _Table(rows, optimizer, lr, state=state)

    def _route(self, ids: Tensor) -> tuple[Tensor, list[int], list[int], Tensor]:
        """``ids`` grouped by owner: ``(order, send counts, receive counts, the owners' local rows asked of me)``."""
        owner, local = self.book.owner(ids)
        order = torch.argsort(owner, stable=True)
        send = torch.bincount(owner, minlength=self.world).tolist()
        recv = all_to_all(torch.tensor(send), [1] * self.world, [1] * self.world).tolist()
        asked = all_to_all(local[order], send, recv, self.traffic)
        return order, send, recv, asked

    def pull(self, name: str, ids: Tensor) -> Tensor:
        """Rows of table ``name`` for global ``ids`` (any owners), ``[B, F]``."""
        table = self.tables[name]
        ids = ids.long().view(-1)
        order, send, recv, asked = self._route(ids)
        rows = all_to_all(table.rows.index_select(0, asked), recv, send, self.traffic)
        out = rows.new_empty((ids.numel(), *table.rows.shape[1:]))
        out[order] = rows
        return out

    def push(self, name: str, ids: Tensor, grads: Tensor) -> None:
        """Send row gradients ``[B, F]`` of global ``ids`` to their owners, which sum duplicates and take one
        optimizer step on the touched rows."""
        table = self.tables[name]
        if table.optimizer is None:
            raise ConfigError(f"KVStore.push({name!r}): expected a learnable table (added with an optimizer), got "
                              "a read-only one.")
        ids = ids.long().view(-1)
        order, send, recv, asked = self._route(ids)
        received = all_to_all(grads.index_select(0, order), send, recv, self.traffic)
        touched, inverse = torch.unique(asked, return_inverse=True)
        grad = received.new_zeros((touched.numel(), *received.shape[1:])).index_add_(0, inverse, received)
        table.steps += 1
        if table.state is not None:
            sparse_step(table.state, touched, grad.contiguous(), table.lr, table.steps, table.optimizer)
        else:
            table.rows[touched] -= table.lr * grad

    def state(self, name: str) -> dict[str, Tensor | int]:
        """This rank's rows of learnable table ``name`` with their optimizer state (its checkpoint shard)."""
        table = self.tables[name]
        extra = {} if table.state is None else {f"state.{k}": v.clone() for k, v in table.state.state.items()}
        return {"rows": table.rows.clone(), "steps": table.steps, **extra}

    def load(self, name: str, state: dict[str, Tensor | int]) -> None:
        """Restore what :meth:`state` returned."""
        table = self.tables[name]
        table.rows.copy_(state["rows"])
        table.steps = int(state["steps"])
        if table.state is not None:
            for key, value in table.state.state.items():
                value.copy_(state[f"state.{key}"])


__all__ = ["OPTIMIZERS", "KVStore"]
