"""brian2cuda's ``cuda_standalone`` mode of the spiking substrate against ``cpp_standalone``, in one run.

    python benchmarks/bench_spiking_cuda.py --json [--quick]     (run by benchmarks/gpu.sh)

Keys: ``spiking_cuda_ms_per_sample_64_256_10`` (wall time per sample of one ``logits`` call on
256 stacked copies of an untrained digits 64-256-10 dense EBM, 100 ms simulated, warm caches),
``cuda_over_cpp_standalone_wall`` (the same call on cpp_standalone, same run), both modes' rows
(events per sample, ns per event) and ``cuda_same_spike_counts``. Without a GPU or brian2cuda it
writes ``{"skipped": "<reason>"}`` and exits 0.
"""

from __future__ import annotations

import sys

from common import bench_parser, emit, parse_args

import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.substrates.spiking.backend import cuda_unavailable_reason
from bench_spiking import SPEED_BATCH, spiking_machine, time_logits


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="8 copies, 10 ms simulated", seed=True, description="line")
    parser.add_argument("--cache-dir", default=None, help="Brian2 compiled-code cache")
    args = parse_args(parser, argv)
    reason = cuda_unavailable_reason()
    if reason is not None:
        emit({"skipped": f"cuda_standalone: {reason}"}, args)
        return 0
    torch.manual_seed(args.seed)
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(256,), readout="mse", init_gain=1.5, seed=args.seed)).eval()
    batch, sim = (8, 0.01) if args.quick else (SPEED_BATCH, 0.1)
    x = torch.rand(batch, 1, 8, 8, generator=torch.Generator().manual_seed(args.seed))
    rows = {mode: time_logits(model, x, mode, args.cache_dir, simulated_s=sim) for mode in ("cuda_standalone", "cpp_standalone")}
    cu, cpp = rows["cuda_standalone"], rows["cpp_standalone"]
    out = {"machine": spiking_machine(), "quick": bool(args.quick), "modes": rows,
           "spiking_cuda_ms_per_sample_64_256_10": cu["ms_per_sample"] * (0.1 / sim),
           "cuda_over_cpp_standalone_wall": cu["wall_s"] / cpp["wall_s"],
           "cuda_same_spike_counts": cu["spikes_per_inference"] == cpp["spikes_per_inference"]}
    emit(out, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
