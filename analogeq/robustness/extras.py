"""The measurements of an evaluation beyond attacks: natural corruptions, randomized-smoothing
certification, feature-squeezing detection and the energy view.

Each returns its section of the result (``{"available": False, ...}`` when the suite switches
it off or the data cannot take it, with a ``note`` saying why where it is the data). Streams
(``derive_seed(seed, name)``): ``corruptions/images`` (the corruptions' own noise),
``corruptions/draws``, ``certify``, ``detection``, ``energy``.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from analogeq.robustness import certify, detect, energy
from analogeq.robustness.corruptions import CORRUPTION_NAMES, corrupt
from analogeq.robustness.runner import Evaluator
from analogeq.stats import mean_ci95


def corruptions(ev: Evaluator, clean_acc: float) -> dict[str, Any]:
    """Accuracy under the CIFAR-10-C corruptions x severities on the first
    ``corruption_examples`` examples: each corrupted batch is made once (seeded) and classified
    over the evaluation draws; ``mean`` is the mean over types and severities (per draw, then
    mean and 95% interval over draws)."""
    suite = ev.suite
    if not suite.corruption_severities or suite.corruption_examples == 0:
        return {"available": False}
    if ev.x.dim() != 4 or ev.x.shape[1] not in (1, 3):
        return {"available": False, "note": f"corruptions need (C, H, W) images with C in (1, 3), got {tuple(ev.x.shape[1:])}"}
    started = time.perf_counter()
    names = suite.corruption_names or tuple(CORRUPTION_NAMES)
    m = min(ev.n, suite.corruption_examples)
    x, y = ev.x[:m].cpu(), ev.y[:m].cpu()
    image_seed = ev.seed_of("corruptions/images")
    per_cell = {}  # (name, severity) -> accuracy per draw
    ev.substrate.reseed(ev.seed_of("corruptions/draws"))
    for name in names:
        for sev in suite.corruption_severities:
            correct = [torch.zeros(m, dtype=torch.bool) for _ in range(ev.draws)]
            for i in range(0, m, ev.batch_size):
                xc = corrupt(x[i:i + ev.batch_size], name, sev, image_seed, first_index=i).to(ev.substrate.device)
                for d in range(ev.draws):
                    correct[d][i:i + xc.shape[0]] = ev.substrate.predict(xc).cpu() == y[i:i + xc.shape[0]]
            per_cell[(name, sev)] = [float(c.float().mean()) for c in correct]
    per_draw = [sum(v[d] for v in per_cell.values()) / len(per_cell) for d in range(ev.draws)]
    mean, half = mean_ci95(per_draw)
    wall = time.perf_counter() - started
    ev.timings["corruptions"] = wall / m * 100.0
    table = {name: {str(sev): sum(per_cell[(name, sev)]) / ev.draws for sev in suite.corruption_severities} for name in names}
    return {"available": True, "mean": mean, "ci95": half if ev.draws > 1 else None, "per_draw": per_draw,
            "clean_accuracy": clean_acc, "n_examples": m, "severities": list(suite.corruption_severities),
            "table": table, "wall_time_s": wall}


def certification(ev: Evaluator) -> dict[str, Any]:
    """Randomized-smoothing CERTIFY (Cohen et al. 2019) on the first ``certify_examples`` examples."""
    suite = ev.suite
    if suite.certify_examples == 0:
        return {"available": False}
    started = time.perf_counter()
    m = min(ev.n, suite.certify_examples)
    x, y = ev.x[:m], ev.y[:m]
    result = certify.certify(ev.substrate, x, suite.certify_sigma, n0=suite.certify_n0, n=suite.certify_n,
                             alpha=suite.certify_alpha, batch_size=min(suite.certify_n, 1000), seed=ev.seed_of("certify"))
    summary = dict(certify.summarize(result, y.cpu(), suite.certify_radii))
    wall = time.perf_counter() - started
    ev.timings["certification"] = wall / m * 100.0
    return {"available": True, "sigma": suite.certify_sigma, "n0": suite.certify_n0, "n": suite.certify_n,
            "alpha": suite.certify_alpha, "n_examples": m, **summary, "wall_time_s": wall}


def detection(ev: Evaluator, adversarial: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Feature squeezing (Xu et al. 2018), threshold at 5% false positives fitted on the first
    half of the clean batch; false positives measured on the second half, detection rates on
    the adversarial versions of the second half. Grey images get Xu et al.'s MNIST squeezers
    (1 bit, 2x2 median), colour images their CIFAR-10 joint detector (5 bits, 2x2 median,
    NL-means 13-3-2)."""
    if not adversarial:
        return {"available": False}
    if ev.x.dim() != 4 or ev.n < 4:
        return {"available": False, "note": "feature squeezing needs (C, H, W) images and at least 4 examples"}
    started = time.perf_counter()
    half = ev.n // 2
    draws = min(ev.draws, 5)
    if ev.x.shape[1] == 1:
        config = detect.FeatureSqueezingConfig(bits=1, median_size=2, nl_means=None, n_draws=draws)
    else:
        config = detect.FeatureSqueezingConfig(n_draws=draws)
    ev.substrate.reseed(ev.seed_of("detection"))
    detector = detect.FeatureSqueezing(ev.substrate, config).fit(ev.x[:half])
    report = detector.evaluate(ev.x[half:], {k: v[half:] for k, v in adversarial.items()}, labels=ev.y[half:].cpu())
    wall = time.perf_counter() - started
    ev.timings["detection"] = wall / ev.n * 100.0
    return {"available": True, "n_calibration": half, **report, "wall_time_s": wall}


def energy_view(ev: Evaluator, adversarial: dict[str, torch.Tensor]) -> dict[str, Any]:
    """E(x) = -logsumexp f(x) of the clean batch and of each headline adversarial batch."""
    if not adversarial:
        return {"available": False}
    started = time.perf_counter()
    draws = min(ev.draws, 5)
    ev.substrate.reseed(ev.seed_of("energy"))
    out = {name: energy.energy_comparison(ev.substrate, ev.x, x_adv, batch_size=ev.batch_size, n_draws=draws).to_dict()
           for name, x_adv in adversarial.items()}
    wall = time.perf_counter() - started
    ev.timings["energy"] = wall / ev.n * 100.0
    return {"available": True, "n_draws": draws, "attacks": out, "wall_time_s": wall}
