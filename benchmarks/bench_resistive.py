"""Deep resistive networks (issue 18): exactness against ngspice, the ideal-diode limit, speed,
EqProp against the implicit gradient, and digits trained with EqProp on ideal and PCM conductances.

    python benchmarks/bench_resistive.py --json [--quick]

Keys: resistive_ngspice_max_rel_err (64-128-10, Shockley, one sample), resistive_ngspice_speedup
(ngspice's wall time over ours for that operating point, our network build, packing and settle
included; one run, interleaved), resistive_ideal_vs_limit_max_abs_err (ideal solve vs Shockley
as n V_T -> 0, with the sequence), resistive_batch_throughput_samples_per_s ((2, 28, 28)-1024-10,
batch 256, one thread, mnist-5k training images), resistive_ep_vs_implicit_cosine_min,
resistive_digits_test_accuracy (EqProp) and resistive_digits_bp_twin_accuracy (the same network and
schedule trained with the exact implicit gradient, i.e. recurrent backprop at the steady state),
resistive_digits_pcm_1day_accuracy_mean with its 95% interval over programming draws, and
resistive_energy_per_inference_J (PCM card, 1 day).
"""

from __future__ import annotations

import os
import time

from common import bench_parser, emit, machine, parse_args  # first: sets the OpenMP wait policy
from digits import digits_splits

import numba
import numpy as np
import torch

from analogeq.data import load_dataset
from analogeq.stats import mean_ci95
from analogeq.substrates import build_substrate
from analogeq.substrates.resistive import ResistiveClassifier
from analogeq.train.resistive_eqprop import (
    ResistiveEqPropConfig,
    accuracy,
    eqprop_gradients,
    implicit_gradients,
    targets_V,
    train_epoch,
)
from hardware_models.resistive import IdealDiode, ResistiveNetwork, ShockleyDiode, settle
from hardware_models.resistive.netlist import resistive_netlist, run_ngspice_voltages


def ngspice_figures(repeats: int, ours_per_repeat: int = 10) -> dict:
    """ngspice's operating point (one process per netlist, as a user runs it) against ours: the
    network built from its conductance arrays, packed and settled, per call. Each repeat runs
    ngspice once and ours ``ours_per_repeat`` times in a row (their medians are compared)."""
    rng = np.random.default_rng(0)
    sizes = (64, 128, 10)
    diode = ShockleyDiode(i_s_A=1e-12, n=1.0)
    g = [rng.uniform(1e-7, 25e-6, s) for s in [(128, 128), (128, 10)]]
    b = [rng.uniform(1e-7, 25e-6, (2, n)) for n in sizes[1:]]
    x = rng.random((1, 64))

    def ours():
        net = ResistiveNetwork(sizes, tuple(g), input_gain=2.0, diode=diode, bias_conductances_S=tuple(b))
        return settle(net, x, tol_A=1e-18).voltages_V[0]

    net = ResistiveNetwork(sizes, tuple(g), input_gain=2.0, diode=diode, bias_conductances_S=tuple(b))
    text = resistive_netlist(net, x[0])
    v = ours()  # compile
    t_ours, t_spice = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        spice = run_ngspice_voltages(text)
        t_spice.append(time.perf_counter() - t)
        for _ in range(ours_per_repeat):
            t = time.perf_counter()
            v = ours()
            t_ours.append(time.perf_counter() - t)
    rel = np.abs(v - spice) / np.abs(spice)
    return {"resistive_ngspice_max_rel_err": float(rel.max()),
            "resistive_ngspice_speedup": float(np.median(t_spice) / np.median(t_ours)),
            "resistive_ngspice_seconds": float(np.median(t_spice)), "resistive_ours_seconds": float(np.median(t_ours)),
            "resistive_ngspice_timing_calls": {"ngspice": len(t_spice), "ours": len(t_ours)}}


def ideal_limit_figures() -> dict:
    rng = np.random.default_rng(1)
    net = ResistiveNetwork.random((64, 128, 10), rng, input_gain=2.0)
    x = rng.random((16, 64))
    ideal = settle(net, x, tol_A=1e-15).voltages_V
    errors = {}
    for n in (1.0, 0.1, 0.01, 0.001, 0.0001):
        shockley = settle(net.with_diode(ShockleyDiode(i_s_A=1e-12, n=n)), x, tol_A=1e-15).voltages_V
        errors[f"{n * ShockleyDiode().v_t_V:.3g}"] = float(np.abs(shockley - ideal).max())
    return {"resistive_ideal_vs_limit_max_abs_err": errors[min(errors, key=float)],
            "resistive_ideal_vs_limit_by_nVT_V": errors}


def throughput_figures(batch: int, repeats: int) -> dict:
    """(2, 28, 28)-1024-10: 784 inputs, each a +x and a -x source (the (2, 28, 28) of Scellier
    2024), random conductances, the first ``batch`` mnist-5k training images, one Numba thread."""
    rng = np.random.default_rng(2)
    net = ResistiveNetwork.random((784, 1024, 10), rng, input_gain=4.0)
    images = load_dataset("mnist-5k").train.x[:batch]
    x = images.reshape(len(images), -1).numpy().astype(np.float64)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        settle(net, x[:2], tol_A=1e-10)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            r = settle(net, x, tol_A=1e-10)
            times.append(time.perf_counter() - t)
    finally:
        numba.set_num_threads(threads)
    return {"resistive_batch_throughput_samples_per_s": float(batch / np.median(times)),
            "resistive_batch_mean_sweeps": float(r.sweeps.mean()), "resistive_batch_size": batch,
            "resistive_batch_inputs": f"mnist-5k train[:{batch}]", "resistive_batch_threads": 1}


def cosine_figures() -> dict:
    out = []
    for diode in (IdealDiode(), ShockleyDiode(i_s_A=1e-10)):
        rng = np.random.default_rng(3)
        net = ResistiveNetwork.random((32, 64, 32, 10), rng, diode=diode, input_gain=2.0)
        x, t = rng.random((32, 32)), targets_V(rng.integers(0, 10, 32), 10, 0.3)
        exact, exact_b, _ = implicit_gradients(net, x, t, tol_A=1e-18)
        ep, ep_b, _ = eqprop_gradients(net, x, t, 1e-7, tol_A=1e-18)
        out += [float((a * e).sum() / (np.linalg.norm(a) * np.linalg.norm(e))) for a, e in zip(exact + exact_b, ep + ep_b)]
    return {"resistive_ep_vs_implicit_cosine_min": min(out)}


def _flat(split):
    return split.x.reshape(len(split.x), -1).numpy().astype(np.float64), split.y.numpy()


def digits_figures(epochs: int, draws: int) -> dict:
    splits = digits_splits()
    (xtr, ytr), (xte, yte) = _flat(splits.train), _flat(splits.test)
    result = {"resistive_digits_epochs": epochs}
    trained = {}
    for gradient in ("eqprop", "implicit"):
        rng = np.random.default_rng(0)
        net = ResistiveNetwork.random((64, 100, 10), rng, g_min_S=1e-7, g_max_S=25e-6, input_gain=4.0)
        net = net.with_conductances([rng.uniform(1e-7, 5e-6, g.shape) for g in net.conductances_S],
                                    [rng.uniform(1e-7, 5e-6, b.shape) for b in net.bias_conductances_S])
        config = ResistiveEqPropConfig(beta_S=1e-6, target_V=0.3, lr=5.0, batch_size=16, tol_A=1e-10,
                                       max_sweeps=500, gradient=gradient)
        for epoch in range(epochs):
            net, _ = train_epoch(net, xtr, ytr, config, seed=0, epoch=epoch)
        trained[gradient] = net
    result["resistive_digits_test_accuracy"] = accuracy(trained["eqprop"], xte, yte)
    result["resistive_digits_bp_twin_accuracy"] = accuracy(trained["implicit"], xte, yte)
    model = ResistiveClassifier(trained["eqprop"], (1, 8, 8), tol_A=1e-10)
    x = splits.test.x
    accs, energies, sweeps = [], [], []
    for seed in range(draws):
        sub = build_substrate("resistive", model, card="pcm", drift_time_s=86400.0, seed=seed, tol_A=1e-10)
        with torch.no_grad():
            accs.append(float((sub.logits(x).argmax(1) == splits.test.y).float().mean()))
        cost = sub.cost()
        energies.append(cost["energy_per_inference_J"])
        sweeps.append(cost["mean_sweeps"])
    mean, half = mean_ci95(accs)
    result.update({"resistive_digits_pcm_1day_accuracy_mean": mean, "resistive_digits_pcm_1day_accuracy_ci95": half,
                   "resistive_digits_pcm_draws": draws, "resistive_energy_per_inference_J": float(np.mean(energies)),
                   "resistive_digits_pcm_mean_sweeps": float(np.mean(sweeps))})
    return result


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(bench_parser(__doc__, quick_help="smaller batch, fewer epochs and draws (same keys)"), argv)
    result = {"machine": machine(("numpy", "numba", "torch"), numba_threads=os.environ.get("NUMBA_NUM_THREADS"))}
    result.update(ngspice_figures(repeats=1 if args.quick else 3))
    result.update(ideal_limit_figures())
    result.update(throughput_figures(batch=64 if args.quick else 256, repeats=1 if args.quick else 3))
    result.update(cosine_figures())
    result.update(digits_figures(epochs=4 if args.quick else 30, draws=3 if args.quick else 10))
    emit(result, args)
    return result


if __name__ == "__main__":
    main()
