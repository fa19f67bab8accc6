#!/usr/bin/env bash
# One-shot GPU check for a machine with an NVIDIA GPU, from a fresh clone (setup included, < 8 min):
#   1. a Python with a CUDA build of torch (the one given as $PYTHON or python3 if it has one,
#      otherwise a new .venv-gpu with torch from the default index) and this package;
#   2. the CPU-vs-CUDA agreement tests (pytest -m cuda: float logits, an ideal-card crossbar read,
#      an EqProp step);
#   3. benchmarks/bench_gpu.py --json: settle throughput (images/s) of the CIFAR-10-shape conv EBM
#      on float and crossbar, and one EqProp training step's time, at batch 128.
#   4. the spiking substrate's brian2cuda mode (pip install brian2cuda, last): pytest -m cuda
#      tests/test_spiking_conv_train.py and benchmarks/bench_spiking_cuda.py --json.
# Writes $RESULTS_DIR/bench_gpu.json (default benchmarks/results) and prints it.
#     bash benchmarks/gpu.sh            # full run
#     bash benchmarks/gpu.sh --quick    # batch 8, 3 steps (a smoke test of the script itself)
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS_DIR=${RESULTS_DIR:-benchmarks/results}
PY=${PYTHON:-python3}
has_cuda_torch() { "$1" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; }

if ! has_cuda_torch "$PY"; then
    echo "gpu.sh: $PY has no CUDA build of torch; creating .venv-gpu with torch from the default index" >&2
    [ -x .venv-gpu/bin/python ] || "$PY" -m venv .venv-gpu
    PY=.venv-gpu/bin/python
    "$PY" -m pip install -q torch
    has_cuda_torch "$PY" || { echo "gpu.sh: error: torch sees no CUDA device on this machine (nvidia-smi?)" >&2; exit 2; }
fi
# the package and its test dependencies; offline machines fall back to what is already installed
if ! timeout 300 "$PY" -m pip install -q -e ".[test]" 2>/dev/null; then
    echo "gpu.sh: pip could not install the dependencies (offline?); using what is installed" >&2
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -c "import analogeq, numba, torch; print('gpu.sh: torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
timeout 180 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda_agreement.py
mkdir -p "$RESULTS_DIR"
timeout 240 "$PY" benchmarks/bench_gpu.py --json --output "$RESULTS_DIR/bench_gpu.json" "$@"
# 4. the spiking substrate's brian2cuda mode (target="cuda_standalone"): brian2cuda pins its own
#    Brian2 version, so it is installed last, in this Python only; its test and one timing
if timeout 300 "$PY" -m pip install -q brian2cuda 2>/dev/null; then
    timeout 300 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/test_spiking_conv_train.py
    timeout 300 "$PY" benchmarks/bench_spiking_cuda.py --json --output "$RESULTS_DIR/bench_spiking_cuda.json" "$@"
else
    echo "gpu.sh: brian2cuda could not be installed (offline?); the spiking cuda_standalone mode was not run" >&2
fi
