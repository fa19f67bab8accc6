#!/usr/bin/env bash
# Fresh machine -> set up and run the main job: the end-to-end demo on the bundled digits data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/analogeq demo "$@"
