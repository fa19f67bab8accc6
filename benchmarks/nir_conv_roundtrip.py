"""Benchmark: NIR round trip of a convolutional EBM (issue 16), also run by ``bench_spiking.py``.

    python benchmarks/nir_conv_roundtrip.py --json            # recipe mnist5k_conv_avg's shape, 64 test digits
    python benchmarks/nir_conv_roundtrip.py --json --quick    # the same on 16 digits

A conv EBM of the ``mnist5k_conv_avg`` shape (28x28, 16-32 channels, 5x5 kernels, 2x2 average
pools, ce readout; seeded random weights and biases: the round trip does not depend on training)
is exported (:func:`analogeq.substrates.spiking.nir_conv.export_conv_ebm_nir`), written with
``nir.write``, read with ``nir.read`` and imported back. Keys:

* ``nir_conv_roundtrip_max_abs_err``: max |difference| over every weight and bias of the two
  networks and over the class scores of the float settle of mnist-5k test digits (target 0);
* ``nir_conv_file_bytes``, ``nir_conv_node_types`` (count per NIR node type), ``nir_conv_seconds``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter

from common import bench_parser, emit, machine, parse_args  # first: sets OMP_WAIT_POLICY before torch loads

import torch

from analogeq.data import load_dataset
from analogeq.models import build_model
from analogeq.substrates.spiking.nir_conv import export_conv_ebm_nir, import_conv_ebm_nir, roundtrip_errors
from analogeq.train.recipes import recipe
from hardware_models import preset

__all__ = ["nir_conv_roundtrip"]


def nir_conv_roundtrip(quick: bool, seed: int = 0) -> dict:
    """The keys of the module docstring."""
    t0 = time.perf_counter()
    model = build_model(recipe("mnist5k_conv_avg", seed)[0]).eval()
    with torch.no_grad():
        for i, b in enumerate(model.biases):
            b.uniform_(-0.1, 0.1, generator=torch.Generator().manual_seed(seed + i))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "conv.nir")
        graph = export_conv_ebm_nir(model, path, card=preset("spiking-ideal"))
        size = os.path.getsize(path)
        back, _ = import_conv_ebm_nir(path)
    x = load_dataset("mnist-5k", seed=0).test.x[: 16 if quick else 64]
    errors = roundtrip_errors(model, back, x)
    err, err_logits = errors["weights"], errors["logits"]
    return {"nir_conv_roundtrip_max_abs_err": max(err, err_logits), "nir_conv_weights_max_abs_err": err,
            "nir_conv_logits_max_abs_err": err_logits, "nir_conv_images": int(x.shape[0]), "nir_conv_file_bytes": size,
            "nir_conv_node_types": dict(Counter(type(n).__name__ for n in graph.nodes.values())),
            "nir_conv_model": "mnist5k_conv_avg shape, random weights", "nir_conv_seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="16 test digits", threads_help="torch threads (default 1)", seed=True)
    args = parse_args(parser, argv)
    torch.set_num_threads(args.threads)
    result = nir_conv_roundtrip(args.quick, args.seed)
    result["machine"] = machine(("torch", "numpy", "nir"), torch_threads=args.threads)
    emit(result, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
