"""Knowledge-graph embeddings: TransE, DistMult, ComplEx, SimplE, RotatE and R-GCN (encoder + DistMult decoder)
with filtered link-prediction evaluation.

Pieces (DESIGN.md): ``interactions`` (stateless scoring functions), ``model`` (embedding tables x interaction),
``losses``, ``triples`` (datasets, filter index), ``evaluate`` (filtered ranking), ``step`` / ``train`` (training
with shared or per-positive negatives, row-sparse optimisers, checkpoints), ``partition`` (training bucket by bucket
for tables larger than the device), ``rgcn`` / ``rgcn_train`` (R-GCN link prediction, scored through the same
evaluator), ``config`` and ``run`` (the ``graphscale kg`` life cycle).

Example:
    >>> from graphscale import kge
    >>> data = kge.load_kg("fb15k-237")
    >>> model = kge.build_kg_model("rotate", data.num_entities, data.num_relations, dim=100, gamma=9.0)
    >>> index = kge.FilterIndex.build([data.train, data.valid, data.test], data.num_relations)
    >>> kge.evaluate(model.score_all, data.test[:100], index)["mrr"]
"""

from .evaluate import evaluate, filtered_ranks, metrics_from_ranks
from .interactions import INTERACTIONS, ComplEx, DistMult, Interaction, RotatE, SimplE, TransE, build_interaction
from .model import KGEModel, build_kg_model
from .rgcn import RGCNLinkPredictor, message_graph
from .triples import FilterIndex, KGDataset, add_reciprocal, bernoulli_head_probability, load_folder, load_kg

__all__ = [
    "INTERACTIONS",
    "ComplEx",
    "DistMult",
    "FilterIndex",
    "Interaction",
    "KGDataset",
    "KGEModel",
    "RGCNLinkPredictor",
    "RotatE",
    "SimplE",
    "TransE",
    "add_reciprocal",
    "bernoulli_head_probability",
    "build_interaction",
    "build_kg_model",
    "evaluate",
    "filtered_ranks",
    "load_folder",
    "load_kg",
    "message_graph",
    "metrics_from_ranks",
]
