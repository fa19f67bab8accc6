"""Import of the convolutional EBM NIR graphs :func:`.nir_conv.export_conv_nir` writes.

Reads the chain input -> (Conv2d [-> AvgPool2d | SumPool2d] | [Flatten ->] Affine) -> IF -> ...
-> ([Flatten ->] Affine readout | nothing) -> Output, checks every feedback Linear against the
transpose of its layer's forward map (a symmetric EBM), the neurons against the ideal-unit
convention (IF, r = 1/dt_s, thresholds 1, reset 0) and the convolutions against what the EBM
runs (stride 1, dilation 1, one group, symmetric integer padding, pools with window = stride
and no padding). Anything else raises one ValueError naming the node. numpy only.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from hardware_models.export.nir_conv import _RTOL, SUPPORTED_NODE_TYPES, ConvEBMGraph, GraphLayer, _nir, forward_matrix


def _scalar(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    return value.item() if isinstance(value, np.generic) else value


def _meta(node) -> dict[str, Any]:
    return {k: _scalar(v) for k, v in dict(getattr(node, "metadata", None) or {}).items()}


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    return bool(np.all(np.abs(a - b) <= _RTOL * scale))


def _pair(value: Any, name: str, what: str) -> int:
    v = np.atleast_1d(np.asarray(value)).ravel()
    if v.dtype.kind not in "iu" and not np.all(v == np.round(v)) or len(set(v.tolist())) != 1:
        raise ValueError(f"NIR node {name!r}: {what} must be one integer for both axes, got {value!r}")
    return int(v[0])


def _conv_layer(nir, nodes, name: str, pre_shape: tuple[int, ...]) -> GraphLayer:
    node = nodes[name]
    if isinstance(node.padding, str):
        raise ValueError(f"NIR node {name!r}: padding {node.padding!r} is not supported; allowed: an integer")
    if _pair(node.stride, name, "stride") != 1 or _pair(node.dilation, name, "dilation") != 1 or int(node.groups) != 1:
        raise ValueError(f"NIR node {name!r}: the EBM runs stride 1, dilation 1, groups 1 convolutions")
    w = np.asarray(node.weight, dtype=np.float64)
    if len(pre_shape) != 3 or w.ndim != 4 or w.shape[1] != pre_shape[0] or w.shape[2] != w.shape[3]:
        raise ValueError(f"NIR node {name!r}: weight {w.shape} does not fit its input {pre_shape} with square kernels")
    if node.input_shape is not None and tuple(int(d) for d in node.input_shape) != tuple(pre_shape[1:]):
        raise ValueError(f"NIR node {name!r}: input_shape {tuple(node.input_shape)} is not its input's {pre_shape[1:]}")
    return GraphLayer(weight=w, bias=np.asarray(node.bias, dtype=np.float64).reshape(-1),
                      padding=_pair(node.padding, name, "padding"), pool_size=1,
                      pool_kind=str(_meta(node).get("pool_kind", "max")))


def _pooled(nir, node, name: str, lay: GraphLayer) -> GraphLayer:
    q = _pair(node.kernel_size, name, "kernel_size")
    if _pair(node.stride, name, "stride") != q or _pair(node.padding, name, "padding") != 0:
        raise ValueError(f"NIR node {name!r}: pools must have stride = kernel_size and no padding")
    scale = float(q * q) if isinstance(node, nir.SumPool2d) else 1.0  # sum pool = q^2 x average pool
    return GraphLayer(weight=lay.weight * scale, bias=lay.bias * scale, padding=lay.padding, pool_size=q, pool_kind="avg")


def _check_neurons(nir, name: str, node, shape: tuple[int, ...], dt: float) -> None:
    if not isinstance(node, nir.IF):
        raise ValueError(f"NIR node {name!r} must be an IF neuron layer, got {type(node).__name__}")
    theta = np.asarray(node.v_threshold, dtype=np.float64)
    if int(theta.size) != int(np.prod(shape)):
        raise ValueError(f"NIR node {name!r}: {theta.size} neurons, the layer it closes has shape {shape}")
    if np.any(theta != 1.0) or np.any(np.asarray(node.v_reset) != 0):
        raise ValueError(f"NIR node {name!r}: a conv EBM graph has ideal neurons (v_threshold 1, v_reset 0)")
    if _meta(node).get("reset_mode", "subtract") != "subtract":
        raise ValueError(f"NIR node {name!r}: reset_mode must be 'subtract'")
    if not _close(np.asarray(node.r, dtype=np.float64).ravel() * dt, np.ones(theta.size)):
        raise ValueError(f"NIR node {name!r}: r must be 1/dt_s = {1.0 / dt} (input = charge per step)")


def import_conv_nir(graph_or_path: Any) -> tuple[ConvEBMGraph, Any, dict[str, Any]]:
    """Read a conv EBM NIR graph (or a file, loaded with ``type_check=False``); return
    ``(graph, card, settle)``: the :class:`ConvEBMGraph`, the card stored in it (None if none)
    and the settling options (``settle_*`` metadata)."""
    nir = _nir()
    g = nir.read(os.fspath(graph_or_path), type_check=False) if isinstance(graph_or_path, (str, os.PathLike)) else graph_or_path
    if not isinstance(g, nir.NIRGraph):
        raise TypeError(f"expected a nir.NIRGraph or a path to a .nir file, got {type(g).__name__}")
    nodes = g.nodes
    for name, node in nodes.items():
        if type(node).__name__ not in SUPPORTED_NODE_TYPES:
            raise ValueError(f"NIR node {name!r} has unsupported type {type(node).__name__}; a conv EBM graph is made "
                             f"of {list(SUPPORTED_NODE_TYPES)} only")
    succ: dict[str, list[str]] = {name: [] for name in nodes}
    for a, b in g.edges:
        if a not in nodes or b not in nodes:
            raise ValueError(f"NIR edge ({a!r}, {b!r}) names a node that is not in the graph")
        succ[a].append(b)
    meta = _meta(g)
    inputs = [n for n, node in nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1 or sum(isinstance(node, nir.Output) for node in nodes.values()) != 1:
        raise ValueError("the graph must have exactly one Input and one Output node")
    dt = float(meta.get("dt_s", 0.0))
    if not dt > 0:
        raise ValueError("the graph metadata has no clock period dt_s > 0")
    shape: tuple[int, ...] = tuple(int(d) for d in np.asarray(nodes[inputs[0]].input_type["input"]).ravel())

    def one(name: str, what: str) -> str:
        if len(succ[name]) != 1:
            raise ValueError(f"NIR node {name!r} must feed exactly one node ({what}), feeds {succ[name]}")
        return succ[name][0]

    chain, layers, readout = [inputs[0]], [], None
    while True:
        here = chain[-1]
        fwd = [n for n in succ[here] if not (isinstance(nodes[n], nir.Linear) and len(chain) >= 3
                                             and succ[n] == [chain[-2]])]
        if len(chain) >= 3 and len(succ[here]) - len(fwd) != 1:
            raise ValueError(f"neuron layer {here!r} needs exactly one feedback Linear to {chain[-2]!r}")
        if len(fwd) != 1:
            raise ValueError(f"NIR node {here!r} must feed one next layer or the output, feeds {fwd}")
        name = fwd[0]
        if isinstance(nodes[name], nir.Output):
            break
        if isinstance(nodes[name], nir.Conv2d):
            lay = _conv_layer(nir, nodes, name, shape)
            name = one(name, "a pool or a neuron layer")
            if isinstance(nodes[name], (nir.AvgPool2d, nir.SumPool2d)):
                lay = _pooled(nir, nodes[name], name, lay)
                name = one(name, "a neuron layer")
        else:
            if isinstance(nodes[name], nir.Flatten):
                name = one(name, "an Affine projection")
            if not isinstance(nodes[name], nir.Affine):
                raise ValueError(f"NIR node {name!r}: expected Conv2d, Flatten or Affine after {here!r}, "
                                 f"got {type(nodes[name]).__name__}")
            w = np.asarray(nodes[name].weight, dtype=np.float64)
            if w.ndim != 2 or w.shape[1] != int(np.prod(shape)):
                raise ValueError(f"NIR node {name!r}: weight {w.shape} does not fit its input of {int(np.prod(shape))} units")
            bias = np.asarray(nodes[name].bias, dtype=np.float64)
            nxt = one(name, "a neuron layer or the output")
            if isinstance(nodes[nxt], nir.Output):
                readout = (w, bias)
                break
            lay, name = GraphLayer(weight=w, bias=bias), nxt
        new_shape = ConvEBMGraph(tuple(shape), (lay,), "mse", 2).state_shapes()[0]  # type: ignore[arg-type]
        _check_neurons(nir, name, nodes[name], new_shape, dt)
        if name in chain:
            raise ValueError(f"NIR node {name!r} is reached twice: not a layered network")
        if len(chain) >= 2:
            fb = [n for n in succ[name] if isinstance(nodes[n], nir.Linear) and succ[n] == [here]]
            if len(fb) != 1 or not _close(np.asarray(nodes[fb[0]].weight, dtype=np.float64),
                                          forward_matrix(lay, shape).T):
                raise ValueError(f"the feedback of {name!r} to {here!r} must be one Linear holding the transpose of "
                                 "its forward map (a symmetric energy-based network)")
        layers.append(lay)
        chain.append(name)
        shape = new_shape
    if not layers:
        raise ValueError("the graph has no neuron layer")
    card = None
    if "card_json" in meta:
        from hardware_models.cards.io import card_from_dict

        card = card_from_dict(json.loads(meta["card_json"]))
    input_shape = tuple(int(d) for d in np.asarray(nodes[inputs[0]].input_type["input"]).ravel())
    n_classes = int(meta.get("num_classes", readout[0].shape[0] if readout else int(np.prod(shape))))
    out = ConvEBMGraph(input_shape=input_shape, layers=tuple(layers), readout="ce" if readout else "mse",  # type: ignore[arg-type]
                       num_classes=n_classes, readout_weight=readout[0] if readout else None,
                       readout_bias=readout[1] if readout else None)
    settle = {k[len("settle_"):]: v for k, v in meta.items() if k.startswith("settle_")}
    return out, card, settle


__all__ = ["import_conv_nir"]
