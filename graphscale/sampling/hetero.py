"""Heterogeneous neighbour sampling: fanouts per relation, typed blocks (DGL's ``NeighborSampler`` on a
heterograph, PyG's ``NeighborLoader`` with ``num_neighbors={edge_type: [...]}``).

Hop ``l`` starts from the destination nodes of every node type (the seeds at hop 0); each relation
``(s, r, d)`` draws up to ``fanouts[l][r]`` in-edges of every destination of type ``d`` from its own CSC with the
same kernel as the homogeneous sampler (each relation on its own random stream), and the drawn sources are
relabelled per *source type* across the relations that reach it: the destinations of type ``t`` are the first
sources of type ``t``, new ones follow in first-drawn order. The sources of hop ``l`` are the destinations of hop
``l + 1``. Blocks are returned input layer first (``blocks[0].src_ids`` index the input features of every type;
``blocks[-1].dst_ids[target]`` are the seeds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import GraphFormatError, SamplingError
from ..graph import Block
from ..graph.hetero import EdgeType, HeteroGraph
from ..graph.hetero_block import HeteroBlock
from .base import MiniBatch, ScratchMap, as_node_ids, check_positive, chunks, csc_arrays
from .neighbor import draw_layer, relabel

Fanouts = Sequence[int | Mapping[Any, int]]


def check_hetero_fanouts(graph: HeteroGraph, fanouts: Any, where: str) -> list[dict[EdgeType, int]]:
    """Per hop ``{etype: fanout}`` for every relation; a hop given as one int applies to every relation.

    A fanout is ``-1`` (every in-edge), ``0`` (the relation is not sampled at this hop) or ``>= 1``.

    Raises:
        SamplingError: No hops, a hop dict that leaves out a relation or names an unknown one, a bad value.
    """
    hops = [fanouts] if isinstance(fanouts, (int, Mapping)) else list(fanouts) if fanouts is not None else []
    if not hops:
        raise SamplingError(f"{where}: expected fanouts as a non-empty list (one entry per layer: an int for every "
                            f"relation or {{edge_type: int}}), got {fanouts!r}.")
    out = []
    for hop, entry in enumerate(hops):
        if isinstance(entry, Mapping):
            try:
                given = {graph.to_canonical(k): v for k, v in entry.items()}
            except GraphFormatError as err:  # an unknown relation: name the hop
                raise SamplingError(f"{where}: hop {hop}: {err}") from None
            missing = [e for e in graph.canonical_etypes if e not in given]
            if missing:
                raise SamplingError(f"{where}: hop {hop}: expected a fanout for every relation, missing {missing}. "
                                    "Give 0 to leave a relation out.")
        else:
            given = dict.fromkeys(graph.canonical_etypes, entry)
        for etype, value in given.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < -1:
                raise SamplingError(f"{where}: hop {hop}, relation {etype}: expected a fanout of -1 (all), 0 (none) "
                                    f"or an int >= 1, got {value!r}.")
        out.append({e: int(given[e]) for e in graph.canonical_etypes})
    return out


class HeteroNeighborSampler:
    """Per-layer neighbour sampler over a heterogeneous graph's relations (see the module docstring).

    Args:
        graph: The full heterogeneous graph (on the CPU); every relation's CSC is built once.
        fanouts: Per hop an int (every relation) or ``{etype: int}``; ``fanouts[0]`` applies to the seeds.
        target: The node type of the seeds (``plan`` / ``sample`` and the loader use it).
        replace: Draw with replacement.

    Example:
        >>> sampler = HeteroNeighborSampler(hg, [{"cites": 10, "writes": 5, ...}, 5], target="paper")
        >>> blocks = sampler.sample_blocks({"paper": torch.arange(64)}, seed=0)
        >>> x_in = {t: x[t][ids] for t, ids in blocks[0].src_ids.items()}
    """

    def __init__(self, graph: HeteroGraph, fanouts: Fanouts, *, target: str, replace: bool = False) -> None:
        where = "HeteroNeighborSampler"
        if target not in graph.ntypes:
            raise SamplingError(f"{where}: expected target among the node types {list(graph.ntypes)}, got "
                                f"{target!r}.")
        self.graph, self.target, self.replace = graph, target, bool(replace)
        self.fanouts = check_hetero_fanouts(graph, fanouts, where)
        self.csc = {etype: csc_arrays(rel, f"{where}: relation {etype}") for etype, rel in graph.relations()}
        self.relation_index = {etype: r for r, etype in enumerate(graph.canonical_etypes)}
        self.scratch = {t: ScratchMap(graph.num_nodes(t)) for t in graph.ntypes}
        self.num_nodes = graph.num_nodes(target)
        self._empty_weight = np.zeros(0, dtype=np.float64)

    def sample_blocks(self, seeds: Mapping[str, Any] | Any, seed: int = 0) -> list[HeteroBlock]:
        """Typed blocks for ``seeds`` (``{ntype: distinct ids}``, or ids of the target type), input layer first.

        Raises:
            SamplingError: Ids out of range or repeated.
        """
        where = "HeteroNeighborSampler.sample_blocks"
        given = seeds if isinstance(seeds, Mapping) else {self.target: seeds}
        dst = {t: as_node_ids(given[t], self.graph.num_nodes(t), where, f"seeds[{t!r}]") if t in given
               else np.zeros(0, dtype=np.int64) for t in self.graph.ntypes}
        num_relations = len(self.csc)
        blocks = []
        for layer, hop in enumerate(self.fanouts):
            drawn: dict[EdgeType, tuple] = {}
            for etype, (indptr, indices, eids) in self.csc.items():
                fanout = hop[etype]
                targets = dst[etype[2]]
                if fanout == 0 or targets.shape[0] == 0:
                    targets = targets[:0]
                stream_layer = layer * num_relations + self.relation_index[etype]
                drawn[etype] = draw_layer(indptr, indices, eids, self._empty_weight, self._empty_weight, False,
                                          targets, fanout if fanout else 1, self.replace, int(seed),
                                          stream_layer)
            blocks.append(self._relabel(dst, drawn, where))
            dst = {t: blocks[-1].src_ids[t].numpy() for t in self.graph.ntypes}
        blocks.reverse()
        return blocks

    def _relabel(self, dst: dict[str, np.ndarray], drawn: dict[EdgeType, tuple], where: str) -> HeteroBlock:
        src_ids, local = {}, {}
        for ntype in self.graph.ntypes:
            etypes = [e for e in drawn if e[0] == ntype]
            parts = [drawn[e][2] for e in etypes]
            src_global = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            src_local, src_nodes, duplicate = relabel(dst[ntype], src_global, self.scratch[ntype].get())
            if duplicate >= 0:
                raise SamplingError(f"{where}: expected distinct seed ids of type {ntype!r}, got node {duplicate} "
                                    "more than once. De-duplicate with torch.unique(seeds).")
            src_ids[ntype] = torch.from_numpy(src_nodes)
            start = 0
            for etype, part in zip(etypes, parts):
                local[etype] = src_local[start:start + part.shape[0]]
                start += part.shape[0]
        relations, edge_ids = {}, {}
        for etype, (dst_local, eids, _) in drawn.items():
            relations[etype] = Block(torch.from_numpy(local[etype]), torch.from_numpy(dst_local),
                                     src_ids[etype[0]].numel(), dst[etype[2]].shape[0], validate=False)
            edge_ids[etype] = torch.from_numpy(eids)
        num_src = {t: src_ids[t].numel() for t in self.graph.ntypes}
        num_dst = {t: dst[t].shape[0] for t in self.graph.ntypes}
        return HeteroBlock(num_src, num_dst, relations, src_ids=src_ids,
                           dst_ids={t: torch.from_numpy(dst[t]) for t in self.graph.ntypes}, edge_ids=edge_ids)

    def plan(self, seeds: np.ndarray, batch_size: int | None, shuffle: bool,
             rng: np.random.Generator) -> list[np.ndarray]:
        """Chunks of ``batch_size`` target seeds (shuffled with ``rng`` when ``shuffle``)."""
        size = check_positive(batch_size, "batch_size (seeds per batch)", "HeteroNeighborSampler.plan")
        return chunks(rng.permutation(seeds) if shuffle else seeds, size)

    def sample(self, item: np.ndarray, seed: int) -> MiniBatch:
        """The ``MiniBatch`` of one chunk of target seeds: typed blocks, ``input_ids`` ``{ntype: ids}`` (the first
        block's sources), outputs = the seeds."""
        blocks = self.sample_blocks({self.target: item}, seed)
        return MiniBatch(blocks, blocks[0].src_ids, blocks[-1].dst_ids[self.target])


__all__ = ["HeteroNeighborSampler", "check_hetero_fanouts"]
