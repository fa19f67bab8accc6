"""A convolutional EBM to and from its NIR graph (:mod:`hardware_models.export.nir_conv`).

:func:`conv_ebm_graph` reads a :class:`~analogeq.ebm.conv.ConvEBM` into the numpy
:class:`~hardware_models.export.nir_conv.ConvEBMGraph` (kernels (C_out, C_in, k, k), one bias
per channel, dense weights (n_post, n_pre)); :func:`conv_ebm_from_graph` builds the ConvEBM
back, its config from the graph's geometry and settling options. Export then import gives the
same float32 weights bit for bit (float32 -> float64 -> float32 is exact), hence the same
logits. :func:`export_conv_ebm_nir` / :func:`import_conv_ebm_nir` do both with a file.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from hardware_models.export.nir_conv import ConvEBMGraph, GraphLayer, export_conv_nir
from hardware_models.export.nir_conv_import import import_conv_nir
from hardware_models.params import ParameterError

__all__ = ["SETTLE_FIELDS", "conv_ebm_from_graph", "conv_ebm_graph", "export_conv_ebm_nir", "import_conv_ebm_nir",
           "roundtrip_errors"]

#: the ConvEBMConfig fields stored as the graph's ``settle_*`` metadata: the settling options, and
#: the initialisation's seed and gain (no effect on a loaded network; kept so the config round-trips)
SETTLE_FIELDS = ("free_steps", "nudge_steps", "tol", "step_size", "schedule", "per_sample_stop", "seed", "init_gain")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy().copy()


def conv_ebm_graph(model: ConvEBM) -> tuple[ConvEBMGraph, dict[str, Any]]:
    """(graph, settle options) of a convolutional EBM."""
    if not isinstance(model, ConvEBM):
        raise ParameterError(None, "model", f"the conv NIR export takes a ConvEBM, got {type(model).__name__}")
    layers = []
    for syn, bias in zip(model.synapses, model.biases):
        if hasattr(syn, "pool_size"):
            layers.append(GraphLayer(weight=_np(syn.weight), bias=_np(bias).reshape(-1), padding=syn.padding,
                                     pool_size=syn.pool_size, pool_kind=syn.pool_kind))
        else:
            layers.append(GraphLayer(weight=_np(syn.weight), bias=_np(bias)))
    ce = model.readout is not None
    graph = ConvEBMGraph(input_shape=tuple(model.input_shape), layers=tuple(layers), readout=model.readout_kind,
                         num_classes=int(model.num_classes),
                         readout_weight=_np(model.readout.weight) if ce else None,
                         readout_bias=_np(model.readout_bias) if ce else None)
    return graph, {f: getattr(model.config, f) for f in SETTLE_FIELDS}


def conv_ebm_from_graph(graph: ConvEBMGraph, settle: dict[str, Any] | None = None) -> ConvEBM:
    """The ConvEBM of ``graph`` (float32 weights), settling with ``settle`` (ConvEBMConfig
    fields of :data:`SETTLE_FIELDS`; the config's defaults where absent)."""
    conv = [lay for lay in graph.layers if lay.is_conv]
    dense = [lay for lay in graph.layers if not lay.is_conv]
    if any(lay.is_conv for lay in graph.layers[len(conv):]):
        raise ValueError("a ConvEBM has its conv layers first, then dense ones")
    hidden = [int(lay.weight.shape[0]) for lay in dense]
    if graph.readout == "mse":
        hidden = hidden[:-1]
    options = {k: v for k, v in (settle or {}).items() if k in SETTLE_FIELDS}
    config = ConvEBMConfig(
        input_shape=tuple(graph.input_shape), channels=tuple(int(lay.weight.shape[0]) for lay in conv),
        kernel_sizes=tuple(int(lay.weight.shape[2]) for lay in conv), paddings=tuple(lay.padding for lay in conv),
        pool_sizes=tuple(lay.pool_size for lay in conv), pool_kinds=tuple(lay.pool_kind for lay in conv),
        hidden_sizes=tuple(hidden), num_classes=int(graph.num_classes), readout=graph.readout, **options)
    model = ConvEBM(config)
    with torch.no_grad():
        for syn, bias, lay in zip(model.synapses, model.biases, graph.layers):
            syn.weight.copy_(torch.from_numpy(np.asarray(lay.weight)).reshape(syn.weight.shape))
            bias.copy_(torch.from_numpy(np.asarray(lay.bias)).reshape(bias.shape))
        if model.readout is not None:
            model.readout.weight.copy_(torch.from_numpy(np.asarray(graph.readout_weight)))
            model.readout_bias.copy_(torch.from_numpy(np.asarray(graph.readout_bias)))
    return model.eval()


def export_conv_ebm_nir(model: ConvEBM, path: str | os.PathLike | None = None, *, card: Any = None):
    """The NIR graph of ``model`` (written to ``path`` if given); see
    :func:`hardware_models.export.nir_conv.export_conv_nir`."""
    graph, settle = conv_ebm_graph(model)
    return export_conv_nir(graph, path, card=card, settle=settle)


def import_conv_ebm_nir(graph_or_path: Any) -> tuple[ConvEBM, Any]:
    """``(model, card)`` from a conv EBM NIR graph or file (card None if the graph has none)."""
    graph, card, settle = import_conv_nir(graph_or_path)
    return conv_ebm_from_graph(graph, settle), card


def roundtrip_errors(model: ConvEBM, back: ConvEBM, x: torch.Tensor) -> dict[str, float]:
    """How far ``back`` (``model`` after an export and import) is from ``model``: the largest
    absolute difference over every parameter (``weights``) and over the class scores of the float
    settle of ``x`` (``logits``); 0 for an exact round trip. A ValueError if the parameter names differ."""
    a, b = model.state_dict(), back.state_dict()
    if sorted(a) != sorted(b):
        raise ValueError(f"the imported network has other parameters: {sorted(a)} vs {sorted(b)}")
    weights = max(float((a[k] - b[k]).abs().max()) for k in a)
    with torch.no_grad():
        logits = float((model(x) - back(x)).abs().max())
    return {"weights": weights, "logits": logits}
