"""Node embeddings, GraphVite-style: random walks -> online augmentation into sample pools -> parallel SGD.

Models: DeepWalk (uniform walks), node2vec (second-order walks, ``p``, ``q``) and LINE (edge samples, first or
second order), all trained with skip-gram negative sampling on a vertex and a context table.

Pipeline (one process, CPU or GPU):

1. ``walks``: numba walk kernels, parallel over start nodes; weighted steps through per-row alias tables;
   node2vec through per-edge alias tables (small graphs) or rejection sampling (O(E) memory).
2. ``pool``: each walk is turned into ``(center, context)`` pairs within the augmentation distance
   (``window``) directly inside the kernel (no walk corpus), written pseudo-shuffled into a sample pool with
   negatives from the degree^0.75 alias table; LINE draws edges into the same kind of pool.
3. ``trainer``: a background thread fills the next pool (numba releases the GIL) while the current one is
   trained on (double buffering): lock-free Hogwild SGD in numba (``backend="numba"``) or batched torch ops
   (``backend="torch"``, for a GPU), linear learning-rate decay.
4. ``evaluate``: node classification (DeepWalk protocol: one-vs-rest logistic regression, top-k labels,
   Micro/Macro-F1 over training ratios) and link prediction (held-out edges, AUC).

Python API (the stable surface; benchmarks call these):

``deepwalk_walks(graph, num_walks=10, walk_length=40, seed=0, *, edge_weight=None) -> np.ndarray``
    ``[num_walks * N, walk_length]`` int32 DeepWalk walks; row ``r * N + v`` starts at ``v``.
``node2vec_walks(graph, num_walks=10, walk_length=80, p=1.0, q=1.0, seed=0, *, edge_weight=None,
mode="auto") -> np.ndarray``
    Same layout; ``mode`` "alias" | "rejection" | "auto".
``train_embeddings(graph, model="deepwalk", dim=128, *, edge_weight=None, progress=False, checkpoint=None,
resume=False, num_walks=80, walk_length=40, window=10, p=1.0, q=1.0, order=2, num_samples=None, negatives=3,
negative_weight=2.0, lr=0.025, backend="numba", device="cpu", seed=0, ...) -> EmbeddingResult``
    ``result.embeddings`` (``[N, dim]`` float32), ``result.sample_time_s``, ``result.train_time_s``,
    ``result.total_time_s``, ``result.num_samples``, ``result.samples_per_s``; ``result.save(folder,
    node_ids)`` writes ``embeddings.npy`` + ``embeddings.nodes.txt``.
``node_classification(embeddings, y, ratios=(0.1, ..., 0.9), repeats=5, seed=0) -> dict``
    ``{"ratios", "micro_f1", "macro_f1", "micro_f1_std", "macro_f1_std"}`` (lists, one entry per ratio).
``link_split(graph, test_fraction=0.1, seed=0)`` and ``link_prediction(embeddings, positives, negatives)``
    Held-out edges and their AUC.

Example:
    >>> import graphscale.datasets as gd
    >>> from graphscale.embed import train_embeddings, node_classification
    >>> blog = gd.load("blogcatalog")
    >>> result = train_embeddings(blog.graph, "deepwalk", dim=128, num_walks=10, seed=0)
    >>> scores = node_classification(result.embeddings, blog.y, ratios=[0.5])
"""

from ..sampling.alias import build_alias, sample_alias
from .evaluate import RATIOS, f1_scores, link_prediction, link_split, node_classification, plot_f1
from .io import load_embeddings, save_embeddings
from .trainer import MODELS, EmbeddingResult, EmbedSettings, train_embeddings
from .walks import WalkGraph, deepwalk_walks, node2vec_walks, walk_graph, walk_plan

__all__ = [
    "MODELS",
    "RATIOS",
    "EmbedSettings",
    "EmbeddingResult",
    "WalkGraph",
    "build_alias",
    "deepwalk_walks",
    "f1_scores",
    "link_prediction",
    "link_split",
    "load_embeddings",
    "node2vec_walks",
    "node_classification",
    "plot_f1",
    "sample_alias",
    "save_embeddings",
    "train_embeddings",
    "walk_graph",
    "walk_plan",
]
