"""Scheduled settling of a layered EBM: synchronous or asynchronous sweeps with reused reads,
and per-sample stopping. The fixed points are those of the reference synchronous step.

Layer k (k = 1..N, s_0 = x) is updated from its drive

    h_k = b_k + A_k(s_{k-1}) + A_{k+1}^T(s_{k+1}) - beta dC/ds_k,   s_k <- s_k + eps (rho(h_k) - s_k)

(:meth:`~analogeq.ebm.layered.LayeredEBM.step`). Two schedules of one *sweep*:

* ``"sync"``: every layer from the previous states (Jacobi; the same map as ``LayeredEBM.step``);
* ``"async"``: the odd layers 1, 3, ... from the current even ones, then the even layers from the
  new odd ones (Gauss-Seidel on a layered graph; Scellier et al. 2023). Layers of one parity do
  not interact (no intra-layer couplings), so each half-sweep updates them all at once, and it
  sets them to s_k = rho(h_k) (eps = 1, whatever ``step_size`` is): that is the exact minimiser
  over s_k of the energy with the max-pool couplings of s_k linearised at their current argmax,
  an upper bound of the energy that touches it at the current s_k (the pooled coupling
  <P(W s_k), s_{k+1}> is convex in s_k for s_{k+1} >= 0). Each half-sweep is thus a
  majorise-minimise step: the energy never increases, and no damping is needed (``step_size``
  damps the period-2 oscillations of the synchronous update only).

A state is a fixed point of one schedule iff it is one of the other, s_k = rho(h_k(s)) for every
k: an async half-sweep leaves such a state unchanged, and a state left unchanged by both
half-sweeps satisfies every layer's equation. Which fixed point a run reaches from s = 0 is not
the same when there are several: on a contractive net (unique fixed point) async finds the
reference's in about 3x fewer sweeps (tests), but on a random CIFAR-shape net about half the
images settle elsewhere, and EqProp training with it did not learn (``benchmarks/bench_conv_float.py``,
:class:`~analogeq.ebm.conv.ConvEBMConfig`). The synchronous schedule with per-sample stopping is
the default: each sample follows the reference trajectory until it stops.

Reads, reused while their input is unchanged (exact, not approximations):

* the first layer's drive b_1 + A_1(x) is constant over a settle (x is clamped): read once;
* a convolution's forward read P(W * s_{k-1}) also yields the max-pool argmax that its adjoint
  needs (``forward_with_context`` / ``adjoint_from_context``); under ``"async"`` the argmax of
  synapse k+1 read when layer k+1 was updated is still that of the current s_k when layer k is
  updated next, so one sweep costs one forward and one adjoint read per synapse, as a
  synchronous step does.

Per-sample stopping: the residual of a sweep is measured per sample, r_b = max |s^{t+1} - s^t|
over its layers and units; a sample with r_b <= tol is frozen at those states and dropped from the
batch of every later read (the batch shrinks as samples converge). The reference settle iterates
every sample until the slowest one is within tol; near a fixed point a frozen sample's states
differ from the reference's by about r_b / (1 - L), L the local contraction of the map. The
residual is the same stopping test as the reference's, and shares its blind spot: a sample
crossing a plateau (residual <= tol for a while, then moving on) stops there. Measured on the
briefly trained ``mnist5k_conv`` net (``benchmarks/bench_conv_float.py --quick``): max unit
distance to the reference's final states 0.50 for one sample, every prediction the same.
"""

from __future__ import annotations

import torch

#: the sweep schedules (see the module docstring)
SCHEDULES = ("sync", "async")


class Sweeper:
    """Sweeps of ``model`` (a LayeredEBM) on a clamped batch ``x`` with reads ``synapses``
    (default: the model's own), nudging ``beta`` towards ``y``.

    The reads of the current states are kept between sweeps (``_reads[k]`` = forward current
    and context of synapse k, from the current s_{k-1}); :meth:`keep` restricts the batch.
    """

    def __init__(self, model, x: torch.Tensor, schedule: str, *, beta: float = 0.0, y: torch.Tensor | None = None,
                 synapses: list | None = None):
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
        if beta != 0.0 and y is None:
            raise ValueError("y (labels) is required when beta != 0")
        self.model, self.schedule, self.beta, self.y = model, schedule, float(beta), y
        self.syns = synapses if synapses is not None else model.all_synapses()
        self.n = len(model.state_shapes)
        self.eps = float(model.step_size) if schedule == "sync" else 1.0
        self.biases = list(model.biases)
        self.drive0 = self.syns[0](x) + self.biases[0]  # b_1 + A_1(x), constant over the settle
        self._reads: list[tuple[torch.Tensor, object] | None] = [None] * self.n
        self._primed = False

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the samples ``index`` (a 1-D index tensor into the current batch)."""
        self.drive0 = self.drive0[index]
        if self.y is not None:
            self.y = self.y[index]
        self._reads = [None if r is None else (r[0][index], None if r[1] is None else r[1][index]) for r in self._reads]

    def _read(self, k: int, s: list[torch.Tensor]) -> None:
        self._reads[k] = self.syns[k].forward_with_context(s[k - 1])

    def _update(self, k: int, s: list[torch.Tensor]) -> torch.Tensor:
        """New s_k from the current states ``s`` and reads (synapse k from s_{k-1}, k+1 from s_k)."""
        h = self.drive0 if k == 0 else self._reads[k][0] + self.biases[k]
        if k + 1 < self.n:
            h = h + self.syns[k + 1].adjoint_from_context(s[k + 1], self._reads[k + 1][1])
        if k == self.n - 1 and self.beta != 0.0:
            h = h + self.model._nudge_current(s, self.y, self.beta, self.syns)
        target = h.clamp(0.0, 1.0)  # rho, the hard sigmoid of analogeq.ebm.layered
        return target if self.eps == 1.0 else s[k] + self.eps * (target - s[k])

    def sweep(self, states: list[torch.Tensor]) -> list[torch.Tensor]:
        """One sweep from ``states`` (not modified); returns the new states."""
        s = list(states)
        if self.schedule == "sync":
            for k in range(1, self.n):
                self._read(k, s)
            return [self._update(k, s) for k in range(self.n)]
        if not self._primed:  # reads of the synapses whose input is an even-index layer
            for k in range(1, self.n, 2):
                self._read(k, s)
            self._primed = True
        for parity in (0, 1):
            group = range(parity, self.n, 2)
            for k in group:
                if k > 0:
                    self._read(k, s)
            for k in group:
                s[k] = self._update(k, s)
        return s


def autograd_step(model, x: torch.Tensor, states: list[torch.Tensor]) -> list[torch.Tensor]:
    """The synchronous step computed as Laborieux et al. (2021) do: autograd of the primitive,

        g_k = dPhi/ds_k = h_k - s_k,   s_k <- s_k + eps (rho(s_k + g_k) - s_k)

    (free phase, the model's own synapses). The same map as ``LayeredEBM.step``; the timing
    reference of ``benchmarks/bench_conv_float.py``. Returns detached states."""
    with torch.enable_grad():
        s = [t.detach().requires_grad_() for t in states]
        grads = torch.autograd.grad(model.phi(x, s).sum(), s)
    eps = float(model.step_size)
    with torch.no_grad():
        return [t + eps * ((t + g).clamp(0.0, 1.0) - t) for t, g in zip(s, grads)]


__all__ = ["SCHEDULES", "Sweeper", "autograd_step"]
