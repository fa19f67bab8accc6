"""The runner of an evaluation: builds each planned attack, runs it in chunks and measures the
accuracy of its adversarial batch over evaluation draws.

Seeds: every random stream of the evaluation is ``derive_seed(seed, stream)``
(:mod:`hardware_models.seeds`) with a name, never a counter: an attack run seeds its attack with
its ``run.stream`` (``attack/pgd_linf/linf/0.1``) and its evaluation draws with
``<stream>/draws``; the clean predictions use ``clean/draws``. Chunk k > 0 of a batch runs the
attack with seed + 7919 k, so that chunks do not repeat the random starts of the first.

Accuracy over draws: ``draws`` independent predictions of the whole batch after one reseed;
the accuracy is the mean over draws with the half-width of its 95% interval (Student t,
:func:`analogeq.stats.mean_ci95`; null with one draw), and the per-example robust rate is the
fraction of draws in which the example is classified correctly.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import torch

from analogeq.contract import GradientSpec
from analogeq.robustness.attacks import (
    APGD,
    FGSM,
    PGD,
    APGDTargeted,
    AttackResult,
    CarliniWagnerL2,
    NearestClassPGD,
    Square,
    Transfer,
)
from analogeq.robustness.plan import AttackRun, eps_key
from analogeq.robustness.suite import AttackSuite
from analogeq.stats import mean_ci95
from analogeq.substrates.base import Substrate
from hardware_models.seeds import derive_seed

logger = logging.getLogger(__name__)

ATTACKS = {"PGD": PGD, "FGSM": FGSM, "APGD": APGD, "APGDTargeted": APGDTargeted, "NearestClassPGD": NearestClassPGD,
           "CarliniWagnerL2": CarliniWagnerL2, "Square": Square}

#: seed offset of chunk k > 0 of a batch (a prime, so chunks never share a stream)
CHUNK_SEED_STEP = 7919


class Evaluator:
    """Bookkeeping of one evaluation: the batch, the suite, the seeds, EOT and draws, timings
    and the adversarial batches kept for detection and the energy view."""

    def __init__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor, suite: AttackSuite, seed: int,
                 gradient: GradientSpec, batch_size: int, reference: Substrate | None = None):
        self.substrate = substrate
        self.x, self.y = x, y
        self.suite = suite
        self.seed = seed
        self.gradient = gradient
        self.batch_size = batch_size
        self.reference = reference
        self.n = x.shape[0]
        self.eot = 1
        self.draws = 1
        self.timings: dict[str, float] = {}
        #: adversarial batches kept for detection and the energy view: (name, eps) -> x_adv
        self.adversarial: dict[tuple[str, float], torch.Tensor] = {}
        #: per-example correctness of every run: "<name>@<eps>" (or "clean", "cw_l2") ->
        #: bool (draws, n) on the CPU (n: the run's examples, the first ``n`` of the batch)
        self.correct: dict[str, torch.Tensor] = {}
        #: the configuration of every run under the same keys
        self.configs: dict[str, dict[str, Any]] = {}

    def seed_of(self, stream: str) -> int:
        """The seed of the named random stream of this evaluation."""
        return derive_seed(self.seed, stream)

    # ----------------------------------------------------------------- evaluation over draws
    @torch.no_grad()
    def predictions(self, x: torch.Tensor, stream: str) -> list[torch.Tensor]:
        """``draws`` independent predictions (B,) each, after reseeding with ``stream``."""
        self.substrate.reseed(self.seed_of(stream))
        out = []
        for _ in range(self.draws):
            preds = [self.substrate.predict(x[i:i + self.batch_size]).cpu()
                     for i in range(0, x.shape[0], self.batch_size)]
            out.append(torch.cat(preds))
        return out

    def accuracy(self, correct_draws: list[torch.Tensor]) -> tuple[dict[str, Any], torch.Tensor]:
        """ACC dict and the per-example robust rate from per-draw correctness masks."""
        per_draw = [float(c.float().mean()) for c in correct_draws]
        mean, half = mean_ci95(per_draw)
        rate = torch.stack([c.float() for c in correct_draws]).mean(dim=0)
        return {"accuracy": mean, "ci95": half if len(per_draw) > 1 else None, "per_draw": per_draw}, rate

    # ----------------------------------------------------------------- building and running attacks
    def build(self, run: AttackRun):
        """The attack object of a planned run, seeded with its stream."""
        seed = self.seed_of(run.stream)
        gradient = run.gradient if run.gradient is not None else self.gradient
        if run.attack == "Transfer":
            if self.reference is None:
                raise ValueError(f"{run.name} needs a reference substrate")
            inner = PGD(eps=run.eps, norm=run.norm, **run.params, gradient=gradient, seed=seed,
                        eot_samples=self.suite.eot_samples if self.reference.stochastic else 1)
            return Transfer(attack=inner, source=self.reference, check_draws=self.eot)
        kwargs = dict(run.params)
        if run.eps is not None:
            kwargs.update(eps=run.eps, norm=run.norm)
        if run.white_box:
            kwargs.update(gradient=gradient, eot_samples=self.eot)
        return ATTACKS[run.attack](**kwargs, seed=seed)

    def examples_of(self, run: AttackRun) -> int:
        """How many examples (the first ones of the batch) ``run`` attacks."""
        return self.n if run.examples <= 0 else min(run.examples, self.n)

    def run(self, attack, stream: str, n: int | None = None) -> tuple[AttackResult, float]:
        """Run ``attack`` in chunks of ``batch_size`` on the first ``n`` examples (default all);
        returns the merged result and its wall time.

        The substrate is reseeded with ``stream`` first (an attack that does not reseed it, such
        as Transfer checking its result, then does not depend on what ran before)."""
        substrate = self.substrate
        substrate.reseed(self.seed_of(stream))
        n = self.n if n is None else n
        started = time.perf_counter()
        parts = []
        for k, i in enumerate(range(0, n, self.batch_size)):
            chunk_attack = attack
            if k > 0 and "seed" in getattr(attack, "__dataclass_fields__", {}):
                chunk_attack = dataclasses.replace(attack, seed=attack.seed + CHUNK_SEED_STEP * k)
            j = min(i + self.batch_size, n)
            parts.append(chunk_attack(substrate, self.x[i:j], self.y[i:j]))
        wall = time.perf_counter() - started
        first = parts[0]
        merged = AttackResult(
            x_adv=torch.cat([p.x_adv for p in parts]),
            success=torch.cat([p.success for p in parts]),
            distance=torch.cat([p.distance for p in parts]),
            norm=first.norm,
            attack=first.attack,
            config=first.config,
            wall_time_s=wall,
            extra=first.extra if len(parts) == 1 else {"chunks": [p.extra for p in parts]},
        )
        return merged, wall

    def attack_entry(self, run: AttackRun) -> tuple[dict[str, Any], torch.Tensor, AttackResult]:
        """ATTACK entry, per-example robust rate and the raw result of one bounded run.

        A run on the first m < n examples (``run.examples``) has an entry over those m (with
        ``n_examples``) and a robust rate of length n, 1 for the examples it did not attack."""
        n = self.examples_of(run)
        result, wall = self.run(self.build(run), run.stream, n)
        key = f"{run.name}@{eps_key(run.eps)}"
        self.adversarial[(run.name, float(run.eps))] = result.x_adv
        correct = [p == self.y[:n].cpu() for p in self.predictions(result.x_adv, f"{run.stream}/draws")]
        self.correct[key] = torch.stack(correct)
        self.configs[key] = result.config
        acc, rate = self.accuracy(correct)
        if n < self.n:
            rate = torch.cat([rate, torch.ones(self.n - n)])
        per100 = wall / n * 100.0
        self.timings[key] = per100
        entry = {
            **acc,
            "n_examples": n,
            "attack_success_rate": result.success_rate,
            "mean_distance": float(result.distance.mean()),
            "max_distance": float(result.distance.max()),
            "wall_time_s": wall,
            "wall_time_per_100_images_s": per100,
            "config": result.config,
            "extra": result.extra,
        }
        logger.info("%s eps=%s: accuracy %.4f (%.1f s)", run.name, eps_key(run.eps), acc["accuracy"], wall)
        return entry, rate, result

    def unbounded_entry(self, run: AttackRun, clean_preds: list[torch.Tensor], l2_eps,
                        rates: dict[tuple[str, float], torch.Tensor]) -> dict[str, Any]:
        """C&W is unbounded: an example counts as broken at eps only if its C&W point is within
        eps (per draw: adversarial prediction inside, clean prediction outside)."""
        result, wall = self.run(self.build(run), run.stream)
        adv_preds = self.predictions(result.x_adv, f"{run.stream}/draws")
        y = self.y.cpu()
        self.adversarial[(run.name, None)] = result.x_adv
        self.correct[run.name] = torch.stack([a == y for a in adv_preds])
        self.configs[run.name] = result.config
        by_eps = {}
        for eps in l2_eps:
            inside = result.distance <= eps
            correct = [torch.where(inside, a == y, c == y) for a, c in zip(adv_preds, clean_preds)]
            acc, rate = self.accuracy(correct)
            by_eps[eps_key(eps)] = acc
            rates[(run.name, float(eps))] = rate
        unbounded, _ = self.accuracy([a == y for a in adv_preds])
        self.timings[run.name] = wall / self.n * 100.0
        ok = result.success
        return {
            **unbounded,
            "attack_success_rate": result.success_rate,
            "accuracy_at_eps": by_eps,
            "median_distance_successful": float(result.distance[ok].median()) if bool(ok.any()) else None,
            "mean_distance": float(result.distance.mean()),
            "max_distance": float(result.distance.max()),
            "wall_time_s": wall,
            "wall_time_per_100_images_s": wall / self.n * 100.0,
            "config": result.config,
            "extra": {},
        }
