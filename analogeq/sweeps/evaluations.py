"""What a sweep measures at each point: a registry of named evaluation functions.

An evaluation is a function ``fn(ctx: PointContext) -> dict[str, float]`` registered with
:func:`register_evaluation` under a name that sweep specs use (``[evaluations.<name>]``). It
declares the parameters it takes (with defaults and a validator), whether it runs on a substrate
(then the sweep's ``substrates`` multiply its points) and whether it needs the trained network.

Evaluations never ask which kind of substrate they hold: they call ``ctx.substrate()`` and use
the :class:`~analogeq.substrates.base.Substrate` protocol. If a point cannot run yet (its
substrate kind is not registered, a module it needs has not landed) the evaluation, or the
context, raises :class:`PointSkipped` with the reason; the point is stored as ``"skipped"`` and
retried by the next run.

Built in
--------
``conductance_error`` (physics only, no network, no substrate)
    Program ``n_cells`` target conductances drawn uniformly in [g_min, g_max] with the card's
    device, finite levels and stuck-at faults (``hardware_models.devices.program_conductances``),
    let them drift for ``drift_time_s``, read each once (one Gaussian read-noise draw) and
    compare with the targets: ``mean_abs_error_rel`` = mean |g_read - g_target| / (g_max - g_min),
    ``rms_error_rel``, ``mean_error_rel`` (signed: drift shows as a negative bias),
    ``stuck_fraction``.
``crossbar_read_error`` (physics only, no network, no substrate)
    Relative error ||y - x W^T|| / ||x W^T|| of one read of a random matrix programmed into
    crossbar tiles with the whole card (``hardware_models.crossbar.CrossbarArray``), and the
    read's gain.
``clean_accuracy`` (network on a substrate)
    Top-1 accuracy on the test split (``n_test`` images, 0 = all) from one draw of the
    substrate's logits, plus the substrate's energy and latency per inference where it has a
    cost model.
``robust_accuracy`` (network on a substrate; needs ``analogeq.robustness.evaluate``)
    The robustness harness's quick suite on ``n_test`` test images.
"""

from __future__ import annotations

import logging
import math
import numbers
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

logger = logging.getLogger(__name__)


class PointSkipped(Exception):
    """Raised by an evaluation (or its context) when a point cannot run yet; the message is the
    reason stored with the point."""


# -- parameter validators: (path, value) -> normalised value ---------------------------------------
def int_at_least(minimum: int) -> Callable[[str, Any], int]:
    def check(path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
            raise ValueError(f"{path}: must be an integer >= {minimum}, got {value!r}")
        return int(value)

    return check


def float_at_least(minimum: float) -> Callable[[str, Any], float]:
    def check(path: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            raise ValueError(f"{path}: must be a finite number >= {minimum}, got {value!r}")
        if float(value) < minimum:
            raise ValueError(f"{path}: must be >= {minimum}, got {value!r}")
        return float(value)

    return check


def boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{path}: must be true or false, got {value!r}")
    return value


def one_of(*allowed: str) -> Callable[[str, Any], str]:
    def check(path: str, value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{path}: must be one of {list(allowed)}, got {value!r}")
        return value

    return check


@dataclass(frozen=True)
class Param:
    """A parameter of an evaluation: its default and its validator ``check(path, value)``."""

    default: Any
    check: Callable[[str, Any], Any]
    doc: str = ""


#: parameters every substrate-using evaluation accepts; passed to ``build_substrate`` when the
#: substrate's builder takes them (a floating-point substrate ignores drift)
SUBSTRATE_PARAMS: dict[str, Param] = {
    "drift_time_s": Param(3600.0, float_at_least(0.0), "time between programming and inference [s]"),
}


@dataclass(frozen=True)
class Evaluation:
    """A registered evaluation (see the module docstring)."""

    name: str
    fn: Callable[["PointContext"], dict[str, Any]]
    params: dict[str, Param] = field(default_factory=dict)
    uses_substrate: bool = False
    needs_network: bool = False
    description: str = ""
    #: the metrics reports plot and tabulate by default (all numeric metrics when empty)
    metrics: tuple[str, ...] = ()

    def all_params(self) -> dict[str, Param]:
        """Its own parameters plus the substrate parameters when it runs on a substrate."""
        if self.uses_substrate:
            return {**SUBSTRATE_PARAMS, **self.params}
        return dict(self.params)

    def resolve_params(self, given: dict[str, Any], *, path: str) -> dict[str, Any]:
        """Defaults filled in, every value validated; unknown names raise ValueError naming them."""
        allowed = self.all_params()
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise ValueError(f"{path}.{unknown[0]}: unknown parameter of evaluation {self.name!r}; allowed: {sorted(allowed)}")
        return {name: p.check(f"{path}.{name}", given.get(name, p.default)) for name, p in sorted(allowed.items())}


_REGISTRY: dict[str, Evaluation] = {}


def register_evaluation(
    name: str,
    fn: Callable[["PointContext"], dict[str, Any]],
    *,
    params: dict[str, Param] | None = None,
    uses_substrate: bool = False,
    needs_network: bool = False,
    description: str = "",
    metrics: tuple[str, ...] = (),
) -> Evaluation:
    """Register ``fn`` under ``name`` (replacing an earlier one of that name). ``fn`` must be a
    module-level function so that process pools and Dask workers can import it."""
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"evaluation name must be letters, digits and underscores, got {name!r}")
    if needs_network and not uses_substrate:
        raise ValueError(f"evaluation {name!r}: a network evaluation runs on a substrate (uses_substrate=True)")
    ev = Evaluation(name, fn, dict(params or {}), uses_substrate, needs_network, description, tuple(metrics))
    _REGISTRY[name] = ev
    return ev


def get_evaluation(name: str) -> Evaluation:
    if name not in _REGISTRY:
        raise ValueError(f"unknown evaluation {name!r}; allowed: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def evaluation_names() -> list[str]:
    return sorted(_REGISTRY)


# -- the context an evaluation sees --------------------------------------------------------------
def derive_seed(seed: int, stream: str) -> int:
    """A 32-bit seed for the random stream ``stream`` of point seed ``seed``.

    Depends on the seed and the stream name only, not on the axis values: points of one seed
    share their random draws across the grid (common random numbers, smooth curves)."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(stream.encode("utf-8"))]).generate_state(1)[0])


@dataclass
class PointContext:
    """Everything an evaluation may use at one point.

    Attributes
    ----------
    card:
        The device card of this point (the base card with the axis values applied), a
        ``hardware_models.cards`` card object.
    params:
        The evaluation's resolved parameters plus every non-card axis value of the point.
    seed:
        The point's seed; use :meth:`rng` for random streams.
    substrate_kind:
        The substrate this point runs on, or None for a physics-only evaluation.
    """

    card: Any
    params: dict[str, Any]
    seed: int
    substrate_kind: str | None = None
    network_loader: Callable[[], Any] | None = None
    _network: Any = None

    def rng(self, stream: str) -> np.random.Generator:
        """A numpy Generator for the named random stream of this point (see :func:`derive_seed`)."""
        return np.random.default_rng(derive_seed(self.seed, stream))

    def network(self) -> Any:
        """The trained network (loaded once per worker from the network cache)."""
        if self.network_loader is None:
            raise PointSkipped("this point has no network (the sweep spec has no [network] section)")
        if self._network is None:
            self._network = self.network_loader()
        return self._network

    def dataset(self) -> Any:
        """The data splits the network was trained on (its test split is what evaluations use)."""
        net = self.network()
        return net.dataset()

    def substrate(self) -> Any:
        """Build this point's substrate from the kind's options object
        (:func:`analogeq.substrates.substrate_options`).

        Options offered: ``card``, ``seed`` (derived from the point seed, stream "substrate") and
        the substrate parameters (``drift_time_s``); only those the kind has are used, so a
        floating-point substrate simply gets none of them. A kind that is not registered (not
        built yet) raises :class:`PointSkipped`."""
        from analogeq.substrates import build_substrate, substrate_kinds, substrate_options

        kind = self.substrate_kind
        if kind is None:
            raise TypeError("this evaluation does not run on a substrate (uses_substrate=False)")
        if kind not in substrate_kinds():
            raise PointSkipped(f"substrate kind {kind!r} is not available (registered: {substrate_kinds()})")
        offered = {"card": self.card, "seed": derive_seed(self.seed, "substrate")}
        offered.update({k: self.params[k] for k in SUBSTRATE_PARAMS if k in self.params})
        substrate = build_substrate(kind, self.network().model, substrate_options(kind, offered=offered))
        substrate.reseed(derive_seed(self.seed, "reads"))
        return substrate


# -- built-in evaluations -------------------------------------------------------------------------
def conductance_error(ctx: PointContext) -> dict[str, Any]:
    """Mean relative conductance error after programming, drift and one read (module docstring)."""
    from hardware_models.devices import program_conductances

    card = ctx.card
    device = card.device
    n = ctx.params["n_cells"]
    t_s = ctx.params["drift_time_s"]
    g_range = device.g_max_S - device.g_min_S
    rng = ctx.rng("conductance_error")
    g_target = rng.uniform(device.g_min_S, device.g_max_S, size=n)
    programmed = program_conductances(card, g_target, rng)
    g_mean = programmed.at_time(t_s)
    sigma = programmed.read_sigma(t_s)
    g_read = g_mean + sigma * rng.standard_normal(n)
    err = (g_read - g_target) / g_range
    stuck = 0.0 if programmed.stuck is None else float(np.mean(programmed.stuck))
    return {
        "mean_abs_error_rel": float(np.mean(np.abs(err))),
        "rms_error_rel": float(np.sqrt(np.mean(err * err))),
        "mean_error_rel": float(np.mean(err)),
        "stuck_fraction": stuck,
    }


def crossbar_read_error(ctx: PointContext) -> dict[str, Any]:
    """Relative error of one read of a programmed crossbar against the exact matrix product.

    W (n_out x n_in) and the inputs x (batch x n_in) are drawn uniformly in [-1, 1] from the
    point's seed; W is programmed with the card (``CrossbarArray.from_card``: device, levels,
    faults, tiles, mapping, DAC, ADC, TIA, wires, drift compensation) and read once at
    ``drift_time_s`` in ``direction``. Metrics: ``relative_error`` = ||y - y_ideal||_F /
    ||y_ideal||_F, ``gain`` = <y, y_ideal> / <y_ideal, y_ideal> (1 = no systematic scale
    error; drift without compensation lowers it), ``n_tiles``.
    """
    from hardware_models.crossbar import CrossbarArray

    p = ctx.params
    rng = ctx.rng("crossbar_read_error")
    w = rng.uniform(-1.0, 1.0, size=(p["n_out"], p["n_in"]))
    n_x = p["n_in"] if p["direction"] == "forward" else p["n_out"]
    x = rng.uniform(-1.0, 1.0, size=(p["batch"], n_x))
    array = CrossbarArray.from_card(w, ctx.card, seed=derive_seed(ctx.seed, "crossbar_program"))
    y = np.asarray(array.read(x, p["drift_time_s"], p["direction"], rng=ctx.rng("crossbar_reads")), dtype=np.float64)
    ideal = x @ w.T if p["direction"] == "forward" else x @ w
    norm2 = float(np.sum(ideal * ideal))
    tiles = array.n_tiles
    return {
        "relative_error": float(np.linalg.norm(y - ideal) / np.sqrt(norm2)),
        "gain": float(np.sum(y * ideal) / norm2),
        "n_tiles": int(tiles[0] * tiles[1]),
    }


def clean_accuracy(ctx: PointContext) -> dict[str, Any]:
    """Top-1 accuracy of one draw of the substrate's logits on the test split."""
    import torch

    test = ctx.dataset().test
    n_test = ctx.params["n_test"]
    if n_test:
        test = test.subset(n_test, seed=0)
    substrate = ctx.substrate()
    correct = 0
    with torch.no_grad():
        for x, y in test.batches(ctx.params["batch_size"]):
            pred = substrate.predict(x.to(substrate.device))
            correct += int((pred.cpu() == y).sum())
    out: dict[str, Any] = {"accuracy": correct / len(test), "n_test": len(test)}
    cost = substrate.cost() or {}
    # energy/latency figures of the substrate's cost model (numbers only; absent entries skipped)
    out.update({k: float(v) for k, v in cost.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out


def robust_accuracy(ctx: PointContext) -> dict[str, Any]:
    """The robustness harness (``evaluate_robustness``) on ``n_test`` test images.

    The suite is the named one (``quick`` or ``full``) with its headline eps set to ``eps_linf`` /
    ``eps_l2`` (and only those eps attacked), transfer off (it needs a second substrate) and
    the gradient-mode comparison off unless asked; the harness's sanity gates run as always and
    their verdict is a metric. Metrics: every number of the harness's ``summary`` (``clean``,
    ``pgd_linf``, ``pgd_l2``, ``square``, ``worst_case_linf``, ...), ``sanity_gates_passed``
    (1 or 0) and ``robustness_wall_time_s``.
    """
    from analogeq.robustness.evaluate import evaluate_robustness
    from analogeq.robustness.suite import get_suite

    p = ctx.params
    suite = get_suite(p["suite"]).replace(
        linf_eps=(p["eps_linf"],), headline_linf_eps=p["eps_linf"],
        l2_eps=(p["eps_l2"],), headline_l2_eps=p["eps_l2"],
        transfer=False, gradient_modes=p["gradient_modes"],
    )
    test = ctx.dataset().test.subset(p["n_test"], seed=0)
    substrate = ctx.substrate()
    result = evaluate_robustness(
        substrate, test.x.to(substrate.device), test.y.to(substrate.device), suite=suite,
        seed=derive_seed(ctx.seed, "robustness") % (2**31), batch_size=p["batch_size"], extras=False,
    )
    out: dict[str, Any] = {}
    for name, value in result["summary"].items():
        if name.startswith("headline_"):  # the eps themselves: already in the params
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    out["sanity_gates_passed"] = 1.0 if result.get("sanity_gates_passed") else 0.0
    out["robustness_wall_time_s"] = float(result.get("wall_time_s", math.nan))
    out["n_test"] = int(result.get("n_examples", len(test)))
    return out


register_evaluation(
    "conductance_error",
    conductance_error,
    params={
        "n_cells": Param(4096, int_at_least(1), "number of programmed cells"),
        "drift_time_s": Param(3600.0, float_at_least(0.0), "time between programming and the read [s]"),
    },
    description="relative conductance error of programmed cells after drift and one read (no network)",
    metrics=("mean_abs_error_rel",),
)
register_evaluation(
    "crossbar_read_error",
    crossbar_read_error,
    params={
        "n_in": Param(64, int_at_least(1), "inputs of the forward read (columns of W)"),
        "n_out": Param(32, int_at_least(1), "outputs of the forward read (rows of W)"),
        "batch": Param(32, int_at_least(1), "input vectors read"),
        "direction": Param("forward", one_of("forward", "backward"), "read W (forward) or W^T (backward)"),
        "drift_time_s": Param(3600.0, float_at_least(0.0), "time between programming and the read [s]"),
    },
    description="relative error of a programmed crossbar read of a random matrix (no network)",
    metrics=("relative_error",),
)
register_evaluation(
    "clean_accuracy",
    clean_accuracy,
    params={
        "n_test": Param(0, int_at_least(0), "test images (0 = the whole test split)"),
        "batch_size": Param(256, int_at_least(1), "images per substrate call"),
    },
    uses_substrate=True,
    needs_network=True,
    description="top-1 accuracy on the test split, one draw of the substrate's noise",
    metrics=("accuracy",),
)
register_evaluation(
    "robust_accuracy",
    robust_accuracy,
    params={
        "suite": Param("quick", one_of("quick", "full"), "attack suite of analogeq.robustness.suite"),
        "n_test": Param(100, int_at_least(1), "test images attacked"),
        "eps_linf": Param(0.1, float_at_least(0.0), "Linf budget (pixels in [0, 1])"),
        "eps_l2": Param(1.0, float_at_least(0.0), "L2 budget"),
        "gradient_modes": Param(False, boolean, "also compare full / truncated / implicit gradients"),
        "batch_size": Param(256, int_at_least(1), "examples per attack chunk"),
    },
    uses_substrate=True,
    needs_network=True,
    description="robust accuracy from the robustness harness's quick (or full) suite, with its sanity gates",
    metrics=("clean", "pgd_linf", "worst_case_linf"),
)
