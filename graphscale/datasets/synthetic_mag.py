"""``synthetic-mag``: a seeded heterogeneous graph shaped like ogbn-mag (no files needed).

Node types and relations are those of ogbn-mag (same names, same order as ``load_ogb_mag``): ``author``,
``field_of_study``, ``institution``, ``paper``; ``author -affiliated_with-> institution``, ``author -writes->
paper``, ``paper -cites-> paper``, ``paper -has_topic-> field_of_study`` (``add_reverse=True`` adds the
``rev_`` relations). Counts per paper follow ogbn-mag's proportions (736,389 papers : 1,134,649 authors : 8,740
institutions : 59,965 fields; 9.7 authorships, 7.4 citations and 10.2 topics per paper, 0.92 affiliations per
author), with power-law author activity, citation and field popularity.

Labels are paper venues (``num_classes``, skewed sizes, grouped into areas of ``venues_per_area`` related
venues). Every paper has a latent venue; authors, fields and institutions have a home venue (institutions: an
area). Each authorship / citation / topic link goes, with the spec's shares, to a node of the paper's latent
venue, of its area, or anywhere (by popularity). Paper features are ``signal * centroid[venue] + N(0, 1)``
(centroids correlated inside an area): alone they give a weak signal. ``label_noise`` of the labels are
redrawn inside the area (the structure follows the latent venue), which caps any model's accuracy. A
relational model that pools co-authors' and cited papers' features and learns embeddings of authors and fields
beats an MLP on paper features by a wide margin (validation accuracy, seeds 100..102, default size: 2-layer MLP
about 41 %, 2-layer R-GCN with learnable embeddings about 78 %; docs/own-data.md).

Years are drawn independently of everything else with ogbn-mag's split shares (train up to 2017: 85.5%,
valid 2018: 8.8%, test 2019: 5.7%) and the split is by year (OGB's time split rule; here it is effectively a
random split). Deterministic per seed whatever the thread count (splitmix64 streams per chunk of sources).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..errors import DatasetError
from ..graph.hetero import HeteroGraph
from .gen_kernels import _build_alias, _typed_links
from .generators import power_law_weights
from .hetero import HeteroNodeDataset
from .synthetic import class_sizes_labels, group_centroids

MAG_PAPERS = 736_389
MAG_COUNTS = {"author": 1_134_649, "field_of_study": 59_965, "institution": 8_740, "paper": MAG_PAPERS}
MAG_EDGES = {("author", "affiliated_with", "institution"): 1_043_998, ("author", "writes", "paper"): 7_145_660,
             ("paper", "cites", "paper"): 5_416_271, ("paper", "has_topic", "field_of_study"): 7_505_078}
YEAR_SHARES = (0.855, 0.088, 0.057)  # ogbn-mag: 629,571 / 64,879 / 41,939 papers


@dataclass(frozen=True)
class MagSpec:
    """Size and difficulty of synthetic-mag; ``(same venue, same area)`` shares of each link type."""

    num_papers: int = 20_000
    num_classes: int = 64
    num_features: int = 128
    venues_per_area: int = 4
    feature_signal: float = 0.2
    area_correlation: float = 0.6
    label_noise: float = 0.15
    writes_shares: tuple[float, float] = (0.3, 0.2)
    cites_shares: tuple[float, float] = (0.3, 0.2)
    topic_shares: tuple[float, float] = (0.25, 0.25)
    affiliation_share: float = 0.6  # an author's institutions from its area
    degree_exponent: float = 2.3
    class_skew: float = 1.0


def _pool(keys: np.ndarray, weights: np.ndarray, num_keys: int) -> tuple[np.ndarray, ...]:
    """``(ptr, members, prob, alias)``: nodes grouped by key with one alias table per key segment."""
    order = np.argsort(keys, kind="stable")
    ptr = np.searchsorted(keys[order], np.arange(num_keys + 1)).astype(np.int64)
    prob, alias = _build_alias(weights[order].astype(np.float64), ptr)
    return ptr, order.astype(np.int64), prob, alias


def _links(rng: np.random.Generator, counts: np.ndarray, shares: tuple[float, float], key_a: np.ndarray,
           pool_a: tuple, key_b: np.ndarray, pool_b: tuple, weights: np.ndarray, seed: int,
           num_targets: int, drop_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Deduplicated ``(source, target)`` int64 pairs, ``counts[s]`` draws per source (see ``_typed_links``)."""
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    _, all_members, all_prob, all_alias = _pool(np.zeros(num_targets, dtype=np.int64), weights, 1)
    targets = _typed_links(offsets, np.asarray(shares, dtype=np.float64), key_a, *pool_a, key_b,
                           *pool_b, all_members, all_prob, all_alias, seed)
    sources = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    if drop_self:
        keep = sources != targets
        sources, targets = sources[keep], targets[keep]
    keys = np.unique(sources * num_targets + targets)
    return keys // num_targets, keys % num_targets


def generate_mag(spec: MagSpec, seed: int) -> dict[str, object]:
    """Arrays of synthetic-mag: ``counts``, ``edges`` ``{etype: (src, dst)}``, ``x`` ``[N_paper, F]`` float32,
    ``y`` ``[N_paper]`` int64, ``year`` ``[N_paper]`` int64, ``venue`` (latent) ``[N_paper]`` int64."""
    if spec.num_papers < spec.num_classes or spec.num_classes < 2:
        raise DatasetError(f"synthetic-mag: expected num_papers >= num_classes >= 2, got num_papers="
                           f"{spec.num_papers}, num_classes={spec.num_classes}.")
    rng = np.random.default_rng(seed)
    scale = spec.num_papers / MAG_PAPERS
    counts = {t: max(spec.num_classes // spec.venues_per_area + 1, round(n * scale)) for t, n in MAG_COUNTS.items()}
    counts["paper"] = spec.num_papers
    num_areas = (spec.num_classes + spec.venues_per_area - 1) // spec.venues_per_area
    venue = class_sizes_labels(spec.num_papers, spec.num_classes, spec.class_skew, rng)
    area = venue // spec.venues_per_area
    author_venue = venue[rng.integers(0, spec.num_papers, counts["author"])]
    field_venue = venue[rng.integers(0, spec.num_papers, counts["field_of_study"])]
    institution_area = area[rng.integers(0, spec.num_papers, counts["institution"])]
    weights = {t: power_law_weights(n, spec.degree_exponent, seed=seed + 1 + i, max_ratio=n ** 0.5 + 1)
               for i, (t, n) in enumerate(counts.items())}

    def per_source(mean: float, n: int, at_least: int) -> np.ndarray:
        return (at_least + rng.poisson(max(mean - at_least, 0.0), n)).astype(np.int64)

    def pools(keys: np.ndarray, ntype: str) -> tuple[tuple, tuple]:
        return (_pool(keys, weights[ntype], spec.num_classes),
                _pool(keys // spec.venues_per_area, weights[ntype], num_areas))

    edges = {}
    per_paper = {etype: n / MAG_PAPERS for etype, n in MAG_EDGES.items()}
    by_venue, by_area = pools(author_venue, "author")
    papers, authors = _links(rng, per_source(per_paper[("author", "writes", "paper")], spec.num_papers, 1),
                             spec.writes_shares, venue, by_venue, area, by_area, weights["author"], seed * 4 + 1,
                             counts["author"])
    edges[("author", "writes", "paper")] = (authors, papers)
    by_venue, by_area = pools(venue, "paper")
    edges[("paper", "cites", "paper")] = _links(
        rng, per_source(per_paper[("paper", "cites", "paper")], spec.num_papers, 0), spec.cites_shares, venue,
        by_venue, area, by_area, weights["paper"], seed * 4 + 2, spec.num_papers, drop_self=True)
    by_venue, by_area = pools(field_venue, "field_of_study")
    edges[("paper", "has_topic", "field_of_study")] = _links(
        rng, per_source(per_paper[("paper", "has_topic", "field_of_study")], spec.num_papers, 1), spec.topic_shares,
        venue, by_venue, area, by_area, weights["field_of_study"], seed * 4 + 3, counts["field_of_study"])
    by_area = _pool(institution_area, weights["institution"], num_areas)
    affiliations = MAG_EDGES[("author", "affiliated_with", "institution")] / MAG_COUNTS["author"]
    author_area = author_venue // spec.venues_per_area
    edges[("author", "affiliated_with", "institution")] = _links(
        rng, rng.poisson(affiliations, counts["author"]).astype(np.int64), (spec.affiliation_share, 0.0),
        author_area, by_area, author_area, by_area, weights["institution"], seed * 4 + 4, counts["institution"])
    centroids = group_centroids(spec.num_classes, spec.num_features, spec.feature_signal, spec.venues_per_area,
                                spec.area_correlation, rng)
    x = centroids[venue] + rng.standard_normal((spec.num_papers, spec.num_features), dtype=np.float32)
    y = venue.copy()
    noisy = rng.random(spec.num_papers) < spec.label_noise
    start = area[noisy] * spec.venues_per_area
    size = np.minimum(spec.venues_per_area, spec.num_classes - start)
    y[noisy] = start + (rng.random(start.size) * size).astype(np.int64)
    split = rng.choice(3, size=spec.num_papers, p=YEAR_SHARES)
    year = np.where(split == 0, rng.integers(2010, 2018, spec.num_papers), 2018 + split - 1).astype(np.int64)
    order = ["author", "field_of_study", "institution", "paper"]
    return {"counts": {t: counts[t] for t in order}, "edges": dict(sorted(edges.items())), "x": x.astype(np.float32),
            "y": y.astype(np.int64), "year": year, "venue": venue.astype(np.int64)}


def load_synthetic_mag(root: object = None, *, seed: int = 0, num_papers: int = MagSpec.num_papers,
                       num_classes: int = MagSpec.num_classes, num_features: int = MagSpec.num_features,
                       add_reverse: bool = False) -> HeteroNodeDataset:
    """synthetic-mag (see the module docstring) as a ``HeteroNodeDataset`` with target ``paper``.

    Args:
        root: Unused (generated; accepted for the registry's ``loader(root, **options)`` call).
        seed: Random seed (same seed, same dataset).
        num_papers: Scale; the other node and edge counts follow ogbn-mag's proportions.
        num_classes, num_features: Venues and paper feature size.
        add_reverse: Add the ``rev_`` relations (``HeteroGraph.add_reverse``).

    Shapes:
        x: ``{"paper": [N_paper, F] float32}``; y, masks: ``[N_paper]``; ``meta["node_year"]["paper"]``.
    """
    spec = replace(MagSpec(), num_papers=int(num_papers), num_classes=int(num_classes),
                   num_features=int(num_features))
    arrays = generate_mag(spec, seed)
    edges = {e: (torch.from_numpy(s), torch.from_numpy(d)) for e, (s, d) in arrays["edges"].items()}  # type: ignore
    graph = HeteroGraph(arrays["counts"], edges, validate=False)  # type: ignore[arg-type]
    if add_reverse:
        graph = graph.add_reverse()
    year = torch.from_numpy(arrays["year"])  # type: ignore[arg-type]
    masks = (year <= 2017, year == 2018, year == 2019)
    meta = {"synthetic": True, "seed": seed, "generator": asdict(spec), "node_year": {"paper": year},
            "split": "by year like OGB's time split (train <= 2017, valid 2018, test 2019; years drawn at random)",
            "description": "ogbn-mag-shaped heterogeneous graph with planted venues"}
    return HeteroNodeDataset("synthetic-mag", graph, {"paper": torch.from_numpy(arrays["x"])}, "paper",  # type: ignore
                             torch.from_numpy(arrays["y"]), spec.num_classes, masks[0], masks[1], masks[2], meta)


__all__ = ["MagSpec", "generate_mag", "load_synthetic_mag"]
