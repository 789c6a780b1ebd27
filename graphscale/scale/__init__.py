"""Training beyond the device: historical embeddings (GNNAutoScale), precomputed propagation (SGC/SIGN),
chunked full-batch execution under a memory budget (NGra).

Import the modules directly (``graphscale.scale.gas``, ``graphscale.scale.precompute``); nothing is
re-exported here so each stays importable on its own.
"""
