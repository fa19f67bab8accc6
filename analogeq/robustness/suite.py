"""Attack suites: which attacks an evaluation runs, at which eps, with which budgets.

Pixels are in [0, 1]. The defaults are chosen for digits (8x8 grey images; a typical digit has
||x||_2 of about 3 to 4): L_inf eps 0.1 / 0.2 / 0.3 (0.3 is the classic MNIST radius), L2 eps
1.0 / 2.0, and L_inf eps = 1 (the whole image box) as the "unbounded" point of the sanity gate.
For other data pass your own :class:`AttackSuite` (``QUICK.replace(linf_eps=(8/255,), ...)``).

Suites
------
Every suite runs a targeted attack (APGD-T) at the headline eps of each norm, so that the worst
case per norm includes one, and the gates of issue 15: ``targeted_vs_untargeted_<norm>``,
``converged_l2`` (PGD-L2, CE and margin loss, the L2 convergence budget
``convergence_l2_steps`` x ``convergence_l2_restarts``, 0 meaning the L_inf one) and ``eot_sufficient`` (K doubled up to ``eot_max_samples`` until two independent K-draw
gradient estimates have cosine >= ``eot_min_cosine`` = 0.95 on ``eot_check_examples``).

``quick`` is a **smoke test** (``smoke_test=True``: every table and JSON says so): its
accuracies under attack are upper bounds, not figures to report. On the digits EBM at L2 eps 1
its PGD-L2 left 23% and its worst case 13% where the full suite's worst case (APGD-T) is 3%.
``standard`` (the default of :func:`~analogeq.robustness.evaluate.evaluate_robustness`, the CLI
and the demo): quick plus
    APGD-CE / APGD-DLR (50 steps x ``apgd_restarts`` = 3, restarts only on the examples still
    correct) and APGD-T (9 targets x 50 steps) at the headline eps. The restarts took APGD-DLR
    at L2 1.0 from 54 % to 42 % on the digits EBM (100 images) and changed no worst case; on the
    PCM crossbar (1 h) test images 88 and 98 at L_inf 0.1 stay broken in most draws by APGD-T only
    (boundary images under read noise: the worst case moves by 1.0 point, at the gate's tolerance);
    PGD in L2 (CE, margin, transfer) with 50 steps x 2 restarts (``pgd_l2_steps``,
    ``pgd_l2_restarts``; L_inf PGD stays at 20 x 1), and ``converged_l2`` doubling that to
    100 x 4: at 20 x 1 -> 40 x 2 the doubled budget broke 4 more of 100 digits images (9% -> 5%),
    at 50 x 2 -> 100 x 4 none (5% -> 5%);
    ``pgd_nearest_l2`` (:class:`~analogeq.robustness.attacks.nearest_class.NearestClassPGD`,
    ``nearest_steps`` = 50 x ``nearest_restarts`` = 3 at the headline L2 eps; later restarts
    only on the examples still correct): untargeted PGD towards the nearest
    linearised class boundary. The digits EBM's scores are hard-sigmoid states with every wrong
    class tied at 0, where CE, margin and DLR cannot tell the wrong classes apart; APGD-T then
    broke 4 of 100 images that every other untargeted attack missed (the gate failed), and more
    untargeted budget did not close it (PGD margin / CE / log-sum-exp margin 100 steps x 5-10
    restarts, APGD-CE / DLR 100 x 5; measured on those images). With 50 x 1 it left 2 such
    images of 100 (test images 10 and 27; the gate failed by one image), with 50 x 3 one (27);
    stochastic substrates: EOT K = 2 to start; the ``eot_sufficient`` gate doubles it until two
    independent K-draw gradients agree (cosine >= 0.95; PCM at 1 h: 0.974 at K = 1, 0.998 at
    K = 8), so K is what the substrate needs, not a fixed 8.

``quick`` (the seed study's PGD, arXiv 2401.11543: 20 iterations, step 2.5 * eps / 20, one
random start; APGD-T 3 targets x 20 steps at the headline eps):
    FGSM at every L_inf eps; PGD L_inf at 0.1, 0.2, 0.3 and 1.0 (unbounded); PGD L2 at 1.0, 2.0;
    PGD with the margin loss -(z_y - max_{i != y} z_i) (C&W's loss) in L_inf and L2 at the
    headline eps: cross-entropy saturates on confident examples, and on the digits EBM the
    margin loss breaks examples that CE-PGD misses and only Square found;
    Square (1000 queries, p_init 0.8) L_inf and L2 at the headline eps (0.1, 1.0);
    transfer of PGD from the reference substrate at the headline eps (when one is given);
    convergence gate: PGD L_inf at the headline eps with 40 steps and 2 restarts;
    stochastic substrates: EOT K = 8, 10 evaluation draws.
``full`` (closer to AutoAttack, Croce & Hein 2020):
    as quick with PGD 50 steps x 5 restarts (step 2.5 * eps / 50), plus the seed study's PGD
    (20 steps, 1 start) kept as ``pgd_linf_seed_study``; APGD-CE, APGD-DLR (100 steps x 5 restarts,
    AutoAttack's "plus" count) and APGD-T
    (9 targets x 100 steps) at the headline L_inf and L2 eps; ``pgd_nearest_l2`` 100 steps x 5; C&W L2 (9 binary-search steps x
    200 Adam steps); Square 5000 queries; convergence gate with 100 steps x 10 restarts;
    stochastic substrates: EOT K = 20 (AutoAttack's rand version), 20 draws.
Both suites compare the gradient modes of the settling on substrates that have one (full,
truncated to each of ``truncated_steps`` = (5, 30) steps, implicit when the substrate offers it)
with PGD L_inf at the headline eps: 30 is the seed study's truncation (29 to 70 steps while
prediction used 250); 5 is far short of the digits recipe's 60-step free phase.

What the quick suite misses (measured on the digits recipe, dense 64-256-10 with a squared-error
output layer, 30 epochs): its outputs are hard-sigmoid states that sit at 0 or 1 for most
units, the loss surface is flat in places, and PGD with the seed study's small fixed step
(2.5 eps / 20) stalls: PGD L2 at eps 1 leaves 39% of 100 test images correct while APGD-CE
(100 steps) leaves 20% and Square 18%. The gate ``white_box_beats_black_box_l2`` fails there
and says so; the full suite (APGD, 5000-query Square) is the evaluation to report.

Randomized smoothing (when :mod:`analogeq.robustness.certify` exists; Cohen et al. 2019):
sigma 0.25, n0 = 100, n = 1000 (quick) / 10000 (full), alpha = 0.001, certified accuracy at
L2 radii 0.25 and 0.5, on the first ``certify_examples`` examples (100 / 500); with n = 1000
the largest certifiable radius is sigma * PhiInv(0.001 ** (1/1000)) ~ 0.62. ``certify_examples
= 0`` switches it off.

Natural corruptions (when :mod:`analogeq.robustness.corruptions` exists): all 19 types
(``corruption_names`` empty) at severities 1-5 on the first ``corruption_examples`` examples
(100 quick, 500 full; 0 switches them off), each corrupted batch classified over the draws.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from hardware_models.params import Boolean, Integer, OneOf, ParameterError, Real, validate_params

#: an eps or radius: a finite number >= 0 (pixels in [0, 1])
_EPS = Real(minimum=0.0)
_FRACTION = Real(minimum=0.0, maximum=1.0)
_POSITIVE = Real(minimum=0.0, exclusive_minimum=True)
_COUNT = Integer(minimum=1)
_SWITCH = Integer(minimum=0)  # 0 switches the attack or measurement off
_TUPLES = ("linf_eps", "l2_eps", "corruption_names", "corruption_severities", "truncated_steps", "certify_radii",
           "nearest_norms")
#: constraints of each element of the tuple fields
_EACH = {"linf_eps": _EPS, "l2_eps": _EPS, "certify_radii": _EPS, "nearest_norms": OneOf(("linf", "l2")),
         "corruption_severities": Integer(minimum=1, maximum=5), "truncated_steps": _COUNT}
#: constraints of the scalar fields
_CONSTRAINTS = {
    "unbounded_linf_eps": Real(minimum=1.0), "headline_linf_eps": _EPS, "headline_l2_eps": _EPS,
    **{name: _COUNT for name in ("pgd_steps", "pgd_restarts", "nearest_restarts", "apgd_restarts", "cw_search_steps", "eot_samples", "draws",
                                 "certify_n0", "certify_n")},
    "randomness_passes": Integer(minimum=2),
    **{name: _SWITCH for name in ("certify_examples", "corruption_examples", "apgd_steps", "apgd_targets", "cw_steps",
                                  "square_queries", "convergence_steps", "convergence_restarts", "targeted_steps",
                                  "targeted_examples", "eot_check_examples", "eot_max_samples", "pgd_l2_steps",
                                  "pgd_l2_restarts", "convergence_l2_steps", "convergence_l2_restarts", "nearest_steps")},
    "targeted_tolerance": _FRACTION, "eot_min_cosine": Real(minimum=-1.0, maximum=1.0),
    "certify_sigma": _POSITIVE, "certify_alpha": Real(minimum=0.0, maximum=0.5, exclusive_minimum=True),
    "pgd_step_factor": _POSITIVE, "gate_tolerance": _FRACTION, "unbounded_threshold": _FRACTION,
    **{name: Boolean() for name in ("fgsm", "seed_study_pgd", "margin_pgd", "transfer", "gradient_modes",
                                    "convergence_l2", "smoke_test")},
}


@dataclass(frozen=True)
class AttackSuite:
    """What an evaluation runs. ``0`` steps/queries switches an attack off."""

    name: str
    linf_eps: tuple[float, ...] = (0.1, 0.2, 0.3)
    l2_eps: tuple[float, ...] = (1.0, 2.0)
    unbounded_linf_eps: float = 1.0
    headline_linf_eps: float = 0.1
    headline_l2_eps: float = 1.0
    fgsm: bool = True
    pgd_steps: int = 20
    pgd_step_factor: float = 2.5
    pgd_restarts: int = 1
    pgd_l2_steps: int = 0
    pgd_l2_restarts: int = 0
    seed_study_pgd: bool = False
    margin_pgd: bool = True
    apgd_steps: int = 0
    apgd_restarts: int = 1
    apgd_targets: int = 3
    targeted_steps: int = 20
    targeted_examples: int = 0
    targeted_tolerance: float = 0.01
    nearest_steps: int = 0
    nearest_restarts: int = 1
    nearest_norms: tuple[str, ...] = ("l2",)
    cw_steps: int = 0
    cw_search_steps: int = 9
    square_queries: int = 1000
    transfer: bool = True
    convergence_steps: int = 40
    convergence_restarts: int = 2
    convergence_l2: bool = True
    convergence_l2_steps: int = 0
    convergence_l2_restarts: int = 0
    eot_samples: int = 8
    eot_max_samples: int = 32
    eot_min_cosine: float = 0.95
    eot_check_examples: int = 32
    draws: int = 10
    gradient_modes: bool = True
    truncated_steps: tuple[int, ...] = (5, 30)
    gate_tolerance: float = 0.03
    unbounded_threshold: float = 0.02
    randomness_passes: int = 5
    corruption_names: tuple[str, ...] = ()
    corruption_severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    corruption_examples: int = 100
    certify_sigma: float = 0.25
    certify_n0: int = 100
    certify_n: int = 1000
    certify_alpha: float = 0.001
    certify_radii: tuple[float, ...] = (0.25, 0.5)
    certify_examples: int = 100
    smoke_test: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError("AttackSuite", "name", f"must be a non-empty string, got {self.name!r}")
        for field_name in _TUPLES:
            object.__setattr__(self, field_name, tuple(getattr(self, field_name)))
        object.__setattr__(self, "linf_eps", tuple(float(v) for v in self.linf_eps))
        object.__setattr__(self, "l2_eps", tuple(float(v) for v in self.l2_eps))
        object.__setattr__(self, "certify_radii", tuple(float(r) for r in self.certify_radii))
        for field_name, constraint in _EACH.items():
            for v in getattr(self, field_name):
                constraint(field_name, v, "AttackSuite")
        validate_params({k: getattr(self, k) for k in _CONSTRAINTS}, _CONSTRAINTS, owner="AttackSuite")

    def replace(self, **changes: Any) -> "AttackSuite":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["linf_eps"] = list(self.linf_eps)
        d["l2_eps"] = list(self.l2_eps)
        d["corruption_names"] = list(self.corruption_names)
        d["corruption_severities"] = list(self.corruption_severities)
        d["truncated_steps"] = list(self.truncated_steps)
        d["certify_radii"] = list(self.certify_radii)
        d["nearest_norms"] = list(self.nearest_norms)
        return d

    @property
    def l2_budget(self) -> tuple[int, int]:
        """(steps, restarts) of PGD in L2: ``pgd_l2_steps`` / ``pgd_l2_restarts``, 0 meaning the
        L_inf budget ``pgd_steps`` / ``pgd_restarts``."""
        return self.pgd_l2_steps or self.pgd_steps, self.pgd_l2_restarts or self.pgd_restarts

    @property
    def l2_convergence_budget(self) -> tuple[int, int]:
        """(steps, restarts) of the ``converged_l2`` runs: ``convergence_l2_steps`` /
        ``convergence_l2_restarts``, 0 meaning ``convergence_steps`` / ``convergence_restarts``."""
        return (self.convergence_l2_steps or self.convergence_steps,
                self.convergence_l2_restarts or self.convergence_restarts)


QUICK = AttackSuite(name="quick", smoke_test=True)

#: the default suite (the one the CLI, the demo and the README tour start from): see the
#: module docstring, ``standard``
STANDARD = AttackSuite(name="standard", apgd_steps=50, apgd_restarts=3, apgd_targets=9, targeted_steps=50,
                       pgd_l2_steps=50, pgd_l2_restarts=2, convergence_l2_steps=100, convergence_l2_restarts=4,
                       nearest_steps=50, nearest_restarts=3, eot_samples=2)

FULL = AttackSuite(
    name="full",
    pgd_steps=50,
    pgd_restarts=5,
    seed_study_pgd=True,
    apgd_steps=100,
    apgd_restarts=5,
    apgd_targets=9,
    targeted_steps=100,
    cw_steps=200,
    square_queries=5000,
    convergence_steps=100,
    convergence_restarts=10,
    nearest_steps=100,
    nearest_restarts=5,
    eot_samples=20,
    draws=20,
    certify_n=10000,
    certify_examples=500,
    corruption_examples=500,
)

SUITES = {"quick": QUICK, "standard": STANDARD, "full": FULL}

#: the suite evaluate_robustness and ``analogeq robustness`` use when none is named
DEFAULT_SUITE = "standard"


def get_suite(suite: "str | AttackSuite") -> AttackSuite:
    if isinstance(suite, AttackSuite):
        return suite
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {sorted(SUITES)} or an AttackSuite, got {suite!r}")
    return SUITES[suite]
