#!/usr/bin/env bash
# Create the peer virtualenv used by the benchmarks (PyTorch Geometric on the same torch as graphscale).
#
# Usage: bash benchmarks/setup_peers.sh [PEER ...]  (from anywhere; idempotent, safe to re-run)
#        PEER: pyg (below) or the name of a script in benchmarks/peers/ (dgl, gensim, pecanpy, pykeen ...);
#        no argument: every peer. Each peer gets its own virtualenv under benchmarks/.peers/<peer>/.
#        PYTHON=python3.11 bash benchmarks/setup_peers.sh
#
# Result: benchmarks/.peers/pyg/ (git-ignored) with torch==2.13.0 (CPU build), torch_geometric 2.8.x,
# numpy, scipy, psutil, and PyG's optional compiled backends torch-scatter / torch-sparse built once from their
# source distributions on PyPI against that torch (peers/pyg_backends.bash; pyg-lib has no distribution on
# PyPI): a failed build is recorded as the backend's status, which the benchmark rows that need it report.
# torch is installed FIRST and pinned through a constraints file so that no later install can replace it with
# another build. A peer built for another torch asks torch_venv for it
# (peers/dgl.sh: DGL 2.1.0 on torch 2.2.1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wanted=("$@")
wants() { [[ ${#wanted[@]} -eq 0 ]] || [[ " ${wanted[*]} " == *" $1 "* ]]; }

setup_pyg() {

pyg_spec="torch_geometric>=2.8,<2.9"
# the newest releases on PyPI (torch-sparse 0.6.18 imports torch-scatter, so scatter is built first)
declare -A pyg_backend_versions=([pyg-lib]="" [torch-scatter]="2.1.2" [torch-sparse]="0.6.18")
# shellcheck source=peers/torch_venv.bash
source "${here}/peers/torch_venv.bash"
torch_venv pyg

echo "setup_peers: installing ${pyg_spec}, numpy, scipy, psutil"
"${pip_cmd[@]}" -c "${constraints}" "${pyg_spec}" numpy scipy psutil

# Optional compiled backends (peers/pyg_backends.bash): a binary wheel where the index has one, else built from
# PyPI's source distribution against this venv's torch, once; a failure is recorded as the backend's status
# (benchmarks/common.py reads it), never fatal. pyg-lib has no distribution on PyPI at all.
# shellcheck source=peers/pyg_backends.bash
source "${here}/peers/pyg_backends.bash"
declare -A optional_status
for package in pyg-lib torch-scatter torch-sparse; do
    pyg_backend "${package}" "${pyg_backend_versions[${package}]}"
    optional_status[${package}]="${pyg_backend_line}"
done

echo "setup_peers: summary"
"${py}" - <<'EOF'
import numpy, scipy, torch, torch_geometric, torch_geometric.typing as pyg_typing
print(f"  python          {__import__('sys').version.split()[0]}")
print(f"  torch           {torch.__version__}")
print(f"  torch_geometric {torch_geometric.__version__}")
print(f"  numpy           {numpy.__version__}")
print(f"  scipy           {scipy.__version__}")
print(f"  PyG sees        pyg-lib {pyg_typing.WITH_PYG_LIB}, torch-scatter {pyg_typing.WITH_TORCH_SCATTER}, "
      f"torch-sparse {pyg_typing.WITH_TORCH_SPARSE}")
EOF
for package in pyg-lib torch-scatter torch-sparse; do
    printf '  %-15s %s\n' "${package}" "${optional_status[${package}]}"
done
if [[ "${installed_torch%%+*}" != "${torch_version}" ]]; then
    echo "setup_peers: expected torch ${torch_version} in ${venv}, got ${installed_torch}." >&2
    exit 1
fi
echo "setup_peers: peer python is ${py}"
}

failed=()
if wants pyg; then setup_pyg || failed+=(pyg); fi
for script in "${here}"/peers/*.sh; do
    [[ -e "${script}" ]] || continue
    name="$(basename "${script}" .sh)"
    if wants "${name}"; then
        echo "setup_peers: ${name}"
        PYTHON="${PYTHON:-python3}" bash "${script}" || failed+=("${name}")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "setup_peers: failed: ${failed[*]} (the benchmarks report these peers as errors)" >&2
    exit 1
fi
