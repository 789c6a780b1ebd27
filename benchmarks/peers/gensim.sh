#!/usr/bin/env bash
# Peer virtualenv for the embedding benchmark: gensim Word2Vec (DeepWalk's skip-gram trainer).
#
# Usage: bash benchmarks/setup_peers.sh gensim   (or run this script directly; idempotent)
# Result: benchmarks/.peers/gensim/ (git-ignored) with gensim 4.x, numpy, scipy. No torch: the
# benchmark only hands this interpreter walk corpora (.npy) and reads back the vectors (.npy).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${here}/.peers/gensim"
python_bin="${PYTHON:-python3}"
gensim_spec="gensim>=4.3,<5"

mkdir -p "${here}/.peers"
if [[ ! -x "${venv}/bin/python" ]]; then
    echo "peers/gensim: creating virtualenv ${venv}"
    "${python_bin}" -m venv "${venv}"
fi
py="${venv}/bin/python"
echo "peers/gensim: installing ${gensim_spec}, numpy, scipy"
"${py}" -m pip install --disable-pip-version-check --progress-bar off "${gensim_spec}" numpy scipy

"${py}" - <<'PYEOF'
import sys
import gensim, numpy, scipy
from gensim.models.word2vec import FAST_VERSION
print(f"  python  {sys.version.split()[0]}")
print(f"  gensim  {gensim.__version__} (compiled word2vec: {FAST_VERSION >= 0})")
print(f"  numpy   {numpy.__version__}")
print(f"  scipy   {scipy.__version__}")
if FAST_VERSION < 0:
    sys.exit("peers/gensim: gensim installed without its compiled word2vec routines")
PYEOF
echo "peers/gensim: peer python is ${py}"
