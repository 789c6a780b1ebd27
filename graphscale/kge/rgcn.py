"""R-GCN link prediction on knowledge graphs (Schlichtkrull et al., "Modeling Relational Data with Graph
Convolutional Networks", ESWC 2018, arXiv:1703.06103, sec. 4-5): an R-GCN encoder over the entities and a DistMult
decoder.

Encoder: learnable input embeddings ``e_i`` (the paper's one-hot input times the first weight) followed by
``layers`` :class:`~graphscale.nn.conv.RGCNConv` layers, eq. (2),

.. math::
    h^{(l+1)}_i = \\sigma\\Big(W_0^{(l)} h^{(l)}_i + \\sum_{r} \\sum_{j \\in N^r_i} \\frac{1}{c_{i,r}}
    W_r^{(l)} h^{(l)}_j\\Big),\\qquad c_{i,r} = |N^r_i|,

over ``2R`` relation types (relation ``r + R`` is the inverse of ``r``), with block-diagonal weights, eq. (4), a
ReLU between layers and none after the last. Decoder: DistMult, eq. (6), ``f(s, r, o) = e_s^T diag(r) e_o``.

Training (:mod:`graphscale.kge.rgcn_train`) runs the encoder on the message-passing graph of a batch of triples
(edge dropout on the relation edges, dropout of the self-loop term per entity); evaluation runs it once on the
whole training graph and ranks through the shared filtered evaluator with the representations wrapped in a
DistMult :class:`~graphscale.kge.model.KGEModel` (:meth:`RGCNLinkPredictor.as_kge`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..graph import Graph
from ..nn.conv.rgcn import RGCNConv
from ..saga import fn, saga
from .interactions import build_interaction
from .model import KGEModel


def message_graph(triples: Tensor, num_nodes: int, num_relations: int) -> tuple[Graph, Tensor]:
    """The message-passing graph of ``triples``: ``h -> t`` typed ``r`` and ``t -> h`` typed ``r + R``.

    Shapes:
        triples: ``[M, 3]`` int64 ``(head, relation, tail)`` with entity ids in ``[0, num_nodes)``;
        returns a ``Graph`` with ``2M`` edges and ``edge_type`` ``[2M]`` int64 in ``[0, 2R)``.
    """
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    graph = Graph(torch.cat([h, t]), torch.cat([t, h]), num_nodes)
    return graph, torch.cat([r, r + num_relations])


class RGCNLinkPredictor(nn.Module):
    """Entity embeddings -> R-GCN layers -> DistMult relation vectors.

    Args:
        num_entities: ``N``.
        num_relations: ``R`` (the encoder has ``2R`` relation types: inverses added).
        dim: Embedding and hidden size ``D``.
        layers: R-GCN layers.
        num_blocks: Diagonal blocks per relation weight (must divide ``dim``).
        dropout: Feature dropout after each hidden layer.
        seed: Seed of the initialisation.

    Shapes:
        entity: ``[N, D]``; relation: ``[R, D]`` (DistMult's diagonal).
    """

    def __init__(self, num_entities: int, num_relations: int, dim: int, *, layers: int = 2, num_blocks: int = 100,
                 dropout: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        if num_entities < 1 or num_relations < 1 or dim < 1 or layers < 1:
            raise ConfigError(f"RGCNLinkPredictor: expected num_entities, num_relations, dim and layers >= 1, got "
                              f"{num_entities}, {num_relations}, {dim}, {layers}.")
        if dim % num_blocks:
            raise ConfigError(f"rgcn.num_blocks: expected a divisor of model.dim ({dim}), got {num_blocks}. Pick "
                              "blocks that split the hidden size evenly (500 / 100 = 5x5 blocks).")
        self.num_entities, self.num_relations, self.dim, self.dropout = num_entities, num_relations, dim, dropout
        generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=generator)))
            self.entity = nn.Parameter(torch.randn(num_entities, dim))
            self.convs = nn.ModuleList(RGCNConv(dim, dim, 2 * num_relations, regularizer="block",
                                                num_blocks=num_blocks, self_loop=True, norm="right")
                                       for _ in range(layers))
            self.relation = nn.Parameter(torch.empty(num_relations, dim))
            nn.init.xavier_uniform_(self.relation, gain=nn.init.calculate_gain("relu"))

    def encode(self, graph: Graph, edge_type: Tensor, nodes: Tensor | None = None,
               self_loop_keep: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Entity representations on ``graph`` (its node ``i`` is entity ``nodes[i]``; all entities when None).

        Args:
            graph: Message-passing graph over ``n`` nodes (:func:`message_graph`).
            edge_type: ``[E]`` int64 relation ids in ``[0, 2R)``.
            nodes: ``[n]`` int64 entity ids of the graph's nodes; None = ``arange(N)``.
            self_loop_keep: ``[n, 1]`` float 0/1: whose self-loop term is kept (None = all).
            generator: Draws the feature-dropout masks in training (on the CPU; None: the global RNG), so a
                trainer's generator alone decides them.

        Returns:
            ``[n, D]`` float32.
        """
        h = self.entity if nodes is None else self.entity.index_select(0, nodes)
        if h.shape[0] != graph.num_nodes:
            raise ShapeError(f"RGCNLinkPredictor.encode: expected {h.shape[0]} graph nodes (one per entity), got "
                             f"{graph.num_nodes}.")
        for i, conv in enumerate(self.convs):
            h = conv(graph, (h, h if self_loop_keep is None else h * self_loop_keep), edge_type)
            if i + 1 < len(self.convs):
                h = self._dropout(F.relu(h), generator)
        return h

    def _dropout(self, h: Tensor, generator: torch.Generator | None) -> Tensor:
        if not self.training or self.dropout == 0 or generator is None:
            return F.dropout(h, self.dropout, self.training)
        keep = torch.rand(h.shape, generator=generator) >= self.dropout
        return h * keep.to(h.device, h.dtype) / (1.0 - self.dropout)

    def score(self, entity: Tensor, triples: Tensor) -> Tensor:
        """DistMult scores of ``triples [B, 3]`` (entity ids are rows of ``entity [n, D]``): ``[B]``."""
        return (entity[triples[:, 0]] * self.relation[triples[:, 1]] * entity[triples[:, 2]]).sum(-1)

    def score_corrupted(self, entity: Tensor, positives: Tensor, candidates: Tensor, head: Tensor) -> Tensor:
        """DistMult scores of the positives and of their corruptions, without a ``[B * k, D]`` gather.

        Each positive ``(h, r, t)`` gives two queries, ``e_h * r`` (tail side) and ``r * e_t`` (head side);
        corruption ``m`` of positive ``m mod B`` scores its query against ``candidates[m]``. The dot products run
        as one fused ``src_dot_dst`` edge call of :func:`graphscale.saga.saga` on the bipartite graph
        query -> candidate (its backward is two sparse gathers).

        Shapes:
            entity: ``[n, D]``; positives: ``[B, 3]`` int64 (entity ids are rows of ``entity``);
            candidates: ``[B * k]`` int64 replacement entities; head: ``[B * k]`` bool (head replaced);
            returns ``[B + B * k]``: the positives' scores, then the corruptions'.
        """
        size = positives.shape[0]
        relation = self.relation.index_select(0, positives[:, 1])  # index_select: its backward is index_add_
        queries = torch.cat([entity.index_select(0, positives[:, 0]) * relation,
                             relation * entity.index_select(0, positives[:, 2])])
        rows = torch.arange(size, device=positives.device)
        corrupted_rows = rows.repeat(candidates.shape[0] // max(size, 1)) + size * head.long()
        graph = Graph._trusted(torch.cat([rows, corrupted_rows]), torch.cat([positives[:, 2], candidates]),
                               2 * size, entity.shape[0])
        return saga(graph, src=queries, dst=entity, apply_edge=fn.src_dot_dst, gather=None).reshape(-1)

    @torch.no_grad()
    def as_kge(self, graph: Graph, edge_type: Tensor) -> KGEModel:
        """A DistMult :class:`KGEModel` holding the encoder's representations on the whole ``graph`` (all
        ``N`` entities, no dropout) and the relation vectors: what the shared filtered evaluator ranks with."""
        was_training = self.training
        self.eval()
        try:
            entity = self.encode(graph, edge_type)
        finally:
            self.train(was_training)
        kge = KGEModel(build_interaction("distmult", self.dim), self.num_entities, self.num_relations, self.dim,
                       init="normal")
        kge.entity.data = entity.detach().to("cpu").contiguous()
        kge.relation.data = self.relation.detach().to("cpu").clone()
        return kge


__all__ = ["RGCNLinkPredictor", "message_graph"]
