"""Randomized smoothing: CERTIFY and PREDICT (Cohen, Rosenfeld & Kolter 2019, ICML).

The smoothed classifier of a base classifier f at noise level sigma is

    g(x) = argmax_c P(f(x + delta) = c),    delta ~ N(0, sigma^2 I).

If the top class c_A has probability p_A >= p_A_lower > 1/2, then g(x + e) = c_A for every
||e||_2 < R = sigma * PhiInv(p_A_lower) (Cohen et al. 2019, Theorem 1; Phi is the standard
normal CDF). CERTIFY picks c_A from n0 noisy samples, bounds p_A from below with the one-sided
(1 - alpha) Clopper-Pearson interval on n fresh samples, and abstains if the bound is below
1/2. PREDICT takes the top two counts of n samples and abstains unless a two-sided binomial
test rejects "they are equally likely" at level alpha.

Base classifier here: ``f(x') = argmax substrate.logits(x')``, no clipping of x + delta
(smoothing is defined on R^d; what the substrate does with inputs outside [0, 1], such as a
saturating DAC, is part of f).

Hardware substrates (when the certificate still holds)
------------------------------------------------------
On a stochastic substrate one call is ``f(x', xi)`` with device noise xi (read noise, ADC
noise, membrane noise). The certificate then holds for the smoothed classifier
``g(x) = argmax_c P_{delta, xi}(f(x + delta, xi) = c)``: write
``h_c(x') = P_xi(f(x', xi) = c)``, a function of x' with values in [0, 1]; then
``p_c(x) = P(f(x + delta, xi) = c) = E_delta[h_c(x + delta)]``, and Cohen's theorem holds for
any such [0, 1]-valued soft base classifier (Salman et al. 2019, NeurIPS, Lemma 2: for any
h with values in [0, 1], x -> sigma PhiInv(E_delta h(x + delta)) is 1-Lipschitz). Gaussian smoothing is applied to the *input noise* delta only;
the device noise only changes what f is. This requires:

1. The device noise of each draw is fresh and independent of delta, of the other draws and of
   the other examples: its distribution may depend on the noisy input x' itself (crossbar read
   noise does, through the input voltages) but on nothing else. The n samples are then i.i.d.
   and the Clopper-Pearson bound is valid. Noise shared by all the samples of a batch (one
   offset per call), state carried from one call to the next (warm-started settling, drift
   *during* the evaluation) or noise that depends on the clean x break this, and the computed
   radius is then not a certificate.
2. Everything fixed before the evaluation (programming noise, stuck-at faults, the drift state
   at the evaluation time, finite levels) is part of f: the certificate is for that one
   programmed chip at that time. Another programming draw is another f, to be certified again.

Sampling runs in batches of ``batch_size`` noisy copies of one example (n = 100000 is a few
hundred calls), with input noise from a seeded ``torch.Generator`` and, for a stochastic
substrate, ``substrate.reseed`` called once per certification with a seed derived from
``seed``: same seed, same numbers.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, NamedTuple

import numpy as np
import torch
from scipy import stats

from analogeq.substrates.base import Substrate
from hardware_models.params import check_float, check_int
from analogeq.contract import check_input

#: prediction value of an abstention
ABSTAIN = -1


class Certification(NamedTuple):
    """Per-example result of :func:`certify`: ``prediction`` (int64, class or ABSTAIN) and
    ``radius`` (float64, L2 radius in input units; 0 where abstaining)."""

    prediction: torch.Tensor
    radius: torch.Tensor


# ------------------------------------------------------------------------------ checks


def _check_sigma(sigma: Any) -> float:
    return check_float("sigma", sigma, minimum=0.0, exclusive_minimum=True)


def _check_alpha(alpha: Any) -> float:
    return check_float("alpha", alpha, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True)


def _check_images(substrate: Substrate, x: Any) -> torch.Tensor:
    check_input(x, substrate.input_shape)
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"x must have pixel values in [0, 1], got min {lo:.6g} and max {hi:.6g}")
    return x


# ---------------------------------------------------------------------------- formulas


def lower_confidence_bound(count: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial p from ``count`` of ``n``.

    The alpha quantile of Beta(count, n - count + 1); 0 when count = 0 (statsmodels'
    ``proportion_confint(count, n, alpha=2 alpha, method="beta")[0]``, as in Cohen et al.).
    """
    n = check_int("n", n, minimum=1)
    count = check_int("count", count, minimum=0)
    if count > n:
        raise ValueError(f"count must be <= n, got count={count}, n={n}")
    alpha = _check_alpha(alpha)
    if count == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, count, n - count + 1))


def certified_radius(p_lower: float, sigma: float) -> float:
    """R = sigma * PhiInv(p_lower) for p_lower > 1/2 (Cohen et al. 2019, Theorem 1), else 0."""
    sigma = _check_sigma(sigma)
    if not 0.0 <= p_lower <= 1.0:
        raise ValueError(f"p_lower must be a probability in [0, 1], got {p_lower!r}")
    if p_lower <= 0.5:
        return 0.0
    return float(sigma * stats.norm.ppf(p_lower))


# ---------------------------------------------------------------------------- sampling


def sample_counts(
    substrate: Substrate,
    x_one: torch.Tensor,
    sigma: float,
    num: int,
    batch_size: int,
    generator: torch.Generator,
) -> np.ndarray:
    """Class counts (num_classes,) of ``argmax substrate.logits(x + sigma * noise)`` over ``num`` draws."""
    counts = np.zeros(substrate.num_classes, dtype=np.int64)
    remaining = num
    x_one = x_one.detach().to("cpu", torch.float32)
    while remaining > 0:
        b = min(batch_size, remaining)
        noise = torch.randn((b, *x_one.shape), generator=generator, dtype=torch.float32)
        noisy = (x_one.unsqueeze(0) + sigma * noise).to(substrate.device)
        pred = substrate.logits(noisy).argmax(dim=-1).cpu().numpy()
        counts += np.bincount(pred, minlength=substrate.num_classes)[: substrate.num_classes]
        remaining -= b
    return counts


def _generators(substrate: Substrate, seed: int) -> torch.Generator:
    input_seed, device_seed = np.random.SeedSequence(seed).generate_state(2)
    if substrate.stochastic:
        substrate.reseed(int(device_seed))
    return torch.Generator().manual_seed(int(input_seed))


# ------------------------------------------------------------------------- CERTIFY etc.


def certify(
    substrate: Substrate,
    x: torch.Tensor,
    sigma: float,
    n0: int = 100,
    n: int = 100_000,
    alpha: float = 0.001,
    batch_size: int = 1000,
    seed: int = 0,
) -> Certification:
    """CERTIFY (Cohen et al. 2019, Algorithm 1) for each example of the batch ``x``.

    Per example: c_A = the most frequent class of ``n0`` noisy samples; n_A = the count of c_A
    in ``n`` fresh samples; p_A_lower = :func:`lower_confidence_bound` (n_A, n, alpha);
    ABSTAIN (radius 0) if p_A_lower < 1/2, else c_A with radius sigma * PhiInv(p_A_lower).
    With probability at least 1 - alpha over the sampling, a non-abstaining answer is g(x) and
    g is constant on the L2 ball of that radius. See the module docstring for stochastic
    (hardware) substrates.

    Returns a :class:`Certification` (prediction int64 (B,), radius float64 (B,)).
    """
    sigma = _check_sigma(sigma)
    n0 = check_int("n0", n0, minimum=1)
    n = check_int("n", n, minimum=1)
    alpha = _check_alpha(alpha)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    _check_images(substrate, x)
    generator = _generators(substrate, seed)
    predictions, radii = [], []
    for x_one in x:
        selection = sample_counts(substrate, x_one, sigma, n0, batch_size, generator)
        c_a = int(selection.argmax())
        estimation = sample_counts(substrate, x_one, sigma, n, batch_size, generator)
        p_lower = lower_confidence_bound(int(estimation[c_a]), n, alpha)
        if p_lower < 0.5:
            predictions.append(ABSTAIN)
            radii.append(0.0)
        else:
            predictions.append(c_a)
            radii.append(certified_radius(p_lower, sigma))
    return Certification(
        torch.tensor(predictions, dtype=torch.int64), torch.tensor(radii, dtype=torch.float64)
    )


def predict_smoothed(
    substrate: Substrate,
    x: torch.Tensor,
    sigma: float,
    n: int = 1000,
    alpha: float = 0.001,
    batch_size: int = 1000,
    seed: int = 0,
) -> torch.Tensor:
    """PREDICT (Cohen et al. 2019, Algorithm 2) for each example of ``x``: int64 (B,).

    n_A, n_B = the two largest class counts of ``n`` noisy samples; returns the top class if the
    two-sided binomial test of n_A successes in n_A + n_B trials at p = 1/2 gives a p-value
    <= alpha, else ABSTAIN. A returned class differs from g(x) with probability at most alpha.
    """
    sigma = _check_sigma(sigma)
    n = check_int("n", n, minimum=1)
    alpha = _check_alpha(alpha)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    _check_images(substrate, x)
    generator = _generators(substrate, seed)
    out = []
    for x_one in x:
        counts = sample_counts(substrate, x_one, sigma, n, batch_size, generator)
        order = np.argsort(-counts, kind="stable")
        n_a, n_b = int(counts[order[0]]), int(counts[order[1]])
        p_value = stats.binomtest(n_a, n_a + n_b, 0.5).pvalue
        out.append(int(order[0]) if p_value <= alpha else ABSTAIN)
    return torch.tensor(out, dtype=torch.int64)


def certified_accuracy(
    results: Certification | tuple[torch.Tensor, torch.Tensor],
    labels: torch.Tensor,
    radii: Iterable[float],
) -> dict[float, float]:
    """Certified accuracy at each radius r: the fraction of examples that are certified with the
    correct class and a radius >= r (abstentions never count). Returns ``{r: accuracy}``."""
    prediction, radius = results
    prediction = torch.as_tensor(prediction).cpu()
    radius = torch.as_tensor(radius, dtype=torch.float64).cpu()
    labels = torch.as_tensor(labels).cpu()
    if prediction.ndim != 1 or prediction.shape != radius.shape or prediction.shape != labels.shape:
        raise ValueError(
            f"predictions, radii and labels must be 1-D of one length, got {tuple(prediction.shape)}, "
            f"{tuple(radius.shape)} and {tuple(labels.shape)}"
        )
    if prediction.numel() == 0:
        raise ValueError("results hold no example (empty batch)")
    out = {}
    for r in radii:
        r = float(r)
        if not math.isfinite(r) or r < 0.0:
            raise ValueError(f"radii must be finite and >= 0, got {r!r}")
        correct = (prediction == labels) & (radius >= r)
        out[r] = float(correct.double().mean())
    return out


def summarize(results: Certification, labels: torch.Tensor, radii: Iterable[float]) -> Mapping[str, Any]:
    """JSON-ready summary: abstention rate, clean accuracy of the smoothed classifier, certified
    accuracy per radius (keys as strings) and the mean radius of the correct certificates."""
    prediction, radius = results
    labels = torch.as_tensor(labels).cpu()
    correct = prediction.cpu() == labels
    table = certified_accuracy(results, labels, radii)
    return {
        "abstain_rate": float((prediction == ABSTAIN).double().mean()),
        "smoothed_accuracy": float(correct.double().mean()),
        "certified_accuracy": {f"{r:g}": acc for r, acc in table.items()},
        "mean_radius_correct": float(radius[correct].mean()) if bool(correct.any()) else 0.0,
    }
