"""Sub-commands of ``graphscale`` beyond train/datasets: each module has ``register(subparsers)``."""
