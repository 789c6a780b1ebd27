#!/usr/bin/env bash
# Peer virtualenv for the sampling and full-batch benchmarks: DGL 2.1.0 on the torch it was built for.
#
# Usage: bash benchmarks/setup_peers.sh dgl   (or run this script directly; idempotent: a second run checks)
# Result: benchmarks/.peers/dgl/ (git-ignored) with
#   torch==2.2.1      installed FIRST and pinned (torch_venv.bash). DGL 2.1.0's graphbolt library exists for
#                     torch 2.0.0 ... 2.2.1 only; 2.2.1 is the newest. PyPI's Linux torch 2.2.1 is the CUDA
#                     build (nvidia-* wheels, a few GB); the benchmarks run it on CPU.
#   dgl==2.1.0        its C++ library and graphbolt come compiled in the wheel
#   numpy<2           dgl 2.1 / torch 2.2 are built against numpy 1.x
#   pandas<2.3, torchdata==0.7.1, pyyaml, pydantic, setuptools<70: what dgl 2.1 imports without declaring
#                     it, or from releases since removed (torchdata.datapipes, setuptools.extern)
#   scipy, psutil, networkx, tqdm, requests: its declared dependencies
set -euo pipefail

dgl_torch="2.2.1"
dgl_specs=("dgl==2.1.0" "numpy<2" "pandas<2.3" "torchdata==0.7.1" "setuptools<70" pyyaml pydantic scipy psutil)

source "$(dirname "${BASH_SOURCE[0]}")/torch_venv.bash"
torch_venv dgl "${dgl_torch}"

check_dgl() {
    DGLBACKEND=pytorch "${py}" - <<'PYEOF'
import sys
from importlib.metadata import version

import numpy, torch, dgl, dgl.dataloading, dgl.nn  # dgl.nn: GraphConv / SAGEConv / GATConv (full_batch.py)

graph = dgl.graph((torch.tensor([0, 1, 2, 3]), torch.tensor([1, 2, 3, 0])), num_nodes=4)
sampler = dgl.dataloading.NeighborSampler([5, 10, 15])
_, _, blocks = sampler.sample_blocks(graph, torch.tensor([0, 1]))
assert len(blocks) == 3, blocks
print(f"  python     {sys.version.split()[0]}")
print(f"  torch      {torch.__version__} (CUDA build: {torch.version.cuda is not None}, used on CPU)")
print(f"  dgl        {dgl.__version__}")
print(f"  numpy      {numpy.__version__}")
for name in ("torchdata", "pandas", "setuptools", "scipy"):
    print(f"  {name:<10} {version(name)}")
PYEOF
}

# pip leaves requirements that are already satisfied alone, so a second run installs nothing.
echo "peers/dgl: installing ${dgl_specs[*]} (torch ${dgl_torch} pinned)"
"${pip_cmd[@]}" -c "${constraints}" --only-binary=:all: "${dgl_specs[@]}"
if [[ "${installed_torch%%+*}" != "${torch_version}" ]]; then
    echo "peers/dgl: expected torch ${torch_version} in ${venv}, got ${installed_torch}." >&2
    exit 1
fi
if ! check_dgl; then
    echo "peers/dgl: dgl does not import or sample in ${venv} (the benchmarks report its error)" >&2
    exit 1
fi
echo "peers/dgl: peer python is ${py}"
