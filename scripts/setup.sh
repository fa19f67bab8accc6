#!/usr/bin/env bash
# Create .venv and install analogeq with everything it needs (".[all,test]" and ngspice).
#
# Safe and quick to run again: the Python packages are installed only when .venv is new, when
# pyproject.toml or this script changed since the last successful install (their SHA-256 is kept
# in .venv/.analogeq-setup.sha256), or when analogeq, torch or brian2 can no longer be found.
# ANALOGEQ_SETUP_FORCE=1 reinstalls anyway. pip runs quietly (-q): only errors are printed (and
# no warnings about package-index folders that do not exist on this machine).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ngspice >/dev/null 2>&1; then
    echo "setup: installing ngspice (apt)"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq ngspice >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq && sudo apt-get install -y -qq ngspice >/dev/null
    else
        echo "setup: warning: ngspice is not installed and this user cannot install it; SPICE tests will be skipped" >&2
    fi
fi

[ -x .venv/bin/python ] || { echo "setup: creating .venv"; python3 -m venv .venv; }

stamp=.venv/.analogeq-setup.sha256
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "${ANALOGEQ_SETUP_FORCE:-0}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
        && .venv/bin/python -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('analogeq', 'torch', 'brian2', 'pytest')))" 2>/dev/null; then
    echo "setup: .venv is up to date (pyproject.toml unchanged since the last install)"
    exit 0
fi

echo "setup: installing the Python packages into .venv (a few minutes on a fresh machine)"
rm -f "$stamp"
# the CPU build of torch first: a bare 'torch' requirement would pull the multi-GB CUDA build
quiet_pip() {
    .venv/bin/pip install -q "$@" 2> >(grep -v "^WARNING: Location '.*' is ignored: it is neither a file nor a directory" >&2)
}
quiet_pip torch==2.13.0
quiet_pip -e ".[all,test]"
echo "$want" > "$stamp"
echo "setup: done"
