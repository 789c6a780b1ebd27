"""Model compression: distillation of a trained GNN into a smaller student (:mod:`.distill`)."""
