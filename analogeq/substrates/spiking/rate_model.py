"""The rate (mean-field) model of a mapped spiking network: the differentiable surrogate.

Each neuron's firing rate (spikes per step) follows its input current through the closed form
of :func:`hardware_models.spiking.mean_field_rate`,

    f_k(u) = min(clip((u - leak_k theta_k / 2) / theta_k, 0, 1), r_max),

and the network relaxes like the float EBM, with the hardware weights (quantised) and the
per-neuron thresholds and leaks of the mismatch draw folded in:

    h_k = b_k + W_k s_{k-1} + W_{k+1}^T s_{k+1},      s_k <- (1 - eps) s_k + eps f_k(h_k)

With the ideal card (theta = 1, leak = 0, r_max = 1, exact weights) this is exactly the dense
EBM's settling. The spiking network's rates converge to the fixed point of the same map (its
synaptic filter is the continuous-time version of the damped step), so white-box attacks
differentiate this model and pass the spikes straight through (BPDA, Athalye et al. 2018).

Membrane noise (card ``noise.membrane_std`` = sigma per step) adds, to each decoded rate of the
last layer, a charge of std sigma sqrt(W) over a window of W steps, i.e. a rate error of std
sigma / (theta sqrt(W)); the surrogate draws it reparameterised (one call = one differentiable
draw). Noise inside the loop (on hidden rates) is not modelled: it is the smaller effect
(same std per layer, attenuated by the weights).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
import torch
from torch import nn

from analogeq.contract import GradientSpec


class SpikingRateModel(nn.Module):
    """Mean-field surrogate of ``mapped`` (a MappedSpikingNetwork) on ``card``.

    ``free_steps``, ``step_size`` and ``tol`` are the settling budget of the surrogate
    (defaults: those of the dense EBM it was mapped from).
    """

    def __init__(self, mapped, card, *, free_steps: int = 100, step_size: float = 0.5, tol: float = 1e-5):
        super().__init__()
        if isinstance(free_steps, bool) or not isinstance(free_steps, int) or free_steps < 1:
            raise ValueError(f"free_steps must be an integer >= 1, got {free_steps!r}")
        if not (0.0 < step_size <= 1.0):
            raise ValueError(f"step_size must be in (0, 1], got {step_size!r}")
        if not (tol >= 0.0):
            raise ValueError(f"tol must be >= 0, got {tol!r}")
        self.input_shape = tuple(mapped.input_shape)
        self.num_classes = mapped.num_classes
        self.readout_kind = mapped.readout
        self.free_steps = free_steps
        self.step_size = float(step_size)
        self.tol = float(tol)
        self.max_rate = float(card.max_rate)
        window = card.timing.window_steps
        self.rate_noise_std = card.noise.membrane_std / math.sqrt(window)
        f32 = lambda a: torch.tensor(np.array(a, dtype=np.float32))  # noqa: E731
        self.n_layers = len(mapped.weights)
        self.state_shapes = [(w.shape[0],) for w in mapped.weights]
        self.sparse = [scipy.sparse.issparse(w) for w in mapped.weights]
        for k in range(self.n_layers):
            w = mapped.weights[k]
            if self.sparse[k]:  # a convolution as a sparse map: both directions stored as COO tensors
                self.register_buffer(f"weight_{k}", _sparse_tensor(w))
                self.register_buffer(f"weight_t_{k}", _sparse_tensor(w.T))
            else:
                self.register_buffer(f"weight_{k}", f32(w))
            self.register_buffer(f"bias_{k}", f32(mapped.biases[k]))
            self.register_buffer(f"theta_{k}", f32(mapped.theta[k]))
            self.register_buffer(f"offset_{k}", f32(0.5 * mapped.leak[k] * mapped.theta[k]))
        if mapped.readout == "ce":
            self.register_buffer("readout_weight", f32(mapped.readout_weight))
            self.register_buffer("readout_bias", f32(mapped.readout_bias))

    def _w(self, k: int) -> torch.Tensor:
        return getattr(self, f"weight_{k}")

    def forward_current(self, k: int, pre: torch.Tensor) -> torch.Tensor:
        """W_k pre for a batch (B, n_{k-1}) -> (B, n_k), W_k dense or sparse."""
        if self.sparse[k]:
            return torch.sparse.mm(self._w(k), pre.t()).t()
        return pre @ self._w(k).t()

    def feedback_current(self, k: int, post: torch.Tensor) -> torch.Tensor:
        """W_k^T post for a batch (B, n_k) -> (B, n_{k-1})."""
        if self.sparse[k]:
            return torch.sparse.mm(getattr(self, f"weight_t_{k}"), post.t()).t()
        return post @ self._w(k)

    def rate(self, k: int, u: torch.Tensor) -> torch.Tensor:
        """f_k(u): mean firing rate of layer k for input current u (see module docstring)."""
        a = ((u - getattr(self, f"offset_{k}")) / getattr(self, f"theta_{k}")).clamp(0.0, 1.0)
        return a.clamp(max=self.max_rate) if self.max_rate < 1.0 else a

    def init_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Rates at zero, the start of every free phase."""
        return [x.new_zeros((x.shape[0], *shape)) for shape in self.state_shapes]

    def step(self, x: torch.Tensor, states: list[torch.Tensor], beta: float = 0.0, y=None, synapses=None) -> list[torch.Tensor]:
        """One damped synchronous update of every layer (the settling step of
        :func:`analogeq.ebm.settle.settle`; the surrogate has no nudging and no replaced reads)."""
        if beta != 0.0 or synapses is not None:
            raise ValueError("the spiking rate model settles free phases only (beta = 0, its own synapses)")
        x_flat = x.reshape(x.shape[0], -1)
        n = self.n_layers
        new = []
        for k in range(n):
            pre = x_flat if k == 0 else states[k - 1]
            h = self.forward_current(k, pre) + getattr(self, f"bias_{k}")
            if k + 1 < n:
                h = h + self.feedback_current(k + 1, states[k + 1])
            target = self.rate(k, h)
            new.append(target if self.step_size == 1.0 else states[k] + self.step_size * (target - states[k]))
        return new

    def settle(self, x: torch.Tensor, max_steps: int, tol: float) -> list[torch.Tensor]:
        """Settle from zero for at most ``max_steps`` steps (stop when max |change| <= tol > 0)."""
        from analogeq.ebm.settle import settle

        return settle(self, x.to(self._w(0).dtype), max_steps=max_steps, tol=tol).states

    @torch.no_grad()
    def settle_per_sample(self, x: torch.Tensor, max_steps: int, tol: float) -> list[torch.Tensor]:
        """Settle from zero, each sample stopping at the first step where its own residual
        max |s_new - s| <= tol (the dense EBM's prediction, ``LayeredEBM.forward``): a sample's
        rates do not depend on its batchmates. Converged samples leave the batch."""
        x = x.to(self._w(0).dtype)
        out = self.init_states(x)
        active = torch.arange(x.shape[0], device=x.device)
        for _ in range(max_steps):
            cur = [s[active] for s in out]
            new = self.step(x[active], cur)
            residual = torch.stack([(a - b).abs().flatten(1).amax(dim=1) for a, b in zip(new, cur)]).amax(dim=0)
            for k in range(self.n_layers):
                out[k][active] = new[k]
            active = active[residual > tol]
            if active.numel() == 0:
                break
        return out

    def output(self, states: list[torch.Tensor], generator: torch.Generator | None = None, noise: bool = True) -> torch.Tensor:
        """Class scores from the last layer's rates (plus one reparameterised rate-noise draw)."""
        last = states[-1]
        if noise and self.rate_noise_std > 0.0:
            z = torch.randn(last.shape, generator=generator, dtype=last.dtype, device="cpu").to(last.device)
            last = last + self.rate_noise_std / getattr(self, f"theta_{self.n_layers - 1}") * z
        if self.readout_kind == "ce":
            return last @ self.readout_weight.t() + self.readout_bias
        return last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Noise-free mean-field scores (full budget, no graph; per-sample stopping when tol > 0,
        as the dense EBM predicts)."""
        with torch.no_grad():
            states = self.settle_per_sample(x, self.free_steps, self.tol) if self.tol > 0.0 else self.settle(x, self.free_steps, self.tol)
            return self.output(states, noise=False)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec(), generator: torch.Generator | None = None) -> torch.Tensor:
        """Scores differentiable with respect to ``x``: ``full`` backpropagates through the whole
        settling (the prediction budget), ``truncated`` through ``truncated_steps`` steps from
        zero, ``implicit`` differentiates the fixed point (the core's adjoint iteration,
        :func:`analogeq.ebm.gradients.implicit_fixed_point`)."""
        from analogeq.ebm.gradients import implicit_fixed_point

        with torch.enable_grad():
            if gradient.settle == "full":
                states = self.settle(x, self.free_steps, self.tol)
            elif gradient.settle == "truncated":
                states = self.settle(x, gradient.truncated_steps, 0.0)
            elif gradient.settle == "implicit":
                states = implicit_fixed_point(self, x, max_steps=self.free_steps, tol=self.tol)
            else:  # GradientSpec validates its mode; a new mode must be added here
                raise NotImplementedError(f"gradient mode {gradient.settle!r} is not implemented for the spiking surrogate")
            scores = self.output(states, generator)
            if self.readout_kind == "ce":
                return scores
            # output rates saturate at 0 or 1 for most units: pass the gradient straight through
            # the last layer's rate function, as the float EBM does (analogeq.ebm.gradients,
            # "Saturated outputs"); the value stays the rate (plus its noise draw)
            k = self.n_layers - 1
            pre = states[-2] if self.n_layers > 1 else x.reshape(x.shape[0], -1).to(self._w(0).dtype)
            u = self.forward_current(k, pre) + getattr(self, f"bias_{k}")
            a = (u - getattr(self, f"offset_{k}")) / getattr(self, f"theta_{k}")
            return a + (scores - a).detach()


def _sparse_tensor(w) -> torch.Tensor:
    """A scipy sparse matrix as a coalesced float32 torch COO tensor."""
    coo = scipy.sparse.coo_matrix(w)
    idx = torch.tensor(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.tensor(coo.data.astype(np.float32)), coo.shape, check_invariants=True).coalesce()


__all__ = ["SpikingRateModel"]
