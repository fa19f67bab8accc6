"""What both crossbar paths share: the card, the programmed matrices, their torch reads, the cost.

:class:`CrossbarSubstrate` is the base of the two paths (:mod:`.ebm` for layered EBMs that
settle, :mod:`.feedforward` for one-pass networks). Calling ``CrossbarSubstrate(model, ...)``
builds the path the model asks for, decided by the contract alone: a
:class:`~analogeq.contract.SettlingModel` settles on the crossbars, any other
:class:`~analogeq.contract.ClassifierModel` runs its ``nn.Linear`` / ``nn.Conv2d`` layers on them.

Every weight matrix is programmed onto :class:`hardware_models.crossbar.CrossbarArray` tiles
from the card, one programming draw per substrate (``seed``); read ``2 m`` is matrix m forward
(``x @ W.T``), read ``2 m + 1`` the backward read of the same array (``y @ W``), both at
``drift_time_s`` after programming (:meth:`CrossbarArray.read_model`).
"""

from __future__ import annotations

import abc
import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from analogeq.contract import ClassifierModel, resolve_device
from analogeq.substrates.base import Substrate
from analogeq.substrates.crossbar.cost import inference_cost, upper_bound_energy_units
from analogeq.substrates.crossbar.programmed import ProgrammedMatrices
from analogeq.substrates.crossbar.reads import KeySource, ReadMeter, TorchRead
from hardware_models.cards import resolve_card
from hardware_models.cost import conversion_energies_J, converter_summary
from hardware_models.params import ParameterError, check_float, check_int

__all__ = ["CrossbarSubstrate", "DEFAULT_CARD", "check_crossbar_card"]

DEFAULT_CARD = "pcm"

#: sections of a crossbar card the substrate reads
REQUIRED_SECTIONS = (
    "device", "levels", "faults", "tile", "mapping", "dac", "adc", "tia", "wires",
    "drift_compensation", "timing", "neuron", "cost",
)


def check_crossbar_card(card: Any) -> Any:
    """The crossbar card of ``card`` (object, file path, preset name or dict, see
    :func:`hardware_models.cards.resolve_card`) with every section the substrate reads."""
    if isinstance(card, dict) and card.get("card_type", "crossbar") == "crossbar":
        needed = ["card_type", "schema_version", "name", *REQUIRED_SECTIONS]
        missing = [s for s in needed if s not in card]
        if missing:
            raise ValueError(f"the crossbar card dict is missing the field(s) {missing} that the crossbar substrate "
                             f"needs; required: {needed}")
    result = resolve_card(card, "crossbar")
    missing = [s for s in REQUIRED_SECTIONS if getattr(result, s, None) is None]
    if missing:
        raise ValueError(f"the crossbar card {getattr(result, 'name', '?')!r} has no section(s) {missing}; "
                         f"the crossbar substrate needs {list(REQUIRED_SECTIONS)}")
    return result


class CrossbarSubstrate(Substrate):
    """A network on emulated crossbars (see the module docstring and the two paths).

    Parameters
    ----------
    model:
        A trained network following :class:`~analogeq.contract.ClassifierModel`. A copy is
        taken: later changes of ``model`` do not reach the programmed arrays.
    card:
        Crossbar card: object, card file path, preset name or dict (default ``"pcm"``).
    drift_time_s:
        Time between programming and inference [s], finite, >= 0 (default 3600: one hour).
    seed:
        Programming draw (every matrix, from ``SeedSequence(seed)``) and initial read-noise seed.
    max_tiles:
        Physical tiles available (None: as many as the network needs); more needed is an error.
    settle_mode, dt_over_tau, backend:
        How a layered EBM settles (:class:`~.ebm.CrossbarEBMSubstrate`); a feed-forward network
        takes only the defaults.
    device:
        Torch device of the torch reads.
    programmed:
        Arrays already programmed with this network's matrices (in read order, e.g. trained in
        situ, :func:`analogeq.train.in_situ.train_in_situ`); then ``seed`` only seeds the read
        noise and the weights of ``model`` are not used (its biases and structure are).
    """

    name = "crossbar"

    def __new__(cls, model: Any = None, *args: Any, **kwargs: Any):
        if cls is CrossbarSubstrate:
            from analogeq.contract import SettlingModel
            from analogeq.substrates.crossbar.ebm import CrossbarEBMSubstrate
            from analogeq.substrates.crossbar.feedforward import CrossbarFeedForwardSubstrate

            cls = CrossbarEBMSubstrate if isinstance(model, SettlingModel) else CrossbarFeedForwardSubstrate
        return super().__new__(cls)

    def __init__(
        self,
        model: nn.Module,
        card: Any = DEFAULT_CARD,
        *,
        drift_time_s: float = 3600.0,
        seed: int = 0,
        settle_mode: str = "discrete",
        dt_over_tau: float = 0.25,
        backend: str = "auto",
        max_tiles: int | None = None,
        device: str | torch.device = "cpu",
        programmed: ProgrammedMatrices | None = None,
    ):
        self._check_path_options(model, settle_mode, dt_over_tau, backend)
        self._setup(model, card, drift_time_s, seed, max_tiles, device, programmed)
        self._bind_reads(backend)

    def _setup(self, model: nn.Module, card: Any, drift_time_s: float, seed: int, max_tiles: int | None,
               device: str | torch.device, programmed: ProgrammedMatrices | None) -> None:
        if not isinstance(model, nn.Module) or not isinstance(model, ClassifierModel):
            raise ParameterError(
                "CrossbarSubstrate", "model", "must be a torch nn.Module following the ClassifierModel convention (input_shape, num_classes, "
                f"forward, forward_for_attack), e.g. a DenseEBM, ConvEBM or a baseline; got {type(model).__name__}"
            )
        self.card = check_crossbar_card(card)
        self.drift_time_s = check_float("drift_time_s", drift_time_s, minimum=0.0)
        self.seed = check_int("seed", seed, minimum=0)
        self.device = resolve_device(device)
        self.model = copy.deepcopy(model).to(self.device).float().eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.input_shape = tuple(int(d) for d in model.input_shape)
        self.num_classes = int(model.num_classes)
        names, weights = self._matrices()
        if programmed is None:
            self.programmed = ProgrammedMatrices(names, [w.astype(np.float64) for w in weights], self.card,
                                                 seed=self.seed, max_tiles=max_tiles)
        else:
            if not isinstance(programmed, ProgrammedMatrices):
                raise TypeError(f"programmed must be a ProgrammedMatrices, got {type(programmed).__name__}")
            shapes = [tuple(w.shape) for w in weights]
            if [tuple(a.shape) for a in programmed.arrays] != shapes:
                raise ValueError(f"programmed arrays have shapes {[a.shape for a in programmed.arrays]}, "
                                 f"the network's matrices {shapes}")
            self.programmed = programmed
        self.keys = KeySource(self.seed, self.programmed.n_reads)
        t = self.drift_time_s
        self.read_models = self.programmed.read_models(t)
        self.line_g = self.programmed.line_conductances(t)
        self.torch_reads = [TorchRead(m, r, self.keys, self.line_g[r], self.device)
                            for r, m in enumerate(self.read_models)]
        self.reset_cost()

    # ------------------------------------------------------------------ what each path says
    @abc.abstractmethod
    def _check_path_options(self, model: Any, settle_mode: str, dt_over_tau: float, backend: str) -> None:
        """Validate (and keep) the options that only this path uses, before anything is built."""

    @abc.abstractmethod
    def _bind_reads(self, backend: str) -> None:
        """Wire the network's products to ``self.torch_reads`` (and pick the backend)."""

    @abc.abstractmethod
    def _matrices(self) -> tuple[list[str], list[np.ndarray]]:
        """Names and (n_out, n_in) float64 matrices of every weight read, in read order."""

    @abc.abstractmethod
    def _nominal_reads(self) -> tuple[np.ndarray, float]:
        """(row reads per read index, steps) of one inference with the whole budget."""

    def _n_neurons(self) -> int:
        """Neurons updated by the digital periphery at every step (0 without settling)."""
        return 0

    def _settle_time(self, steps: float) -> float | None:
        """Physical settling time [s] of ``steps`` steps (None: discrete steps, no time)."""
        return None

    def _describe_path(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ protocol
    @property
    def stochastic(self) -> bool:
        return any(m.sigma2_eff is not None or bool(np.any(m.out_noise_std > 0)) for m in self.read_models)

    def reseed(self, seed: int) -> None:
        self.keys.reseed(seed)

    def describe(self) -> dict[str, Any]:
        config = getattr(self.model, "config", None)
        out = {
            "substrate": self.name,
            "device": str(self.device),
            "card": self.card.to_dict(),
            "card_name": str(getattr(self.card, "name", "?")),
            "converters": converter_summary(self.card),  # follows the card's bits (its description may not)
            "drift_time_s": self.drift_time_s,
            "seed": self.seed,
            "model": type(self.model).__name__,
            "model_config": config.to_dict() if hasattr(config, "to_dict") else None,
            "backend": self.backend,
            "matrices": self.programmed.describe(),
            "tiles": int(sum(self.programmed.tiles_per_matrix)),
            "stochastic": self.stochastic,
            "energy_model": self._energy_model(),
        }
        out.update(self._describe_path())
        return out

    def _energy_model(self) -> dict[str, Any]:
        """The parts of one inference's energy (:mod:`.cost`): the per-event energies from the
        card and the upper bound's breakdown (full step budget, every input at full scale)."""
        e_dac, e_adc = conversion_energies_J(self.card)
        return {
            "parts": ["array", "DAC", "ADC", "neurons"],
            "law": "t_read v_read^2 sum(xq^2 G_line) + DAC conversions e_dac + ADC conversions e_adc "
                   "+ steps n_neurons e_neuron_update",
            "t_read_s": self.card.timing.t_read_s,
            "v_read_V": self.card.dac.v_read_V,
            "e_dac_J": e_dac,
            "e_adc_J": e_adc,
            "e_neuron_update_J": self.card.cost.e_neuron_update_J,
            "bound_breakdown_J": self._bound_cost()["energy_breakdown_J"],
        }

    def cost(self) -> dict[str, Any]:
        """Energy and latency per inference: the mean over the inferences ``logits`` has run so
        far (``basis: "measured"``), or before any, an upper bound with the full step budget and
        every input at full scale (``basis: "bound"``). See :mod:`analogeq.substrates.crossbar.cost`.
        A measured cost of a settling network also gives ``settle_converged_fraction`` and
        ``settle_median_steps`` (:meth:`settle_report`)."""
        st = self._stats
        n_neurons = self._n_neurons()
        if st["inferences"] > 0:
            n = st["inferences"]
            settle_time = None if self._settle_time(0.0) is None else st["settle_time_s"] / n
            out = inference_cost(self.card, self.read_models, st["row_reads"] / n, st["energy_units"] / n,
                                 st["steps"] / n, n_neurons, settle_time_s=settle_time)
            out.update(basis="measured", inferences=n)
            settle = self.settle_report()  # the steps behind these figures (None: nothing settled)
            if settle is not None:
                out.update(settle_converged_fraction=settle["converged_fraction"],
                           settle_median_steps=settle["median_steps"])
            return out
        return self._bound_cost()

    def _bound_cost(self) -> dict[str, Any]:
        row_reads, steps = self._nominal_reads()
        units = float(row_reads @ upper_bound_energy_units(self.line_g))
        out = inference_cost(self.card, self.read_models, row_reads, units, steps, self._n_neurons(),
                             settle_time_s=self._settle_time(steps))
        out.update(basis="bound", inferences=0)
        return out

    def reset_cost(self) -> None:
        """Forget the inferences counted by :meth:`cost` (and the settles of :meth:`settle_report`)."""
        self.reset_settle_report()
        self._stats = {"inferences": 0, "row_reads": np.zeros(self.programmed.n_reads), "energy_units": 0.0,
                       "steps": 0.0, "settle_time_s": 0.0}

    # ------------------------------------------------------------------ metering
    def _attach_meter(self) -> ReadMeter:
        meter = ReadMeter(self.programmed.n_reads)
        for r in self.torch_reads:
            r.meter = meter
        return meter

    def _detach_meter(self) -> None:
        for r in self.torch_reads:
            r.meter = None

    def _record(self, batch: int, row_reads: np.ndarray, energy_units: float, *, steps: float,
                settle_time_s: float | None) -> None:
        st = self._stats
        st["inferences"] += batch
        st["row_reads"] = st["row_reads"] + row_reads
        st["energy_units"] += energy_units
        st["steps"] += steps
        st["settle_time_s"] += settle_time_s or 0.0

