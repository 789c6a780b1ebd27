"""Model compression: quantization-aware training (Degree-Quant, ``quant``) and distillation."""
