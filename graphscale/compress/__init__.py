"""Model compression: quantization-aware training with integer inference (Degree-Quant, :mod:`.quant`) and
distillation of a trained GNN into a smaller student (:mod:`.distill`)."""
