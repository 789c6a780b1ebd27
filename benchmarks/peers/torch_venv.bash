# Sourced by the peer scripts (not a peer itself: setup_peers.sh runs only peers/*.sh).
#
# torch_venv NAME [TORCH_VERSION]: create (or reuse) benchmarks/.peers/NAME/, install torch==TORCH_VERSION
# FIRST (default 2.13.0, graphscale's own torch and the CPU build pip resolves here; a peer built for another
# torch asks for its own, e.g. dgl: 2.2.1) and pin the exact installed build in NAME/constraints.txt, so that
# no later install (passed "-c ${constraints}") can replace it with another build. Sets: torch_version,
# installed_torch, venv, py, pip_cmd (array), constraints.
TORCH_VENV_DEFAULT_TORCH="2.13.0"

torch_venv() {
    local name="$1" root
    torch_version="${2:-${TORCH_VENV_DEFAULT_TORCH}}"
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="${root}/.peers/${name}"
    mkdir -p "${root}/.peers"
    if [[ ! -x "${venv}/bin/python" ]]; then
        echo "peers/${name}: creating virtualenv ${venv}"
        "${PYTHON:-python3}" -m venv "${venv}"
    fi
    py="${venv}/bin/python"
    pip_cmd=("${py}" -m pip install --disable-pip-version-check --progress-bar off)
    if ! "${py}" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '${torch_version}')" 2>/dev/null; then
        echo "peers/${name}: installing torch==${torch_version}"
        "${pip_cmd[@]}" "torch==${torch_version}"
    fi
    constraints="${venv}/constraints.txt"
    installed_torch="$("${py}" -c "import torch; print(torch.__version__)")"
    # the distribution's own version, which pip compares ("2.13.0+cpu" from a local wheel; "2.2.1" from
    # PyPI, whose torch.__version__ still says "2.2.1+cu121")
    echo "torch==$("${py}" -c "from importlib.metadata import version; print(version('torch'))")" > "${constraints}"
}
