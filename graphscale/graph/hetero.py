"""Heterogeneous graphs: several node types and canonical edge types, one ``Graph`` per relation.

Data spec (the docstring is the contract):

* Node types ``ntypes`` (in the order given) with their counts; node ids are ``0..num_nodes(t)-1`` per type.
* Canonical edge types ``(src_type, relation, dst_type)``; each is stored as a :class:`Graph` whose source side
  has ``num_nodes(src_type)`` nodes and whose destination side has ``num_nodes(dst_type)`` (a bipartite graph
  when the two types differ). A relation name may be used alone where it is unique (``hg["cites"]``).
* Features live beside the graph, one tensor per node type (``x = {"paper": [N_paper, F], ...}``), as for
  ``Graph``.
* The homogeneous view (:meth:`HeteroGraph.to_homogeneous`) numbers nodes type after type in ``ntypes`` order
  and edges relation after relation in ``canonical_etypes`` order (so each type is a contiguous range: the
  layout the fused multi-relation kernels use); ``node_type`` / ``edge_type`` hold the type ids.

A :class:`~graphscale.graph.hetero_block.HeteroBlock` is the heterogeneous message-flow graph a sampler emits: per node type a destination set
that is a prefix of its source set, and one bipartite ``Block`` per relation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..errors import GraphFormatError, ShapeError
from .graph import Graph, _as_index_tensor, _check_range

if TYPE_CHECKING:
    from .hetero_view import Homogeneous

EdgeType = tuple[str, str, str]
EdgeSpec = Graph | tuple[Any, Any]


def _check_ntype_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise GraphFormatError(f"HeteroGraph: expected node type names as non-empty strings, got {name!r}.")
    return name


def _check_etype(etype: Any) -> EdgeType:
    if not (isinstance(etype, tuple) and len(etype) == 3 and all(isinstance(p, str) and p for p in etype)):
        raise GraphFormatError(f"HeteroGraph: expected canonical edge types (src_type, relation, dst_type) of three "
                               f"non-empty strings, got {etype!r}.")
    return etype


def _bipartite(src: Tensor, dst: Tensor, num_src: int, num_dst: int, etype: EdgeType, validate: bool) -> Graph:
    name = "__".join(etype)
    if src.numel() != dst.numel():
        raise GraphFormatError(f"HeteroGraph: relation {name}: expected src and dst of equal length, got "
                               f"{src.numel()} and {dst.numel()}.")
    if validate:
        try:
            _check_range(src, num_src, "src")
            _check_range(dst, num_dst, "dst")
        except GraphFormatError as err:
            raise GraphFormatError(f"HeteroGraph: relation {name}: {str(err).removeprefix('Graph: ')}") from None
    return Graph._trusted(src, dst, num_src, num_dst)


class HeteroGraph:
    """Immutable graph with typed nodes and canonical edge types ``(src_type, relation, dst_type)``.

    Args:
        num_nodes: ``{node_type: count}``; node types only named by an edge type get ``max(id) + 1``.
        edges: ``{(src_type, relation, dst_type): (src_ids, dst_ids)}`` (``[E_r]`` integer ids each, local to their
            type) or a :class:`Graph` with matching node counts.
        validate: Check ids are in range (cheap; disable only for trusted input).

    Raises:
        GraphFormatError: A malformed edge type, ids out of range, a relation name used twice for the same node
            types, or a ``Graph`` whose node counts disagree with ``num_nodes``.

    Example:
        >>> hg = HeteroGraph({"paper": 3, "author": 2},
        ...                  {("author", "writes", "paper"): ([0, 1, 1], [0, 0, 2])})
        >>> hg.num_nodes("paper"), hg.num_edges(), hg["writes"].num_dst_nodes
        (3, 3, 3)
    """

    def __init__(self, num_nodes: Mapping[str, int] | None, edges: Mapping[EdgeType, EdgeSpec], *,
                 validate: bool = True) -> None:
        counts: dict[str, int] = {}
        for ntype, count in (num_nodes or {}).items():
            if not isinstance(count, (int,)) or isinstance(count, bool) or count < 0:
                try:
                    count = int(count)
                except (TypeError, ValueError):
                    count = -1
                if count < 0:
                    raise GraphFormatError(f"HeteroGraph: expected num_nodes[{ntype!r}] to be an integer >= 0, got "
                                           f"{num_nodes[ntype]!r}.")
            counts[_check_ntype_name(ntype)] = int(count)
        pairs: dict[EdgeType, tuple[Tensor, Tensor] | Graph] = {}
        for etype, spec in edges.items():
            etype = _check_etype(etype)
            if isinstance(spec, Graph):
                pairs[etype] = spec
                continue
            if not isinstance(spec, (tuple, list)) or len(spec) != 2:
                raise GraphFormatError(f"HeteroGraph: relation {'__'.join(etype)}: expected (src_ids, dst_ids) or a "
                                       f"Graph, got {type(spec).__name__}.")
            src = _as_index_tensor(spec[0], f"{etype} src")
            pairs[etype] = (src, _as_index_tensor(spec[1], f"{etype} dst", device=src.device))
        for (src_type, _, dst_type), spec in pairs.items():  # infer the counts of types num_nodes leaves out
            for ntype, side in ((src_type, 0), (dst_type, 1)):
                if num_nodes is not None and ntype in num_nodes:
                    continue
                if isinstance(spec, Graph):
                    inferred = spec.num_src_nodes if side == 0 else spec.num_dst_nodes
                else:
                    inferred = int(spec[side].max()) + 1 if spec[side].numel() else 0
                counts[ntype] = max(counts.get(ntype, 0), inferred)
        relations: dict[EdgeType, Graph] = {}
        for etype, spec in pairs.items():
            num_src, num_dst = counts[etype[0]], counts[etype[2]]
            if isinstance(spec, Graph):
                if (spec.num_src_nodes, spec.num_dst_nodes) != (num_src, num_dst):
                    raise GraphFormatError(
                        f"HeteroGraph: relation {'__'.join(etype)}: expected a Graph with {num_src} source and "
                        f"{num_dst} destination nodes (num_nodes of {etype[0]!r} and {etype[2]!r}), got "
                        f"{spec.num_src_nodes} and {spec.num_dst_nodes}.")
                relations[etype] = spec
            else:
                relations[etype] = _bipartite(spec[0], spec[1], num_src, num_dst, etype, validate)
        self._init(counts, dict(counts), relations)

    def _init(self, num_src: dict[str, int], num_dst: dict[str, int], relations: dict[EdgeType, Graph]) -> None:
        self._num_src = num_src
        self._num_dst = num_dst
        self._relations = relations
        self._cache: dict[str, Any] = {}
        by_name: dict[str, list[EdgeType]] = {}
        for etype in relations:
            by_name.setdefault(etype[1], []).append(etype)
        self._by_name = by_name

    @classmethod
    def _trusted(cls, num_src: dict[str, int], num_dst: dict[str, int], relations: dict[EdgeType, Graph]):
        g = cls.__new__(cls)
        g._init(num_src, num_dst, relations)
        return g

    # -- types and counts -----------------------------------------------------------------------
    @property
    def ntypes(self) -> tuple[str, ...]:
        """Node types, in construction order."""
        return tuple(self._num_src)

    @property
    def canonical_etypes(self) -> tuple[EdgeType, ...]:
        """``(src_type, relation, dst_type)`` of every relation, in construction order."""
        return tuple(self._relations)

    @property
    def etypes(self) -> tuple[str, ...]:
        """Relation names of ``canonical_etypes`` (in the same order; a name may repeat across node types)."""
        return tuple(etype[1] for etype in self._relations)

    @property
    def is_block(self) -> bool:
        return False

    @property
    def device(self) -> torch.device:
        for graph in self._relations.values():
            return graph.device
        return torch.device("cpu")

    def num_nodes(self, ntype: str | None = None) -> int:
        """Nodes of ``ntype`` (of the source side for a block), or of all types."""
        if ntype is None:
            return sum(self._num_src.values())
        return self._num_src[self._ntype(ntype)]

    def num_src_nodes(self, ntype: str) -> int:
        return self._num_src[self._ntype(ntype)]

    def num_dst_nodes(self, ntype: str) -> int:
        return self._num_dst[self._ntype(ntype)]

    @property
    def num_nodes_dict(self) -> dict[str, int]:
        return dict(self._num_src)

    @property
    def num_dst_nodes_dict(self) -> dict[str, int]:
        return dict(self._num_dst)

    def num_edges(self, etype: str | EdgeType | None = None) -> int:
        """Edges of one relation, or of all."""
        if etype is None:
            return sum(g.num_edges for g in self._relations.values())
        return self[etype].num_edges

    def to_canonical(self, etype: str | EdgeType) -> EdgeType:
        """The canonical edge type of a relation name (unique) or of a canonical triple.

        Raises:
            GraphFormatError: Unknown relation, or a name shared by several canonical types.
        """
        if isinstance(etype, tuple):
            if etype not in self._relations:
                raise GraphFormatError(f"HeteroGraph: expected one of the edge types {list(self._relations)}, got "
                                       f"{etype!r}.")
            return etype
        found = self._by_name.get(etype, [])
        if len(found) == 1:
            return found[0]
        if not found:
            from ..config.registry import did_you_mean

            raise GraphFormatError(f"HeteroGraph: expected a relation among {sorted(self._by_name)}, got {etype!r}."
                                   f"{did_you_mean(str(etype), list(self._by_name))}")
        raise GraphFormatError(f"HeteroGraph: relation {etype!r} joins several node types {found}; name the "
                               "canonical type (src_type, relation, dst_type).")

    def _ntype(self, ntype: str) -> str:
        if ntype not in self._num_src:
            raise GraphFormatError(f"HeteroGraph: expected a node type among {list(self._num_src)}, got {ntype!r}.")
        return ntype

    def __getitem__(self, etype: str | EdgeType) -> Graph:
        """The relation's ``Graph`` (rows of its source side: ``src_type`` nodes; destination: ``dst_type``)."""
        return self._relations[self.to_canonical(etype)]

    def relations(self) -> Iterable[tuple[EdgeType, Graph]]:
        """``(canonical_etype, graph)`` pairs in order."""
        return self._relations.items()

    def dst_types(self) -> tuple[str, ...]:
        """Node types that receive edges, in ``ntypes`` order."""
        receiving = {etype[2] for etype, g in self._relations.items()}
        return tuple(t for t in self.ntypes if t in receiving)

    def __repr__(self) -> str:
        nodes = ", ".join(f"{t}: {n}" for t, n in self._num_src.items())
        edges = ", ".join(f"{'__'.join(e)}: {g.num_edges}" for e, g in self._relations.items())
        return f"{type(self).__name__}(num_nodes={{{nodes}}}, num_edges={{{edges}}})"

    cached = Graph.cached  # the same per-object cache of derived structures (homogeneous view, typed edges)

    # -- conversions ----------------------------------------------------------------------------
    def _map(self, move: Any) -> HeteroGraph:
        """A copy with ``move`` applied to every relation graph and to a block's id tensors."""
        g = self.__class__.__new__(self.__class__)
        g.__dict__.update(self.__dict__)
        g._relations = {e: move(r) for e, r in self._relations.items()}
        g._cache = {}
        for name in ("src_ids", "dst_ids", "edge_ids"):
            if isinstance(getattr(self, name, None), dict):
                setattr(g, name, {k: move(v) for k, v in getattr(self, name).items()})
        return g

    def to(self, device: torch.device | str) -> HeteroGraph:
        """Copy every relation (and a block's id maps) to ``device``; self when already there."""
        device = torch.device(device)
        return self if device == self.device else self._map(lambda value: value.to(device))

    def pin_memory(self) -> HeteroGraph:
        """Page-locked copies of every relation (and of a block's id maps)."""
        return self._map(lambda value: value.pin_memory())

    def to_homogeneous(self) -> Homogeneous:
        """One ``Graph`` over all nodes (types numbered in ``ntypes`` order) and all edges (relations in
        ``canonical_etypes`` order), with the type ids of every node and edge (cached)."""
        from .hetero_view import to_homogeneous

        return self.cached("homogeneous", lambda: to_homogeneous(self))

    @classmethod
    def from_homogeneous(cls, graph: Graph, node_type: Tensor, edge_type: Tensor, ntypes: Sequence[str],
                         canonical_etypes: Sequence[EdgeType]) -> HeteroGraph:
        """Split a homogeneous graph by its type ids; node ids per type follow their order in ``graph``.

        Args:
            node_type: ``[N]`` int type id (index into ``ntypes``) of every node.
            edge_type: ``[E]`` int type id (index into ``canonical_etypes``) of every edge.

        Raises:
            GraphFormatError: Type ids out of range, or an edge whose endpoints' types disagree with its type.
        """
        node_type = _as_index_tensor(node_type, "node_type").long()
        edge_type = _as_index_tensor(edge_type, "edge_type").long()
        ntypes, etypes = list(ntypes), [_check_etype(e) for e in canonical_etypes]
        if node_type.numel() != graph.num_nodes or edge_type.numel() != graph.num_edges:
            raise ShapeError(f"HeteroGraph.from_homogeneous: expected node_type [{graph.num_nodes}] and edge_type "
                             f"[{graph.num_edges}], got {tuple(node_type.shape)} and {tuple(edge_type.shape)}.")
        _check_range(node_type, len(ntypes), "node_type")
        _check_range(edge_type, len(etypes), "edge_type")
        local = torch.empty_like(node_type)
        counts = {}
        for t, name in enumerate(ntypes):
            members = (node_type == t).nonzero().view(-1)
            local[members] = torch.arange(members.numel(), device=members.device)
            counts[name] = members.numel()
        src, dst = graph.src.long(), graph.dst.long()
        index = {name: i for i, name in enumerate(ntypes)}
        relations = {}
        for r, etype in enumerate(etypes):
            eids = (edge_type == r).nonzero().view(-1)
            s, d = src[eids], dst[eids]
            bad = (node_type[s] != index[etype[0]]) | (node_type[d] != index[etype[2]])
            if bool(bad.any()):
                pos = int(eids[bad.nonzero()[0, 0]])
                raise GraphFormatError(
                    f"HeteroGraph.from_homogeneous: edge {pos} has edge type {etype} but joins nodes of types "
                    f"{ntypes[int(node_type[src[pos]])]!r} -> {ntypes[int(node_type[dst[pos]])]!r}.")
            relations[etype] = Graph._trusted(local[s], local[d], counts[etype[0]], counts[etype[2]])
        return cls._trusted(counts, dict(counts), relations)

    # -- transforms (each returns a new graph) --------------------------------------------------
    def edge_type_subgraph(self, etypes: Sequence[str | EdgeType]) -> HeteroGraph:
        """Only the given relations; every node type they join stays with all its nodes."""
        keep = [self.to_canonical(e) for e in etypes]
        types = [t for t in self.ntypes if any(t in (e[0], e[2]) for e in keep)]
        return self._trusted({t: self._num_src[t] for t in types}, {t: self._num_dst[t] for t in types},
                             {e: self._relations[e] for e in keep})

    def subgraph(self, nodes: Mapping[str, Tensor]) -> HeteroGraph:
        """Induced subgraph on ``{ntype: node ids or bool mask}``; types left out keep no nodes. Nodes are
        relabelled in the given order; ``parent_node_ids`` / ``parent_edge_ids`` map back (dicts)."""
        kept: dict[str, Tensor] = {}
        for ntype in self.ntypes:
            ids = nodes.get(ntype) if ntype in nodes else None
            if ids is None:
                kept[ntype] = torch.zeros(0, dtype=torch.int64, device=self.device)
                continue
            ids = torch.as_tensor(ids, device=self.device)
            if ids.dtype == torch.bool:
                if ids.numel() != self.num_nodes(ntype):
                    raise ShapeError(f"HeteroGraph.subgraph: expected a mask of length {self.num_nodes(ntype)} for "
                                     f"{ntype!r}, got {ids.numel()}.")
                ids = ids.nonzero().view(-1)
            ids = ids.long()
            _check_range(ids, self.num_nodes(ntype), f"nodes[{ntype!r}]")
            kept[ntype] = ids
        unknown = sorted(set(nodes) - set(self.ntypes))
        if unknown:
            raise GraphFormatError(f"HeteroGraph.subgraph: expected node types among {list(self.ntypes)}, got "
                                   f"{unknown}.")
        maps = {}
        for ntype, ids in kept.items():
            mapping = torch.full((self.num_nodes(ntype),), -1, dtype=torch.int64, device=self.device)
            mapping[ids] = torch.arange(ids.numel(), device=self.device)
            maps[ntype] = mapping
        relations, edge_ids = {}, {}
        for etype, graph in self._relations.items():
            s, d = maps[etype[0]][graph.src.long()], maps[etype[2]][graph.dst.long()]
            eids = ((s >= 0) & (d >= 0)).nonzero().view(-1)
            relations[etype] = Graph._trusted(s[eids], d[eids], kept[etype[0]].numel(), kept[etype[2]].numel())
            edge_ids[etype] = eids
        counts = {t: ids.numel() for t, ids in kept.items()}
        out = self._trusted(counts, dict(counts), relations)
        out.parent_node_ids, out.parent_edge_ids = kept, edge_ids
        return out

    def reverse(self, etypes: Sequence[str | EdgeType] | None = None) -> HeteroGraph:
        """Flip the given relations (all when None): ``(s, r, d)`` becomes ``(d, r, s)`` with every edge reversed
        (edge order, so edge data, unchanged); other relations stay as they are."""
        flip = set(self.canonical_etypes if etypes is None else [self.to_canonical(e) for e in etypes])
        relations = {}
        for etype, graph in self._relations.items():
            if etype in flip:
                relations[(etype[2], etype[1], etype[0])] = graph.reverse()
            else:
                relations[etype] = graph
        if len(relations) != len(self._relations):
            raise GraphFormatError("HeteroGraph.reverse: expected distinct edge types after reversing, got a "
                                   "reversed relation that collides with an existing one. Use add_reverse().")
        return self._trusted(dict(self._num_dst), dict(self._num_src), relations)

    def add_reverse(self, prefix: str = "rev_", etypes: Sequence[str | EdgeType] | None = None) -> HeteroGraph:
        """Add ``(d, prefix + r, s)`` for every relation ``(s, r, d)`` (or the given ones), as PyG's
        ``ToUndirected`` on heterogeneous data: messages then flow both ways. A relation whose reverse exists, or
        which is itself the reverse of another, is left alone, so calling it twice changes nothing."""
        chosen = self.canonical_etypes if etypes is None else [self.to_canonical(e) for e in etypes]
        relations = dict(self._relations)
        for etype in chosen:
            rev = (etype[2], prefix + etype[1], etype[0])
            if rev in relations or (etype[1].startswith(prefix) and
                                    (etype[2], etype[1][len(prefix):], etype[0]) in relations):
                continue  # reversed already, or itself the reverse of a relation (add_reverse is idempotent)
            relations[rev] = self._relations[etype].reverse()
        return self._trusted(dict(self._num_src), dict(self._num_dst), relations)


__all__ = ["EdgeType", "HeteroGraph"]
