"""Notes of the demo report that explain what a reader would otherwise misread.

Each function looks at the demo's rows (and results) and returns the note's text only when what
it explains happened in this run, else None; :mod:`analogeq.demo.report` puts each note under
the table where it happens.

* :func:`energy_note`: the ``ideal`` crossbar card uses more energy per inference than ``pcm``.
  Not a bug: its converters are 16-bit, and a conversion costs the Walden figure of merit times
  2^bits, so each 16-bit ADC conversion costs 2^(16 - 9) = 128 times a 9-bit one.
* :func:`dither_note`: at the sweep's coarsest ADC, some read noise gives a higher accuracy than
  none. Noise before a coarse quantizer acts as dither: it turns a fixed rounding error into a
  random one that can average out over the reads of a settle. The note gives the numbers, the
  same comparison at the finest ADC, and says so when the two intervals overlap.
* :func:`certified_note`: a certified accuracy of 0. With m images the 95% interval of a
  measured 0/m reaches 1 - 0.025^(1/m) (Clopper-Pearson; 0.60 at m = 4), and n noise samples
  certify at most the radius sigma * PhiInv(alpha^(1/n)) (all n samples agree), so 0 can be the
  budget, not the network.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["certified_note", "dither_note", "energy_note"]


def _row(rows: Sequence[Mapping[str, Any]], substrate: str) -> Mapping[str, Any] | None:
    return next((r for r in rows if r.get("substrate") == substrate), None)


def energy_note(rows: Sequence[Mapping[str, Any]], *, ideal: str = "crossbar ideal", pcm: str = "crossbar pcm 1 h",
                ideal_card: str = "ideal", pcm_card: str = "pcm") -> str | None:
    """The note when the ideal row's ``energy_per_inference_uJ`` exceeds the PCM row's."""
    a, b = _row(rows, ideal), _row(rows, pcm)
    ea = a.get("energy_per_inference_uJ") if a else None
    eb = b.get("energy_per_inference_uJ") if b else None
    if ea is None or eb is None or not ea > eb:
        return None
    from hardware_models.cards import preset

    ci, cp = preset(ideal_card), preset(pcm_card)
    ratio = 2.0 ** (ci.adc.bits - cp.adc.bits) if ci.adc.bits and cp.adc.bits else None
    parts = [f"**Energy: `{ideal_card}` above `{pcm_card}`.** The ideal card uses more energy per inference "
             f"({ea:.3g} µJ) than PCM ({eb:.3g} µJ) because of its converters: `{ideal_card}` has a "
             f"{ci.dac.bits}-bit DAC and a {ci.adc.bits}-bit ADC (PCM: {cp.dac.bits} and {cp.adc.bits} bits), and "
             "one conversion costs the figure of merit times 2^bits"]
    if ratio:
        parts.append(f", so each ideal ADC conversion costs 2^({ci.adc.bits} - {cp.adc.bits}) = {ratio:.0f} "
                     "times a PCM one")
    shares = a.get("energy_breakdown")
    parts.append(f" (ideal's shares: {shares})" if shares else "")
    parts.append(f". `{ideal_card}` means exact devices and converters, a reference for accuracy, not a low-power design.")
    return "".join(parts)


def dither_note(rows: Sequence[Mapping[str, Any]], *, noise_key: str = "read_noise_scale", bits_key: str = "adc_bits",
                acc_key: str = "crossbar_accuracy", ci_key: str = "crossbar_accuracy_ci95") -> str | None:
    """The note when, at the sweep's lowest ADC bits, a read-noise scale above 0 gives a higher
    mean accuracy than 0 (rows: the demo's ``sweep`` table)."""
    pts = [r for r in rows if r.get(acc_key) is not None and r.get(noise_key) is not None and r.get(bits_key) is not None]
    if not pts:
        return None
    bits = min(r[bits_key] for r in pts)
    at = {r[noise_key]: r for r in pts if r[bits_key] == bits}
    quiet = at.get(0.0, at.get(0))
    if quiet is None:
        return None
    better = [r for n, r in sorted(at.items()) if n > 0 and r[acc_key] > quiet[acc_key]]
    if not better:
        return None
    best = max(better, key=lambda r: r[acc_key])

    def acc(r: Mapping[str, Any]) -> str:
        return f"{r[acc_key]:.3f}" + (f" ± {r[ci_key]:.3f}" if r.get(ci_key) is not None else "")

    overlap = (quiet.get(ci_key) is not None and best.get(ci_key) is not None
               and best[acc_key] - best[ci_key] <= quiet[acc_key] + quiet[ci_key])
    finest = max(r[bits_key] for r in pts)
    fine = {r[noise_key]: r for r in pts if r[bits_key] == finest}
    fine_quiet, fine_noisy = fine.get(quiet[noise_key]), fine.get(best[noise_key])
    compare = ""
    if finest > bits and fine_quiet is not None and fine_noisy is not None:
        compare = (f" At {finest}-bit ADC, where rounding is fine, the same noise gives {acc(fine_noisy)} against "
                   f"{acc(fine_quiet)} without.")
    return (f"**Read noise raising accuracy at {bits}-bit ADC.** With read noise {best[noise_key]:g}x the card's the "
            f"crossbar scores {acc(best)}, without read noise {acc(quiet)}. Noise in front of a coarse ADC acts as "
            "dither: without it every read of the same column current rounds the same way, so the rounding error "
            "is a fixed bias; with it the rounding varies from read to read and can average out over the many "
            "reads of a settle." + compare
            + (f" Here the two 95% intervals at {bits} bits overlap, so the gain may also be chance." if overlap else ""))


def certified_note(results: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The note when some substrate's randomized-smoothing certified accuracy is 0 at some radius
    (``results``: row name -> :func:`analogeq.robustness.evaluate.evaluate_robustness` result)."""
    from scipy import stats

    lines = []
    for name, result in results.items():
        cert = result.get("certification") or {}
        if not cert.get("available"):
            continue
        zero = sorted((float(r) for r, v in (cert.get("certified_accuracy") or {}).items() if v == 0), key=float)
        if not zero:
            continue
        m, n, sigma, alpha = cert["n_examples"], cert["n"], cert["sigma"], cert["alpha"]
        r_max = sigma * float(stats.norm.ppf(alpha ** (1.0 / n)))
        upper = 1.0 - 0.025 ** (1.0 / m)
        lines.append(f"{name}: certified accuracy 0 at radius {', '.join(f'{r:g}' for r in zero)} from {m} images "
                     f"with n = {n} noise samples (sigma {sigma:g}); 0 of {m} has a 95% interval up to {upper:.2f}, "
                     f"and n = {n} certifies at most radius {r_max:.2f} even when all samples agree")
    if not lines:
        return None
    return ("**A certified accuracy of 0 is a small-budget figure.** " + "; ".join(lines)
            + ". Certify more images with larger n (`analogeq robustness --suite full`) before reading it as "
            "'not robust'.")
