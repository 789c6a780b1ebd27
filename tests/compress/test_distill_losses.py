"""Distillation objectives against hand-computed and per-node loop references, with float64 gradient checks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from graphscale.compress.distill import (
    MLP,
    ProjectionHeads,
    draw_negatives,
    gcrd_loss,
    hidden_and_logits,
    kd_loss,
    lsp_loss,
    lsp_probabilities,
)
from graphscale.errors import ConfigError
from graphscale.graph import Graph
from graphscale.nn import build_node_model


def test_kd_loss_matches_a_hand_computed_reference():
    student = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    teacher = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    y, train = torch.tensor([0, 2]), torch.tensor([True, False])
    T, lam = 2.0, 0.3

    def softmax(row):
        e = [math.exp(v / T) for v in row]
        return [v / sum(e) for v in e]

    kl = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        p_t, p_s = softmax(t_row), softmax(s_row)
        kl += sum(a * math.log(a / b) for a, b in zip(p_t, p_s))
    kl /= 2  # mean over ALL nodes, not only the training node
    e0 = [math.exp(v) for v in student[0].tolist()]
    ce = -math.log(e0[0] / sum(e0))  # the training node only
    expected = lam * ce + (1 - lam) * T ** 2 * kl
    got = kd_loss(student, teacher, y, train, temperature=T, label_weight=lam)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert kd_loss(student, teacher, y, train, label_weight=1.0).item() == pytest.approx(ce, rel=1e-6)


def random_graph(num_nodes=7, num_edges=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=g)
    dst = torch.randint(0, num_nodes - 1, (num_edges,), generator=g)  # the last node has no in-edges
    return Graph(src, dst, num_nodes)


def naive_lsp(graph, zs, zt, kernel, sigma):
    """Per-node loops: KL(LS^s_i || LS^t_i) over the in-edges of i, averaged over nodes with in-edges."""
    def sim(z, i, j):
        if kernel == "linear":
            return z[i] @ z[j]
        if kernel == "poly":
            return (z[i] @ z[j] + 1) ** 2
        return -((z[i] - z[j]) ** 2).sum() / (2 * sigma ** 2)

    total, count = 0.0, 0
    for i in range(graph.num_nodes):
        sources = [int(s) for s, d in zip(graph.src, graph.dst) if int(d) == i]  # edges j -> i, multi-edges kept
        if not sources:
            continue
        ls = torch.stack([sim(zs, i, j) for j in sources]).softmax(0)
        lt = torch.stack([sim(zt, i, j) for j in sources]).softmax(0)
        total = total + (ls * (ls.log() - lt.log())).sum()
        count += 1
    return total / count


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly"])
def test_lsp_loss_matches_per_node_loops_and_its_gradient(kernel):
    graph = random_graph()
    g = torch.Generator().manual_seed(1)
    zs = torch.randn(7, 3, generator=g, dtype=torch.float64) * 0.5
    zt = torch.randn(7, 5, generator=g, dtype=torch.float64) * 0.5  # other width: only similarities are compared
    got = lsp_loss(graph, zs, zt, kernel=kernel, sigma=0.8)
    assert got.item() == pytest.approx(naive_lsp(graph, zs, zt, kernel, 0.8).item(), rel=1e-9)
    assert got.item() > 0
    assert lsp_loss(graph, zt[:, :3], zt[:, :3], kernel=kernel).item() == pytest.approx(0.0, abs=1e-12)
    zs.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: lsp_loss(graph, z, zt, kernel=kernel, sigma=0.8), (zs,))
    probabilities = lsp_probabilities(graph, zs.detach(), kernel, 0.8)
    sums = torch.zeros(7, dtype=torch.float64).index_add_(0, graph.dst.long(), probabilities)
    assert torch.allclose(sums[:6][sums[:6] > 0], torch.ones_like(sums[:6][sums[:6] > 0]))


def test_lsp_rejects_an_unknown_kernel():
    graph = random_graph()
    with pytest.raises(ConfigError, match="lsp_kernel"):
        lsp_loss(graph, torch.randn(7, 2), torch.randn(7, 2), kernel="cosine")


def naive_gcrd(s, t, negatives, tau):
    total = 0.0
    for i in range(s.shape[0]):
        others = [int(k) for k in negatives if int(k) != i]
        logits = torch.stack([s[i] @ t[i]] + [s[i] @ t[k] for k in others]) / tau
        total = total - (logits[0] - torch.logsumexp(logits, 0))
    return total / s.shape[0]


def test_gcrd_loss_matches_per_node_loops_and_its_gradient():
    g = torch.Generator().manual_seed(2)
    heads = ProjectionHeads(4, 6, dim=3).double()
    hs = torch.randn(9, 4, generator=g, dtype=torch.float64)
    ht = torch.randn(9, 6, generator=g, dtype=torch.float64)
    negatives = torch.tensor([0, 3, 3, 8, 5])  # node 3 and node 0 meet themselves: left out of their rows
    s, t = heads(hs, ht)
    assert torch.allclose(s.norm(dim=1), torch.ones(9, dtype=torch.float64))
    got = gcrd_loss(s, t, negatives, tau=0.2)
    assert got.item() == pytest.approx(naive_gcrd(s, t, negatives, 0.2).item(), rel=1e-9)
    s_leaf, t_leaf = s.detach().requires_grad_(True), t.detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: gcrd_loss(a, b, negatives, tau=0.2), (s_leaf, t_leaf))
    aligned = F.normalize(torch.randn(9, 3, generator=g, dtype=torch.float64), dim=1)
    assert gcrd_loss(aligned, aligned, negatives, tau=0.05) < gcrd_loss(aligned, aligned.roll(1, 0), negatives,
                                                                         tau=0.05)


def test_negatives_are_seeded_node_ids():
    a = draw_negatives(10, 50, torch.Generator().manual_seed(0))
    b = draw_negatives(10, 50, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() < 10 and a.dtype == torch.int64
    with pytest.raises(ConfigError, match="2 nodes"):
        draw_negatives(1, 4)


def test_hidden_and_logits_agree_with_the_models_forward():
    graph = random_graph(12, 40, seed=3)
    x = torch.randn(12, 5)
    for model in (build_node_model("sage", 5, 3, hidden_dim=8), build_node_model("gcn", 5, 3, hidden_dim=4),
                  MLP(5, 3, hidden_dim=6, num_layers=3)):
        model.eval()
        hidden, logits = hidden_and_logits(model, graph, x)
        assert torch.allclose(logits, model(graph, x), atol=1e-6)
        assert hidden.shape[0] == 12 and (hidden >= 0).all()  # after ReLU
    with pytest.raises(ConfigError, match="method=kd"):
        hidden_and_logits(build_node_model("appnp", 5, 3), graph, x)


def test_mlp_on_sparse_features_equals_the_dense_forward_and_gradient():
    torch.manual_seed(0)
    x = (torch.rand(50, 30) < 0.05).float()
    model = MLP(30, 4, hidden_dim=8, dropout=0.0)
    dense, sparse = model(None, x), model(None, x.to_sparse().coalesce())
    assert torch.allclose(dense, sparse, atol=1e-6)
    dense.square().sum().backward()
    grad = model.layers[0].weight.grad.clone()
    model.zero_grad()
    sparse.square().sum().backward()
    assert torch.allclose(grad, model.layers[0].weight.grad, atol=1e-5)
