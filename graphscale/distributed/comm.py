"""Communication on ``torch.distributed``: the process group from ``torchrun``'s environment, and the halo
exchange (rows a part needs from the parts that own them, batched per rank through ``all_to_all_single``).

No server, RPC framework or process manager of our own: gloo on CPU, NCCL on GPU, launched by ``torchrun``
(or spawned processes in tests). Every byte a collective moves is counted (:class:`Traffic`) for the summary's
``bytes_sent_per_epoch``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from ..errors import DistributedError


def init_from_env(backend: str | None = None) -> tuple[int, int]:
    """Join the process group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``); returns ``(rank, world_size)``. Already initialised: the current group's.

    Raises:
        DistributedError: The environment does not describe a group (not launched by torchrun).
    """
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise DistributedError(f"distributed: expected a process launched by torchrun (environment {', '.join(missing)}"
                               f"), got none. Launch with torchrun --nproc-per-node K -m graphscale ...")
    from torch.distributed.rendezvous import rendezvous

    # torchrun keeps one store across the restarts of a group (--max-restarts): the keys of a dead attempt's
    # group (its ranks' addresses) would be read by the new one, so each attempt gets a key prefix of its own.
    store, rank, world = next(rendezvous("env://"))
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")  # see restarted()
    dist.init_process_group(backend or ("nccl" if torch.cuda.is_available() else "gloo"),
                            store=dist.PrefixStore(f"graphscale/attempt{attempt}", store), rank=rank,
                            world_size=world)
    return dist.get_rank(), dist.get_world_size()


def join_group() -> tuple[int, int]:
    """Under torchrun (``WORLD_SIZE`` > 1): join the group and return ``(rank, world size)``; else ``(0, 1)``."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return 0, 1
    return init_from_env()


def same_on_every_rank(value: object) -> object:
    """Rank 0's ``value`` on every rank (``value`` itself outside a group): e.g. an output folder whose
    numbered name is picked once."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@dataclass
class Traffic:
    """Bytes this rank sent through collectives (reset by the caller, e.g. per epoch)."""

    bytes_sent: int = 0

    def reset(self) -> int:
        sent, self.bytes_sent = self.bytes_sent, 0
        return sent


def all_to_all(send: Tensor, send_counts: list[int], recv_counts: list[int], traffic: Traffic | None = None) -> Tensor:
    """Rows ``send`` (grouped by destination rank, ``send_counts[j]`` rows for rank ``j``) exchanged: the rows
    every rank sent here, grouped by source rank (``recv_counts``).

    Shapes:
        send: ``[sum(send_counts), *F]``; returns ``[sum(recv_counts), *F]``.
    """
    recv = send.new_empty((sum(recv_counts), *send.shape[1:]))
    dist.all_to_all_single(recv, send.contiguous(), recv_counts, send_counts)
    if traffic is not None:  # rows to other ranks (a rank's rows to itself never leave the process)
        row_bytes = send.element_size() * (send[0].numel() if send.shape[0] else 0)
        traffic.bytes_sent += (send.shape[0] - send_counts[dist.get_rank()]) * row_bytes
    return recv


class HaloPlan:
    """Which rows of a part its halo needs from each rank, set up once by one exchange of ids.

    Args:
        halo_owner: ``[H]`` int64 the rank owning each halo row (in the part's halo order).
        halo_local: ``[H]`` int64 the row's local id at its owner.
        world_size: Ranks in the group.

    ``pull(h_owned)`` then gives the halo rows ``[H, F]`` of any ``[N_k, F]`` node tensor, differentiably
    (backward sends the halo rows' gradients back to their owners, which add them to their rows).
    """

    def __init__(self, halo_owner: Tensor, halo_local: Tensor, world_size: int, traffic: Traffic | None = None) -> None:
        order = torch.argsort(halo_owner, stable=True)
        self.order = order                                               # received row i is halo row order[i]
        self.recv_counts = torch.bincount(halo_owner, minlength=world_size).tolist()
        self.send_counts = all_to_all(torch.tensor(self.recv_counts, dtype=torch.int64), [1] * world_size,
                                      [1] * world_size).tolist()
        self.send_rows = all_to_all(halo_local[order].long(), self.recv_counts, self.send_counts)  # my local ids
        self.num_halo = int(halo_owner.numel())
        self.traffic = traffic

    def pull(self, h_owned: Tensor) -> Tensor:
        """The halo rows of ``h_owned`` (``[N_k, F]`` on every rank) as ``[H, F]``."""
        return _HaloExchange.apply(h_owned, self)


class _HaloExchange(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h_owned: Tensor, plan: HaloPlan) -> Tensor:  # type: ignore[override]
        ctx.plan, ctx.num_owned = plan, h_owned.shape[0]
        received = all_to_all(h_owned.index_select(0, plan.send_rows), plan.send_counts, plan.recv_counts,
                              plan.traffic)
        out = received.new_empty((plan.num_halo, *h_owned.shape[1:]))
        out[plan.order] = received
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        plan = ctx.plan
        back = all_to_all(grad.index_select(0, plan.order), plan.recv_counts, plan.send_counts, plan.traffic)
        grad_owned = grad.new_zeros((ctx.num_owned, *grad.shape[1:]))
        grad_owned.index_add_(0, plan.send_rows, back)
        return grad_owned, None


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """``tensor`` summed over the ranks (in place; returned)."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(value: float) -> float:
    """The largest ``value`` over the ranks (``value`` itself outside a group): e.g. a count of steps every rank
    must take alike."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return value
    tensor = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor[0])


def restarted() -> bool:
    """Whether torchrun restarted this group after a failure (its workers then resume)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0


def leave_group() -> None:
    """All ranks leave together (after rank 0 has written its files): a rank gone early makes gloo abort its
    peers. Nothing outside a group."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


__all__ = ["HaloPlan", "Traffic", "all_reduce_max", "all_reduce_sum", "all_to_all", "init_from_env", "join_group",
           "leave_group", "restarted", "same_on_every_rank"]
