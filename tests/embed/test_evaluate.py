"""Evaluation against scikit-learn: one-vs-rest logistic regression, F1 scores, top-k prediction, AUC."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

import graphscale as gs
from graphscale.embed import link_prediction, link_split, node_classification, plot_f1
from graphscale.embed.evaluate import auc_score, f1_scores, fit_one_vs_rest, label_matrix, top_k_predictions


def _toy(seed=0, m=120, f=5, c=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, f))
    y = (x @ rng.normal(size=(f, c)) + rng.normal(scale=1.0, size=(m, c))) > 0.3
    return x, y


def test_one_vs_rest_matches_sklearn_logistic_regression():
    x, y = _toy()
    for c in (1.0, 0.1):
        weight, bias = fit_one_vs_rest(x, y, c=c)
        for j in range(y.shape[1]):
            clf = LogisticRegression(C=c, tol=1e-10, max_iter=10000).fit(x, y[:, j])
            np.testing.assert_allclose(weight[:, j], clf.coef_[0], atol=2e-4)
            np.testing.assert_allclose(bias[j], clf.intercept_[0], atol=2e-4)


def test_f1_scores_match_sklearn_with_an_empty_label():
    rng = np.random.default_rng(1)
    truth = rng.random((50, 6)) < 0.3
    pred = rng.random((50, 6)) < 0.3
    truth[:, 4] = False
    pred[:, 4] = False   # a label nobody has and nobody predicts
    micro, macro = f1_scores(truth, pred)
    assert np.isclose(micro, f1_score(truth, pred, average="micro", zero_division=0))
    assert np.isclose(macro, f1_score(truth, pred, average="macro", zero_division=0))


def test_top_k_takes_the_k_best_labels_per_row():
    scores = np.array([[0.1, 0.9, 0.5, 0.3], [4.0, 1.0, 2.0, 3.0], [0.0, 0.0, 1.0, 0.5]])
    pred = top_k_predictions(scores, np.array([2, 1, 3]))
    assert pred.tolist() == [[False, True, True, False], [True, False, False, False], [False, True, True, True]] \
        or pred.tolist() == [[False, True, True, False], [True, False, False, False], [True, False, True, True]]
    assert pred.sum(1).tolist() == [2, 1, 3]


def test_node_classification_protocol_against_sklearn():
    x, y = _toy(seed=2, m=200)
    result = node_classification(x, torch.tensor(y, dtype=torch.float32), ratios=[0.5], repeats=2, seed=3)
    labels, nodes = label_matrix(torch.tensor(y, dtype=torch.float32))
    micros, macros = [], []
    for r in range(2):   # the same splits, classifier and top-k rule with scikit-learn
        perm = np.random.default_rng([3, r]).permutation(nodes.size)
        train, test = perm[:nodes.size // 2], perm[nodes.size // 2:]
        scores = np.stack([LogisticRegression(tol=1e-10, max_iter=10000).fit(x[nodes][train], labels[train][:, j])
                           .decision_function(x[nodes][test]) for j in range(labels.shape[1])], axis=1)
        pred = top_k_predictions(scores, labels[test].sum(1))
        micros.append(f1_score(labels[test], pred, average="micro", zero_division=0))
        macros.append(f1_score(labels[test], pred, average="macro", zero_division=0))
    assert np.isclose(result["micro_f1"][0], np.mean(micros), atol=1e-3)
    assert np.isclose(result["macro_f1"][0], np.mean(macros), atol=1e-3)


def test_single_label_micro_f1_is_accuracy():
    rng = np.random.default_rng(4)
    classes = rng.integers(0, 3, 90)
    x = np.eye(3)[classes] * 2 + rng.normal(scale=0.8, size=(90, 3))
    classes[:5] = -1   # unlabelled nodes are left out
    result = node_classification(x, torch.tensor(classes), ratios=[0.6], repeats=1, seed=0)
    labels, nodes = label_matrix(torch.tensor(classes))
    perm = np.random.default_rng([0, 0]).permutation(nodes.size)
    train, test = perm[:51], perm[51:]
    weight, bias = fit_one_vs_rest(x[nodes][train], labels[train])
    accuracy = accuracy_score(labels[test].argmax(1), (x[nodes][test] @ weight + bias).argmax(1))
    assert np.isclose(result["micro_f1"][0], accuracy) and result["micro_f1"][0] > 0.7


def test_auc_matches_sklearn_with_ties():
    pos = np.array([0.9, 0.5, 0.5, 0.2, 0.7])
    neg = np.array([0.5, 0.1, 0.3, 0.5, 0.95, 0.2])
    labels = np.r_[np.ones(5), np.zeros(6)]
    assert np.isclose(auc_score(pos, neg), roc_auc_score(labels, np.r_[pos, neg]))


def test_link_split_and_prediction():
    ring = torch.arange(30)
    graph = gs.to_undirected(gs.Graph(ring, (ring + 1) % 30, 30))
    train, positives, negatives = link_split(graph, test_fraction=0.2, seed=1)
    train_edges = set(zip(train.src.tolist(), train.dst.tolist()))
    assert positives.shape == negatives.shape == (6, 2) and train.num_edges == 60 - 12
    for a, b in positives:
        assert (a, b) not in train_edges and (b, a) not in train_edges and abs(a - b) in (1, 29)
    for a, b in negatives:
        assert a != b and abs(a - b) not in (1, 29)
    angle = 2 * np.pi * np.arange(30) / 30
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)   # neighbours on the ring are close
    assert link_prediction(circle, positives, negatives) == 1.0


def test_plot_f1_writes_a_png(tmp_path):
    results = {"ratios": [0.1, 0.5], "micro_f1": [0.3, 0.4], "macro_f1": [0.2, 0.25], "micro_f1_std": [0.01, 0.01],
               "macro_f1_std": [0.02, 0.01]}
    path = plot_f1(results, tmp_path / "f1.png", "toy")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
