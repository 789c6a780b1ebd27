#!/usr/bin/env bash
# Peer virtualenv for the sampling benchmark: DGL's NeighborSampler on the same torch as graphscale.
#
# Usage: bash benchmarks/setup_peers.sh dgl   (or run this script directly; idempotent)
# Result: benchmarks/.peers/dgl/ (git-ignored) with torch==2.13.0 (CPU build, installed first and pinned)
# and whichever dgl wheel pip resolves. A DGL wheel is built against one torch version, so it may install
# and still fail to import here: the script reports that and exits 0, and benchmarks/sampling.py then
# reports DGL's import error as its status ("error: ...") next to graphscale's figure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${here}/.peers/dgl"
python_bin="${PYTHON:-python3}"
torch_version="2.13.0"

mkdir -p "${here}/.peers"
if [[ ! -x "${venv}/bin/python" ]]; then
    echo "peers/dgl: creating virtualenv ${venv}"
    "${python_bin}" -m venv "${venv}"
fi
py="${venv}/bin/python"
pip_cmd=("${py}" -m pip install --disable-pip-version-check --progress-bar off)
if ! "${py}" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '${torch_version}')" 2>/dev/null; then
    echo "peers/dgl: installing torch==${torch_version}"
    "${pip_cmd[@]}" "torch==${torch_version}"
fi
constraints="${venv}/constraints.txt"
"${py}" -c "import torch; print('torch==' + torch.__version__)" > "${constraints}"
echo "peers/dgl: installing dgl, numpy, scipy, psutil (torch pinned)"
if ! "${pip_cmd[@]}" -c "${constraints}" --only-binary=:all: dgl numpy scipy psutil; then
    echo "peers/dgl: no dgl wheel installs for this python / torch (reported by the benchmark)"
    "${pip_cmd[@]}" -c "${constraints}" numpy scipy psutil
fi
# dgl 2.1 (the newest wheel pip resolves here) imports setuptools.extern (gone since setuptools 71) and
# torchdata.datapipes (gone since torchdata 0.10) and needs pandas, pyyaml and pydantic without declaring them:
# give it those, so that what remains is its real limit, the torch version its C++ library was built for.
"${pip_cmd[@]}" --no-deps "setuptools<70" "torchdata<0.10" || true
"${pip_cmd[@]}" -c "${constraints}" pandas pyyaml pydantic || true
if "${py}" -c "import dgl, dgl.dataloading; print('  dgl', dgl.__version__)"; then
    echo "peers/dgl: peer python is ${py}"
else
    echo "peers/dgl: dgl does not import with torch ${torch_version} (the benchmark reports the error)"
fi
