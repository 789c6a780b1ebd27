"""``Edges``: the read-only view a user ApplyEdge function receives (one chunk of edges at a time)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

Features = Tensor | Mapping[str, Tensor] | None


class _Gathered(Mapping[str, Tensor]):
    """Dict of per-edge rows gathered lazily from a dict of node features."""

    def __init__(self, features: Mapping[str, Tensor], index: Tensor) -> None:
        self._features, self._index, self._cache = features, index, {}

    def __getitem__(self, key: str) -> Tensor:
        if key not in self._cache:
            self._cache[key] = self._features[key][self._index]
        return self._cache[key]

    def __iter__(self):
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)


def _gather(features: Features, index: Tensor):
    if features is None:
        return None
    if isinstance(features, Tensor):
        return features[index]
    return _Gathered(features, index)


class Edges:
    """A chunk of ``E_c`` edges: endpoint features already gathered, edge features sliced.

    Attributes (lazy; computed on first access):
        src: ``[E_c, *]`` features of the source endpoint (or a dict of them), from ``saga(src=...)``.
        dst: ``[E_c, *]`` features of the destination endpoint, from ``saga(dst=...)``.
        data: ``[E_c, *]`` edge features, from ``saga(edge=...)``.
        src_ids, dst_ids: ``[E_c]`` int64 endpoint ids; edge_ids: ``[E_c]`` int64 ids in edge order.
    """

    def __init__(self, src_ids: Tensor, dst_ids: Tensor, edge_ids: Tensor,
                 src: Features, dst: Features, edge: Features) -> None:
        self.src_ids, self.dst_ids, self.edge_ids = src_ids, dst_ids, edge_ids
        self._src, self._dst, self._edge = src, dst, edge
        self._cache: dict[str, object] = {}

    def _lazy(self, key: str, features: Features, index: Tensor):
        if key not in self._cache:
            if features is None:
                raise AttributeError(
                    f"Edges.{key}: no {key} features were given to saga(). Pass them as saga(..., {key}=tensor)."
                )
            self._cache[key] = _gather(features, index)
        return self._cache[key]

    @property
    def src(self):
        return self._lazy("src", self._src, self.src_ids)

    @property
    def dst(self):
        return self._lazy("dst", self._dst, self.dst_ids)

    @property
    def data(self):
        return self._lazy("edge", self._edge, self.edge_ids)

    def __len__(self) -> int:
        return int(self.edge_ids.numel())
