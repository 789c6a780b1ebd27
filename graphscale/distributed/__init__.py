"""Distributed training on ``torch.distributed`` (launched by ``torchrun``): partitions first.

* :mod:`.partition`: ``write_partitions`` (METIS / random) -> one folder per part, a partition book and a
  checksummed manifest; ``graphscale partition`` on the command line.
* :mod:`.load`: ``load_partition``, ``load_book``, ``read_manifest``, every file checked against the manifest.

Import the modules directly; nothing is re-exported here.
"""
