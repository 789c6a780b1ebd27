"""Distributed full-batch training (NGra / ROC style): each rank runs a conv stack on its part, with a halo
exchange per layer, forward and backward.

A part is one ``Block``: its ``N_k`` owned nodes are the destinations (and the first sources), its ``H_k`` halo
nodes (sources owned by other ranks) follow them. Layer ``l`` pulls the halo rows of its input from their owners
(:class:`~.comm.HaloPlan`, one ``all_to_all`` per layer; backward returns their gradients the same way) and runs
the model's own layer on the block (:class:`graphscale.scale.block_layers.BlockLayers`), exact for the owned
nodes: every in-edge of an owned node is in its part. GCN's normalisation reads full-graph degrees: the owned
nodes' out-degrees are stored in the part, the halo's are pulled once. Dense parameters are replicated (same
seed on every rank) and their gradients summed over the ranks each step (what DDP does), so every rank takes
the same optimizer step. The outputs and gradients equal the single-process model's up to float summation
order (without dropout; dropout masks are drawn per rank).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..graph import Block
from ..nn.functional import dropout as fast_dropout
from ..scale.block_layers import BlockLayers
from .comm import HaloPlan, Traffic, all_reduce_max, all_reduce_sum
from .load import Partition, PartitionBook


def part_block(part: Partition, book: PartitionBook) -> Block:
    """The part as a Block: owned nodes ``0 .. N_k - 1`` (destinations, first sources), halo nodes after them.

    Shapes:
        returns a Block with ``N_k + H_k`` sources, ``N_k`` destinations and the part's ``E_k`` in-edges.
    """
    num_owned, num_halo = part.nodes.numel(), part.halo.numel()
    sources = part.indices.long()
    owner, local = book.owner(sources)
    halo_row = torch.searchsorted(part.halo, sources) + num_owned
    src = torch.where(owner == part.part, local, halo_row)
    dst = torch.repeat_interleave(torch.arange(num_owned), part.indptr.diff())
    return Block(src, dst, num_owned + num_halo, num_owned, src_ids=torch.arange(num_owned + num_halo),
                 dst_ids=torch.arange(num_owned), edge_ids=part.edge_ids, validate=False)


class HaloStack:
    """A ``ConvStack`` run on one part with a halo exchange before every layer.

    Call it like the model on the part's features: ``runner(x_owned) -> [N_k, C]`` logits of the owned nodes,
    differentiable w.r.t. the model's parameters (the halo rows' gradients go back to their owners).

    Args:
        model: A ``ConvStack`` of GCN, SAGE, GAT, GATv2 or GIN layers, initialised identically on every rank.
        part, book: This rank's part and the partition book.
        world_size: Ranks (= parts).
    """

    def __init__(self, model: nn.Module, part: Partition, book: PartitionBook, world_size: int,
                 traffic: Traffic | None = None) -> None:
        self.part, self.traffic = part, traffic if traffic is not None else Traffic()
        self.book, self.world = book, world_size
        self.block = part_block(part, book)
        owner, local = book.owner(part.halo)
        self.plan = HaloPlan(owner, local, world_size, self.traffic)
        out_degree = part.out_degree.long()
        halo_out = self.plan.pull(out_degree.unsqueeze(1).double()).squeeze(1).long()
        degrees = (torch.cat([out_degree, halo_out]), part.indptr.diff())
        self.layers = BlockLayers(model, where="distributed full batch", degrees=degrees,
                                  instead="Use model gcn, sage, gat, gatv2 or gin with --partitions.")
        self.model = self.layers.model
        self._source: Tensor | None = None  # the constant input whose halo rows are kept (_with_halo)
        self._source_version, self._input = -1, None
        self.traffic.reset()  # the setup's bytes are not an epoch's (nor are any counted before)

    def __call__(self, x_owned: Tensor) -> Tensor:
        model, training = self.model, self.model.training
        fuse_relu = model.activation is F.relu
        h = fast_dropout(self._with_halo(x_owned), model.input_dropout, training)
        for i in range(len(self.layers)):
            if i > 0:
                if not fuse_relu:
                    h = model.activation(h)
                h = fast_dropout(h, model.dropout, training, relu=fuse_relu)
                h = torch.cat([h, self.plan.pull(h)])
            h = self.layers(i, self.block, h)
        return h

    def _with_halo(self, x_owned: Tensor) -> Tensor:
        """``[x_owned; its halo rows]``. Constant inputs (the features: the same tensor, unchanged, without
        gradient) are pulled once and kept; input dropout is then drawn here for the halo copies too."""
        if x_owned.requires_grad:
            return torch.cat([x_owned, self.plan.pull(x_owned)])
        if self._source is not x_owned or self._source_version != x_owned._version:
            self._source, self._source_version = x_owned, x_owned._version
            self._input = torch.cat([x_owned, self.plan.pull(x_owned)])
        return self._input


    @torch.no_grad()
    def evaluate(self, x_owned: Tensor, rows_per_chunk: int = 4096) -> Tensor:
        """Eval-mode logits of the owned nodes, layer by layer in chunks of ``rows_per_chunk`` destinations:
        each chunk pulls only the halo rows its in-edges read (:class:`~.kvstore.KVStore`), so no rank holds
        its whole halo at hidden width. Equal to ``runner(x)`` in eval mode. A collective: every rank runs the
        same number of chunks (the largest part's)."""
        from .kvstore import KVStore

        part, block = self.part, self.block
        num_owned = part.nodes.numel()
        chunks = int(all_reduce_max(-(-num_owned // rows_per_chunk)))
        store = KVStore(self.book, part.part, self.world, self.traffic)
        position = torch.full((num_owned + part.halo.numel(),), -1, dtype=torch.int64)
        h = x_owned
        for i in range(len(self.layers)):
            if i > 0:
                h = self.model.activation(h)
            store.add("h", h)
            out = None
            for c in range(chunks):
                lo, hi = min(c * rows_per_chunk, num_owned), min((c + 1) * rows_per_chunk, num_owned)
                e_lo, e_hi = int(part.indptr[lo]), int(part.indptr[hi])
                src = block.src[e_lo:e_hi].long()
                needed = torch.unique(src)
                others = needed[(needed < lo) | ((needed >= hi) & (needed < num_owned))]
                halo = needed[needed >= num_owned]
                pulled = store.pull("h", part.halo[halo - num_owned])  # every rank, even without rows
                if hi == lo:
                    continue
                sources = torch.cat([torch.arange(lo, hi), others, halo])
                position[sources] = torch.arange(sources.numel())
                chunk = Block(position[src], block.dst[e_lo:e_hi].long() - lo, sources.numel(), hi - lo,
                              src_ids=sources, dst_ids=torch.arange(lo, hi), validate=False)
                result = self.layers(i, chunk, torch.cat([h[lo:hi], h[others], pulled]))
                if out is None:
                    out = result.new_empty((num_owned, result.shape[1]))
                out[lo:hi] = result
            h = out if out is not None else h.new_zeros((0, 0))  # a rank owning no node
        return h


def reduce_gradients(model: nn.Module, world_size: int) -> None:
    """Sum every parameter's gradient over the ranks (the loss is already the global mean). A parameter
    without a gradient on this rank (an empty batch) gets zeros, so every rank reduces the same buffer."""
    grads = []
    for p in model.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
    if world_size > 1 and grads:
        flat = all_reduce_sum(torch.cat([g.reshape(-1) for g in grads]))
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def global_metrics(logits: Tensor, y: Tensor, masks: tuple[Tensor, ...]) -> dict[str, float]:
    """``train_acc, val_loss, val_acc, test_acc`` over all ranks' owned nodes (sums all-reduced)."""
    val_mask = masks[1]
    val_loss = (F.cross_entropy(logits[val_mask], y[val_mask], reduction="sum") if val_mask.any()
                else logits.new_zeros(()))
    counts = [(logits[m].argmax(-1) == y[m]).sum() for m in masks] + [m.sum() for m in masks]
    totals = all_reduce_sum(torch.stack([val_loss.double(), *(c.double() for c in counts)]))
    correct, sizes = totals[1:4], totals[4:7]
    accuracy = [float(c / s) if s > 0 else 0.0 for c, s in zip(correct, sizes)]
    return {"train_acc": accuracy[0], "val_loss": float(totals[0] / sizes[1]) if sizes[1] > 0 else 0.0,
            "val_acc": accuracy[1], "test_acc": accuracy[2]}


def train_step(runner: HaloStack, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, train_mask: Tensor,
               world_size: int) -> dict[str, Any]:
    """One full-batch step: the global mean cross-entropy over every rank's training nodes, summed gradients."""
    optimizer.zero_grad(set_to_none=True)
    logits = runner(x)
    local = F.cross_entropy(logits[train_mask], y[train_mask], reduction="sum")
    total = all_reduce_sum(train_mask.sum().double().view(1))
    loss = local / total.to(local.dtype)
    loss.backward()
    reduce_gradients(runner.model, world_size)
    optimizer.step()
    return {"train_loss": float(all_reduce_sum(loss.detach().double().view(1)))}


__all__ = ["HaloStack", "global_metrics", "part_block", "reduce_gradients", "train_step"]
