"""NIR (Neuromorphic Intermediate Representation) export and import of a mapped spiking EBM.

numpy only; the ``nir`` package is imported when a function here is called (never torch or
brian2). Export turns a :class:`~hardware_models.spiking.MappedSpikingNetwork` and its
:class:`~hardware_models.spiking.SpikingCard` into a ``nir.NIRGraph``; import reads a graph of
the same kind back (``nir.read`` of a file written by ``nir.write`` included).

Graph
-----
For state layers 1..N (weights (n_post, n_pre), as NIR and ``torch.nn.Linear`` store them)::

    input --> affine_1 --> layer_1 <--> ... <--> layer_N --> output            (readout "mse")
                                                 layer_N --> readout --> output (readout "ce")

    layer_{k-1} --> affine_k   (Affine: W_k, bias b_k)        --> layer_k       forward, k >= 2
    layer_k     --> feedback_k (Linear: W_k^T, shape (n_{k-1}, n_k)) --> layer_{k-1}   feedback

* ``input``: ``Input`` of shape (n_input,) (the image flattened; its shape is in the graph
  metadata ``input_shape``). ``affine_1`` (W_1, b_1) turns the clamped input into the constant
  current of layer 1; the other ``affine_k`` carry the bias b_k of layer k.
* ``layer_k``: ``IF`` nodes (no leak) or ``LIF`` nodes (leak; ``v_leak`` = 0). The feedback edges
  make the graph cyclic (NIR allows cycles).
* ``readout`` (ce only): ``Affine`` (W_out, b_out), computed off-chip from the decoded rates.

Time convention: signals are charges per clock step of ``dt_s`` (graph metadata): a spike is 1
in the step it occurs, an Affine/Linear output is the charge its target receives per step. In
NIR's continuous-time equations the neuron input I is then a charge per step, so
``IF``: dv/dt = R I with R = 1/dt_s (v gains I per step), and ``LIF``: tau dv/dt = -v + R I with
``tau`` = tau_mem of each neuron and R = tau/dt_s. Thresholds ``v_threshold`` are the drawn
per-neuron thresholds (nominal 1); ``v_reset`` is 0 and the reset is **by subtraction**
(metadata ``reset_mode`` = "subtract", which NIR's reset-to-v_reset equations do not express;
a reader must honour it for rates to equal clip(u, 0, 1)). NIR fires when v > v_threshold; our
neuron fires at v >= v_threshold (identical except on exact ties).

Card fields in node metadata
----------------------------
The whole card is stored losslessly as JSON in the graph metadata ``card_json``. In addition
every field that describes a node is copied into that node's ``metadata`` (keys absent where
the card has null):

=============================  ==========================  ====================================
card field                     node metadata key           nodes
=============================  ==========================  ====================================
mismatch.threshold_cv          ``threshold_cv``            layer_k (the draw is ``v_threshold``)
mismatch.tau_mem_cv            ``tau_mem_cv``              layer_k (LIF: the draw is ``tau``)
(mismatch draw seed)           ``mismatch_seed``           layer_k (absent if unknown)
neuron.tau_mem_s               ``tau_mem_s``               layer_k, LIF only (nominal value)
neuron.refractory_s            ``refractory_s``            layer_k
noise.membrane_std             ``membrane_noise_std``      layer_k (thresholds per step)
synapse.tau_syn_s              ``tau_syn_s``               layer_k (filter of the input current)
timing.dt_s                    ``dt_s``                    layer_k (and the graph)
(membrane rails)               ``v_min``, ``v_max``        layer_k: 0 and 2 (in thresholds)
(reset)                        ``reset_mode``              layer_k: "subtract"
synapse.weight_bits            ``weight_bits``             affine_k, feedback_k
synapse.w_max                  ``w_max``                   affine_k, feedback_k
(quantiser full scale used)    ``w_full_scale``            affine_k, feedback_k
(layer, direction)             ``layer``, ``direction``    affine_k ("forward"), feedback_k ("feedback")
=============================  ==========================  ====================================

Import accepts graphs of this kind only: nodes of types Input, Output, Affine, Linear, IF,
LIF; one input; a chain of layers with forward projections and, between state layers,
feedback projections equal to the transposed forward weights (a symmetric EBM). Anything
else raises a ValueError naming the node.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from hardware_models.spiking.mapped import MappedSpikingNetwork

logger = logging.getLogger(__name__)

FORMAT = "analogeq.spiking_ebm"
FORMAT_VERSION = "1"
SUPPORTED_NODE_TYPES = ("Input", "Output", "Affine", "Linear", "IF", "LIF")
#: relative tolerance for feedback == forward^T and for R = 1/dt (graphs from other writers)
_RTOL = 1e-9


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - nir is a dependency
        raise ImportError("NIR export/import needs the 'nir' package (pip install nir)") from exc
    return nir


def _full_scale(w: np.ndarray, w_max: float | None) -> float:
    return float(w_max) if w_max is not None else float(np.max(np.abs(w))) if w.size else 0.0


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def add_readout_and_output(nodes: dict[str, Any], edges: list[tuple[str, str]], mapped: MappedSpikingNetwork,
                           last: str, *, divide_by: float = 1.0, metadata: dict[str, Any] | None = None) -> None:
    """Close a graph whose last spiking layer is ``last``: for a ``ce`` network the off-chip
    readout ``Affine(W_out / divide_by, b_out / divide_by)`` then the output node; for ``mse``
    the last layer feeds the output directly."""
    nir = _nir()
    if mapped.readout == "ce":
        nodes["readout"] = nir.Affine(weight=mapped.readout_weight / divide_by, bias=mapped.readout_bias / divide_by,
                                      metadata=dict(metadata or {}))
        edges += [(last, "readout"), ("readout", "output")]
        n_out = mapped.num_classes
    else:
        edges.append((last, "output"))
        n_out = mapped.weights[-1].shape[0]
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})


def export_nir(mapped: MappedSpikingNetwork, card, path: str | os.PathLike | None = None, *, settle: dict[str, Any] | None = None):
    """The NIR graph of ``mapped`` on ``card`` (see module docstring); written with ``nir.write``
    to ``path`` if given. ``settle`` (optional) holds the surrogate's settling budget, stored in
    the graph metadata and returned by :func:`import_nir`."""
    nir = _nir()
    if not isinstance(mapped, MappedSpikingNetwork):
        raise TypeError(f"mapped must be a MappedSpikingNetwork, got {type(mapped).__name__}")
    dt = card.timing.dt_s
    n_layers = len(mapped.weights)
    leaky = card.neuron.tau_mem_s is not None
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([mapped.n_input])})}
    edges: list[tuple[str, str]] = []
    neuron_meta = _drop_none(
        {
            "threshold_cv": card.mismatch.threshold_cv,
            "tau_mem_cv": card.mismatch.tau_mem_cv,
            "mismatch_seed": mapped.mismatch_seed,
            "tau_mem_s": card.neuron.tau_mem_s,
            "refractory_s": card.neuron.refractory_s,
            "membrane_noise_std": card.noise.membrane_std,
            "tau_syn_s": card.synapse.tau_syn_s,
            "dt_s": dt,
            "v_min": 0.0,
            "v_max": 2.0,
            "reset_mode": "subtract",
        }
    )
    for k in range(n_layers):
        theta = mapped.theta[k].copy()
        n = theta.size
        if leaky:
            if np.any(mapped.leak[k] <= 0):
                raise ValueError(
                    f"layer {k + 1} has neurons without leak but card.neuron.tau_mem_s is {card.neuron.tau_mem_s}; "
                    "map the network with the card it is exported with"
                )
            tau = dt / mapped.leak[k]
            node = nir.LIF(
                tau=tau, r=tau / dt, v_leak=np.zeros(n), v_threshold=theta, v_reset=np.zeros(n), metadata=dict(neuron_meta, layer=k + 1)
            )
        else:
            if np.any(mapped.leak[k] != 0):
                raise ValueError(f"layer {k + 1} has a leak but card.neuron.tau_mem_s is null; export needs a consistent card")
            node = nir.IF(r=np.full(n, 1.0 / dt), v_threshold=theta, v_reset=np.zeros(n), metadata=dict(neuron_meta, layer=k + 1))
        nodes[f"layer_{k + 1}"] = node
        w = mapped.weights[k]
        proj_meta = _drop_none(
            {
                "weight_bits": card.synapse.weight_bits,
                "w_max": card.synapse.w_max,
                "w_full_scale": _full_scale(w, card.synapse.w_max),
                "layer": k + 1,
                "direction": "forward",
            }
        )
        nodes[f"affine_{k + 1}"] = nir.Affine(weight=w.copy(), bias=mapped.biases[k].copy(), metadata=proj_meta)
        src = "input" if k == 0 else f"layer_{k}"
        edges += [(src, f"affine_{k + 1}"), (f"affine_{k + 1}", f"layer_{k + 1}")]
        if k >= 1:
            nodes[f"feedback_{k + 1}"] = nir.Linear(weight=w.T.copy(), metadata=dict(proj_meta, direction="feedback"))
            edges += [(f"layer_{k + 1}", f"feedback_{k + 1}"), (f"feedback_{k + 1}", f"layer_{k}")]
    add_readout_and_output(nodes, edges, mapped, f"layer_{n_layers}", metadata={"role": "off-chip readout"})
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "card_json": json.dumps(card.to_dict(), allow_nan=False),
        "input_shape": np.array(mapped.input_shape, dtype=np.int64),
        "readout": mapped.readout,
        "num_classes": int(mapped.num_classes),
        "dt_s": dt,
        "time_convention": "signals are charges per clock step of dt_s; reset by subtraction",
    }
    if mapped.mismatch_seed is not None:
        metadata["mismatch_seed"] = int(mapped.mismatch_seed)
    for key, value in (settle or {}).items():
        metadata[f"settle_{key}"] = value
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
    if path is not None:
        nir.write(os.fspath(path), graph)
    return graph


# ---------------------------------------------------------------------------- import
def _meta(node) -> dict[str, Any]:
    return dict(getattr(node, "metadata", None) or {})


def _scalar(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    return bool(np.all(np.abs(a - b) <= _RTOL * scale))


def import_nir(graph_or_path: Any) -> tuple[MappedSpikingNetwork, Any, dict[str, Any]]:
    """Read a NIR graph (or a file written by ``nir.write``) of the kind :func:`export_nir`
    writes; return ``(mapped, card, settle)``: the mapped network, the card stored in the graph
    (a SpikingCard, or None if the graph carries none) and the surrogate settling options.
    Raises ValueError naming the node for anything else (unsupported node types, asymmetric
    feedback, a broken chain, neuron parameters outside the convention)."""
    nir = _nir()
    if isinstance(graph_or_path, (str, os.PathLike)):
        graph = nir.read(os.fspath(graph_or_path))
    else:
        graph = graph_or_path
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"expected a nir.NIRGraph or a path to a .nir file, got {type(graph).__name__}")
    nodes = graph.nodes
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED_NODE_TYPES:
            raise ValueError(
                f"NIR node {name!r} has unsupported type {kind}; the spiking substrate imports dense EBMs made of "
                f"{list(SUPPORTED_NODE_TYPES)} only"
                + ("; a convolutional EBM graph is read by hardware_models.export.nir_conv_import.import_conv_nir"
                   if kind in ("Conv2d", "AvgPool2d", "SumPool2d", "Flatten") else "")
            )
    succ: dict[str, list[str]] = {name: [] for name in nodes}
    for a, b in graph.edges:
        if a not in nodes or b not in nodes:
            raise ValueError(f"NIR edge ({a!r}, {b!r}) names a node that is not in the graph")
        succ[a].append(b)
    meta = {k: _scalar(v) for k, v in _meta(graph).items()}
    inputs = [n for n, node in nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"the graph must have exactly one Input and one Output node, got inputs {inputs} and outputs {outputs}")

    def only_successor(name: str, what: str) -> str:
        if len(succ[name]) != 1:
            raise ValueError(f"NIR node {name!r} must feed exactly one node ({what}), feeds {succ[name]}")
        return succ[name][0]

    def neuron_dt(name: str, node) -> float | None:
        value = _meta(node).get("dt_s", meta.get("dt_s"))
        return None if value is None else float(_scalar(value))

    # --- input -> affine_1 -> layer_1
    first_proj = only_successor(inputs[0], "the input projection")
    if not isinstance(nodes[first_proj], nir.Affine):
        raise ValueError(f"the input must feed an Affine node (W_1, b_1); {first_proj!r} is {type(nodes[first_proj]).__name__}")
    chain = [only_successor(first_proj, "the first neuron layer")]
    weights = [np.asarray(nodes[first_proj].weight, dtype=np.float64)]
    biases = [np.asarray(nodes[first_proj].bias, dtype=np.float64)]
    readout_weight = readout_bias = None
    while True:
        layer = chain[-1]
        if not isinstance(nodes[layer], (nir.IF, nir.LIF)):
            raise ValueError(f"NIR node {layer!r} must be an IF or LIF neuron layer, got {type(nodes[layer]).__name__}")
        forward, feedback, to_output = [], [], []
        for nxt in succ[layer]:
            node = nodes[nxt]
            if isinstance(node, nir.Output):
                to_output.append(nxt)
                continue
            if not isinstance(node, (nir.Affine, nir.Linear)):
                raise ValueError(f"neuron layer {layer!r} feeds {nxt!r} of type {type(node).__name__}; expected Affine/Linear projections")
            target = only_successor(nxt, "a neuron layer or the output")
            if len(chain) >= 2 and target == chain[-2]:
                feedback.append(nxt)
            elif isinstance(nodes[target], nir.Output):
                to_output.append(nxt)
            else:
                forward.append((nxt, target))
        if len(chain) >= 2:
            if len(feedback) != 1:
                raise ValueError(f"neuron layer {layer!r} needs exactly one feedback projection to {chain[-2]!r}, found {feedback}")
            w_fb = np.asarray(nodes[feedback[0]].weight, dtype=np.float64)
            if isinstance(nodes[feedback[0]], nir.Affine) and np.any(np.asarray(nodes[feedback[0]].bias) != 0):
                raise ValueError(f"feedback projection {feedback[0]!r} must have no bias (the bias is on the forward projection)")
            if not _check_close(w_fb, weights[-1].T):
                raise ValueError(
                    f"feedback projection {feedback[0]!r} must hold the transpose of the forward weights of {layer!r} "
                    "(a symmetric energy-based network)"
                )
        if forward:
            if len(forward) != 1 or to_output:
                raise ValueError(f"neuron layer {layer!r} must feed either one next layer or the output, feeds {succ[layer]}")
            proj, target = forward[0]
            if not isinstance(nodes[proj], nir.Affine):
                raise ValueError(f"forward projection {proj!r} must be an Affine node (weights and the next layer's bias)")
            if target in chain:
                raise ValueError(f"forward projection {proj!r} leads back to {target!r}: not a layered network")
            weights.append(np.asarray(nodes[proj].weight, dtype=np.float64))
            biases.append(np.asarray(nodes[proj].bias, dtype=np.float64))
            chain.append(target)
            continue
        if len(to_output) != 1:
            raise ValueError(f"the last neuron layer {layer!r} must feed the output (directly or through one Affine readout)")
        if isinstance(nodes[to_output[0]], nir.Affine):
            readout_weight = np.asarray(nodes[to_output[0]].weight, dtype=np.float64)
            readout_bias = np.asarray(nodes[to_output[0]].bias, dtype=np.float64)
        elif isinstance(nodes[to_output[0]], nir.Linear):
            raise ValueError(f"readout {to_output[0]!r} must be an Affine node (W_out, b_out)")
        break

    thetas, leaks = [], []
    for name in chain:
        node = nodes[name]
        theta = np.asarray(node.v_threshold, dtype=np.float64).ravel()
        v_reset = np.asarray(node.v_reset, dtype=np.float64).ravel()
        if np.any(v_reset != 0):
            raise ValueError(f"neuron layer {name!r}: v_reset must be 0 (reset by subtraction), got values up to {np.max(np.abs(v_reset))}")
        mode = _scalar(_meta(node).get("reset_mode", "subtract"))
        if mode != "subtract":
            raise ValueError(f"neuron layer {name!r}: reset_mode {mode!r} is not supported; allowed: 'subtract'")
        if "reset_mode" not in _meta(node):
            logger.warning("NIR layer %r has no reset_mode metadata; reset by subtraction is assumed", name)
        dt = neuron_dt(name, node)
        if dt is None or not dt > 0:
            raise ValueError(f"neuron layer {name!r}: the clock period dt_s is missing from its metadata and the graph's")
        r = np.asarray(node.r, dtype=np.float64).ravel()
        if isinstance(node, nir.IF):
            if not _check_close(r * dt, np.ones_like(r)):
                raise ValueError(f"IF layer {name!r}: r must be 1/dt_s = {1.0 / dt} (input = charge per step), got {r[:3]}...")
            leak = np.zeros_like(theta)
        else:
            tau = np.asarray(node.tau, dtype=np.float64).ravel()
            if np.any(np.asarray(node.v_leak) != 0):
                raise ValueError(f"LIF layer {name!r}: v_leak must be 0")
            if np.any(~(tau > dt)):
                raise ValueError(f"LIF layer {name!r}: tau must exceed dt_s = {dt} s")
            if not _check_close(r * dt / tau, np.ones_like(r)):
                raise ValueError(f"LIF layer {name!r}: r must be tau/dt_s (input = charge per step)")
            leak = dt / tau
        thetas.append(theta)
        leaks.append(leak)

    card = None
    if "card_json" in meta:
        from hardware_models.cards.io import card_from_dict

        card = card_from_dict(json.loads(meta["card_json"]))
    n_input = weights[0].shape[1]
    input_shape = tuple(int(d) for d in np.atleast_1d(meta["input_shape"])) if "input_shape" in meta else (n_input,)
    readout = "ce" if readout_weight is not None else "mse"
    num_classes = int(meta.get("num_classes", readout_weight.shape[0] if readout_weight is not None else weights[-1].shape[0]))
    seed = meta.get("mismatch_seed")
    mapped = MappedSpikingNetwork(
        input_shape=input_shape,
        weights=tuple(weights),
        biases=tuple(biases),
        theta=tuple(thetas),
        leak=tuple(leaks),
        readout=readout,
        num_classes=num_classes,
        readout_weight=readout_weight,
        readout_bias=readout_bias,
        mismatch_seed=None if seed is None else int(seed),
    )
    settle = {k[len("settle_") :]: v for k, v in meta.items() if k.startswith("settle_")}
    return mapped, card, settle


__all__ = ["FORMAT", "FORMAT_VERSION", "SUPPORTED_NODE_TYPES", "export_nir", "import_nir"]
