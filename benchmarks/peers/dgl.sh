#!/usr/bin/env bash
# Peer virtualenv for the sampling benchmark: DGL's NeighborSampler on the same torch as graphscale.
#
# Usage: bash benchmarks/setup_peers.sh dgl   (or run this script directly; idempotent)
# Result: benchmarks/.peers/dgl/ (git-ignored) with torch==2.13.0 (CPU build, installed first and pinned)
# and whichever dgl wheel pip resolves. A DGL wheel is built against one torch version, so it may install
# and still fail to import here: the script reports that and exits 0, and benchmarks/sampling.py then
# reports DGL's import error as its status ("error: ...") next to graphscale's figure.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/torch_venv.bash"
torch_venv dgl
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
