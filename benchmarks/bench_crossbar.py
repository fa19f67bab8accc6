"""Crossbar benchmark: per-read cost against a plain float32 matmul, exact IR drop, ngspice.

    python benchmarks/bench_crossbar.py --json           # full run
    python benchmarks/bench_crossbar.py --json --quick   # same keys, under a minute
    python benchmarks/bench_crossbar.py --json --threads 2

All timings run with ``--threads`` BLAS and Numba threads (default 1, as the aihwkit figures
in ANCHORS.md: "one thread"); both sides of every ratio use the same limit.

Keys (ISSUE 3 contract; ratios are measured in this one run from interleaved repeats: the
headline ratios divide the best times, ``*_median`` the medians):

* ``noisy_read_over_gemm``: one read of a 512x512 PCM-programmed tile, batch 256, 8-bit DAC and
  ADC, per-read PCM read noise (exact, as output noise) and TIA noise, divided by the time of
  ``x @ w`` with float32 numpy arrays of the same shapes.
* ``irdrop_read_over_gemm``: the same tile with wire resistance (exact IR drop, effective
  conductances computed once before timing).
* ``noisy_read_dac_over_gemm``, ``noisy_read_products_over_gemm``,
  ``noisy_read_noise_adc_over_gemm``: where the noisy read's time goes, each step of the read
  of ``noisy_read_over_gemm`` timed on its own (interleaved with the same ``x @ w``, best of the
  repeats): the DAC kernel, the two products (mean ``xq @ W.T`` and variance ``xq^2 @ S.T``,
  fixed-order sums as the read does them since issue 14), the kernel drawing the output noise
  and converting (ADC).
* ``irdrop_precompute_seconds_256`` / ``_512``: computing the effective conductance matrix of one
  N x N physical array (structured solver), best of the repeats.
* ``noisy_read_products_blas_over_gemm``: the same two products by BLAS (``xq @ W.T``), as reads
  did before they were made independent of the BLAS thread count (issue 14): the cost of the
  fixed-order products is ``noisy_read_products_over_gemm`` / this.
* ``read_noise_law_max_rel_err``: PCM read noise against its documented law (aihwkit's
  PCMLikeNoiseModel, ANCHORS.md: Q at the programmed conductance, scaled by |g(t)|), written out
  here: the per-output std of 2,000 reads (keys 0-1999) of a 32 x 48 PCM array (no converters,
  no drift compensation), pooled over outputs as sqrt(mean(var_emp / var_law)), at 1 h, 1 day
  and 1 year; the largest |ratio - 1|. Target <= 0.05 (sampling error ~0.003).
* ``adc_energy_bits_slope_ok``: true when the ADC energy of a tile read on the pcm card with
  ``adc.bits`` 4, 6, 8, 9 and 12 follows 2^dbits (ratio to the 9-bit energy within 1%);
  ``adc_energy_per_conversion_J_by_bits`` lists the energies.
* ``ngspice_max_rel_err``: max relative difference of the 32 column currents of a programmed
  32x32 tile with wires, ngspice versus our sparse nodal solve.
* ``ngspice_speedup_64``: ngspice's wall time (``ngspice -b``, one operating point) over ours
  for the same 64x64 tile, ours = the default exact path from conductances to currents (the
  structured factorisation into the effective conductance matrix, then one product), median of
  repeats; ``ngspice_speedup_64_sparse_lu`` uses one SuperLU factorisation and solve instead.
"""

from __future__ import annotations

import statistics
import sys
import time

from common import bench_parser, emit, interleaved_times, load_average, machine, parse_args

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from hardware_models.crossbar import (
    CrossbarArray, WireResistances, effective_conductance, kernels, solve_column_currents,
)
from hardware_models.cards import preset, with_value
from hardware_models.cost import tile_read_cost
from hardware_models.crossbar.products import fixed_order_matmul
from hardware_models.devices import PCMDevice
from hardware_models.export.spice import crossbar_netlist, find_ngspice, run_ngspice

# 0.1 ohm per cell segment, 10 ohm drivers and sense inputs: at 512 x 512 with PCM (mean cell ~12 uS)
# the IR drop changes the effective weights by ~10% (irdrop_weight_change_rel)
WIRES = WireResistances(r_row_segment_ohm=0.1, r_col_segment_ohm=0.1, r_source_ohm=10.0, r_sense_ohm=10.0)
T_READ_S = 20.0  # the PCM drift reference time: read noise on, drift factor 1


def crossbar_machine() -> dict:
    """The machine and the versions behind the timings (torch: version only, never imported)."""
    return machine(
        ("numpy", "scipy", "numba", "torch"),
        numba_threads=numba.get_num_threads(),
        numba_threading_layer_requested=numba.config.THREADING_LAYER,
        load_average=load_average(),
    )


def _pcm_array(n: int, seed: int, wires: WireResistances | None) -> CrossbarArray:
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((n, n))
    return CrossbarArray(
        weights, PCMDevice(), dac_bits=8, adc_bits=8, adc_range_units=12.0, tia_noise_units=0.06,
        wires=wires, max_rows=512, max_cols=512, seed=seed,
    )


def time_reads(model, batch: int, repeats: int) -> dict:
    """Median times of one read and of the float32 matmul of the same shapes, interleaved."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (batch, model.n_in)).astype(np.float32)
    w = np.ascontiguousarray(rng.standard_normal((model.n_in, model.n_out)).astype(np.float32))
    read_rng = np.random.default_rng(2)
    # 3 warm-up rounds: compilation, caches
    times = interleaved_times({"gemm": lambda: x @ w, "read": lambda: model.read(x, read_rng)}, repeats, warmup=3)
    t_read, t_gemm = times["read"], times["gemm"]
    return {
        "ratio_median": statistics.median(t_read) / statistics.median(t_gemm),
        "ratio_min": min(t_read) / min(t_gemm),
        "read_median_s": statistics.median(t_read),
        "gemm_median_s": statistics.median(t_gemm),
    }


def time_read_parts(model, batch: int, repeats: int) -> dict:
    """Best times of the steps of one read (one tile), each over the best ``x @ w``, interleaved."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (batch, model.n_in)).astype(np.float32)
    w = np.ascontiguousarray(rng.standard_normal((model.n_in, model.n_out)).astype(np.float32))
    w_eff, s2_eff = model.w_eff, model.sigma2_eff
    noise_var = float(model.out_noise_std[0, 0]) ** 2
    step, clip = float(model.adc_step[0, 0]), float(model.adc_clip[0, 0])
    w_t, s2_t = np.ascontiguousarray(w_eff.T), np.ascontiguousarray(s2_eff.T)
    times = {"gemm": [], "dac": [], "products": [], "noise_adc": [], "products_blas": []}
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        _ = x @ w
        t1 = time.perf_counter()
        xq, xq2, _ = kernels.dac_kernel(x, model.dac.step, model.dac.clip, model.dtype)
        t2 = time.perf_counter()
        mean = fixed_order_matmul(xq, w_t)
        var = fixed_order_matmul(xq2, s2_t)
        t3 = time.perf_counter()
        kernels.adc_kernel(mean, var, noise_var, i, 0, model.n_out, step, clip, mean, accumulate=False)
        t4 = time.perf_counter()
        _ = xq @ w_eff.T
        _ = xq2 @ s2_eff.T
        t5 = time.perf_counter()
        if i >= 3:  # warm-up
            for name, t in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                times[name].append(t)
    best_gemm = min(times.pop("gemm"))
    return {name: min(t) / best_gemm for name, t in times.items()}


def noisy_reads(quick: bool) -> dict:
    repeats = 40 if quick else 300
    out = {}
    plain = _pcm_array(512, seed=3, wires=None).read_model(T_READ_S, "forward")
    assert plain.sigma2_eff is not None  # PCM read noise is on at t = 20 s
    res = time_reads(plain, 256, repeats)
    out["noisy_read_over_gemm"] = res["ratio_min"]
    out["noisy_read_over_gemm_median"] = res["ratio_median"]
    out["noisy_read_median_ms"] = 1e3 * res["read_median_s"]
    out["gemm_median_ms"] = 1e3 * res["gemm_median_s"]
    assert plain.n_tiles == (1, 1)  # time_read_parts times a one-tile read
    for name, ratio in time_read_parts(plain, 256, repeats // 2).items():
        out[f"noisy_read_{name}_over_gemm"] = ratio

    t0 = time.perf_counter()
    ir_array = _pcm_array(512, seed=3, wires=WIRES)
    ir_model = ir_array.read_model(T_READ_S, "forward")
    out["irdrop_read_model_build_seconds_512"] = time.perf_counter() - t0  # both arrays of the pair
    res = time_reads(ir_model, 256, repeats)
    out["irdrop_read_over_gemm"] = res["ratio_min"]
    out["irdrop_read_over_gemm_median"] = res["ratio_median"]
    w_ideal = plain.w_eff.astype(np.float64)
    out["irdrop_weight_change_rel"] = float(np.linalg.norm(ir_model.w_eff - w_ideal) / np.linalg.norm(w_ideal))
    return out


def _aihwkit_read_sigma(g_prog: np.ndarray, nu: np.ndarray, t: float) -> np.ndarray:
    """aihwkit PCMLikeNoiseModel read-noise std [S] (ANCHORS.md), written out: Q at g_prog."""
    g_drift = g_prog * (t / 20.0) ** (-nu)
    q = np.minimum(0.0088 / np.maximum((np.abs(g_prog) / 25e-6) ** 0.65, 1e-3), 0.2)
    return np.abs(g_drift) * q * np.sqrt(np.log((t + 250e-9) / (2 * 250e-9)))


def physics_laws() -> dict:
    """``read_noise_law_max_rel_err`` and ``adc_energy_bits_slope_ok`` (module docstring)."""
    rng = np.random.default_rng(11)
    arr = CrossbarArray(rng.uniform(-1, 1, (32, 48)), PCMDevice(), w_max=1.0, drift_compensation="none",
                        dtype=np.float64, seed=4)
    x = rng.uniform(-1, 1, 48)
    p = arr.programmed
    errors = {}
    for label, t in (("1h", 3600.0), ("1day", 86400.0), ("1year", 365.25 * 86400.0)):
        s = _aihwkit_read_sigma(np.asarray(p.g_prog_S), np.asarray(p.nu), t)
        var_law = (x * x) @ ((s[0] ** 2 + s[1] ** 2) / arr.span_S**2).T
        model = arr.read_model(t)
        y = np.stack([model.read(x, key=k) for k in range(2000)])
        errors[label] = float(np.sqrt(np.mean(y.var(axis=0, ddof=1) / var_law)) - 1.0)
    out = {"read_noise_law_max_rel_err": max(abs(e) for e in errors.values()),
           "read_noise_law_rel_err_by_time": errors}
    card = preset("pcm")
    g = np.full((64, 32), 10e-6)
    v = np.full((4, 64), 0.1)
    energy = {b: tile_read_cost(with_value(card, "adc.bits", b), g, g, v).adc_energy_J / (4 * 32)
              for b in (4, 6, 8, 9, 12)}
    out["adc_energy_bits_slope_ok"] = all(abs(energy[b] / energy[9] / 2.0 ** (b - 9) - 1.0) <= 0.01 for b in energy)
    out["adc_energy_per_conversion_J_by_bits"] = {str(b): e for b, e in energy.items()}
    return out


def precompute(quick: bool) -> dict:
    out = {}
    for n, repeats in ((256, 1 if quick else 3), (512, 1 if quick else 2)):
        g = np.random.default_rng(n).uniform(0.0, 25e-6, (n, n))
        times = interleaved_times({"g_eff": lambda: effective_conductance(g, WIRES)}, repeats, warmup=0)
        out[f"irdrop_precompute_seconds_{n}"] = min(times["g_eff"])
    return out


def _tile(n: int, seed: int):
    array = _pcm_array(n, seed=seed, wires=WIRES)
    g_plus, _ = array.tile_conductances(3600.0, 0, 0)
    x = np.random.default_rng(seed + 1).uniform(-1, 1, n)
    return g_plus, array.v_read_V * np.rint(x * 127) / 127


def ngspice(quick: bool) -> dict:
    if find_ngspice() is None:
        return {"ngspice_max_rel_err": None, "ngspice_speedup_64": None, "ngspice_note": "ngspice not found"}
    out = {}
    g, v = _tile(32, seed=5)
    spice = run_ngspice(crossbar_netlist(g, v, WIRES))
    ours = solve_column_currents(g, v, WIRES)
    out["ngspice_max_rel_err"] = float(np.max(np.abs(spice - ours) / np.abs(ours)))
    out["ngspice_max_rel_err_g_eff"] = float(np.max(np.abs(spice - v @ effective_conductance(g, WIRES)) / np.abs(spice)))

    g, v = _tile(64, seed=6)
    netlist = crossbar_netlist(g, v, WIRES)
    t0 = time.perf_counter()
    spice = run_ngspice(netlist)
    t_spice = time.perf_counter() - t0
    times = interleaved_times({"sparse_lu": lambda: solve_column_currents(g, v, WIRES),
                               "g_eff": lambda: v @ effective_conductance(g, WIRES)}, 3 if quick else 7, warmup=0)
    geff_times, ours_times = times["g_eff"], times["sparse_lu"]
    ours = solve_column_currents(g, v, WIRES)
    ours_geff = v @ effective_conductance(g, WIRES)
    out["ngspice_seconds_64"] = t_spice
    out["ours_seconds_64"] = statistics.median(geff_times)
    out["ngspice_speedup_64"] = t_spice / statistics.median(geff_times)
    out["ngspice_speedup_64_sparse_lu"] = t_spice / statistics.median(ours_times)
    out["ngspice_max_rel_err_64"] = float(max(np.max(np.abs(spice - ours) / np.abs(ours)),
                                              np.max(np.abs(spice - ours_geff) / np.abs(ours_geff))))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="fewer repeats (same keys, under a minute)", description="line",
                          threads_help="BLAS and Numba threads for every timing (default 1)")
    args = parse_args(parser, argv)
    t_start = time.perf_counter()
    threads = min(args.threads, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        result = {"benchmark": "crossbar", "quick": bool(args.quick), "threads": args.threads, "machine": crossbar_machine()}
        result.update(noisy_reads(args.quick))
        result.update(precompute(args.quick))
        result.update(physics_laws())
        result.update(ngspice(args.quick))
    result["wall_seconds"] = time.perf_counter() - t_start
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
