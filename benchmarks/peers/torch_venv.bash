# Sourced by the peer scripts (not a peer itself: setup_peers.sh runs only peers/*.sh).
#
# torch_venv NAME: create (or reuse) benchmarks/.peers/NAME/, install torch==2.13.0 FIRST (the CPU build pip
# resolves here) and pin the exact installed build in NAME/constraints.txt, so that no later install (passed
# "-c ${constraints}") can replace it with another build. Sets: torch_version, installed_torch, venv, py,
# pip_cmd (array), constraints.
torch_venv() {
    local name="$1" root
    torch_version="2.13.0"
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
    echo "torch==${installed_torch}" > "${constraints}"
}
