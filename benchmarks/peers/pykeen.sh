#!/usr/bin/env bash
# PyKEEN 1.11 peer for benchmarks/kg.py, in its own virtualenv benchmarks/.peers/pykeen/ (git-ignored).
#
# Usage: bash benchmarks/setup_peers.sh pykeen   (or this script directly; idempotent)
# torch==2.13.0 is installed first and pinned through a constraints file, so that installing PyKEEN can
# never replace it with another build (the same rule as the pyg peer in setup_peers.sh).
set -euo pipefail

pykeen_spec="pykeen>=1.11,<1.12"
source "$(dirname "${BASH_SOURCE[0]}")/torch_venv.bash"
torch_venv pykeen

if ! "${py}" -c "import pykeen" 2>/dev/null; then
    echo "pykeen.sh: installing ${pykeen_spec}"
    "${pip_cmd[@]}" -c "${constraints}" "${pykeen_spec}" psutil
fi

"${py}" - <<'PYEOF'
import sys, numpy, torch, pykeen
print(f"  python  {sys.version.split()[0]}")
print(f"  torch   {torch.__version__}")
print(f"  pykeen  {pykeen.get_version()}")
print(f"  numpy   {numpy.__version__}")
PYEOF
if [[ "${installed_torch%%+*}" != "${torch_version}" ]]; then
    echo "pykeen.sh: expected torch ${torch_version} in ${venv}, got ${installed_torch}." >&2
    exit 1
fi
echo "pykeen.sh: peer python is ${py}"
