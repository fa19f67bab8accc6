"""Detection of adversarial inputs by feature squeezing (Xu, Evans & Qi 2018, NDSS).

A *squeezer* removes detail an attack may rely on: colour bit-depth reduction, a 2 x 2 median
filter, non-local means. The score of an input is

    score(x) = max over squeezers s of || softmax(f(x)) - softmax(f(s(x))) ||_1,

and an input is flagged as adversarial when its score exceeds a threshold chosen on clean data
so that 5% of the clean inputs are flagged (Xu et al. 2018, section IV). The detector only
calls ``substrate.logits``, so it runs unchanged on every substrate. On a stochastic substrate
two draws differ even without squeezing; ``n_draws`` averages the softmax over that many draws
of each input to reduce that part of the score (the threshold, fitted on clean inputs with the
same setting, accounts for what is left).

Squeezers (numpy/scipy, on images (N, C, H, W) in [0, 1]):

* :func:`reduce_bit_depth`: round to 2^bits - 1 levels (Xu et al.: 1 bit for MNIST, 5 for CIFAR-10).
* :func:`median_smooth`: ``scipy.ndimage.median_filter`` of size k x k per channel, mirrored
  borders (Xu et al. use this function; for even k the window is offset by one pixel up-left
  and the upper median is taken).
* :func:`non_local_means`: our plain NL-means (Buades et al. 2005) in numpy/scipy, a substitute
  for OpenCV's ``fastNlMeansDenoisingColored`` used by Xu et al. (not installed here): every
  pixel becomes the weighted mean of the pixels in a search window around it, with weights
  exp(-d^2 / h^2), d^2 the mean squared difference between the two patch_size x patch_size
  patches over all channels, in RGB rather than OpenCV's CIELAB, and exact rather than
  OpenCV's approximate integer arithmetic. Xu et al.'s CIFAR-10 setting "13-3-2" is search
  window 13, patch 3, strength h = 2 (in 0..255 units, 2/255 here).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch
from scipy import ndimage

from analogeq.substrates.base import Substrate
from hardware_models.params import Integer, ParameterError, Real, check_float, validate_params
from analogeq.contract import check_input

# ----------------------------------------------------------------------------- squeezers


def _as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().to(torch.float64).numpy()


def _like(out: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(out)).to(device=x.device, dtype=x.dtype)


def reduce_bit_depth(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Round pixel values in [0, 1] to the nearest of 2^bits levels: round(x (2^b - 1)) / (2^b - 1)."""
    levels = 2**bits - 1
    return torch.round(x * levels) / levels


def median_smooth(x: torch.Tensor, size: int) -> torch.Tensor:
    """k x k median filter per image and channel (``scipy.ndimage.median_filter``, mode 'reflect')."""
    out = ndimage.median_filter(_as_numpy(x), size=(1, 1, size, size), mode="reflect")
    return _like(out, x)


def non_local_means(x: torch.Tensor, search_window: int, patch_size: int, strength: float) -> torch.Tensor:
    """NL-means denoising (see the module docstring), search and patch windows odd, strength h > 0.

    out(p) = sum_q w(p, q) x(q) / sum_q w(p, q) over q in the search window of p, with
    w(p, q) = exp(-d^2(p, q) / h^2) and d^2 the mean over the patch pixels and channels of the
    squared differences of the patches around p and q. Borders are mirrored.
    """
    a = _as_numpy(x)
    n, c, h, w = a.shape
    r = search_window // 2
    padded = np.pad(a, ((0, 0), (0, 0), (r, r), (r, r)), mode="symmetric")
    num = np.zeros_like(a)
    den = np.zeros((n, 1, h, w))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            shifted = padded[:, :, r + dy : r + dy + h, r + dx : r + dx + w]
            sq = ((a - shifted) ** 2).mean(axis=1, keepdims=True)
            d2 = ndimage.uniform_filter(sq, size=(1, 1, patch_size, patch_size), mode="reflect")
            weight = np.exp(-d2 / strength**2)
            num += weight * shifted
            den += weight
    return _like(num / den, x)


# ------------------------------------------------------------------------------- config


#: constraints of the scalar fields of FeatureSqueezingConfig (bits and median_size may be None: off)
_CONFIG_CONSTRAINTS = {
    "bits": Integer(minimum=1, maximum=16),
    "median_size": Integer(minimum=2),
    "false_positive_rate": Real(minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True),
    "n_draws": Integer(minimum=1),
    "batch_size": Integer(minimum=1),
}


@dataclass(frozen=True)
class FeatureSqueezingConfig:
    """Which squeezers and how the threshold is set.

    ``bits``: bit depth of the bit-depth squeezer (None = off). ``median_size``: side of the
    median squeezer (None = off). ``nl_means``: (search window, patch size, strength h in
    pixel units) of the NL-means squeezer (None = off). Defaults: Xu et al.'s CIFAR-10 joint
    detector (5 bits, 2 x 2 median, NL-means 13-3-2). Their MNIST detector is bits=1,
    median_size=2, nl_means=None. ``false_positive_rate``: fraction of clean inputs flagged at
    the fitted threshold. ``n_draws``: softmax averaged over this many draws per input.
    """

    bits: int | None = 5
    median_size: int | None = 2
    nl_means: tuple[int, int, float] | None = (13, 3, 2.0 / 255.0)
    false_positive_rate: float = 0.05
    n_draws: int = 1
    batch_size: int = 256

    def __post_init__(self) -> None:
        owner = type(self).__name__
        validate_params({k: getattr(self, k) for k in _CONFIG_CONSTRAINTS if getattr(self, k) is not None},
                        _CONFIG_CONSTRAINTS, owner=owner)
        if self.nl_means is not None:
            if not isinstance(self.nl_means, (tuple, list)) or len(self.nl_means) != 3:
                raise ParameterError(owner, "nl_means",
                                     f"must be (search_window, patch_size, strength) or None, got {self.nl_means!r}")
            search, patch, strength = self.nl_means
            for value, field in ((search, "search_window"), (patch, "patch_size")):
                _check_odd(f"nl_means.{field}", value, owner)
            strength = check_float("nl_means.strength", strength, minimum=0.0, exclusive_minimum=True, owner=owner)
            object.__setattr__(self, "nl_means", (int(search), int(patch), strength))
        if self.bits is None and self.median_size is None and self.nl_means is None:
            raise ValueError("at least one squeezer (bits, median_size, nl_means) must be on")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nl_means"] = list(self.nl_means) if self.nl_means is not None else None
        return d


def _check_odd(field: str, value: Any, owner: str) -> int:
    """An odd integer >= 1 (a window side with a centre pixel)."""
    try:
        ok = Integer(minimum=1)(field, value, owner) % 2 == 1
    except ParameterError:
        ok = False
    if not ok:
        raise ParameterError(owner, field, f"must be an odd integer >= 1, got {value!r}")
    return int(value)


def squeezers(config: FeatureSqueezingConfig) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The squeezers a config turns on, by name."""
    out: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    if config.bits is not None:
        out[f"bit_depth_{config.bits}"] = lambda x: reduce_bit_depth(x, config.bits)
    if config.median_size is not None:
        out[f"median_{config.median_size}x{config.median_size}"] = lambda x: median_smooth(x, config.median_size)
    if config.nl_means is not None:
        s, p, h = config.nl_means
        out[f"nl_means_{s}_{p}_{h:g}"] = lambda x: non_local_means(x, s, p, h)
    return out


# ---------------------------------------------------------------------------- threshold


def threshold_at_false_positive_rate(clean_scores: torch.Tensor | np.ndarray, rate: float) -> float:
    """The smallest observed score t with at most ``rate`` of ``clean_scores`` above it.

    t is the ceil((1 - rate) n)-th smallest score, so #(score > t) <= n - ceil((1 - rate) n)
    <= rate n; without ties it is exactly floor(rate n).
    """
    s = np.sort(np.asarray(torch.as_tensor(clean_scores).detach().cpu(), dtype=np.float64).ravel())
    if s.size == 0:
        raise ValueError("clean_scores is empty: at least one clean input is needed to set a threshold")
    rate = check_float("rate", rate, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True)
    k = math.ceil((1.0 - rate) * s.size - 1e-9)
    return float(s[max(k, 1) - 1])


# ----------------------------------------------------------------------------- detector


class FeatureSqueezing:
    """Feature-squeezing detector for one substrate (scikit-learn style: ``fit`` then ``detect``).

    >>> detector = FeatureSqueezing(substrate).fit(x_clean_calibration)
    >>> detector.detection_rate(x_adversarial)          # fraction flagged
    >>> detector.evaluate(x_clean_test, x_adversarial, labels)
    """

    def __init__(self, substrate: Substrate, config: FeatureSqueezingConfig = FeatureSqueezingConfig()):
        if not isinstance(substrate, Substrate):
            raise TypeError(f"substrate must be a Substrate, got {type(substrate).__name__}")
        if not isinstance(config, FeatureSqueezingConfig):
            raise TypeError(f"config must be a FeatureSqueezingConfig, got {type(config).__name__}")
        self.substrate = substrate
        self.config = config
        self.squeezers = squeezers(config)
        self.threshold_: float | None = None

    def _check(self, x: Any, field: str) -> torch.Tensor:
        check_input(x, self.substrate.input_shape, name=field)
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"{field} must have pixel values in [0, 1], got min {lo:.6g} and max {hi:.6g}")
        return x

    def _probabilities(self, x: torch.Tensor) -> torch.Tensor:
        total = None
        for _ in range(self.config.n_draws):
            p = torch.softmax(self.substrate.logits(x.to(self.substrate.device)).double(), dim=-1).cpu()
            total = p if total is None else total + p
        return total / self.config.n_draws

    def scores_per_squeezer(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """L1 distance between the softmax of x and of each squeezed x: {name: (B,) float64}."""
        self._check(x, "x")
        out: dict[str, list[torch.Tensor]] = {name: [] for name in self.squeezers}
        bs = self.config.batch_size
        for start in range(0, x.shape[0], bs):
            xb = x[start : start + bs].detach().cpu().float()
            p = self._probabilities(xb)
            for name, squeeze in self.squeezers.items():
                q = self._probabilities(squeeze(xb))
                out[name].append((p - q).abs().sum(dim=-1))
        return {name: torch.cat(parts) for name, parts in out.items()}

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Detection score (B,) float64: the max over squeezers of :meth:`scores_per_squeezer`."""
        per = self.scores_per_squeezer(x)
        return torch.stack(list(per.values()), dim=0).max(dim=0).values

    def fit(self, x_clean: torch.Tensor) -> "FeatureSqueezing":
        """Set ``threshold_`` so that ``false_positive_rate`` of the clean inputs are flagged."""
        self.threshold_ = threshold_at_false_positive_rate(self.scores(x_clean), self.config.false_positive_rate)
        return self

    def _threshold(self) -> float:
        if self.threshold_ is None:
            raise ValueError("the detector has no threshold yet: call fit(x_clean) first")
        return self.threshold_

    def detect(self, x: torch.Tensor) -> torch.Tensor:
        """True where the score exceeds the fitted threshold (B,) bool."""
        threshold = self._threshold()
        return self.scores(x) > threshold

    def detection_rate(self, x_adversarial: torch.Tensor) -> float:
        """Fraction of a batch (e.g. an attack's output) flagged as adversarial."""
        return float(self.detect(x_adversarial).double().mean())

    def evaluate(
        self,
        x_clean: torch.Tensor,
        x_adversarial: torch.Tensor | Mapping[str, torch.Tensor],
        labels: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """JSON-ready detection report at the fitted threshold.

        ``x_clean``: clean inputs *not* used in :meth:`fit` (their flagged fraction estimates the
        false-positive rate). ``x_adversarial``: one adversarial batch, or ``{attack name: batch}``.
        With ``labels`` (the true classes of the adversarial batches' sources) the detection rate
        is also given on the successful adversarial examples (misclassified by the substrate),
        as Xu et al. report it.
        """
        threshold = self._threshold()
        report: dict[str, Any] = {
            "config": self.config.to_dict(),
            "threshold": threshold,
            "false_positive_rate": float((self.scores(x_clean) > threshold).double().mean()),
            "n_clean": int(x_clean.shape[0]),
        }
        batches = x_adversarial if isinstance(x_adversarial, Mapping) else {"adversarial": x_adversarial}
        attacks = {}
        for name, xa in batches.items():
            flagged = self.scores(xa) > threshold
            entry: dict[str, Any] = {"detection_rate": float(flagged.double().mean()), "n": int(xa.shape[0])}
            if labels is not None:
                labels_cpu = torch.as_tensor(labels).cpu()
                if labels_cpu.shape != (xa.shape[0],):
                    raise ValueError(f"labels must have shape ({xa.shape[0]},), got {tuple(labels_cpu.shape)}")
                fooled = self.substrate.predict(xa.to(self.substrate.device)).cpu() != labels_cpu
                entry["n_successful"] = int(fooled.sum())
                entry["detection_rate_successful"] = (
                    float(flagged[fooled].double().mean()) if bool(fooled.any()) else None
                )
            attacks[name] = entry
        report["attacks"] = attacks
        return report
