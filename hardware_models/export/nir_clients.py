"""NIR graphs of a mapped spiking EBM in the forms snnTorch and Norse import.

:func:`~hardware_models.export.nir.export_nir` writes the spiking substrate's own convention
(charges per step, ``r = 1/dt`` or ``tau/dt``, drawn per-neuron thresholds, reset by
subtraction). Two simulators read NIR differently (checked against snnTorch 1.0 and Norse 1.1):

* snnTorch's ``import_from_nir`` needs one threshold per layer, refuses ``IF`` nodes with
  ``r != 1`` and turns every ``IF`` into a leaky neuron (``beta = 0.9``); ``LIF`` becomes
  ``snn.Leaky(beta = 1 - h/tau, threshold = v_th / w_scale)`` with ``w_scale = r h / tau`` of the
  first neuron, on its hard-coded step ``h = 1e-4`` s, reset to zero.
* Norse's ``from_nir(graph, dt=h)`` ignores ``r``: ``LIF`` is ``v <- v + (h/tau)(I - v)`` with
  per-neuron ``v_th`` and ``tau``, reset to ``v_reset`` (0).

:func:`export_nir_for_client` writes graphs these read as the substrate's dynamics, with every
layer a ``LIF`` node of threshold 1 on a client step ``h = dt_s / substeps``:

* thresholds normalised into the weights: the membrane is counted in thresholds,
  ``v' = v / theta_i``, so row i of every projection into neuron i is divided by ``theta_i``;
* per client step the substrate's neuron gains ``c_i / substeps`` from constant currents
  (bias, clamped input ``W_1 x``) and ``w_ij`` per presynaptic spike, and loses the fraction
  ``a_i = leak_i / substeps`` of v (``leak_i = dt/tau_i``). A client neuron gains ``g_i I'_i`` and
  loses ``a_i``, with ``g_i = a_i`` for Norse (``r = 1``, the scale ``1/a_i`` folded into the
  weights) and ``g_i = 1`` for snnTorch (``r = tau/h``, so ``w_scale = 1``). Hence
  ``W'_ij = W_ij / (theta_i g_i)`` for spike-driven weights and ``c'_i = c_i / (theta_i g_i substeps)``;
* ``tau_i = h / a_i`` (snnTorch: in its own step of 1e-4 s, ``tau_i = 1e-4 / a_i``); a neuron
  without leak gets ``a = IF_LEAK`` (1e-6 per step): both importers need a finite ``tau``;
* an off-chip ``ce`` readout is divided by the decoding window (in client steps) so the sum of
  the graph's output over the last ``decode_window_steps`` steps (graph metadata) is the score.

What these forms cannot express is listed by :func:`nir_client_losses` (reset by subtraction,
membrane rails, the synaptic filter, noise, refractoriness, ...); export refuses unless
``allow_loss=True`` and then stores the list in the graph metadata ``client_losses``. Reset to
zero drops the charge above threshold at each spike; ``substeps`` > 1 makes that charge smaller
for constant currents (each step adds 1/substeps of it) at the cost of more steps.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from hardware_models.spiking.mapped import MappedSpikingNetwork

from .foreign import refuse_or_log_losses
from .nir import FORMAT, _nir, add_readout_and_output

logger = logging.getLogger(__name__)

CLIENTS = ("snntorch", "norse")
#: snnTorch's import_from_nir integrates LIF nodes on this fixed step [s]
SNNTORCH_DT_S = 1e-4
#: leak per client step given to neurons without leak (both importers need a finite tau)
IF_LEAK = 1e-6


def nir_client_losses(card, client: str) -> list[str]:
    """What of ``card``'s neuron the ``client``'s NIR import cannot express (each a sentence)."""
    _check_client(client)
    reader = "snnTorch's import_from_nir" if client == "snntorch" else "Norse's from_nir"
    losses = [
        f"reset by subtraction: {reader} resets the membrane to 0, so the charge above threshold at each "
        "spike is lost (rates fall below clip(u, 0, 1) where u is not 1/integer; more substeps shrink it)",
        "membrane rails [0, 2 theta]: the clients' membranes are unbounded (a neuron silenced by negative "
        "input starts again from below 0)",
        "firing at v >= theta: NIR and the clients fire at v > theta (differs on exact ties only)",
    ]
    if card.neuron.tau_mem_s is None:
        losses.append(f"no leak: written as a LIF with leak {IF_LEAK:g} per step (the clients need a finite tau)")
    if card.synapse.tau_syn_s > 0:
        losses.append(
            f"synapse.tau_syn_s = {card.synapse.tau_syn_s:g} s: spikes deliver their charge in one step "
            "(same mean current, other transients)"
        )
    if card.noise.membrane_std > 0:
        losses.append(f"noise.membrane_std = {card.noise.membrane_std:g}: NIR LIF nodes have no membrane noise")
    if card.neuron.refractory_s > 0:
        losses.append(f"neuron.refractory_s = {card.neuron.refractory_s:g} s: NIR LIF nodes have no refractory period")
    return losses


def _check_client(client: str) -> None:
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {list(CLIENTS)}, got {client!r}")


def export_nir_for_client(
    mapped: MappedSpikingNetwork, card, client: str, *, substeps: int = 8, allow_loss: bool = False,
    path: str | os.PathLike | None = None,
):
    """The NIR graph of ``mapped`` on ``card`` in the form ``client`` ("snntorch" or "norse")
    imports (module docstring), on a client step ``dt_s / substeps``. Raises ValueError listing
    :func:`nir_client_losses` unless ``allow_loss``; written with ``nir.write`` to ``path`` if given."""
    _check_client(client)
    if not isinstance(mapped, MappedSpikingNetwork):
        raise TypeError(f"mapped must be a MappedSpikingNetwork, got {type(mapped).__name__}")
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"substeps must be an integer >= 1, got {substeps!r}")
    losses = nir_client_losses(card, client)
    refuse_or_log_losses(
        losses, allow_loss=allow_loss, rest="write the rest",
        refusal=f"card {card.name!r} cannot be written for {client} without loss: ",
        log=lambda loss: logger.info("NIR export of %r for %s drops %s", card.name, client, loss),
    )
    nir = _nir()
    dt = card.timing.dt_s
    h = dt / substeps
    h_client = SNNTORCH_DT_S if client == "snntorch" else h
    n_layers = len(mapped.weights)
    # per layer: leak per client step a, gain g of the client's input, 1/(theta g)
    a = [np.where(leak > 0, leak / substeps, IF_LEAK) for leak in mapped.leak]
    g = [ak if client == "norse" else np.ones_like(ak) for ak in a]
    row = [1.0 / (theta * gk) for theta, gk in zip(mapped.theta, g)]
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([mapped.n_input])})}
    edges: list[tuple[str, str]] = []
    for k in range(n_layers):
        n = mapped.theta[k].size
        tau = h_client / a[k]
        r = np.ones(n) if client == "norse" else tau / h_client
        nodes[f"layer_{k + 1}"] = nir.LIF(
            tau=tau, r=r, v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n), metadata={"layer": k + 1}
        )
        w = mapped.weights[k]
        # layer 1's input W_1 x is a constant current (divided by substeps); deeper layers get spikes
        w_scale = row[k] / substeps if k == 0 else row[k]
        nodes[f"affine_{k + 1}"] = nir.Affine(
            weight=w * w_scale[:, None], bias=mapped.biases[k] * row[k] / substeps, metadata={"layer": k + 1}
        )
        src = "input" if k == 0 else f"layer_{k}"
        edges += [(src, f"affine_{k + 1}"), (f"affine_{k + 1}", f"layer_{k + 1}")]
        if k >= 1:
            nodes[f"feedback_{k + 1}"] = nir.Linear(weight=w.T * row[k - 1][:, None], metadata={"layer": k + 1})
            edges += [(f"layer_{k + 1}", f"feedback_{k + 1}"), (f"feedback_{k + 1}", f"layer_{k}")]
    window = card.timing.window_steps * substeps
    add_readout_and_output(nodes, edges, mapped, f"layer_{n_layers}", divide_by=window)
    metadata = {
        "format": f"{FORMAT}.{client}",
        "client": client,
        "card_json": json.dumps(card.to_dict(), allow_nan=False),
        "input_shape": np.array(mapped.input_shape, dtype=np.int64),
        "readout": mapped.readout,
        "num_classes": int(mapped.num_classes),
        "substeps": substeps,
        "client_dt_s": h_client,
        "simulated_dt_s": h,
        "free_steps": card.timing.free_steps * substeps,
        "decode_window_steps": window,
        "scores": "sum of the output over the last decode_window_steps of free_steps steps (mse: / window = rates)",
        "client_losses": json.dumps(losses),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
    if path is not None:
        nir.write(os.fspath(path), graph)
    return graph


__all__ = ["CLIENTS", "IF_LEAK", "SNNTORCH_DT_S", "export_nir_for_client", "nir_client_losses"]
