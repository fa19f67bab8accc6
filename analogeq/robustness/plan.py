"""The plan of an evaluation: an attack suite as a list of attack runs, plain data.

:func:`plan_attacks` turns an :class:`~analogeq.robustness.suite.AttackSuite` into a
:class:`Plan`: which attack runs, in which norm, at which eps, with which parameters, and under
which name its random stream is seeded. Nothing here runs an attack; the runner
(:mod:`analogeq.robustness.runner`) builds each attack from its :class:`AttackRun` and
seeds it with ``derive_seed(seed, run.stream)`` (:mod:`hardware_models.seeds`), so a run's
numbers depend on its name, never on its place in the plan: switching one attack on leaves every
other attack's result unchanged.

Stream names: ``attack/<name>/<norm>/<eps key>`` (``eps key`` is :func:`eps_key`, ``unbounded``
for C&W), e.g. ``attack/pgd_linf/linf/0.1``. The convergence run and the gradient-mode runs take
the stream of PGD L_inf at the headline eps: each is a paired comparison with it (same random
starts and evaluation draws; only the budget or the gradient differs), as the gates mean it.

PGD step size: ``pgd_step_factor * eps / steps`` (2.5 eps / 20 in the quick suite); PGD in L2
(cross-entropy, margin, transfer) takes the suite's L2 budget (``AttackSuite.l2_budget``),
the ``converged_l2`` runs ``AttackSuite.l2_convergence_budget``. ``pgd_nearest_<norm>``
(:class:`~analogeq.robustness.attacks.nearest_class.NearestClassPGD`) runs at the headline eps
of each norm in ``nearest_norms`` with ``nearest_steps`` steps of the same factor and
``nearest_restarts`` restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analogeq.contract import GradientSpec
from analogeq.robustness.suite import AttackSuite

#: the attack classes a run may name (:mod:`analogeq.robustness.attacks`)
ATTACK_CLASSES = ("PGD", "FGSM", "APGD", "APGDTargeted", "NearestClassPGD", "CarliniWagnerL2", "Square", "Transfer")


def eps_key(eps: float) -> str:
    """JSON key of an eps value: shortest exact repr (0.1 -> "0.1", 1.0 -> "1.0")."""
    return repr(float(eps))


@dataclass(frozen=True)
class AttackRun:
    """One attack of a plan.

    name: the result key (``"pgd_linf"``, ``"square_l2"``, ``"cw_l2"``, ``"pgd_linf_converged"``).
    attack: the attack class (one of :data:`ATTACK_CLASSES`); ``Transfer`` runs a PGD with
        ``params`` on the reference substrate.
    norm: ``"linf"`` or ``"l2"``. eps: the radius, None for the unbounded C&W.
    params: the attack's other parameters (steps, step size, restarts, loss, queries, ...).
    white_box: the attack takes gradients (the evaluation's GradientSpec and EOT samples).
    gradient: a GradientSpec for this run only (the gradient-mode comparison); None: the
        evaluation's.
    stream: the name of its random stream (module docstring).
    examples: run on the first ``examples`` examples only (0: all; the targeted attack on a
        fixed subset when the suite asks for one).
    """

    name: str
    attack: str
    norm: str
    eps: float | None
    params: dict[str, Any] = field(default_factory=dict)
    white_box: bool = True
    gradient: GradientSpec | None = None
    stream: str = ""
    examples: int = 0

    def __post_init__(self) -> None:
        if self.attack not in ATTACK_CLASSES:
            raise ValueError(f"attack must be one of {list(ATTACK_CLASSES)}, got {self.attack!r}")
        if not self.stream:
            where = "unbounded" if self.eps is None else eps_key(self.eps)
            object.__setattr__(self, "stream", f"attack/{self.name}/{self.norm}/{where}")


@dataclass(frozen=True)
class Plan:
    """The attack runs of a suite.

    attacks: the main attacks, in the order they run (their results fill ``result["attacks"]``).
    convergence: PGD L_inf at the headline eps with the convergence budget (the ``converged``
        gate), or None.
    convergence_l2: PGD L2 at the headline eps with the convergence budget, cross-entropy and
        (with ``margin_pgd``) margin loss, each paired with its base run (the ``converged_l2``
        gate); empty when switched off.
    gradient_modes: mode name (``full``, ``implicit``, ``truncated_<T>``) -> PGD L_inf at the
        headline eps with that GradientSpec (run only on substrates with settling).
    linf_eps, l2_eps: the sorted eps of each norm, headline included (the unbounded L_inf eps not).
    headlines: ((norm, eps), ...) of the summary.
    """

    attacks: tuple[AttackRun, ...]
    convergence: AttackRun | None
    convergence_l2: tuple[AttackRun, ...]
    gradient_modes: dict[str, AttackRun]
    linf_eps: tuple[float, ...]
    l2_eps: tuple[float, ...]
    headlines: tuple[tuple[str, float], ...]


def _pgd(suite: AttackSuite, eps: float, steps: int, restarts: int, **extra: Any) -> dict[str, Any]:
    return {"steps": steps, "step_size": suite.pgd_step_factor * eps / steps, "restarts": restarts, **extra}


def plan_attacks(suite: AttackSuite, num_classes: int, has_reference: bool) -> Plan:
    """The attack runs of ``suite`` on a substrate with ``num_classes`` classes; transfer runs
    only with a reference substrate (``has_reference``). APGD-DLR needs 3 classes, APGD-T 4."""
    linf_all = tuple(sorted(set(suite.linf_eps) | {suite.headline_linf_eps}))
    l2_all = tuple(sorted(set(suite.l2_eps) | {suite.headline_l2_eps}))
    headlines = (("linf", suite.headline_linf_eps), ("l2", suite.headline_l2_eps))
    steps, restarts = suite.pgd_steps, suite.pgd_restarts
    budget = {"linf": (steps, restarts), "l2": suite.l2_budget}
    runs: list[AttackRun] = []
    for eps in linf_all + (suite.unbounded_linf_eps,):
        runs.append(AttackRun("pgd_linf", "PGD", "linf", eps, _pgd(suite, eps, steps, restarts)))
        if suite.fgsm:
            runs.append(AttackRun("fgsm_linf", "FGSM", "linf", eps))
        if suite.seed_study_pgd:
            runs.append(AttackRun("pgd_linf_seed_study", "PGD", "linf", eps,
                                  {"steps": 20, "step_size": 2.5 * eps / 20, "restarts": 1}))
    for eps in l2_all:
        runs.append(AttackRun("pgd_l2", "PGD", "l2", eps, _pgd(suite, eps, *budget["l2"])))
    if suite.margin_pgd:
        for norm, eps in headlines:
            runs.append(AttackRun(f"pgd_margin_{norm}", "PGD", norm, eps, _pgd(suite, eps, *budget[norm], loss="margin")))
    if suite.nearest_steps > 0:
        for norm, eps in headlines:
            if norm in suite.nearest_norms:
                runs.append(AttackRun(f"pgd_nearest_{norm}", "NearestClassPGD", norm, eps,
                                      {"steps": suite.nearest_steps, "restarts": suite.nearest_restarts,
                                       "step_size": suite.pgd_step_factor * eps / suite.nearest_steps}))
    for norm, eps in headlines:
        if suite.apgd_steps > 0:
            runs.append(AttackRun(f"apgd_ce_{norm}", "APGD", norm, eps, {"steps": suite.apgd_steps, "loss": "ce",
                                                                       "restarts": suite.apgd_restarts}))
            if num_classes >= 3:
                runs.append(AttackRun(f"apgd_dlr_{norm}", "APGD", norm, eps, {"steps": suite.apgd_steps, "loss": "dlr",
                                                                             "restarts": suite.apgd_restarts}))
        if suite.apgd_targets > 0 and suite.targeted_steps > 0:
            runs.append(AttackRun(f"apgd_t_{norm}", "APGDTargeted", norm, eps,
                                  {"steps": suite.targeted_steps, "targets": suite.apgd_targets,
                                   "loss": "dlr" if num_classes >= 4 else "ce"},
                                  examples=suite.targeted_examples))
    if suite.cw_steps > 0:
        runs.append(AttackRun("cw_l2", "CarliniWagnerL2", "l2", None,
                              {"steps": suite.cw_steps, "search_steps": suite.cw_search_steps}))
    if suite.square_queries > 0:
        for norm, eps in headlines:
            runs.append(AttackRun(f"square_{norm}", "Square", norm, eps,
                                  {"queries": suite.square_queries, "score_draws": 1}, white_box=False))
    if suite.transfer and has_reference:
        for norm, eps in headlines:
            runs.append(AttackRun(f"transfer_{norm}", "Transfer", norm, eps, _pgd(suite, eps, *budget[norm]),
                                  white_box=False))

    eps = suite.headline_linf_eps
    paired = f"attack/pgd_linf/linf/{eps_key(eps)}"
    convergence = None
    if suite.convergence_steps > 0 and suite.convergence_restarts > 0:
        convergence = AttackRun("pgd_linf_converged", "PGD", "linf", eps,
                                _pgd(suite, eps, suite.convergence_steps, suite.convergence_restarts), stream=paired)
    modes: dict[str, AttackRun] = {}
    if suite.gradient_modes:
        specs = {"full": GradientSpec("full"), "implicit": GradientSpec("implicit")}
        specs.update({f"truncated_{t}": GradientSpec("truncated", t) for t in suite.truncated_steps})
        modes = {name: AttackRun(f"pgd_linf_{name}", "PGD", "linf", eps, _pgd(suite, eps, steps, restarts),
                                 gradient=spec, stream=paired)
                 for name, spec in specs.items()}
    conv_l2: list[AttackRun] = []
    steps2, restarts2 = suite.l2_convergence_budget
    if suite.convergence_l2 and steps2 > 0 and restarts2 > 0:
        e2 = suite.headline_l2_eps
        losses = (("pgd_l2", "ce"),) + ((("pgd_margin_l2", "margin"),) if suite.margin_pgd else ())
        for base, loss in losses:
            conv_l2.append(AttackRun(f"{base}_converged", "PGD", "l2", e2,
                                     _pgd(suite, e2, steps2, restarts2, loss=loss),
                                     stream=f"attack/{base}/l2/{eps_key(e2)}"))
    return Plan(tuple(runs), convergence, tuple(conv_l2), modes, linf_all, l2_all, headlines)
