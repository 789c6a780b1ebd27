r"""Trainers of the vertex / context tables on a sample pool: skip-gram with negative sampling (SGNS).

For a pair ``(u, v)`` with negatives ``n_1..n_K`` the loss is (word2vec; GraphVite's ``negative_weight`` c)

.. math::
    \ell = -\log\sigma(x_u^\top y_v) - c \sum_{k=1}^{K} \log\sigma(-x_u^\top y_{n_k})

with ``x`` the vertex table and ``y`` the context table (``y = x`` for first-order LINE). Plain SGD with a
learning rate that decays linearly with the global sample index, ``lr_i = lr * max(min_lr_fraction,
1 - i / total)``, as in word2vec and GraphVite.

* :func:`sgd_numba`: lock-free parallel SGD (Hogwild, Recht et al. 2011) in numba: every thread runs through
  its own slice of the pool and writes the shared tables without locks (conflicts are rare and harmless
  for sparse updates). Negatives equal to the positive context are skipped (word2vec). The table rows of
  the sample ``PREFETCH_AHEAD`` positions ahead are prefetched (the kernel is memory-latency bound).
* :class:`TorchSGD`: the same update in mini-batches of torch ops (gather, ``index_add_``) for a GPU; on a
  CPU it is correct but slower than the numba path.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import prange

from .prefetch import prefetch

MAX_EXP = 6.0   # sigmoid saturates beyond |x| > 6 (word2vec's table range)
PREFETCH_AHEAD = 4   # samples between a row prefetch and its use (hides the table rows' memory latency)


@numba.njit(cache=True, nogil=True, inline="always")
def _prefetch_rows(vertex, context, center, ctx, negatives, i, hi, num_negatives):
    if i < hi and center[i] >= 0:
        dim = vertex.shape[1]
        for d in range(0, dim, 16):
            prefetch(vertex, center[i], d)
            prefetch(context, ctx[i], d)
            for k in range(num_negatives):
                prefetch(context, negatives[i, k], d)


@numba.njit(cache=True, nogil=True, inline="always")
def _sigmoid(x):
    if x > MAX_EXP:
        return np.float32(1.0)
    if x < -MAX_EXP:
        return np.float32(0.0)
    return np.float32(1.0 / (1.0 + math.exp(-x)))


@numba.njit(cache=True, nogil=True, inline="always")
def _softplus(x):
    """``log(1 + e^x)``, the loss of a logit ``-x``."""
    return math.log1p(math.exp(x)) if x < 30.0 else x


@numba.njit(cache=True, nogil=True, inline="always", fastmath=True)
def _update_one_negative(vertex, context, u, t, n, step, negative_weight):
    """The update of one sample with one negative in two passes over the rows (both dots, then all three
    rows), faster than the general loop. Returns the two logits (positive, negative)."""
    dim = vertex.shape[1]
    dot_pos = np.float32(0.0)
    dot_neg = np.float32(0.0)
    for d in range(dim):
        a = vertex[u, d]
        dot_pos += a * context[t, d]
        dot_neg += a * context[n, d]
    g_pos = (np.float32(1.0) - _sigmoid(dot_pos)) * step
    g_neg = -_sigmoid(dot_neg) * step * np.float32(negative_weight)
    if n == t:    # word2vec skips a negative equal to the positive
        g_neg = np.float32(0.0)
    for d in range(dim):
        a = vertex[u, d]
        p = context[t, d]
        q = context[n, d]
        vertex[u, d] = a + g_pos * p + g_neg * q
        context[n, d] = q + g_neg * a
        context[t, d] = p + g_pos * a    # written last: when n == t this is the row's update
    return dot_pos, dot_neg


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def sgd_numba(vertex, context, center, ctx, negatives, count, num_negatives, lr, min_lr_fraction, done, total,
              negative_weight, loss_stride, num_chunks):
    """One pass over ``count`` pool samples; returns ``(loss sum, loss count)`` over every ``loss_stride``-th
    sample (a cheap running estimate). With one negative and separate tables the fused two-pass update
    runs; otherwise the word2vec loop (one positive, then each negative, vertex gradient applied last)."""
    fused = num_negatives == 1 and vertex.ctypes.data != context.ctypes.data
    dim = vertex.shape[1]
    losses = np.zeros(num_chunks, dtype=np.float64)
    counted = np.zeros(num_chunks, dtype=np.int64)
    for c in prange(num_chunks):
        grad = np.empty(dim, dtype=np.float32)
        lo = c * count // num_chunks
        hi = (c + 1) * count // num_chunks
        for i in range(lo, min(hi, lo + PREFETCH_AHEAD)):
            _prefetch_rows(vertex, context, center, ctx, negatives, i, hi, num_negatives)
        for i in range(lo, hi):
            _prefetch_rows(vertex, context, center, ctx, negatives, i + PREFETCH_AHEAD, hi, num_negatives)
            u = center[i]
            if u < 0:
                continue
            rate = 1.0 - (done + i) / total
            rate = max(rate, min_lr_fraction)
            step = np.float32(lr * rate)
            positive = ctx[i]
            track = loss_stride > 0 and i % loss_stride == 0
            if fused:
                dot_pos, dot_neg = _update_one_negative(vertex, context, u, positive, negatives[i, 0], step,
                                                        negative_weight)
                if track:
                    counted[c] += 1
                    losses[c] += _softplus(-dot_pos)
                    if negatives[i, 0] != positive:
                        losses[c] += negative_weight * _softplus(dot_neg)
                continue
            for d in range(dim):
                grad[d] = 0.0
            for k in range(num_negatives + 1):
                if k == 0:
                    target = positive
                    label = np.float32(1.0)
                    scale = np.float32(1.0)
                else:
                    target = negatives[i, k - 1]
                    if target == positive:
                        continue
                    label = np.float32(0.0)
                    scale = np.float32(negative_weight)
                dot = np.float32(0.0)
                for d in range(dim):
                    dot += vertex[u, d] * context[target, d]
                prob = _sigmoid(dot)
                if track:
                    losses[c] += scale * _softplus(-dot if k == 0 else dot)
                g = (label - prob) * step * scale
                for d in range(dim):
                    grad[d] += g * context[target, d]
                    context[target, d] += g * vertex[u, d]
            if track:
                counted[c] += 1
            for d in range(dim):
                vertex[u, d] += grad[d]
    return losses.sum(), counted.sum()


class TorchSGD:
    """The SGNS update of :func:`sgd_numba` as batched torch ops on ``device`` (GraphVite's GPU worker).

    Each mini-batch of ``batch_size`` samples reads the tables once, computes all gradients, then adds them
    with ``index_add_`` (duplicates within a batch accumulate, as asynchronous SGD would apply them).

    Args:
        vertex, context: ``[N, D]`` float32 tables (numpy, updated in place at :meth:`finish`; ``context`` may
            be ``vertex`` for first-order LINE).
        device: torch device of the working copies.
        batch_size: Samples per torch step.
    """

    def __init__(self, vertex: np.ndarray, context: np.ndarray, device: str | torch.device = "cpu",
                 batch_size: int = 65536) -> None:
        self.device = torch.device(device)
        self.shared = context is vertex
        self._host = (vertex, context)
        self.vertex = torch.from_numpy(vertex).to(self.device)
        self.context = self.vertex if self.shared else torch.from_numpy(context).to(self.device)
        self.batch_size = int(batch_size)

    def step(self, center: np.ndarray, ctx: np.ndarray, negatives: np.ndarray, count: int, num_negatives: int,
             lr: float, min_lr_fraction: float, done: int, total: int, negative_weight: float) -> tuple[float, int]:
        """Train on the first ``count`` samples of a pool; returns ``(loss sum, samples)``."""
        dev = self.device
        loss_sum, seen = 0.0, 0
        for lo in range(0, count, self.batch_size):
            hi = min(count, lo + self.batch_size)
            u = torch.from_numpy(center[lo:hi]).to(dev, non_blocking=True).long()
            keep = u >= 0
            v = torch.from_numpy(ctx[lo:hi]).to(dev, non_blocking=True).long()
            neg = torch.from_numpy(negatives[lo:hi, :num_negatives]).to(dev, non_blocking=True).long()
            u, v, neg = u[keep], v[keep], neg[keep]
            rate = 1.0 - (done + (lo + hi) / 2.0) / total
            step = lr * max(min_lr_fraction, rate)
            xu = self.vertex[u]                                   # [B, D]
            yv = self.context[v]                                  # [B, D]
            yn = self.context[neg]                                # [B, K, D]
            pos = (xu * yv).sum(-1).clamp_(-MAX_EXP, MAX_EXP)     # [B]
            negs = torch.einsum("bd,bkd->bk", xu, yn).clamp_(-MAX_EXP, MAX_EXP)   # [B, K]
            valid = (neg != v[:, None]).to(xu.dtype)              # word2vec skips negative == positive
            g_pos = (1.0 - torch.sigmoid(pos)) * step             # [B]
            g_neg = -torch.sigmoid(negs) * (step * negative_weight) * valid        # [B, K]
            grad_u = g_pos[:, None] * yv + torch.einsum("bk,bkd->bd", g_neg, yn)
            self.context.index_add_(0, v, g_pos[:, None] * xu)
            self.context.index_add_(0, neg.reshape(-1), (g_neg[..., None] * xu[:, None, :]).reshape(-1, xu.shape[1]))
            self.vertex.index_add_(0, u, grad_u)
            loss = torch.nn.functional.softplus(-pos).sum() + negative_weight * (
                torch.nn.functional.softplus(negs) * valid).sum()
            loss_sum += float(loss)
            seen += int(u.numel())
        return loss_sum, seen

    def finish(self) -> None:
        """Copy the device tables back into the host arrays."""
        vertex, context = self._host
        vertex[...] = self.vertex.cpu().numpy()
        if not self.shared:
            context[...] = self.context.cpu().numpy()
