"""What every network and every substrate agree on, and nothing else.

Networks (``analogeq.ebm``, ``analogeq.baselines``) and substrates (``analogeq.substrates``)
both import this module and never each other:

* :class:`GradientSpec`: how a white-box attack differentiates through a settling;
* :func:`check_input` and :func:`check_labels`: the one validation of a batch and its labels;
* :class:`ClassifierModel`: what a network offers to a substrate (``forward`` for prediction,
  ``forward_for_attack`` for gradients); :func:`as_classifier` wraps a plain ``nn.Module``;
* :class:`SettlingModel`: what a network whose prediction is a relaxation (an EBM) offers on top:
  its synchronous ``step``, its states, and **the matrices a hardware substrate programs**
  (:meth:`SettlingModel.crossbar_matrices`) with a way to settle through the substrate's own
  reads of them (:meth:`SettlingModel.synapses_with_reads`). A substrate never asks what class a
  synapse is: it reads these descriptions;
* :func:`weight_layers`: the ``nn.Linear`` / ``nn.Conv2d`` layers of a feed-forward network,
  the matrices a crossbar programs for it;
* :class:`SettleOutcome` (what one settle of a batch did, per sample), :class:`SettleLog` (the
  outcomes a substrate's predictions gathered, with ONE warning when more than 1% of the samples
  ended unconverged) and :class:`SettleReport` (the fraction that converged and the median
  steps, the figures every result reporting a settle carries).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from hardware_models.params import ParameterError, check_int

__all__ = [
    "ClassifierModel",
    "CrossbarMatrix",
    "FeedForwardClassifier",
    "GradientSpec",
    "MatrixRead",
    "SETTLE_GRADIENT_MODES",
    "SettleLog",
    "SettleOutcome",
    "SettleReport",
    "SettlingModel",
    "UNCONVERGED_WARN_FRACTION",
    "as_classifier",
    "check_dense_settling",
    "check_input",
    "check_labels",
    "resolve_device",
    "weight_layers",
]

SETTLE_GRADIENT_MODES = ("full", "implicit", "truncated")

#: a matrix read: rows (M, n_in) -> (M, n_out); a float product ``x @ W.T`` or a hardware read
MatrixRead = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GradientSpec:
    """How a white-box attack differentiates through a substrate.

    Attributes
    ----------
    settle:
        ``"full"``: backpropagation through every settling step used for prediction.
        ``"implicit"``: implicit differentiation at the fixed point s* = f(s*, x)
        (the adjoint solves g = J_f(s*)^T g + dL/ds*).
        ``"truncated"``: backpropagation through a free phase of ``truncated_steps`` steps
        from s = 0 while prediction uses the full budget (the seed study's attack, arXiv
        2401.11543; weaker where the truncated state differs from the fixed point).
        Feed-forward networks have no settling and ignore this field.
    truncated_steps:
        Number of steps for ``settle="truncated"``; must be None otherwise.
    """

    settle: str = "full"
    truncated_steps: int | None = None

    def __post_init__(self) -> None:
        if self.settle not in SETTLE_GRADIENT_MODES:
            raise ParameterError("GradientSpec", "settle", f"must be one of {list(SETTLE_GRADIENT_MODES)}, got {self.settle!r}")
        if self.settle == "truncated":
            if self.truncated_steps is None:
                raise ParameterError("GradientSpec", "truncated_steps", "must be an integer >= 1 when settle='truncated', got None")
            check_int("truncated_steps", self.truncated_steps, minimum=1, owner="GradientSpec")
        elif self.truncated_steps is not None:
            raise ParameterError("GradientSpec", "truncated_steps",
                                 f"is only allowed with settle='truncated', got settle={self.settle!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(device: Any, field: str = "device") -> torch.device:
    """The torch device ``device`` names ("cpu", "cuda", "cuda:N" or a torch.device), with one
    clear error when the name is not a device or CUDA is asked for where it is not available."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ParameterError(None, field, f"must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(None, field, f"{str(device)!r} was asked for but torch.cuda.is_available() is False")
    return dev


def check_input(x: Any, input_shape: tuple[int, ...], *, name: str = "x") -> torch.Tensor:
    """Validate a batch of inputs for a substrate or model and return it unchanged.

    Raises ValueError (TypeError for a non-tensor) naming the field and what is allowed: a
    floating-point tensor of shape ``(B, *input_shape)`` with B >= 1 and finite values that
    float32 can hold. Range checks ([0, 1] pixels) belong to the harness, which knows the data.
    """
    shape_text = f"(B, {', '.join(map(str, input_shape))})"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape_text}, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must have a floating-point dtype, got {x.dtype}")
    expected = tuple(input_shape)
    if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"{name} must have shape {shape_text}, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0); at least one input is needed")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        raise ValueError(f"{name} contains {int((~finite).sum())} NaN or infinite value(s); inputs must be finite")
    if x.dtype == torch.float64 and bool((x.abs() > torch.finfo(torch.float32).max).any()):
        raise ValueError(f"{name} has values beyond the float32 range (|x| > 3.4e38); substrates compute in float32")
    return x


def check_labels(y: Any, num_classes: int, batch: int) -> torch.Tensor:
    """Validate integer labels of shape (batch,) in [0, num_classes); returns them as int64."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of class indices, got {type(y).__name__}")
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"y must hold integer class indices, got dtype {y.dtype}")
    if y.shape != (batch,):
        raise ValueError(f"y must have shape ({batch},) to match the inputs, got {tuple(y.shape)}")
    if batch and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"y must be in [0, {num_classes - 1}], got values from {int(y.min())} to {int(y.max())}")
    return y.long()


@runtime_checkable
class ClassifierModel(Protocol):
    """What a network offers to the substrates.

    ``forward(x)`` returns the class scores used for prediction (an EBM settles first);
    ``forward_for_attack(x, gradient)`` returns scores differentiable with respect to ``x`` the
    way :class:`GradientSpec` asks (a feed-forward network returns ``forward(x)``).
    """

    input_shape: tuple[int, ...]
    num_classes: int

    def forward(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec) -> torch.Tensor: ...


@dataclass(frozen=True)
class CrossbarMatrix:
    """One weight matrix a hardware substrate programs, as the network describes it.

    name: e.g. ``"layer1"``, ``"readout"``. weight: (n_out, n_in), detached.
    read: ``"dense"`` (a full connection: one row read per sample per matrix read) or
    ``"patches"`` (a convolution kernel as a (C_out, C_in k^2) matrix on unfolded patches).
    rows_per_read: row reads of one matrix read for one sample (1, or the number of output
    positions of a convolution).
    """

    name: str
    weight: torch.Tensor
    read: str
    rows_per_read: int


@runtime_checkable
class SettlingModel(ClassifierModel, Protocol):
    """A network whose prediction is the fixed point of a synchronous step (a layered EBM).

    ``config`` has ``free_steps``, ``nudge_steps``, ``tol``, ``step_size``; ``biases`` one per
    state layer; ``readout`` is None or the readout synapse (outside the energy).
    ``forward`` leaves what its free phase did in ``last_settle`` (a :class:`SettleOutcome`,
    or None before any), for the substrate that computes it to report.
    """

    state_shapes: list[tuple[int, ...]]
    step_size: float

    def step(self, x: torch.Tensor, states: list[torch.Tensor], beta: float = 0.0, y: torch.Tensor | None = None,
             synapses: list[Any] | None = None) -> list[torch.Tensor]: ...

    def output(self, states: list[torch.Tensor], synapses: list[Any] | None = None) -> torch.Tensor: ...

    def crossbar_matrices(self) -> list[CrossbarMatrix]:
        """Every weight matrix in read order (the energy synapses, then the readout)."""
        ...

    def synapses_with_reads(self, reads: list[tuple[MatrixRead, MatrixRead]]) -> list[Any]:
        """The synapses (same order as :meth:`crossbar_matrices`) computing their products with
        the given (forward, backward) matrix reads: forward maps rows of the pre layer to the
        post layer (``x @ W.T``), backward the other way (``y @ W``), on the same matrix."""
        ...


def check_dense_settling(model: Any, what: str) -> None:
    """Raise TypeError unless ``model`` is a :class:`SettlingModel`, ValueError unless every
    matrix it programs is a dense read and every bias a vector (one per unit): what the
    spiking substrate and in-situ training need. ``what`` names the caller in the message."""
    if not isinstance(model, SettlingModel):
        raise TypeError(f"{what} runs layered energy-based networks (e.g. DenseEBM), got {type(model).__name__}")
    for k, m in enumerate(model.crossbar_matrices()):
        if m.read != "dense":
            raise ValueError(f"{what} supports dense EBMs only: matrix {k + 1} ({m.name}) of {type(model).__name__} "
                             f"is a {m.read!r} read; allowed: 'dense' (use analogeq.ebm.dense.DenseEBM)")
    for k, b in enumerate(model.biases):
        if b.dim() != 1:
            raise ValueError(f"{what} needs one bias per unit; bias {k + 1} has shape {tuple(b.shape)}")


#: share of a substrate's settled samples that may end unconverged before :class:`SettleLog` warns
UNCONVERGED_WARN_FRACTION = 0.01

settle_logger = logging.getLogger("analogeq.settle")

#: (owner, budget, tolerance) of the warnings given in this process: a later substrate with the
#: same settings (e.g. each programming draw of one card) repeats it at DEBUG level only
_WARNED_SETTINGS: set[tuple[Any, ...]] = set()


@dataclass(frozen=True)
class SettleOutcome:
    """What one settle of a batch did, per sample.

    steps: (B,) steps (or sweeps) each sample ran; converged: (B,) whether its own residual
    ended <= ``tol``; max_steps: the budget; tol: the tolerance (in ``tol_unit``: "" for a state
    change max |s^{t+1} - s^t|, "A" for a KCL current); budget_field / tol_field: the names of
    the settings that set them (for the warning, e.g. ``"free_steps"`` and ``"tol"``).
    """

    steps: np.ndarray
    converged: np.ndarray
    max_steps: int
    tol: float
    budget_field: str = "free_steps"
    tol_field: str = "tol"
    tol_unit: str = ""

    def __post_init__(self) -> None:
        steps = np.asarray(self.steps, dtype=np.int64).reshape(-1)
        converged = np.asarray(self.converged, dtype=bool).reshape(-1)
        if steps.shape != converged.shape:
            raise ValueError(f"steps {steps.shape} and converged {converged.shape} must have one entry per sample")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "converged", converged)


@dataclass(frozen=True)
class SettleReport:
    """Settles of ``samples`` samples: ``converged_fraction`` of them ended within ``tol`` (in
    ``tol_unit``), the median of their step counts is ``median_steps`` (the budget ``max_steps``
    bounds every count: a median at the budget means most samples ran out of it)."""

    samples: int
    converged_fraction: float
    median_steps: float
    max_steps: int
    tol: float
    tol_unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SettleLog:
    """The settles a substrate ran for its predictions, kept as a histogram of step counts
    (memory bounded by the budget, not by the number of samples).

    :meth:`add` takes one :class:`SettleOutcome`; once more than 1% of all the samples added so
    far ended unconverged it logs ONE warning (logger ``analogeq.settle``) naming the owner, the
    budget and the tolerance (at DEBUG level when another log of this process already warned
    with the same owner, budget and tolerance: twenty programming draws of one card warn once);
    :meth:`report` gives the :class:`SettleReport` (None before any).
    """

    def __init__(self, owner: str):
        self.owner = owner
        self.reset()

    def reset(self) -> None:
        """Forget every settle added (the warning may be given again)."""
        self._hist = np.zeros(0, dtype=np.int64)
        self._samples = 0
        self._converged = 0
        self._last: SettleOutcome | None = None
        self.warned = False

    def add(self, outcome: SettleOutcome) -> None:
        steps = np.clip(outcome.steps, 0, None)
        size = max(int(steps.max(initial=0)) + 1, self._hist.size)
        hist = np.zeros(size, dtype=np.int64)
        hist[:self._hist.size] = self._hist
        hist[:int(steps.max(initial=0)) + 1] += np.bincount(steps, minlength=int(steps.max(initial=0)) + 1)
        self._hist = hist
        self._samples += int(steps.size)
        self._converged += int(outcome.converged.sum())
        self._last = outcome
        missed = self._samples - self._converged
        if not self.warned and self._samples and missed > UNCONVERGED_WARN_FRACTION * self._samples:
            self.warned = True
            unit = f" {outcome.tol_unit}" if outcome.tol_unit else ""
            settings = (self.owner, outcome.budget_field, outcome.max_steps, outcome.tol_field, outcome.tol, unit)
            level = logging.DEBUG if settings in _WARNED_SETTINGS else logging.WARNING
            _WARNED_SETTINGS.add(settings)
            settle_logger.log(
                level,
                "%s: %d of %d samples (%.1f%%, more than 1%%) did not converge within the step budget %s=%d "
                "at tolerance %s=%g%s; their predictions, latency and energy come from the step limit "
                "(raise %s, or check the network)", self.owner, missed, self._samples, 100.0 * missed / self._samples,
                outcome.budget_field, outcome.max_steps, outcome.tol_field, outcome.tol, unit, outcome.budget_field)

    def report(self) -> SettleReport | None:
        if not self._samples or self._last is None:
            return None
        cumulative = np.cumsum(self._hist)
        lo = int(np.searchsorted(cumulative, (self._samples + 1) // 2))  # the lower and upper middle counts
        hi = int(np.searchsorted(cumulative, self._samples // 2 + 1))
        return SettleReport(samples=self._samples, converged_fraction=self._converged / self._samples,
                            median_steps=0.5 * (lo + hi), max_steps=int(self._last.max_steps),
                            tol=float(self._last.tol), tol_unit=self._last.tol_unit)


def weight_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every ``nn.Linear`` and ``nn.Conv2d`` of a feed-forward network, in the
    order they are registered: the weight reads a crossbar substrate programs."""
    return [(name, m) for name, m in module.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


class FeedForwardClassifier(nn.Module):
    """A plain ``nn.Module`` (one pass, no settling) following the :class:`ClassifierModel` convention."""

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...], num_classes: int):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        check_int("num_classes", num_classes, minimum=2)
        self.module = module
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        # one pass: there is no settling, so every gradient mode is the exact gradient
        return self.module(x)


def as_classifier(module: nn.Module, input_shape: tuple[int, ...], num_classes: int) -> ClassifierModel:
    """Wrap a plain feed-forward ``nn.Module`` mapping ``(B, *input_shape)`` to logits."""
    if isinstance(module, ClassifierModel):
        return module
    return FeedForwardClassifier(module, input_shape, num_classes)
