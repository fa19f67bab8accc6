"""What every attack shares: the result type, input and parameter validation, losses,
norm-ball projections and the bookkeeping that turns an ``x_adv`` into an :class:`AttackResult`.

Norms are taken over all input dimensions of one example:
``||d||_inf = max_i |d_i|`` and ``||d||_2 = sqrt(sum_i d_i^2)`` (pixels in [0, 1], so an L_inf
radius of 1 is the whole image box).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from analogeq.contract import GradientSpec, check_input
from analogeq.substrates.base import Substrate
from hardware_models.params import Integer, OneOf, Real, validate_params

NORMS = ("linf", "l2")

#: tiny constant keeping divisions by gradient norms and logit gaps finite
_TINY = 1e-12


@dataclass
class AttackResult:
    """What one attack run produced.

    x_adv: adversarial inputs, same shape as ``x``, inside [0, 1] (and inside the attack's
        norm ball where it has one), on the substrate's device.
    success: bool (B,): the substrate misclassifies ``x_adv`` (argmax of the mean of
        ``check_draws`` draws of ``substrate.logits``; one draw on a deterministic substrate).
        For targeted attacks: classified as the target.
    distance: float (B,): ||x_adv - x|| in the attack's norm (``norm``).
    norm: ``"linf"`` or ``"l2"``.
    attack: short name (``"pgd"``, ``"square"``, ...).
    config: the attack's configuration as a JSON dict.
    wall_time_s: seconds the attack took (whole batch).
    extra: attack-specific JSON-serialisable figures (queries, chosen c, restarts, ...).
    """

    x_adv: torch.Tensor
    success: torch.Tensor
    distance: torch.Tensor
    norm: str
    attack: str
    config: dict[str, Any]
    wall_time_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean())

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable summary (no tensors of inputs)."""
        return {
            "attack": self.attack,
            "config": self.config,
            "norm": self.norm,
            "success_rate": self.success_rate,
            "mean_distance": float(self.distance.mean()),
            "max_distance": float(self.distance.max()),
            "wall_time_s": self.wall_time_s,
            "extra": self.extra,
        }


# --------------------------------------------------------------------------- parameter checks
#: the radius of a norm ball: a finite number >= 0 (pixels in [0, 1])
EPS = Real(minimum=0.0)
NORM = OneOf(NORMS)
#: fields every white-box attack has besides ``gradient``
WHITE_BOX = {"eot_samples": Integer(minimum=1), "seed": Integer(minimum=0)}


def check_fields(config: Any, constraints: Mapping[str, Any]) -> None:
    """Validate the fields of an attack configuration against ``constraints``
    (:mod:`hardware_models.params`; the message names the class, the field, the value and what
    is allowed); a ``gradient`` field must hold a GradientSpec. Values are not rewritten."""
    names = config.__dataclass_fields__
    validate_params({k: getattr(config, k) for k in constraints if k in names}, constraints,
                    owner=type(config).__name__)
    if "gradient" in names and not isinstance(config.gradient, GradientSpec):
        raise TypeError(f"gradient must be a GradientSpec, got {type(config.gradient).__name__}")


class Attack:
    """What every attack of this package shares (the calling convention of the package docstring).

    A subclass is a frozen dataclass with a ``name`` (the short name in results and configs) and
    a ``constraints`` table (field -> :mod:`hardware_models.params` constraint) checked when it is
    built. ``begin`` opens a call: it validates the batch, reseeds the substrate with the
    attack's seed and returns the start time, the batch on the substrate's device and a CPU
    generator seeded with the same seed.
    """

    name = "attack"
    constraints: Mapping[str, Any] = {}

    def __post_init__(self) -> None:
        check_fields(self, self.constraints)

    def to_dict(self) -> dict[str, Any]:
        return config_dict(self.name, self)

    def begin(self, substrate: Substrate, x: Any, y: Any) -> tuple[float, torch.Tensor, torch.Tensor, torch.Generator]:
        started = time.perf_counter()
        x, y = check_batch(substrate, x, y)
        seed = getattr(self, "seed", 0)
        substrate.reseed(seed)
        return started, x, y, make_generator(seed)


def config_dict(name: str, config: Any) -> dict[str, Any]:
    """The configuration of an attack as a JSON dict (GradientSpec and nested attacks expanded)."""
    out: dict[str, Any] = {"attack": name}
    for key in config.__dataclass_fields__:
        value = getattr(config, key)
        if isinstance(value, GradientSpec):
            value = value.to_dict()
        elif hasattr(value, "to_dict"):
            value = value.to_dict()
        elif isinstance(value, Substrate):
            value = value.describe()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


# --------------------------------------------------------------------------- input checks
def check_batch(substrate: Substrate, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch for an attack and move it to the substrate's device.

    x: floating-point tensor (B, *substrate.input_shape), B >= 1, finite, every pixel in [0, 1].
    y: integer class indices (B,) in [0, substrate.num_classes).
    Returns (x as float32, y as int64) on ``substrate.device``.
    """
    if not isinstance(substrate, Substrate):
        raise TypeError(f"substrate must be an analogeq Substrate, got {type(substrate).__name__}")
    check_input(x, tuple(substrate.input_shape))
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"x must hold pixel values in [0, 1], got values from {lo:g} to {hi:g}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of class indices, got {type(y).__name__}")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"y must hold integer class indices, got dtype {y.dtype}")
    if tuple(y.shape) != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {tuple(y.shape)}")
    y_lo, y_hi = int(y.min()), int(y.max())
    if y_lo < 0 or y_hi >= substrate.num_classes:
        raise ValueError(
            f"y must hold class indices in [0, {substrate.num_classes - 1}], got values from {y_lo} to {y_hi}"
        )
    device = substrate.device
    return x.detach().to(device, torch.float32), y.detach().to(device, torch.int64)


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator: random numbers are drawn on the CPU and moved, so a seed gives the same
    numbers whatever device the substrate is on."""
    return torch.Generator(device="cpu").manual_seed(int(seed))


def rand_like(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """U(0, 1) of the shape of ``x``, drawn on the CPU with ``gen``, on ``x``'s device."""
    return torch.rand(x.shape, generator=gen, dtype=torch.float32).to(x.device)


def randn_like(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(x.shape, generator=gen, dtype=torch.float32).to(x.device)


# --------------------------------------------------------------------------- losses (per example)
def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y, reduction="none")


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """z_y - max_{i != y} z_i: negative means misclassified."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.clone()
    other.scatter_(1, y[:, None], -math.inf)
    return true - other.max(dim=1).values


def margin_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-margin: an attack maximises it (C&W's f without the confidence clamp)."""
    return -margin(logits, y)


def dlr_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Difference of logits ratio (Croce & Hein 2020, eq. 6), to be maximised:

        DLR(z, y) = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)

    with z_pi1 >= z_pi2 >= ... the sorted logits. Invariant to shifting and scaling the logits.
    """
    if logits.shape[1] < 3:
        raise ValueError(f"the DLR loss needs at least 3 classes, got {logits.shape[1]}")
    z_sorted = logits.sort(dim=1, descending=True).values
    return -margin(logits, y) / (z_sorted[:, 0] - z_sorted[:, 2] + _TINY)


def dlr_targeted_loss(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Targeted DLR (Croce & Hein 2020, eq. 7), to be maximised:

        -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)
    """
    if logits.shape[1] < 4:
        raise ValueError(f"the targeted DLR loss needs at least 4 classes, got {logits.shape[1]}")
    z_sorted = logits.sort(dim=1, descending=True).values
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    z_t = logits.gather(1, target[:, None]).squeeze(1)
    return -(z_y - z_t) / (z_sorted[:, 0] - 0.5 * (z_sorted[:, 2] + z_sorted[:, 3]) + _TINY)


def targeted_cross_entropy(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-CE(z, target), to be maximised."""
    return -F.cross_entropy(logits, target, reduction="none")


UNTARGETED_LOSSES = {"ce": cross_entropy, "margin": margin_loss, "dlr": dlr_loss}
TARGETED_LOSSES = {"ce": targeted_cross_entropy, "dlr": dlr_targeted_loss}


# --------------------------------------------------------------------------- geometry
def flat_norm(d: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-example norm of ``d`` (B, ...) -> (B,)."""
    flat = d.reshape(d.shape[0], -1)
    if norm == "linf":
        return flat.abs().amax(dim=1)
    return flat.norm(p=2, dim=1)


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: torch.Tensor | float, norm: str) -> torch.Tensor:
    """Project onto {||x_adv - x|| <= eps} and then onto the box [0, 1].

    Clipping to the box after the ball keeps the point in the ball: x is in the box, so clipping
    only moves each coordinate of x_adv towards x and |d_i| can only shrink.
    ``eps`` is a number or a per-example tensor (B,).
    """
    d = x_adv - x
    if not isinstance(eps, torch.Tensor):
        eps = torch.full((x.shape[0],), float(eps), device=x.device)
    if norm == "linf":
        e = _expand(eps, d)
        d = torch.maximum(torch.minimum(d, e), -e)
    else:
        n = flat_norm(d, "l2")
        factor = torch.where(n > eps, eps / (n + _TINY), torch.ones_like(n))
        d = d * _expand(factor, d)
    return (x + d).clamp(0.0, 1.0)


def ascent_direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Steepest-ascent direction of unit norm: sign(g) for L_inf, g / ||g||_2 for L2."""
    if norm == "linf":
        return grad.sign()
    n = flat_norm(grad, "l2")
    return grad / _expand(n + _TINY, grad)


#: random starts of an L2 ball (:func:`random_start`)
L2_STARTS = ("ball", "radius")


def random_start(x: torch.Tensor, eps: torch.Tensor | float, norm: str, gen: torch.Generator,
                 l2_start: str = "ball") -> torch.Tensor:
    """A random point of the ball around x, clipped to the box.

    L_inf: uniform in the cube. L2: direction ~ N(0, I) normalised, and radius
    ``"ball"``: eps * U^(1/n), uniform in the ball (in n = 64 dimensions almost on the sphere:
    the median radius is 0.989 eps); ``"radius"``: eps * U, uniform in [0, eps] (torchattacks'
    PGDL2 start, mostly well inside the ball). U ~ U(0, 1), one per example.
    """
    if not isinstance(eps, torch.Tensor):
        eps = torch.full((x.shape[0],), float(eps), device=x.device)
    if norm == "linf":
        d = (2.0 * rand_like(x, gen) - 1.0) * _expand(eps, x)
    else:
        g = randn_like(x, gen)
        n_dim = x[0].numel()
        u = torch.rand((x.shape[0],), generator=gen).to(x.device)
        radius = eps * (u.pow(1.0 / n_dim) if l2_start == "ball" else u)
        d = g / _expand(flat_norm(g, "l2") + _TINY, g) * _expand(radius, g)
    return (x + d).clamp(0.0, 1.0)


# --------------------------------------------------------------------------- evaluation
@torch.no_grad()
def mean_logits(substrate: Substrate, x: torch.Tensor, draws: int) -> torch.Tensor:
    """Mean of ``draws`` calls of ``substrate.logits`` (one call on a deterministic substrate)."""
    n = draws if substrate.stochastic else 1
    total = substrate.logits(x).float()
    for _ in range(n - 1):
        total = total + substrate.logits(x).float()
    return total / n


def keep_lowest_margin(
    substrate: Substrate,
    x: torch.Tensor,
    y: torch.Tensor,
    runs: int,
    draws: int,
    one_run: Callable[[int, torch.Tensor], torch.Tensor],
    best: torch.Tensor | None = None,
    best_margin: torch.Tensor | None = None,
) -> tuple[torch.Tensor, int]:
    """Restarts (or targets): keep, per example, the candidate with the lowest margin
    z_y - max_{i != y} z_i under ``substrate.logits`` (mean of ``draws`` draws).

    Run ``r`` (0 .. runs - 1) only runs on the examples not yet misclassified (margin >= 0):
    ``one_run(r, todo) -> candidates for x[todo]``. ``best``/``best_margin`` start at x and
    +inf unless given. Returns the best points and how many runs ran.
    """
    best = x.clone() if best is None else best
    if best_margin is None:
        best_margin = torch.full((x.shape[0],), float("inf"), device=x.device)
    done = 0
    for r in range(runs):
        todo = (best_margin >= 0).nonzero().squeeze(1)
        if todo.numel() == 0:
            break
        done += 1
        candidate = one_run(r, todo)
        cand_margin = margin(mean_logits(substrate, candidate, draws), y[todo])
        better = cand_margin < best_margin[todo]
        best[todo[better]] = candidate[better]
        best_margin[todo[better]] = cand_margin[better]
    return best, done


def finish(
    name: str,
    config: Any,
    substrate: Substrate,
    x: torch.Tensor,
    y: torch.Tensor,
    x_adv: torch.Tensor,
    norm: str,
    started: float,
    *,
    check_draws: int = 1,
    target: torch.Tensor | None = None,
    extra: dict[str, Any] | None = None,
) -> AttackResult:
    """Check ``x_adv`` on the substrate and package the result."""
    x_adv = x_adv.detach()
    lo, hi = float(x_adv.min()), float(x_adv.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise RuntimeError(f"{name} produced inputs outside [0, 1] (from {lo} to {hi}); this is a bug")
    pred = mean_logits(substrate, x_adv, check_draws).argmax(dim=1)
    success = pred == target if target is not None else pred != y
    return AttackResult(
        x_adv=x_adv,
        success=success.cpu(),
        distance=flat_norm(x_adv - x, norm).cpu(),
        norm=norm,
        attack=name,
        config=config_dict(name, config),
        wall_time_s=time.perf_counter() - started,
        extra=extra or {},
    )
