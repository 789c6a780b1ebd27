# Sourced by setup_peers.sh (setup_pyg) after torch_venv (not a peer itself: setup_peers.sh runs only
# peers/*.sh). Uses venv, py, pip_cmd and constraints from torch_venv.
#
# pyg_backend PACKAGE [VERSION]: put PyG's optional compiled backend PACKAGE (pyg-lib, torch-scatter,
# torch-sparse) into ${venv}, never failing the setup:
#   1. a binary wheel, where the index has one for this torch (PyPI has none of the three: PyG publishes
#      its wheels on its own index, which is not used here);
#   2. else a wheel built from the source distribution on PyPI against the venv's own torch: --no-build-isolation
#      (the sources import torch in setup.py), CPU only, ninja with MAX_JOBS compile jobs (default 2; torch-scatter's
#      setup.py turns ninja off and compiles one file at a time), at most PYG_BUILD_TIMEOUT seconds per package
#      (default 1800). The wheel is kept in ${venv}/wheels/ and installed from there. Measured on 2 busy cores
#      against torch 2.13: torch-scatter 2.1.2 ~7 min, torch-sparse 0.6.18 ~20 min.
# The outcome is one line in ${venv}/backend-status/PACKAGE, which the benchmarks read
# (full_batch.pyg_backend_status): "installed ..." or "not installed: <last meaningful error line
# of the build>" (a C++ compiler error first: the root cause; absolute paths become <venv> / <build>). The full
# log is ${venv}/backend-status/PACKAGE.log. A re-run never rebuilds: an installed package or a recorded
# failure is reported as it stands; PYG_REBUILD=1 retries a failed build.
# Sets pyg_backend_line: the status line.

pyg_backend() {
    local package="$1" version="${2:-}" spec status_dir status_file log wheel_dir wheel reason rc
    spec="${package}${version:+==${version}}"
    status_dir="${venv}/backend-status"
    status_file="${status_dir}/${package}"
    log="${status_file}.log"
    wheel_dir="${venv}/wheels"
    mkdir -p "${status_dir}" "${wheel_dir}"
    if "${py}" -m pip show "${package}" >/dev/null 2>&1; then
        if [[ ! -s "${status_file}" ]] || [[ "$(cat "${status_file}")" != installed* ]]; then
            echo "installed $("${py}" -m pip show "${package}" | sed -n 's/^Version: //p')" > "${status_file}"
        fi
        pyg_backend_line="$(cat "${status_file}")"
        return 0
    fi
    if [[ -s "${status_file}" && "${PYG_REBUILD:-0}" != "1" ]]; then  # a recorded failure: not rebuilt
        pyg_backend_line="$(cat "${status_file}")"
        return 0
    fi
    # a wheel built by an earlier run (the venv's wheels/): install it, do not compile again
    wheel="$(ls "${wheel_dir}/${package//-/_}-${version:-}"*.whl 2>/dev/null | head -1 || true)"
    if [[ -n "${wheel}" ]] && "${pip_cmd[@]}" -q -c "${constraints}" "${wheel}" >"${log}.install" 2>&1; then
        echo "installed ${version} (built from the sdist against torch ${installed_torch})" > "${status_file}"
        pyg_backend_line="$(cat "${status_file}")"
        return 0
    fi
    if "${pip_cmd[@]}" -q -c "${constraints}" --only-binary=:all: "${spec}" >"${log}" 2>&1; then
        echo "installed ${version} (binary wheel)" > "${status_file}"
        pyg_backend_line="$(cat "${status_file}")"
        return 0
    fi
    # ninja makes torch's BuildExtension compile MAX_JOBS files at once (without it: one at a time)
    "${pip_cmd[@]}" -q -c "${constraints}" ninja >>"${log}" 2>&1 || true
    echo "peers/pyg: building ${spec} from its source distribution against torch ${installed_torch}" \
         "(MAX_JOBS=${MAX_JOBS:-2}, up to ${PYG_BUILD_TIMEOUT:-1800} s; log: ${log})"
    local start=${SECONDS}
    set +e
    PATH="${venv}/bin:${PATH}" MAX_JOBS="${MAX_JOBS:-2}" FORCE_ONLY_CPU=1 \
        timeout "${PYG_BUILD_TIMEOUT:-1800}" "${py}" -m pip wheel -v --disable-pip-version-check --progress-bar off \
        -c "${constraints}" --no-deps --no-build-isolation --no-binary "${package}" -w "${wheel_dir}" "${spec}" \
        >>"${log}" 2>&1
    rc=$?
    set -e
    wheel="$(ls "${wheel_dir}/${package//-/_}-"*.whl 2>/dev/null | head -1 || true)"
    if [[ ${rc} -eq 0 && -n "${wheel}" ]] && "${pip_cmd[@]}" -q -c "${constraints}" "${wheel}" >>"${log}" 2>&1; then
        echo "installed $("${py}" -m pip show "${package}" | sed -n 's/^Version: //p') (built from the sdist" \
             "against torch ${installed_torch} in $((SECONDS - start)) s)" > "${status_file}"
    else
        if [[ ${rc} -eq 124 ]]; then
            reason="build timed out after ${PYG_BUILD_TIMEOUT:-1800} s"
        else
            reason="$(pyg_build_error "${log}")"
        fi
        echo "not installed: ${reason:-pip exit code ${rc}}" > "${status_file}"
    fi
    pyg_backend_line="$(cat "${status_file}")"
}

# The last meaningful error line of a build log: the first compiler error (the cause; later ones cascade),
# else the last error line that is not pip's or setuptools' wrapping; absolute paths shortened.
pyg_build_error() {
    local log="$1" line
    line="$(grep -m1 -E ': (fatal )?error: ' "${log}" || true)"
    if [[ -z "${line}" ]]; then
        local wrapping='subprocess-exited-with-error|Failed building wheel|Could not build wheels|failed-wheel-build'
        wrapping+='|legacy-install-failure|ERROR: Failed to build|^\s*(note|hint):'
        line="$(grep -E '(^|[^a-z])([A-Za-z]*Error|ERROR|error)[: ]' "${log}" | grep -v -E "${wrapping}" | tail -1 || true)"
    fi
    line="${line//${venv}/<venv>}"
    sed -E -e 's#/[^ :]*/pip-[a-z]+-[^/ :]+#<build>#g' -e 's#^\s+##' <<<"${line}" | cut -c1-300
}
