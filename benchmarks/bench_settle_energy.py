"""Benchmark: what every substrate's settle did, and the parts of its energy (issue 14, items 3-4).

    python benchmarks/bench_settle_energy.py --json            # the digits recipe, 30 epochs
    python benchmarks/bench_settle_energy.py --json --quick    # 8 epochs, 120 test images

On the digits recipe network (dense EBM 64-512-10, free phase up to 150 steps, tol 1e-4) and the
360 test images, every substrate predicts once and reports its ``settle_report()`` and ``cost()``:

* ``settle``: per substrate (``float``, ``crossbar_ideal``, ``crossbar_pcm_1h``, ``resistive_pcm``),
  the fraction of the samples whose settle converged and the median steps (sweeps for the
  resistive network), with the budget and the tolerance; ``settle_warned``: which of them
  logged the one "did not converge" warning (more than 1% unconverged);
* ``energy_breakdown_J``: per substrate with a cost model, the parts of one inference's energy
  (crossbar: array, DAC, ADC, neurons; resistive: network, DAC, ADC; spiking, on the first 32
  test images only: spikes, synaptic events, neuron steps) and ``energy_parts_max_rel_err``,
  the largest |sum of parts - total| / total over them (0 up to rounding);
* ``adc_share_by_bits``: on the ``pcm`` card at 1 h with ``adc.bits`` = 4, 6, 8, 9 (nothing else
  changed, the same programming seed, measured costs), the ADC's share of the energy, the
  share the converter law predicts from the 9-bit run's energy per conversion (x 2^(b-9), times
  the conversions counted at b bits; the other parts as measured at b bits) and
  ``adc_share_law_max_abs_err`` between the two.

``machine`` describes the machine (load average before and after).
"""

from __future__ import annotations

import logging
import math
import sys

from common import bench_parser, emit, load_average, machine, parse_args, summary_text
from digits import digits_splits, train_recipe

import torch

from analogeq.substrates import build_substrate
from hardware_models.cards import preset, with_value

BITS = (4, 6, 8, 9)
SPIKING_IMAGES = 32


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _predict(sub, x) -> None:
    with torch.no_grad():
        for start in range(0, len(x), 64):
            sub.predict(x[start:start + 64])


def run(quick: bool) -> dict:
    torch.set_num_threads(1)
    info = machine(("torch", "numpy", "numba"))
    splits = digits_splits()
    model = train_recipe(0, splits, epochs=8 if quick else None).model.eval()
    x = splits.test.x[:120] if quick else splits.test.x
    catcher = _Warnings()
    logging.getLogger("analogeq.settle").addHandler(catcher)
    subs = {
        "float": build_substrate("float", model),
        "crossbar_ideal": build_substrate("crossbar", model, card="ideal", drift_time_s=0.0, seed=1),
        "crossbar_pcm_1h": build_substrate("crossbar", model, card="pcm", drift_time_s=3600.0, seed=1),
        "resistive_pcm": build_substrate("resistive", model, card="pcm", drift_time_s=3600.0, seed=1),
        "spiking_ideal": build_substrate("spiking", model, card="spiking-ideal", seed=1, target="numpy"),
    }
    settle, parts, warned = {}, {}, {}
    for name, sub in subs.items():
        before = len(catcher.messages)
        # the spiking run is a fixed length of simulated time (no settle report): 32 images for its energy parts
        _predict(sub, x[:SPIKING_IMAGES] if name == "spiking_ideal" else x)
        settle[name] = sub.settle_report()
        warned[name] = catcher.messages[before:]
        cost = sub.cost()
        if cost is not None:
            parts[name] = {"total_J": cost["energy_per_inference_J"], **cost["energy_breakdown_J"]}
    errs = [abs(math.fsum(v for k, v in p.items() if k != "total_J") - p["total_J"]) / p["total_J"] for p in parts.values()]
    costs = {}
    card = preset("pcm")
    for bits in BITS:
        sub = build_substrate("crossbar", model, card=with_value(card, "adc.bits", bits), drift_time_s=3600.0, seed=1)
        _predict(sub, x)
        costs[bits] = sub.cost()
    top = costs[max(BITS)]
    e_adc_top = top["adc_energy_J"] / top["adc_conversions"]  # J per conversion at the top bits
    by_bits = {}
    for bits, c in costs.items():
        p = c["energy_breakdown_J"]
        adc_law = c["adc_conversions"] * e_adc_top * 2.0 ** (bits - max(BITS))  # E = FOM 2^bits per conversion
        rest = p["array"] + p["DAC"] + p["neurons"]
        by_bits[str(bits)] = {"adc_share": p["ADC"] / c["energy_per_inference_J"], "adc_share_law": adc_law / (rest + adc_law),
                              "adc_energy_J": p["ADC"], "total_J": c["energy_per_inference_J"],
                              "adc_conversions": c["adc_conversions"], "steps": c["steps"]}
    logging.getLogger("analogeq.settle").removeHandler(catcher)
    load = load_average()
    info["load_average_1min_after"] = load[0] if load else None
    return {
        "settle": settle,
        "settle_warned": {k: bool(v) for k, v in warned.items()},
        "settle_warnings": {k: v for k, v in warned.items() if v},
        "energy_breakdown_J": parts,
        "energy_parts_max_rel_err": max(errs),
        "adc_share_by_bits": by_bits,
        "adc_share_law_max_abs_err": max(abs(v["adc_share"] - v["adc_share_law"]) for v in by_bits.values()),
        "n_test": len(x),
        "quick": quick,
        "machine": info,
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="8 training epochs, 120 test images (about a minute)")
    args = parse_args(parser, argv)
    result = run(args.quick)
    emit(result, args, summary_text(result, ("energy_parts_max_rel_err", "adc_share_law_max_abs_err")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
