"""Seeded synthetic node-classification datasets (no files needed).

* ``synthetic``: the embedded default of ``graphscale train``: a 2,500-node stochastic block model with 7
  classes (sizes skewed), ~6 neighbours per node, ~60% of edges inside a class, 64 noisy class-centroid
  features, and a Planetoid-like split (20 training nodes per class, 500 validation, 1,000 test). A
  2-layer GCN reaches ~80% test accuracy in seconds (an MLP on the features alone ~45%).
* ``synthetic-arxiv``: ogbn-arxiv's shape: 169,343 nodes, exactly 2,332,486 directed edges (1,166,243
  undirected pairs, no duplicates or self loops), 128 float features, 40 skewed classes, power-law degrees,
  ogbn-arxiv's split sizes (90,941 / 29,799 / 48,603, drawn at random). Built as a nested degree-corrected
  SBM: every class is split at random into local communities of ~150 nodes (sub-fields) and 95% of a
  node's same-class edge share stays inside its community; 30% of the share goes to the 3 other classes of
  its group of 4 related classes, the rest anywhere; noisy class-centroid features, centroids correlated 0.8
  inside a group. Heavy hubs saturate their community, so after de-duplication ~59% of the edges join one
  class (ogbn-arxiv: 0.65) and ~53% fall inside one of 1,128 METIS parts: like a citation graph, and unlike
  a flat SBM (19% before v3), the graph has the locality ClusterGCN's partitions rely on.
* ``synthetic-products``: ogbn-products' shape: 2,449,029 nodes, exactly 123,718,280 directed edges
  (61,859,140 pairs), 100 features, 47 classes, power-law degrees, split sizes 196,615 / 39,323 /
  2,213,091. Planted communities with 90% of edges inside; 20% of the labels are redrawn inside their group
  of 4 related classes (annotation noise), so labels agree along ~66% of the edges and no model can exceed
  ~85%. Generated with int32 arrays and cached as ``.npy`` files under the data root (a second load only reads
  them).

Features are ``x = centroid[y] + N(0, 1)`` with small centroids: each node's features carry little signal,
neighbourhood averaging (the graph) makes most classes separable, related classes stay confusable.
Large sets are cached in ``<data root>/synthetic/<name>-seed<seed>-v<version>/`` (falling back to
``~/.cache/graphscale`` when the data root is not writable); ``meta["generation_seconds"]`` reports the time.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import warn_once
from .base import NodeDataset
from .generators import degree_corrected_sbm, pairs_to_graph, power_law_weights, stochastic_block_model
from .io import DEFAULT_ROOT, data_root, is_writable_dir

CACHE_VERSION = 3  # bump whenever generation changes


@dataclass(frozen=True)
class PlantedSpec:
    """Shape and difficulty of a degree-corrected planted-partition dataset."""

    num_nodes: int
    num_pairs: int  # undirected edges; the graph has 2 * num_pairs directed edges
    num_features: int
    num_classes: int
    homophily: float
    feature_signal: float
    degree_exponent: float
    class_skew: float
    split_sizes: tuple[int, int, int]
    max_weight: float
    group_size: int = 1  # classes per confusable group (related topics)
    group_share: float = 0.0  # share of edges going to the other classes of the group
    group_correlation: float = 0.0  # correlation of the centroids of classes in one group
    label_noise: float = 0.0  # share of nodes whose label is redrawn inside its group (ambiguous items)
    community_size: int = 0  # nodes per local community inside a class (0: none)
    locality: float = 0.0  # share of a node's same-class edges that stay inside its local community


# Tuned so that features alone are weak and the graph helps without making the task trivial. The local
# communities (v3) give the graph locality; homophily 0.68 is before de-duplication (~0.59 after, since the
# repeated draws of hubs inside their small community are mostly same-class pairs).
ARXIV = PlantedSpec(169_343, 1_166_243, 128, 40, 0.68, 0.15, 2.3, 1.0, (90_941, 29_799, 48_603), 2_000.0,
                    group_size=4, group_share=0.3, group_correlation=0.8, community_size=150, locality=0.95)
# Products has ~50 neighbours per node: with clean labels neighbourhood averaging is almost perfect (SGC 98.6%),
# so 20% of the labels are redrawn inside their group of related classes (accuracy ceiling ~85%).
PRODUCTS = PlantedSpec(2_449_029, 61_859_140, 100, 47, 0.9, 0.15, 2.3, 1.2, (196_615, 39_323, 2_213_091), 2_000.0,
                       group_size=4, group_share=0.06, group_correlation=0.8, label_noise=0.2)


def class_sizes_labels(num_nodes: int, num_classes: int, skew: float, rng: np.random.Generator) -> np.ndarray:
    """``[N]`` int64 labels with class ``k`` of expected share ``~ (k + 2) ** -skew`` (shuffled class order)."""
    share = (np.arange(num_classes) + 2.0) ** -skew
    share = share[rng.permutation(num_classes)]
    return rng.choice(num_classes, size=num_nodes, p=share / share.sum()).astype(np.int64)


def group_centroids(num_classes: int, num_features: int, signal: float, group_size: int, correlation: float,
                    rng: np.random.Generator) -> np.ndarray:
    """``[K, F]`` float32 class centroids ``signal * (sqrt(c) * group_center + sqrt(1 - c) * own)``: classes of
    one group (``k // group_size``) have centroids with correlation ``c``."""
    groups = np.arange(num_classes) // max(group_size, 1)
    centers = rng.standard_normal((int(groups.max()) + 1, num_features))
    own = rng.standard_normal((num_classes, num_features))
    mixed = np.sqrt(correlation) * centers[groups] + np.sqrt(1.0 - correlation) * own
    return (signal * mixed).astype(np.float32)


def group_mixing(labels: np.ndarray, weights: np.ndarray, spec: PlantedSpec) -> np.ndarray:
    """``[K, K]`` edge mixing: ``homophily`` inside the class, ``group_share`` to the other classes of its group,
    the rest to all other classes, each part split by class degree mass."""
    num_classes = spec.num_classes
    mass = np.bincount(labels, weights=weights, minlength=num_classes)
    groups = np.arange(num_classes) // max(spec.group_size, 1)
    same_group = (groups[:, None] == groups[None, :]) & ~np.eye(num_classes, dtype=bool)
    other = ~same_group & ~np.eye(num_classes, dtype=bool)
    mixing = np.diag(np.full(num_classes, spec.homophily))
    for part, share in ((same_group, spec.group_share), (other, 1.0 - spec.homophily - spec.group_share)):
        block = part * mass[None, :]
        total = block.sum(1, keepdims=True)
        mixing += np.divide(block, total, out=np.zeros_like(block), where=total > 0) * share
    return mixing


def local_communities(labels: np.ndarray, weights: np.ndarray, class_mixing: np.ndarray, spec: PlantedSpec,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Nested blocks: each class split at random into communities of ~``community_size`` nodes.

    Returns ``[N]`` block ids and the ``[B, B]`` block mixing: a node keeps ``locality`` of its same-class edge
    share inside its own community and spreads the rest over the other communities of its class (by degree
    mass); edges to other classes follow ``class_mixing`` (by degree mass inside the target class). The class
    mixing, and so the homophily, is unchanged; only where inside a class the edges land changes.
    """
    num_classes = spec.num_classes
    blocks = np.empty(labels.size, dtype=np.int64)
    block_class: list[np.ndarray] = []
    offset = 0
    for cls in range(num_classes):
        members = rng.permutation(np.nonzero(labels == cls)[0])
        count = max(1, round(members.size / spec.community_size))
        blocks[members] = offset + np.arange(members.size) % count
        block_class.append(np.full(count, cls))
        offset += count
    cls_of = np.concatenate(block_class)
    block_mass = np.bincount(blocks, weights=weights, minlength=offset)
    class_mass = np.bincount(cls_of, weights=block_mass, minlength=num_classes)
    share = np.divide(block_mass, class_mass[cls_of], out=np.zeros_like(block_mass), where=class_mass[cls_of] > 0)
    mixing = class_mixing[cls_of][:, cls_of] * share[None, :]
    same = cls_of[:, None] == cls_of[None, :]
    inside = np.diag(class_mixing)[cls_of]  # each block's same-class share
    rest = class_mass[cls_of] - block_mass  # mass of the other communities of the class
    alone = rest <= 0
    spread = np.divide(block_mass[None, :], rest[:, None], out=np.zeros_like(mixing), where=~alone[:, None])
    mixing = np.where(same, (inside * (1.0 - spec.locality))[:, None] * spread, mixing)
    mixing[np.arange(offset), np.arange(offset)] = np.where(alone, inside, inside * spec.locality)
    return blocks, mixing


def centroid_features(labels: np.ndarray, num_features: int, signal: float, rng: np.random.Generator,
                      num_classes: int, rows_per_step: int = 1 << 18,
                      centroids: np.ndarray | None = None) -> np.ndarray:
    """``[N, F]`` float32 ``centroid[label] + N(0, 1)`` with ``centroid ~ signal * N(0, 1)`` unless given,
    filled in row blocks (no large temporaries)."""
    if centroids is None:
        centroids = (signal * rng.standard_normal((num_classes, num_features))).astype(np.float32)
    x = np.empty((labels.size, num_features), dtype=np.float32)
    for start in range(0, labels.size, rows_per_step):
        stop = min(labels.size, start + rows_per_step)
        rng.standard_normal(out=x[start:stop], dtype=np.float32)
        x[start:stop] += centroids[labels[start:stop]]
    return x


def split_codes(num_nodes: int, sizes: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """``[N]`` int8 split code (0 train, 1 val, 2 test, -1 none) for random node sets of the given sizes."""
    perm = rng.permutation(num_nodes)
    codes = np.full(num_nodes, -1, dtype=np.int8)
    bounds = np.cumsum((0,) + tuple(sizes))
    for code in range(3):
        codes[perm[bounds[code]:bounds[code + 1]]] = code
    return codes


def generate_planted(spec: PlantedSpec, seed: int) -> dict[str, np.ndarray]:
    """Arrays of a planted dataset: ``u, v`` int32 pairs, ``x`` float32, ``y`` int64, ``split`` int8."""
    rng = np.random.default_rng(seed)
    y = class_sizes_labels(spec.num_nodes, spec.num_classes, spec.class_skew, rng)
    weights = power_law_weights(spec.num_nodes, spec.degree_exponent, seed=seed + 1, max_ratio=spec.max_weight)
    mixing = group_mixing(y, weights, spec)
    blocks = y
    if spec.community_size > 0 and spec.locality > 0:
        blocks, mixing = local_communities(y, weights, mixing, spec, np.random.default_rng(seed + 3))
    u, v = degree_corrected_sbm(blocks, weights, spec.num_pairs, seed=seed + 2, mixing=mixing)
    centroids = group_centroids(spec.num_classes, spec.num_features, spec.feature_signal, spec.group_size,
                                spec.group_correlation, rng)
    x = centroid_features(y, spec.num_features, spec.feature_signal, rng, spec.num_classes, centroids=centroids)
    split = split_codes(spec.num_nodes, spec.split_sizes, rng)
    if spec.label_noise > 0:
        noisy = rng.random(spec.num_nodes) < spec.label_noise
        group_start = (y[noisy] // spec.group_size) * spec.group_size
        group_len = np.minimum(spec.group_size, spec.num_classes - group_start)  # the last group may be smaller
        y = y.copy()
        y[noisy] = group_start + (rng.random(group_start.size) * group_len).astype(np.int64)
    return {"u": u, "v": v, "x": x, "y": y, "split": split}


def _masks(split: np.ndarray) -> tuple[torch.Tensor, ...]:
    codes = torch.from_numpy(split)
    return tuple(codes == code for code in range(3))


def _cache_folder(root: Path, name: str, seed: int) -> Path:
    return root / "synthetic" / f"{name}-seed{seed}-v{CACHE_VERSION}"


def _read_cache(folder: Path) -> tuple[dict[str, np.ndarray], dict] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {key: np.load(folder / f"{key}.npy", allow_pickle=False) for key in ("u", "v", "x", "y", "split")}
    except (OSError, ValueError):
        return None
    return arrays, meta


def _write_cache(folder: Path, arrays: dict[str, np.ndarray], meta: dict) -> bool:
    """Write into a temporary sibling folder and rename it into place; False when not writable."""
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    if not is_writable_dir(folder.parent):
        return False
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for key, value in arrays.items():
            np.save(tmp / f"{key}.npy", value)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if folder.exists():  # a stale cache of other generator parameters
            shutil.rmtree(folder)
        os.replace(tmp, folder)
        return True
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return False


def load_planted(name: str, spec: PlantedSpec, root: str | Path | None = None, *, seed: int = 0,
                 cache: bool = True) -> NodeDataset:
    """Generate (or read from the cache) the planted dataset ``spec`` as a NodeDataset.

    Shapes:
        x: ``[N, F]`` float32; y: ``[N]`` int64; masks: ``[N]`` bool.
    """
    roots = [data_root(root), DEFAULT_ROOT.expanduser()] if cache else []
    params = json.loads(json.dumps(asdict(spec)))
    hits = (_read_cache(_cache_folder(r, name, seed)) for r in roots)
    found = next((hit for hit in hits if hit is not None and hit[1].get("generator") == params), None)
    if found is not None:
        arrays, meta = found
        meta["from_cache"] = True
    else:
        start = time.perf_counter()
        arrays = generate_planted(spec, seed)
        meta = {"generator": params, "seed": seed, "generation_seconds": round(time.perf_counter() - start, 2),
                "from_cache": False}
        for candidate in roots:
            if _write_cache(_cache_folder(candidate, name, seed), arrays, meta):
                meta["cache"] = str(_cache_folder(candidate, name, seed))
                break
            warn_once(f"{name}: could not write the cache under {candidate}; trying the next location.")
    graph = pairs_to_graph(arrays["u"], arrays["v"], spec.num_nodes)
    y = torch.from_numpy(arrays["y"].astype(np.int64))
    train, val, test = _masks(arrays["split"])
    meta.update(split=f"random node sets of sizes {spec.split_sizes} (seeded)", synthetic=True,
                generator_version=CACHE_VERSION,
                description="degree-corrected SBM with power-law degrees and noisy class-centroid features")
    return NodeDataset(name=name, graph=graph, x=torch.from_numpy(arrays["x"]), y=y, num_classes=spec.num_classes,
                       train_mask=train, val_mask=val, test_mask=test, meta=meta)


def load_synthetic(*, seed: int = 0, num_nodes: int = 2500, num_classes: int = 7, num_features: int = 64,
                   average_degree: float = 6.0, homophily: float = 0.6, feature_signal: float = 0.2) -> NodeDataset:
    """The small default dataset: a seeded SBM with skewed class sizes and a Planetoid-like split.

    Args:
        seed: Random seed (graph, features and split).
        num_nodes, num_classes, num_features: Sizes.
        average_degree: Expected number of neighbours per node.
        homophily: Expected fraction of edges inside a class.
        feature_signal: Scale of the class centroids against unit feature noise.

    Shapes:
        x: ``[N, F]`` float32; y: ``[N]`` int64; masks: ``[N]`` bool.
    """
    rng = np.random.default_rng(seed)
    labels = np.sort(class_sizes_labels(num_nodes, num_classes, 0.6, rng))
    sizes = np.bincount(labels, minlength=num_classes)
    # Choose p_in, p_out so that E[degree] = average_degree and E[intra-class edge share] = homophily.
    intra_pairs = float((sizes * (sizes - 1) / 2).sum())
    inter_pairs = num_nodes * (num_nodes - 1) / 2 - intra_pairs
    num_pairs = average_degree * num_nodes / 2
    p_in, p_out = min(1.0, homophily * num_pairs / intra_pairs), min(1.0, (1 - homophily) * num_pairs / inter_pairs)
    probs = np.full((num_classes, num_classes), p_out)
    np.fill_diagonal(probs, p_in)
    u, v = stochastic_block_model(sizes, probs, seed=seed)
    perm = rng.permutation(num_nodes).astype(np.int32)  # node ids do not reveal the class
    u, v = perm[u], perm[v]
    y = np.empty(num_nodes, dtype=np.int64)
    y[perm] = labels
    x = centroid_features(y, num_features, feature_signal, rng, num_classes)
    split = np.full(num_nodes, -1, dtype=np.int8)
    for cls in range(num_classes):
        members = np.nonzero(y == cls)[0]
        split[rng.permutation(members)[:20]] = 0
    rest = rng.permutation(np.nonzero(split < 0)[0])
    split[rest[:500]] = 1
    split[rest[500:1500]] = 2
    graph = pairs_to_graph(u, v, num_nodes)
    train, val, test = _masks(split)
    return NodeDataset(
        name="synthetic", graph=graph, x=torch.from_numpy(x), y=torch.from_numpy(y), num_classes=num_classes,
        train_mask=train, val_mask=val, test_mask=test,
        meta={"synthetic": True, "seed": seed, "p_in": p_in, "p_out": p_out, "feature_signal": feature_signal,
              "description": "stochastic block model with noisy class-centroid features",
              "split": "20 train nodes per class, 500 val, 1000 test (seeded)"},
    )


def load_synthetic_arxiv(root: str | Path | None = None, *, seed: int = 0, cache: bool = True) -> NodeDataset:
    """ogbn-arxiv-shaped synthetic dataset (see the module docstring)."""
    return load_planted("synthetic-arxiv", ARXIV, root, seed=seed, cache=cache)


def load_synthetic_products(root: str | Path | None = None, *, seed: int = 0, cache: bool = True) -> NodeDataset:
    """ogbn-products-shaped synthetic dataset (see the module docstring); cached after the first call."""
    return load_planted("synthetic-products", PRODUCTS, root, seed=seed, cache=cache)
