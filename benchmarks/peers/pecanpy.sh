#!/usr/bin/env bash
# Peer virtualenv for the embedding benchmark: pecanpy (parallel node2vec walks in numba).
#
# Usage: bash benchmarks/setup_peers.sh pecanpy   (or run this script directly; idempotent)
# Result: benchmarks/.peers/pecanpy/ (git-ignored) with pecanpy 2.x and whatever numpy / numba /
# gensim versions it pins. pecanpy downgrades numpy, so it lives apart from graphscale's environment
# and from the gensim peer. No torch.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${here}/.peers/pecanpy"
python_bin="${PYTHON:-python3}"
pecanpy_spec="pecanpy>=2.0,<3"

mkdir -p "${here}/.peers"
if [[ ! -x "${venv}/bin/python" ]]; then
    echo "peers/pecanpy: creating virtualenv ${venv}"
    "${python_bin}" -m venv "${venv}"
fi
py="${venv}/bin/python"
echo "peers/pecanpy: installing ${pecanpy_spec}"
"${py}" -m pip install --disable-pip-version-check --progress-bar off "${pecanpy_spec}"

"${py}" - <<'PYEOF'
import sys
from importlib.metadata import version
import numba, numpy
from pecanpy import pecanpy as node2vec
for mode in ("PreComp", "SparseOTF", "DenseOTF"):
    getattr(node2vec, mode)
print(f"  python   {sys.version.split()[0]}")
print(f"  pecanpy  {version('pecanpy')}")
print(f"  numba    {numba.__version__}")
print(f"  numpy    {numpy.__version__}")
PYEOF
echo "peers/pecanpy: peer python is ${py}"
