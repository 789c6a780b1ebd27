"""Knowledge distillation of a trained GNN: the objectives, the MLP student and the inference timing.

Three objectives, each a plain function of tensors (the training glue lives in :mod:`graphscale.train.distill`):

* :func:`kd_loss`: GLNN (Zhang et al., ICLR 2022, "Graph-less Neural Networks: Teaching Old MLPs New Tricks via
  Distillation"), eq. 1 with Hinton et al.'s temperature: ``lambda * CE(y, s) on the training nodes + (1 - lambda)
  * T^2 * KL(softmax(t / T) || softmax(s / T))`` averaged over ALL nodes (the transductive setting).
* :func:`lsp_loss`: LSP (Yang et al., CVPR 2020, "Distilling Knowledge from Graph Convolutional Networks"), eq. 4:
  the mean over nodes of ``KL(LS^s_i || LS^t_i)``, ``LS_ij = exp(SIM(z_i, z_j)) / sum_{k in N(i)} exp(SIM(z_i,
  z_k))`` over the in-neighbours ``j`` of ``i``, for the teacher's and the student's hidden representations.
* :func:`gcrd_loss`: G-CRD (Joshi et al., 2022, "On Representation Knowledge Distillation for Graph Neural
  Networks"): projection heads map the student's and the teacher's node embeddings to one unit sphere, and an
  InfoNCE loss makes the student's node ``i`` pick the teacher's node ``i`` among negatives from other nodes.

:class:`MLP` is the graph-free student; :func:`hidden_and_logits` gives the last hidden layer of an MLP or a
``ConvStack`` beside its logits; :func:`inference_times` measures teacher (neighbourhood fetch + forward) against
student (feature gather + forward) on the same random nodes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..graph import Graph
from ..nn.functional import dropout as fast_dropout
from ..nn.models import ConvStack
from ..saga import edge_softmax, fn, saga

LSP_KERNELS = ("rbf", "linear", "poly")
METHODS = ("kd", "lsp", "gcrd")


class MLP(nn.Module):
    """The graph-free student: ``num_layers`` linear layers with ReLU and dropout between them (GLNN's MLP).

    Shapes:
        x: ``[N, F_in]`` float; returns ``[N, out_dim]`` logits. ``graph`` is ignored (pass None): the student
        reads a node's own features only.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden_dim: int = 64, num_layers: int = 2,
                 dropout: float = 0.0, input_dropout: float | None = None) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dims))
        self.dropout = dropout
        self.input_dropout = dropout if input_dropout is None else input_dropout

    def hidden_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(h [N, hidden_dim], logits [N, out_dim])``: the last hidden layer (after ReLU; ``x`` for a
        one-layer MLP) and the output. ``x`` may be a sparse COO tensor (bag-of-words features): the first layer
        then multiplies only its non-zeros, with the input dropout on their values."""
        if x.is_sparse:
            first = self.layers[0]
            values = F.dropout(x._values(), self.input_dropout, self.training)
            dropped = torch.sparse_coo_tensor(x._indices(), values, x.shape, is_coalesced=True, check_invariants=False)
            h, hidden = torch.sparse.mm(dropped, first.weight.T) + first.bias, x
        else:
            hidden = x
            h = self.layers[0](fast_dropout(x, self.input_dropout, self.training))
        for layer in self.layers[1:]:
            hidden = F.relu(h)
            h = layer(fast_dropout(hidden, self.dropout, self.training))
        return hidden, h

    def forward(self, graph: Any, x: Tensor) -> Tensor:
        return self.hidden_and_logits(x)[1]


def hidden_and_logits(model: nn.Module, graph: Graph | None, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(h [N, H], logits [N, C])`` of an :class:`MLP` or a ``ConvStack`` (GCN, SAGE, GAT, GIN ... stacks):
    ``h`` is the activation that enters the last layer (before its dropout).

    Raises:
        ConfigError: Another model kind (its hidden layer is not exposed), or a one-layer stack.
    """
    if isinstance(model, MLP):
        return model.hidden_and_logits(x)
    if not isinstance(model, ConvStack) or len(model.convs) < 2:
        raise ConfigError(f"representation distillation: expected an MLP or a stack of >= 2 message-passing layers "
                          f"(gcn, sage, gat, gatv2, gin, cheb), got {type(model).__name__}. Use distill.method=kd.")
    h = fast_dropout(x, model.input_dropout, model.training)
    hidden = h
    for i, conv in enumerate(model.convs):
        if i > 0:
            h = fast_dropout(hidden, model.dropout, model.training)
        h = conv(graph, h)
        if i < len(model.convs) - 1:
            hidden = model.activation(h)
    return hidden, h


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, y: Tensor, train_mask: Tensor, *,
            temperature: float = 1.0, label_weight: float = 0.0) -> Tensor:
    """GLNN's objective: ``lambda * CE(y, s)[train] + (1 - lambda) * T^2 * KL(p_t^T || p_s^T)`` (mean over all
    ``N`` nodes), ``p^T = softmax(logits / T)``, ``lambda = label_weight``.

    Shapes:
        student_logits, teacher_logits: ``[N, C]`` float (the teacher's are constants); y: ``[N]`` int64;
        train_mask: ``[N]`` bool. Returns a scalar.
    """
    loss = student_logits.new_zeros(())
    if label_weight > 0:
        loss = loss + label_weight * F.cross_entropy(student_logits[train_mask], y[train_mask])
    if label_weight < 1:
        log_student = F.log_softmax(student_logits / temperature, dim=-1)
        log_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=-1)
        kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
        loss = loss + (1 - label_weight) * temperature ** 2 * kl
    return loss


def _edge_logits(graph: Graph, z: Tensor, kernel: str, sigma: float) -> Tensor:
    """``SIM(z_dst, z_src)`` of every edge ``[E]``: rbf ``-|z_i - z_j|^2 / (2 sigma^2)`` (so ``LS`` is
    proportional to the RBF kernel), linear ``z_i . z_j``, poly ``(z_i . z_j + 1)^2``."""
    dot = saga(graph, src=z, dst=z, apply_edge=fn.src_dot_dst, gather=None).view(-1)
    if kernel == "linear":
        return dot
    if kernel == "poly":
        return (dot + 1) ** 2
    square = (z * z).sum(-1)
    distance = square[graph.src.long()] + square[graph.dst.long()] - 2 * dot
    return -distance.clamp_min(0) / (2 * sigma ** 2)


def _edge_log_softmax(graph: Graph, logits: Tensor) -> Tensor:
    """``log LS_ij`` over the in-edges of each node: ``logits - logsumexp`` per destination. ``[E]``."""
    top = saga(graph, edge=logits.detach()[:, None], apply_edge=fn.copy_edge, gather="max").view(-1)
    dst = graph.dst.long()
    total = saga(graph, edge=torch.exp(logits - top[dst])[:, None], apply_edge=fn.copy_edge, gather="sum").view(-1)
    return logits - (torch.log(total) + top)[dst]


def lsp_loss(graph: Graph, student_hidden: Tensor, teacher_hidden: Tensor, *, kernel: str = "rbf",
             sigma: float = 1.0) -> Tensor:
    """LSP: ``(1 / N') sum_i KL(LS^s_i || LS^t_i)``, summed over the in-edges ``j -> i`` of each node, averaged
    over the ``N'`` nodes that have in-edges (Yang et al. 2020, eq. 4). The teacher's side is a constant.

    Shapes:
        student_hidden: ``[N, H_s]``; teacher_hidden: ``[N, H_t]`` (the widths may differ); returns a scalar.

    Raises:
        ConfigError: An unknown kernel.
    """
    if kernel not in LSP_KERNELS:
        raise ConfigError(f"distill.lsp_kernel: expected one of {LSP_KERNELS}, got {kernel!r}.")
    if graph.num_edges == 0:
        return student_hidden.sum() * 0
    log_s = _edge_log_softmax(graph, _edge_logits(graph, student_hidden, kernel, sigma))
    with torch.no_grad():
        log_t = _edge_log_softmax(graph, _edge_logits(graph, teacher_hidden.detach(), kernel, sigma))
    per_edge = torch.exp(log_s) * (log_s - log_t)
    per_node = saga(graph, edge=per_edge[:, None], apply_edge=fn.copy_edge, gather="sum").view(-1)
    has_edges = torch.zeros(graph.num_dst_nodes, dtype=torch.bool, device=per_edge.device)
    has_edges[graph.dst.long()] = True
    return per_node[has_edges].mean()


def lsp_probabilities(graph: Graph, hidden: Tensor, kernel: str = "rbf", sigma: float = 1.0) -> Tensor:
    """``LS_ij`` of every edge ``j -> i`` ``[E]`` (the local structure LSP matches; for inspection)."""
    return edge_softmax(graph, _edge_logits(graph, hidden, kernel, sigma)[:, None]).view(-1)


class ProjectionHeads(nn.Module):
    """G-CRD's heads: ``g_s(h) = normalize(W_s h)``, ``g_t(h) = normalize(W_t h)`` onto one ``dim``-sphere.

    Shapes:
        student: ``[N, H_s]`` -> ``[N, dim]``; teacher: ``[N, H_t]`` -> ``[N, dim]`` (unit rows).
    """

    def __init__(self, student_dim: int, teacher_dim: int, dim: int = 64) -> None:
        super().__init__()
        self.student = nn.Linear(student_dim, dim)
        self.teacher = nn.Linear(teacher_dim, dim)

    def forward(self, student_hidden: Tensor, teacher_hidden: Tensor) -> tuple[Tensor, Tensor]:
        return (F.normalize(self.student(student_hidden), dim=-1),
                F.normalize(self.teacher(teacher_hidden.detach()), dim=-1))


def draw_negatives(num_nodes: int, count: int, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> Tensor:
    """``[count]`` int64 node ids drawn uniformly with replacement: the negatives every node shares in one step
    (:func:`gcrd_loss` leaves out the draws equal to the anchor node itself)."""
    if num_nodes < 2:
        raise ConfigError(f"distill.method gcrd: expected a graph of >= 2 nodes (negatives are other nodes), got "
                          f"{num_nodes}. Use distill.method=kd.")
    return torch.randint(0, num_nodes, (count,), generator=generator).to(device)


def gcrd_loss(student_embedding: Tensor, teacher_embedding: Tensor, negatives: Tensor, *,
              tau: float = 0.1) -> Tensor:
    """G-CRD's contrastive term (InfoNCE): ``mean_i -log(e^{s_i.t_i / tau} / (e^{s_i.t_i / tau} + sum_{k != i}
    e^{s_i.t_k / tau}))`` over the shared negatives ``k`` (a draw equal to ``i`` is left out of row ``i``).

    Shapes:
        student_embedding, teacher_embedding: ``[N, D]`` (unit rows, from :class:`ProjectionHeads`);
        negatives: ``[K]`` int64 node ids; returns a scalar.
    """
    positive = (student_embedding * teacher_embedding).sum(-1, keepdim=True)             # [N, 1]
    negative = student_embedding @ teacher_embedding[negatives].T                        # [N, K]
    rows = torch.arange(student_embedding.shape[0], device=negatives.device)[:, None]
    negative = negative.masked_fill(negatives[None, :] == rows, float("-inf"))
    scores = torch.cat([positive, negative], dim=1) / tau
    return F.cross_entropy(scores, scores.new_zeros(scores.shape[0], dtype=torch.long))


def inference_nodes(num_nodes: int, count: int, seed: int = 0) -> Tensor:
    """``min(count, N)`` distinct random node ids ``[n]`` int64 (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(num_nodes, generator=generator)[:min(count, num_nodes)]


def _timed_ms(run: Any, repeats: int) -> tuple[float, float]:
    """``(median, fastest)`` milliseconds of ``repeats`` calls of ``run`` after one untimed warm-up (numba
    compilation and allocator growth are not timed)."""
    run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - began))
    return statistics.median(times), min(times)


def _predict_step(model: nn.Module, graph: Graph, x: Tensor, nodes: Tensor, fanouts: Sequence[int] | None,
                  seed: int, fetched: dict[str, int]) -> Any:
    """A function predicting ``nodes``: ``x[nodes]`` into an MLP (``fanouts`` None), else sample the
    ``len(fanouts)``-hop in-neighbourhood into Blocks, gather ``x`` of its input nodes and run the model on them.
    The sampler's CSC is built here, before any timing (a server holds it)."""
    if fanouts is None:
        return lambda: model(None, x[nodes])
    from ..sampling import NeighborSampler

    sampler = NeighborSampler(graph, list(fanouts))

    def step() -> Tensor:
        blocks = sampler.sample_blocks(nodes, seed=seed)
        fetched["nodes"] = int(blocks[0].num_src_nodes)
        fetched["edges"] = sum(int(block.num_edges) for block in blocks)
        return model(blocks, x[blocks[0].src_ids])

    return step


@torch.no_grad()
def inference_times(teacher: nn.Module, student: nn.Module, graph: Graph, x: Tensor, nodes: Tensor,
                    fanouts: Sequence[int], *, student_fanouts: Sequence[int] | None = None, repeats: int = 5,
                    seed: int = 0) -> dict[str, Any]:
    """Wall time of predicting ``nodes`` with the teacher and with the student (both in eval mode, on the CPU),
    scaled to milliseconds per 10,000 nodes: the median of ``repeats`` runs (``*_ms_per_10k``, their ratio
    ``inference_speedup``) and the fastest run (``*_fastest_ms_per_10k``, ``inference_speedup_fastest``: the
    estimate least disturbed by other processes on a shared machine).

    Teacher: sample the ``len(fanouts)``-hop in-neighbourhood of ``nodes`` into Blocks (``NeighborSampler``;
    ``-1`` = every neighbour: exact inference), gather ``x`` of its input nodes, run the teacher on the blocks.
    Student: an MLP gathers ``x[nodes]`` and runs; a GNN student fetches its own neighbourhood like the teacher
    (``student_fanouts``, default every neighbour at each of its layers).

    Shapes:
        x: ``[N, F]`` float; nodes: ``[n]`` int64 distinct ids.
    """
    teacher.eval()
    student.eval()
    if student_fanouts is None and not isinstance(student, MLP):
        student_fanouts = [-1] * len(getattr(student, "convs", [None]))
    fetched: dict[str, int] = {}
    teacher_ms, teacher_min = _timed_ms(_predict_step(teacher, graph, x, nodes, fanouts, seed, fetched), repeats)
    teacher_fetch = dict(fetched)
    student_ms, student_min = _timed_ms(_predict_step(student, graph, x, nodes, student_fanouts, seed, fetched),
                                        repeats)
    scale = 10_000 / max(int(nodes.numel()), 1)
    return {"teacher_ms_per_10k": teacher_ms * scale, "student_ms_per_10k": student_ms * scale,
            "inference_speedup": teacher_ms / student_ms if student_ms > 0 else None,
            "teacher_fastest_ms_per_10k": teacher_min * scale, "student_fastest_ms_per_10k": student_min * scale,
            "inference_speedup_fastest": teacher_min / student_min if student_min > 0 else None,
            "inference_nodes": int(nodes.numel()), "teacher_fetch_nodes": teacher_fetch["nodes"],
            "teacher_fetch_edges": teacher_fetch["edges"], "inference_fanouts": list(fanouts),
            "student_fanouts": None if student_fanouts is None else list(student_fanouts),
            "inference_repeats": repeats}


__all__ = ["LSP_KERNELS", "METHODS", "MLP", "ProjectionHeads", "draw_negatives", "gcrd_loss", "hidden_and_logits",
           "inference_nodes", "inference_times", "kd_loss", "lsp_loss", "lsp_probabilities"]
