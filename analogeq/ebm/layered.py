"""A layered energy-based network: the part shared by the dense and convolutional EBMs.

States ``s_1 ... s_N`` (s_0 = x is the clamped input) live in [0, 1]; synapse k joins
layer k-1 to layer k. With the hard sigmoid rho(s) = clip(s, 0, 1) and states kept inside
[0, 1] (so rho(s) = s), the energy (Scellier & Bengio 2017; Laborieux et al. 2021 for the
convolutional coupling) is

    E(x, s) = 1/2 sum_k ||s_k||^2 - sum_k <b_k, s_k> - sum_k phi_syn_k(s_{k-1}, s_k)

and the primitive function used for EqProp is Phi = -E. Nudging adds a cost:
F = E + beta * C, with

* ``readout="mse"``: the last state layer is the output (num_classes units) and
  C = 1/2 ||s_N - onehot(y)||^2;
* ``readout="ce"``: the last state layer is hidden, a readout ``logits = W_out s_N + b_out``
  sits outside the energy, and C = cross_entropy(logits, y).

One synchronous settling step (every layer from the previous states) is

    h_k = b_k + A_k(s_{k-1}) + A_{k+1}^T(s_{k+1}) - beta dC/ds_k
    s_k <- (1 - eps) s_k + eps rho(h_k)

with step size eps in (0, 1] (``step_size``). eps = 1 is the plain fixed-point iteration
s <- rho(dPhi/ds) of Laborieux et al.; eps < 1 is the forward-Euler step dt/tau = eps of the
circuit dynamics tau ds/dt = -s + rho(h), which damps the period-2 oscillations a synchronous
update can fall into on a layered graph. Every eps has the same fixed points s = rho(h): the
box-constrained stationary points of F (rho(h_k) is the exact minimiser of F over s_k). Each term comes from a synapse read (``forward`` / ``adjoint``, or ``forward_and_adjoint``
where a synapse offers it to share work between the two): a
hardware substrate passes its own reads as ``synapses=`` and the rest is unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from analogeq.contract import CrossbarMatrix, GradientSpec, MatrixRead, check_input
from analogeq.ebm.config_dict import CLASSIFIER_CONSTRAINTS
from analogeq.ebm.gradients import attack_scores
from analogeq.ebm.settle import settle
from analogeq.ebm.synapses import DenseSynapse
from hardware_models.params import Integer, OneOf, Real

READOUTS = ("mse", "ce")

#: constraints of the fields every layered EBM config has (see
#: :class:`~analogeq.ebm.dense.DenseEBMConfig` for their meaning)
LAYERED_CONSTRAINTS = {
    **CLASSIFIER_CONSTRAINTS,
    "readout": OneOf(READOUTS),
    "free_steps": Integer(minimum=1),
    "nudge_steps": Integer(minimum=1),
    "tol": Real(minimum=0.0),
    "step_size": Real(minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "init_gain": Real(minimum=0.0, exclusive_minimum=True),
}


def hard_sigmoid(s: torch.Tensor) -> torch.Tensor:
    """rho(s) = clip(s, 0, 1)."""
    return s.clamp(0.0, 1.0)


def dense_sizes(config) -> list[int]:
    """Widths of the dense state layers of an EBM config: the hidden sizes, then the
    ``num_classes`` output units for ``readout="mse"`` (a ``ce`` readout sits outside)."""
    return [*config.hidden_sizes, *([config.num_classes] if config.readout == "mse" else [])]


def dense_stack(pre_shape: tuple[int, ...], sizes: list[int], gain: float, generator: torch.Generator):
    """Dense synapses pre_shape -> sizes[0] -> ... -> sizes[-1] (Glorot uniform, drawn in this
    order from ``generator``), their zero biases and the state shapes ``(n,)``."""
    synapses, biases, shapes = [], [], []
    for n in sizes:
        synapses.append(DenseSynapse(pre_shape, n, gain=gain, generator=generator))
        biases.append(nn.Parameter(torch.zeros(n)))
        shapes.append((n,))
        pre_shape = (n,)
    return synapses, biases, shapes


class LayeredEBM(nn.Module):
    """Base of the layered EBMs. Subclasses build ``synapses``, ``biases``, ``state_shapes``
    and (for ``readout="ce"``) ``readout`` in their constructor.

    Attributes
    ----------
    synapses: nn.ModuleList
        synapse k joins layer k-1 (layer 0 = input) to layer k, k = 1..N.
    biases: nn.ParameterList
        bias of each state layer, broadcastable to the layer's state (per unit for dense
        layers, per channel for convolutional ones: shape (C, 1, 1)).
    state_shapes: list[tuple[int, ...]]
        shape of one sample's state in each layer 1..N.
    readout: DenseSynapse or None
        W_out for ``readout="ce"``; its bias is ``readout_bias``.
    """

    input_shape: tuple[int, ...]
    num_classes: int
    readout_kind: str
    #: eps of the settling step (see module docstring)
    step_size: float = 1.0

    # ----------------------------------------------------------------- structure
    def _init_from_config(self, config) -> torch.Generator:
        """Set ``config``, ``input_shape``, ``num_classes``, ``readout_kind`` and ``step_size``
        from a config; returns the generator of the initialisation, seeded with ``config.seed``."""
        self.config = config
        self.input_shape = config.input_shape
        self.num_classes = config.num_classes
        self.readout_kind = config.readout
        self.step_size = float(config.step_size)
        return torch.Generator().manual_seed(config.seed)

    def _set_layers(self, synapses: list[nn.Module], biases: list[nn.Parameter],
                    state_shapes: list[tuple[int, ...]], generator: torch.Generator) -> None:
        """Set the layers, then the ``ce`` readout W_out (num_classes, n_N) drawn from
        ``generator`` after the synapses (None for ``mse``)."""
        self.synapses = nn.ModuleList(synapses)
        self.biases = nn.ParameterList(biases)
        self.state_shapes = list(state_shapes)
        cfg = self.config
        if cfg.readout == "ce":
            self.readout = DenseSynapse(self.state_shapes[-1], cfg.num_classes, gain=cfg.init_gain, generator=generator)
            self.readout_bias = nn.Parameter(torch.zeros(cfg.num_classes))
        else:
            self.readout = None
            self.readout_bias = None

    def all_synapses(self) -> list[nn.Module]:
        """Synapses in read order: the energy synapses, then the readout (``ce`` only)."""
        syns = list(self.synapses)
        if self.readout is not None:
            syns.append(self.readout)
        return syns

    def crossbar_matrices(self) -> list[CrossbarMatrix]:
        """Every weight matrix a hardware substrate programs, in read order: ``layer1`` ...
        ``layerN`` (synapse k joins layer k-1 to k), then ``readout`` (``ce`` only)."""
        out = [syn.crossbar_matrix(f"layer{k + 1}") for k, syn in enumerate(self.synapses)]
        if self.readout is not None:
            out.append(self.readout.crossbar_matrix("readout"))
        return out

    def synapses_with_reads(self, reads: list[tuple[MatrixRead, MatrixRead]]) -> list:
        """The synapses of :meth:`all_synapses` with their products done by the given
        (forward, backward) matrix reads, one pair per matrix of :meth:`crossbar_matrices`."""
        syns = self.all_synapses()
        if len(reads) != len(syns):
            raise ValueError(f"{len(reads)} read pairs for {len(syns)} matrices")
        return [syn.with_reads(f, b) for syn, (f, b) in zip(syns, reads)]

    def init_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """States at zero, the start of every free phase."""
        return [x.new_zeros((x.shape[0], *shape)) for shape in self.state_shapes]

    # ----------------------------------------------------------------- readout and cost
    def output(self, states: list[torch.Tensor], synapses: list[nn.Module] | None = None) -> torch.Tensor:
        """Class scores (B, num_classes): the output states (mse) or the readout logits (ce)."""
        if self.readout is None:
            return states[-1]
        readout = (synapses or self.all_synapses())[-1]
        return readout(states[-1]) + self.readout_bias

    def cost(self, states: list[torch.Tensor], y: torch.Tensor, synapses: list[nn.Module] | None = None) -> torch.Tensor:
        """Per-sample cost C, shape (B,)."""
        scores = self.output(states, synapses)
        if self.readout is None:
            target = F.one_hot(y, self.num_classes).to(scores.dtype)
            return 0.5 * ((scores - target) ** 2).sum(dim=-1)
        return F.cross_entropy(scores, y, reduction="none")

    def _nudge_current(self, states, y, beta, synapses) -> torch.Tensor:
        """-beta dC/ds_N for the last state layer (closed forms, no autograd)."""
        last = states[-1]
        if self.readout is None:
            return beta * (F.one_hot(y, self.num_classes).to(last.dtype) - last)
        readout = synapses[-1]
        probs = torch.softmax(readout(last) + self.readout_bias, dim=-1)
        err = F.one_hot(y, self.num_classes).to(last.dtype) - probs
        return beta * readout.adjoint(err, last)

    # ----------------------------------------------------------------- dynamics
    def step(
        self,
        x: torch.Tensor,
        states: list[torch.Tensor],
        beta: float = 0.0,
        y: torch.Tensor | None = None,
        synapses: list[nn.Module] | None = None,
    ) -> list[torch.Tensor]:
        """One synchronous update of every layer (see module docstring). Returns new states."""
        syns = synapses if synapses is not None else self.all_synapses()
        n = len(self.state_shapes)
        eps = self.step_size
        # reads of synapse k: forward(s_{k-1}) for layer k, adjoint(s_k, s_{k-1}) for layer k-1;
        # a synapse with forward_and_adjoint (convolutions) shares the work of the two reads
        forward: list[torch.Tensor] = []
        feedback: list[torch.Tensor | None] = [None] * n
        for k in range(n):
            pre = x if k == 0 else states[k - 1]
            syn = syns[k]
            if k == 0:
                forward.append(syn(pre))
            elif hasattr(syn, "forward_and_adjoint"):
                f, feedback[k - 1] = syn.forward_and_adjoint(pre, states[k])
                forward.append(f)
            else:
                forward.append(syn(pre))
                feedback[k - 1] = syn.adjoint(states[k], pre)
        new_states = []
        for k in range(n):
            h = forward[k] + self.biases[k]
            if k + 1 < n:
                h = h + feedback[k]
            if k == n - 1 and beta != 0.0:
                if y is None:
                    raise ValueError("y (labels) is required when beta != 0")
                h = h + self._nudge_current(states, y, beta, syns)
            target = hard_sigmoid(h)
            new_states.append(target if eps == 1.0 else states[k] + eps * (target - states[k]))
        return new_states

    def phi(
        self,
        x: torch.Tensor,
        states: list[torch.Tensor],
        beta: float = 0.0,
        y: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Primitive function Phi = -F = -(E + beta C), per sample, shape (B,).

        Differentiating Phi with respect to the parameters at fixed (detached) states gives
        the EqProp estimates; differentiating it with respect to a state layer gives that
        layer's net input minus the state (the step above is rho(state + dPhi/ds)).
        """
        total = x.new_zeros(x.shape[0])
        n = len(self.state_shapes)
        for k in range(n):
            pre = x if k == 0 else states[k - 1]
            s = states[k]
            flat = s.reshape(s.shape[0], -1)
            bias = self.biases[k].expand_as(s[0]).reshape(-1)
            total = total + self.synapses[k].phi(pre, s) + flat @ bias - 0.5 * (flat * flat).sum(dim=-1)
        if beta != 0.0:
            if y is None:
                raise ValueError("y (labels) is required when beta != 0")
            total = total - beta * self.cost(states, y)
        return total

    def energy(self, x: torch.Tensor, states: list[torch.Tensor]) -> torch.Tensor:
        """Energy E(x, s) per sample, shape (B,)."""
        return -self.phi(x, states)

    # ----------------------------------------------------------------- layers and inputs
    def layer_parameters(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Parameters grouped by layer, in read order: ``("layer1", [W_1, b_1])``, ...,
        then ``("readout", [W_out, b_out])`` for ``ce``. Used for per-layer learning rates."""
        groups = [(f"layer{k + 1}", [syn.weight, self.biases[k]]) for k, syn in enumerate(self.synapses)]
        if self.readout is not None:
            groups.append(("readout", [self.readout.weight, self.readout_bias]))
        return groups

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """:func:`~analogeq.contract.check_input` plus the model's dtype and device."""
        check_input(x, self.input_shape)
        p = self.biases[0]
        if x.dtype != p.dtype:
            raise ValueError(f"x has dtype {x.dtype} but the model computes in {p.dtype}; convert it first (e.g. x.float())")
        if x.device != p.device:
            raise ValueError(f"x is on {x.device} but the model is on {p.device}; move one of them (x.to(device))")
        return x

    # ----------------------------------------------------------------- prediction (ClassifierModel)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores after a free phase settled to ``config.tol`` within ``config.free_steps``.

        Each sample stops on its own residual (per-sample stopping, :mod:`analogeq.ebm.schedules`)
        unless the config says ``per_sample_stop=False``: a sample's scores do not depend on its
        batchmates (with the batch-wide stop a sample near the decision boundary could change
        class with them). Training phases keep the batch-wide stop of :func:`settle`. What the
        settle did per sample is left in ``last_settle`` (:class:`~analogeq.contract.SettleOutcome`)."""
        self.check_input(x)
        tol = self.config.tol
        per_sample = bool(getattr(self.config, "per_sample_stop", True)) and tol > 0.0
        with torch.no_grad():
            result = settle(self, x, max_steps=self.config.free_steps, tol=tol, per_sample=per_sample)
            self.last_settle = result.outcome()  # what the substrate reports (SettlingModel contract)
            return self.output(result.states)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        """Class scores differentiable with respect to ``x`` (see :mod:`analogeq.ebm.gradients`)."""
        self.check_input(x)
        return attack_scores(self, x, gradient)


__all__ = ["LAYERED_CONSTRAINTS", "LayeredEBM", "READOUTS", "DenseSynapse", "dense_sizes", "dense_stack", "hard_sigmoid"]
