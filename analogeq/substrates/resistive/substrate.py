"""The resistive substrate: a deep resistive network whose steady state is the inference.

Conductances come from a crossbar card's device (the card format has no resistive section;
the network description is built from the card's ``device``, ``levels``, ``faults``, ``dac``,
``adc``, ``timing`` and ``cost``):

* the model's conductances are scaled by g_max(card) / g_max(model) (a uniform scale leaves
  every steady state unchanged) and clipped into the card's [g_min, g_max];
* programmed once (seed): finite levels, programming noise, stuck-at faults
  (:func:`hardware_models.devices.program_conductances`), then drifted to ``drift_time_s``;
  a uniform drift cancels in a resistive network (voltages are conductance ratios);
* read noise: every settle draws one conductance fluctuation g + sigma_read(t) N(0, 1) per cell
  and per sample (clipped at 0 S), from the per-read stream that ``reseed`` sets.

Wires: the card's ``wires.r_source_ohm`` sits in series with every source, solved exactly (one
linear driver node per source, :func:`hardware_models.resistive.wires.with_source_resistance`;
its I^2 R counts in the energy, it has no read noise); the row and column segment resistances
are not modelled (the substrate warns); ``r_sense_ohm`` carries no current (outputs are voltages).

White-box gradients: the implicit gradient at each sample's steady state, linearised on the
drifted mean conductances (active diodes fixed); EOT over read noise is the harness's.

Cost of one inference: the power dissipated at the steady state times the settling time,
taken as the card's ``timing.t_read_s`` (the card has no capacitances: an assumption), plus one
DAC conversion per source (2 n_in) and one ADC conversion per output (``energy_breakdown_J``:
network, DAC, ADC). Latency: t_read + t_adc. Every settle (predictions and attack gradients)
goes to ``settle_report()``: sweeps per sample against ``max_sweeps`` and KCL tolerance ``tol_A``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from analogeq.contract import GradientSpec, SettleOutcome, check_input
from analogeq.substrates.base import Substrate, with_energy_breakdown
from analogeq.substrates.resistive.model import ImplicitSteadyState, ResistiveClassifier, from_settling_model
from hardware_models.cost.read import conversion_energies_J
from hardware_models.devices import program_conductances
from hardware_models.resistive import ResistiveNetwork, pack, settle
from hardware_models.resistive.reference import dissipated_power_W
from hardware_models.resistive.wires import with_source_resistance
from hardware_models.seeds import derive_rng

__all__ = ["ResistiveSubstrate"]


class ResistiveSubstrate(Substrate):
    """``model``: a :class:`ResistiveClassifier`, or a dense layered EBM whose weights are carried
    over (:func:`from_settling_model`). ``card``: a resolved crossbar card."""

    name = "resistive"

    def __init__(self, model: Any, card: Any, *, drift_time_s: float = 3600.0, seed: int = 0, tol_A: float = 1e-12,
                 max_sweeps: int = 10_000, chunk: int = 64, device: Any = "cpu"):
        if not isinstance(model, ResistiveClassifier):
            model = from_settling_model(model, g_max_S=card.device.g_max_S)
        self.model, self.card = model, card
        self.device = torch.device(device)
        self.input_shape, self.num_classes = model.input_shape, model.num_classes
        self.drift_time_s, self.seed, self.tol_A, self.max_sweeps, self.chunk = drift_time_s, seed, tol_A, max_sweeps, chunk
        net = model.network
        dev = card.device
        scale = dev.g_max_S / net.g_max_S
        mats = list(net.conductances_S) + list(net.bias_conductances_S or ())
        means, sigmas = [], []
        for k, g in enumerate(mats):
            target = np.clip(g * scale, dev.g_min_S, dev.g_max_S)
            programmed = program_conductances(card, target, derive_rng(seed, f"resistive/program/{k}"))
            means.append(np.maximum(programmed.at_time(drift_time_s), 0.0))
            sigmas.append(np.asarray(programmed.read_sigma(drift_time_s), dtype=np.float64) * np.ones_like(target))
        n_w = len(net.conductances_S)
        self.network = ResistiveNetwork(net.layer_sizes, tuple(means[:n_w]), net.input_gain, net.diode,
                                        tuple(means[n_w:]) or None, net.bias_V, dev.g_min_S, dev.g_max_S)
        self.r_source_ohm = float(card.wires.r_source_ohm)
        # the circuit that is solved: the programmed network, behind the card's driver resistance
        self._circuit = with_source_resistance(self.network, self.r_source_ohm) if self.r_source_ohm > 0 else self.network
        self._sigmas = sigmas
        self._packed = pack(self._circuit)
        self._stochastic = any(float(s.max()) > 0.0 for s in sigmas)
        self._sweeps: list[float] = []
        self._power: list[float] = []
        self.reseed(seed)

    @property
    def stochastic(self) -> bool:
        return self._stochastic

    def reseed(self, seed: int) -> None:
        self._rng = derive_rng(seed, "resistive/read")

    def _settle(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One read-noise draw per sample and cell, then the exact settle (chunks of ``chunk``)."""
        outs, volts = [], []
        n_w = len(self.network.conductances_S)
        means = list(self.network.conductances_S) + list(self.network.bias_conductances_S or ())
        chunk = self.chunk
        if self._stochastic and self._circuit is not self.network:  # the driver matrix is copied per sample
            chunk = max(1, min(chunk, int(2 ** 22 // self._circuit.conductances_S[0].size)))
        for start in range(0, flat.shape[0], chunk):
            x = flat[start:start + chunk]
            packed = self._packed
            if self._stochastic:
                draws = [np.maximum(m[None] + s[None] * self._rng.standard_normal((x.shape[0], *m.shape)), 0.0)
                         for m, s in zip(means, self._sigmas)]
                gs, bs = draws[:n_w], draws[n_w:]
                if self._circuit is not self.network:  # driver resistances: no read noise
                    gs = [np.broadcast_to(self._circuit.conductances_S[0], (x.shape[0], *self._circuit.conductances_S[0].shape))] + gs
                    bs = [np.zeros((x.shape[0], *self._circuit.bias_conductances_S[0].shape))] + bs if bs else bs
                packed = pack(self._circuit, gs, bs or None)
            r = settle(self._circuit, x, tol_A=self.tol_A, max_sweeps=self.max_sweeps, packed=packed)
            outs.append(r.output_V)
            volts.append(r.voltages_V)
            self._sweeps.append(float(r.sweeps.mean()))
            self.record_settle(SettleOutcome(r.sweeps, r.converged, self.max_sweeps, self.tol_A,
                                             budget_field="max_sweeps", tol_field="tol_A", tol_unit="A"))
            self._power.append(float(dissipated_power_W(self._circuit, x, r.voltages_V).mean()))
        return np.concatenate(outs), np.concatenate(volts)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_shape)
        return ImplicitSteadyState.apply(x, self._circuit, self._settle).to(self.device)

    @property
    def default_gradient(self) -> GradientSpec:
        """Implicit at the steady state: the only gradient this substrate computes (the circuit has
        no settling steps to backpropagate through; ``attack_logits`` ignores the mode asked for)."""
        return GradientSpec("implicit")

    def attack_logits(self, x: torch.Tensor, gradient: GradientSpec | None = None) -> torch.Tensor:
        check_input(x, self.input_shape)
        return ImplicitSteadyState.apply(x, self._circuit, self._settle)

    def cost(self) -> dict[str, float] | None:
        """Energy and latency of one inference (module docstring), mean of the inferences run."""
        if not self._power:
            return None
        e_dac, e_adc = conversion_energies_J(self.card)
        t = self.card.timing
        network_J = float(np.mean(self._power)) * t.t_read_s
        dac_J, adc_J = 2 * self.network.layer_sizes[0] * e_dac, self.num_classes * e_adc
        settle = self.settle_report()
        out = {"energy_per_inference_J": network_J + dac_J + adc_J,
               "latency_per_inference_s": t.t_read_s + t.t_adc_s,
               "mean_sweeps": float(np.mean(self._sweeps)),
               "network_energy_J": network_J, "dac_energy_J": dac_J, "adc_energy_J": adc_J,
               "settle_converged_fraction": settle["converged_fraction"], "settle_median_steps": settle["median_steps"]}
        return with_energy_breakdown(out, {"network": network_J, "DAC": dac_J, "ADC": adc_J})

    def describe(self) -> dict[str, Any]:
        return {"substrate": self.name, "card": self.card.name, "device": self.card.device.kind,
                "network": self.network.to_dict(), "drift_time_s": self.drift_time_s, "seed": self.seed,
                "tol_A": self.tol_A, "max_sweeps": self.max_sweeps, "stochastic": self._stochastic,
                "attack_gradient": "implicit at the steady state (active diodes fixed), every GradientSpec mode",
                "inputs": math.prod(self.input_shape),
                "wires": {"r_source_ohm": self.r_source_ohm,
                          "modelled": "input-driver series resistance (exact); row/column segments ignored"},
                "energy_model": {"parts": ["network", "DAC", "ADC"],
                                 "law": "dissipated power at the steady state t_read + 2 n_in e_dac + n_out e_adc",
                                 "t_read_s": self.card.timing.t_read_s, "e_dac_J": conversion_energies_J(self.card)[0],
                                 "e_adc_J": conversion_energies_J(self.card)[1]}}
