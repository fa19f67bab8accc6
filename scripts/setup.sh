#!/usr/bin/env bash
# Create .venv and install analogeq with everything it needs (Python packages and ngspice).
# Safe to run again: it reuses what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ngspice >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && apt-get install -y ngspice
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update && sudo apt-get install -y ngspice
    else
        echo "warning: ngspice is not installed and this user cannot install it; SPICE tests will be skipped" >&2
    fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# the CPU build of torch first: a bare 'torch' requirement would pull the multi-GB CUDA build
.venv/bin/pip install torch==2.13.0
.venv/bin/pip install -e ".[test]"
