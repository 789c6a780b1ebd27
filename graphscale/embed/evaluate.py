"""Evaluating node embeddings: multi-label node classification (DeepWalk protocol) and link prediction (AUC).

Node classification (Perozzi et al., KDD 2014, section 6): a fraction ``ratio`` of the labelled nodes trains
one-vs-rest L2-regularised logistic regression (liblinear's objective, ``C = 1``); every test node gets the
``k`` highest-scoring labels, ``k`` = its true number of labels; Micro- and Macro-F1 are averaged over
``repeats`` seeded random splits, for ratios 10%..90%.

The ``C`` binary problems are independent, so they are solved jointly by one L-BFGS run over the ``[F, C]``
weight matrix (the sum of separable objectives has the per-label optima as its optimum): the same solution
as scikit-learn's ``OneVsRestClassifier(LogisticRegression())`` with one matrix product per step.
Single-label datasets (``y`` of shape ``[N]``, ``-1`` = unlabelled) are one-hot encoded, and top-1
prediction makes Micro-F1 equal to accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ShapeError
from ..graph import Graph

RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def label_matrix(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(Y [M, C] bool, node ids [M])`` of the labelled nodes from ``[N, C]`` 0/1 or ``[N]`` class ids."""
    y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if y.ndim == 1:
        nodes = np.flatnonzero(y >= 0)
        classes = int(y.max()) + 1 if nodes.size else 0
        matrix = np.zeros((nodes.size, classes), dtype=bool)
        matrix[np.arange(nodes.size), y[nodes].astype(np.int64)] = True
        return matrix, nodes
    if y.ndim != 2:
        raise ShapeError(f"label_matrix: expected labels [N] or [N, C], got shape {y.shape}.")
    matrix = y != 0
    nodes = np.flatnonzero(matrix.any(1))
    return matrix[nodes], nodes


def fit_one_vs_rest(x: np.ndarray, y: np.ndarray, c: float = 1.0, max_iter: int = 200,
                    tol: float = 1e-8, dtype: type = np.float64,
                    init: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""One-vs-rest logistic regression, every label at once (one L-BFGS run, scipy).

    Minimises, for each label ``j``, :math:`\tfrac12 \lVert w_j\rVert^2 + C \sum_i \log(1 + e^{-s_{ij}
    (x_i^\top w_j + b_j)})` with :math:`s_{ij} = \pm 1` and an unpenalised intercept (scikit-learn's lbfgs
    ``LogisticRegression(C=c)``). The objective is divided by ``C M`` (same optimum, better scaled).
    ``max_iter=200`` puts BlogCatalog's F1 within 0.001 of the converged solution; ``dtype=np.float32``
    halves the cost of each step; ``init`` (a previous ``(W, b)``) warm-starts the solver.

    Shapes:
        x: ``[M, F]``; y: ``[M, C]`` 0/1; returns ``(W [F, C], b [C])`` float64.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    features = np.ascontiguousarray(x, dtype=dtype)
    signs = np.where(np.asarray(y) != 0, 1.0, -1.0).astype(dtype)
    m, f = features.shape
    labels = signs.shape[1]
    scale = 1.0 / (c * m)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weight = theta[:f * labels].reshape(f, labels).astype(dtype)
        bias = theta[f * labels:].astype(dtype)
        margins = signs * (features @ weight + bias)                      # [M, C]
        loss = np.logaddexp(0.0, -margins).sum() / m + 0.5 * scale * float((weight * weight).sum())
        residual = -signs * expit(-margins) / m                           # d loss / d logits
        grad_w = features.T @ residual + scale * weight
        return float(loss), np.concatenate([grad_w.ravel(), residual.sum(0)]).astype(np.float64)

    theta = np.zeros(f * labels + labels)
    if init is not None:
        theta = np.concatenate([np.asarray(init[0], dtype=np.float64).ravel(), np.asarray(init[1], np.float64)])
    solution = minimize(objective, theta, jac=True, method="L-BFGS-B",
                        options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-14, "maxcor": 20})
    return solution.x[:f * labels].reshape(f, labels), solution.x[f * labels:]


def top_k_predictions(scores: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``[M, C]`` bool: the ``k[i]`` highest scores of each row (ties broken by label order)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :].repeat(scores.shape[0], 0), axis=1)
    return ranks < np.asarray(k)[:, None]


def f1_scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """``(micro F1, macro F1)`` of 0/1 matrices ``[M, C]`` (a label with no true and no predicted positive
    scores 0 in the macro average, as scikit-learn's ``zero_division=0``)."""
    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    tp = (t & p).sum(0).astype(np.float64)
    fp = (~t & p).sum(0).astype(np.float64)
    fn = (t & ~p).sum(0).astype(np.float64)
    denom = 2 * tp.sum() + fp.sum() + fn.sum()
    micro = 2 * tp.sum() / denom if denom > 0 else 0.0
    per_label = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=(2 * tp + fp + fn) > 0)
    return float(micro), float(per_label.mean()) if per_label.size else 0.0


def node_classification(embeddings: np.ndarray, y: Any, ratios: Any = RATIOS, repeats: int = 5, seed: int = 0,
                        c: float = 1.0, normalize: bool = False,
                        test_nodes: np.ndarray | None = None) -> dict[str, Any]:
    """Micro/Macro-F1 of one-vs-rest logistic regression with top-k prediction, per training ratio.

    Args:
        embeddings: ``[N, D]`` node embeddings.
        y: ``[N, C]`` 0/1 multi-label matrix, or ``[N]`` class ids (``-1`` = unlabelled).
        ratios: Fractions of the labelled nodes used for training.
        repeats: Random splits per ratio (split ``r`` of every ratio uses the seed ``(seed, r)``).
        c: Inverse regularisation strength.
        normalize: L2-normalise the embeddings first.
        test_nodes: Node ids that may be scored (held out from model selection): each split still trains on
            ``ratio`` of all labelled nodes, and scores only the other labelled nodes among these.

    Returns:
        ``{"ratios": [...], "micro_f1": [...], "macro_f1": [...], "micro_f1_std": [...], "macro_f1_std": [...]}``.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    labels, nodes = label_matrix(y)
    if x.ndim != 2 or x.shape[0] <= int(nodes.max(initial=-1)):
        raise ShapeError(f"node_classification: expected embeddings [N, D] covering every labelled node, got "
                         f"shape {x.shape}.")
    x = x[nodes]
    scorable = np.ones(nodes.size, dtype=bool) if test_nodes is None else np.isin(nodes, test_nodes)
    if not scorable.any():
        raise ShapeError("node_classification: expected labelled nodes among test_nodes, got none.")
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    out: dict[str, Any] = {"ratios": [], "micro_f1": [], "macro_f1": [], "micro_f1_std": [], "macro_f1_std": []}
    m = x.shape[0]
    previous = None   # warm start: each fit starts from the last solution (same problem, other split)
    for ratio in ratios:
        micro, macro = [], []
        for r in range(repeats):
            perm = np.random.default_rng([seed, r]).permutation(m)
            cut = min(max(1, round(ratio * m)), m - 1)
            train, test = perm[:cut], perm[cut:]
            test = test[scorable[test]]
            weight, bias = fit_one_vs_rest(x[train], labels[train], c=c, dtype=np.float32, init=previous)
            previous = (weight, bias)
            pred = top_k_predictions(x[test] @ weight + bias, labels[test].sum(1))
            scores = f1_scores(labels[test], pred)
            micro.append(scores[0])
            macro.append(scores[1])
        out["ratios"].append(float(ratio))
        for key, values in (("micro_f1", micro), ("macro_f1", macro)):
            out[key].append(float(np.mean(values)))
            out[key + "_std"].append(float(np.std(values)))
    return out


SELECTION_SEED = 7919  # the held-out split is one fixed draw: the same nodes for every config and training seed


def selection_split(y: Any, fraction: float, seed: int = SELECTION_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Split the labelled nodes once into a model-selection set (``fraction`` of them) and the rest.

    Configs are compared on the node-classification F1 of the selection set only (``validation_*`` in the
    summary); the reported F1 scores only the rest (``node_classification(test_nodes=...)``; the classifier
    still trains on the published share of all labelled nodes), so a tuned config is never scored on the nodes
    that chose it.
    Returns the label arrays of both sets, each shaped like ``y`` with the other set's nodes unlabelled
    (``-1`` for ``[N]`` class ids, a zero row for ``[N, C]`` 0/1 labels).
    """
    y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if not 0.0 < fraction < 1.0:
        raise ShapeError(f"selection_split: expected a fraction in (0, 1), got {fraction}.")
    _, nodes = label_matrix(y)
    if nodes.size < 4:
        raise ShapeError(f"selection_split: expected at least 4 labelled nodes, got {nodes.size}.")
    chosen = np.random.default_rng(seed).permutation(nodes)
    cut = min(max(2, round(fraction * nodes.size)), nodes.size - 2)
    empty = -1 if y.ndim == 1 else 0
    select, report = np.full_like(y, empty), np.full_like(y, empty)
    select[chosen[:cut]] = y[chosen[:cut]]
    report[chosen[cut:]] = y[chosen[cut:]]
    return select, report


def link_split(graph: Graph, test_fraction: float = 0.1, seed: int = 0) -> tuple[Graph, np.ndarray, np.ndarray]:
    """Hold out ``test_fraction`` of the undirected edges (both directions removed) and draw as many
    non-edges: ``(train graph, positive pairs [T, 2], negative pairs [T, 2])``. Self-loops stay in training."""
    src, dst = graph.src.numpy().astype(np.int64), graph.dst.numpy().astype(np.int64)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    n = graph.num_nodes
    keys = np.unique(lo[lo != hi] * n + hi[lo != hi])
    rng = np.random.default_rng([seed, 7])
    test = rng.choice(keys, size=max(1, round(test_fraction * keys.size)), replace=False)
    held = np.isin(lo * n + hi, test) & (lo != hi)
    train = Graph(torch.from_numpy(src[~held]), torch.from_numpy(dst[~held]), n)
    existing = set(keys.tolist())
    negatives: list[tuple[int, int]] = []
    while len(negatives) < test.size:
        a, b = rng.integers(0, n, size=2)
        key = min(a, b) * n + max(a, b)
        if a != b and key not in existing:
            existing.add(key)
            negatives.append((int(a), int(b)))
    positives = np.stack([test // n, test % n], axis=1)
    return train, positives, np.asarray(negatives, dtype=np.int64).reshape(-1, 2)


def auc_score(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction)."""
    scores = np.concatenate([positive_scores, negative_scores])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    bounds = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [scores.size]])
    for lo, hi in zip(starts, ends):
        ranks[order[lo:hi]] = (lo + hi + 1) / 2.0   # average 1-based rank of a tie group
    p, q = positive_scores.size, negative_scores.size
    return float((ranks[:p].sum() - p * (p + 1) / 2.0) / (p * q))


def link_prediction(embeddings: np.ndarray, positives: np.ndarray, negatives: np.ndarray,
                    score: str = "cosine") -> float:
    """AUC of held-out edges vs non-edges scored by ``"cosine"`` or ``"dot"`` similarity of the embeddings."""
    x = np.asarray(embeddings, dtype=np.float64)
    if score == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    elif score != "dot":
        raise ShapeError(f"link_prediction: expected score 'cosine' or 'dot', got {score!r}.")

    def pair_scores(pairs: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])

    return auc_score(pair_scores(positives), pair_scores(negatives))


def plot_f1(results: dict[str, Any], path: str | os.PathLike[str], title: str = "") -> Path | None:
    """F1 vs training ratio (PNG); ``results`` from :func:`node_classification`. None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is optional
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ratios = 100 * np.asarray(results["ratios"])
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label in (("micro_f1", "Micro-F1"), ("macro_f1", "Macro-F1")):
        ax.errorbar(ratios, results[key], yerr=results[key + "_std"], marker="o", capsize=3, label=label)
    ax.set_xlabel("labelled nodes used for training (%)")
    ax.set_ylabel("F1")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")  # written whole, then renamed into place
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path
