"""Which default settling budget keeps a deep dense EBM's EqProp gradient right (issue 14, item 5).

The network that exposed silent non-convergence, a dense EBM 64-37-23-19-10 (squared-error
output, step size 0.5, tolerance 1e-5), at initialisation, with each budget policy:

* ``fixed``: the old default, 60 free and 20 nudged steps whatever the depth;
* ``depth_scaled``: 60 free and 20 nudged steps per state layer (4 here: 240 / 80);
* ``residual_capped``: stop on the residual (tol 1e-5) with a large cap, 1000 free and 1000
  nudged steps (the new :class:`analogeq.ebm.dense.DenseEBMConfig` default; at Glorot gain 1
  the phases need 626 free and up to 773 nudged steps at beta 0.5, 836 at beta 0.1).

For each policy and Glorot gain (1.0, the config default, and 0.5, the recipes'):

* ``free_steps_used`` / ``nudge_steps_used``: steps of the free phase and the longer nudged
  phase on a batch of 64 digits (batch-wide stop, as training settles), the free phase's
  ``free_residual`` and whether all three phases converged;
* ``ep_vs_bptt_cosine_min``: smallest cosine over the parameter tensors between the EqProp
  estimate at that budget (float64, symmetric nudging, beta 0.001 as the other cosine keys, 32
  digits) and the BPTT gradient through a converged free phase (tol 1e-12, 2 x its steps): the
  gradient the budget should give (a phase stopped at tol 1e-5 still leaves state errors of
  ~1e-5 against a nudge of beta 0.001, so even a converged budget stays a little below 1);
* ``eqprop_gradient_ms``: median wall time of one EqProp gradient (float32, beta 0.5 as in
  training, batch 64), the policies timed in turn in one run.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics

import torch
import torch.nn.functional as F

from common import interleaved_times

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.train import bptt_gradients, eqprop_gradients

HIDDEN = (37, 23, 19)
TOL = 1e-5
STATE_LAYERS = len(HIDDEN) + 1  # mse output layer in the energy
POLICIES = {
    "fixed": (60, 20),
    "depth_scaled": (60 * STATE_LAYERS, 20 * STATE_LAYERS),
    "residual_capped": (1000, 1000),
}
GAINS = (1.0, 0.5)
BETA_COSINE = 0.001


def _model(gain: float, free: int, nudge: int, tol: float = TOL) -> DenseEBM:
    return DenseEBM(DenseEBMConfig(hidden_sizes=HIDDEN, readout="mse", init_gain=gain, free_steps=free,
                                   nudge_steps=nudge, tol=tol, seed=0))


def _with_budget(model: DenseEBM, free: int, nudge: int, tol: float) -> DenseEBM:
    m = copy.deepcopy(model)
    m.config = dataclasses.replace(m.config, free_steps=free, nudge_steps=nudge, tol=tol)
    return m


def reference_gradient(model64: DenseEBM, x, y) -> dict[str, torch.Tensor]:
    """BPTT through 2x the steps of a free phase settled to 1e-12 (float64)."""
    ref = _with_budget(model64, 20000, 20000, 1e-12)
    free = eqprop_gradients(ref, x, y, BETA_COSINE).free
    bptt_gradients(ref, x, y, 2 * free.steps)
    return {n: p.grad.clone() for n, p in ref.named_parameters()}


def measure(splits, repeats: int = 3) -> dict:
    x64, y64 = splits.train.x[:64], splits.train.y[:64]
    xc, yc = splits.train.x[:32].double(), splits.train.y[:32]
    out: dict = {"network": "64-37-23-19-10 (mse)", "tol": TOL, "policies": {k: {"free_steps": f, "nudge_steps": n}
                                                                             for k, (f, n) in POLICIES.items()}}
    for gain in GAINS:
        base = _model(gain, 60, 20)
        ref = reference_gradient(base.double(), xc, yc)
        per_policy, fns = {}, {}
        for name, (free, nudge) in POLICIES.items():
            m32 = _with_budget(base.float(), free, nudge, TOL)
            phases = eqprop_gradients(m32, x64, y64, 0.5)
            m64 = _with_budget(base.double(), free, nudge, TOL)
            eqprop_gradients(m64, xc, yc, BETA_COSINE)
            cos = {n: float(F.cosine_similarity(p.grad.flatten(), ref[n].flatten(), dim=0))
                   for n, p in m64.named_parameters()}
            per_policy[name] = {
                "free_steps_used": phases.free.steps,
                "nudge_steps_used": max(phases.plus.steps, phases.minus.steps),
                "free_residual": phases.free.residual,
                "converged": bool(phases.free.converged and phases.plus.converged and phases.minus.converged),
                "ep_vs_bptt_cosine_min": min(cos.values()),
                "ep_vs_bptt_cosines": cos,
            }
            fns[name] = (lambda m=m32: eqprop_gradients(m, x64, y64, 0.5))
        times = interleaved_times(fns, repeats, warmup=0)
        for name in POLICIES:
            per_policy[name]["eqprop_gradient_ms"] = 1e3 * statistics.median(times[name])
        out[f"gain_{gain:g}"] = per_policy
    return out


def choose(result: dict) -> str:
    """The fastest policy (sum of ``eqprop_gradient_ms`` over the gains) whose three phases
    converge at every gain measured (no silent non-convergence, the point of item 5); ``"none"``
    if no policy does. The cosines are reported next to it, not used to choose."""
    good = [name for name in POLICIES if all(result[f"gain_{g:g}"][name]["converged"] for g in GAINS)]
    if not good:
        return "none"
    return min(good, key=lambda name: sum(result[f"gain_{g:g}"][name]["eqprop_gradient_ms"] for g in GAINS))
