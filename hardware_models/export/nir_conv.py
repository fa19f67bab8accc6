"""NIR export and import of a convolutional EBM graph (average pooling), numpy only.

The convolutional twin of :mod:`hardware_models.export.nir` (same neuron and time conventions:
IF neurons, inputs are charges per clock step of ``dt_s``, reset by subtraction; ideal units:
thresholds 1, no leak, so a neuron's rate is clip(u, 0, 1), the EBM's hard sigmoid). The network
is described by :class:`ConvEBMGraph` (kernels, biases, paddings, pools; no torch); the
analogeq side converts a ``ConvEBM`` to and from it.

Graph
-----
For state layers 1..N (conv layers first, then dense layers)::

    layer_{k-1} --> conv_k (Conv2d W_k, bias b_k, stride 1, padding p_k)
                --> pool_k (AvgPool2d q_k x q_k, stride q_k; absent for q_k = 1) --> layer_k
    layer_{k-1} [--> flatten_k (Flatten)] --> affine_k (Affine W_k, b_k) --> layer_k       dense k
    layer_k     --> feedback_k (Linear M_k^T, (n_{k-1}, n_k)) --> layer_{k-1}             k >= 2
    layer_N [--> flatten_readout] --> readout (Affine W_out, b_out) --> output             ce
    layer_N --> output                                                                     mse

with layer_0 = ``input`` (Input (C, H, W)). M_k is the (n_k, n_{k-1}) matrix of the forward
map (for a conv layer avgpool(W_k * s) on C-order flattened layers, a dense layer W_k), so the
feedback is its exact transpose: W_k^T (*) upsample(s_k) / q_k^2 for a conv layer. Conv layers
are IF nodes of shape (C, H, W), dense ones (n,). The bias of a conv layer sits on its Conv2d:
avgpool(W * s + b) = avgpool(W * s) + b.

NIR 1.0 has no unflatten, upsampling or transposed-convolution node, so the feedback of a conv
layer is a Linear node on the flattened layers (C order) and the edges into and out of it join
shapes (n,) and (C, H, W): the graph is written without NIR's type check, and a reader loads it
with ``nir.read(path, type_check=False)`` (:func:`import_conv_nir` does). NIR has no max-pool
node either: a max-pool layer is refused (use ``pool_kinds="avg"``). On import a SumPool2d is
accepted too (sum = q^2 average: the EBM kernel and bias are q^2 times the Conv2d's).

The graph metadata holds ``format`` = "analogeq.conv_ebm", the input shape, readout, classes,
``dt_s``, the card (``card_json``, optional) and the settling options (``settle_*``); each conv
node's metadata holds its ``pool_kind`` so that pool-free layers keep the kind they were given.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = "analogeq.conv_ebm"
FORMAT_VERSION = "1"
SUPPORTED_NODE_TYPES = ("Input", "Output", "Conv2d", "AvgPool2d", "SumPool2d", "Flatten", "Affine", "Linear", "IF")
#: relative tolerance of feedback == forward^T (graphs from other writers)
_RTOL = 1e-9
#: the largest feedback matrix written (entries; 2^26 float64 = 512 MiB)
MAX_FEEDBACK_ENTRIES = 2**26
#: clock period of the ideal IF neurons when no card gives one [s]
DEFAULT_DT_S = 1e-3


@dataclass(frozen=True, eq=False)
class GraphLayer:
    """One synapse and the state layer it feeds.

    weight: conv (C_out, C_in, k, k) or dense (n_post, n_pre) (pre flattened in C order).
    bias: (C_out,) for a conv layer (one per channel), (n_post,) for a dense one.
    padding: zero padding of a conv layer; pool_size: its q x q pool (1: none);
    pool_kind: "avg" or "max" ("max" with pool_size > 1 cannot be exported)."""

    weight: np.ndarray
    bias: np.ndarray
    padding: int = 0
    pool_size: int = 1
    pool_kind: str = "avg"

    @property
    def is_conv(self) -> bool:
        return np.ndim(self.weight) == 4


@dataclass(frozen=True, eq=False)
class ConvEBMGraph:
    """A layered EBM with convolutional and dense layers, as numpy arrays (see module docstring).

    input_shape (C, H, W); layers 1..N; readout "ce" (readout_weight (classes, n_N) and
    readout_bias outside the energy) or "mse"; num_classes."""

    input_shape: tuple[int, int, int]
    layers: tuple[GraphLayer, ...]
    readout: str
    num_classes: int
    readout_weight: np.ndarray | None = None
    readout_bias: np.ndarray | None = None

    def state_shapes(self) -> list[tuple[int, ...]]:
        """(C, H_c // q, W_c // q) for a conv layer (H_c = H + 2 p - k + 1), (n,) for a dense one."""
        shapes, shape = [], tuple(self.input_shape)
        for lay in self.layers:
            if lay.is_conv:
                c_out, _, k, _ = np.shape(lay.weight)
                p, q = lay.padding, lay.pool_size
                shape = (c_out, (shape[1] + 2 * p - k + 1) // q, (shape[2] + 2 * p - k + 1) // q)
            else:
                shape = (int(np.shape(lay.weight)[0]),)
            shapes.append(shape)
        return shapes


def forward_matrix(layer: GraphLayer, in_shape: tuple[int, ...]) -> np.ndarray:
    """M (n_post, n_pre) of the layer's forward map on C-order flattened layers: for a conv layer

        M[(o, y, x), (c, y_in, x_in)] = sum over (a, b) in [0, q)^2 of W[o, c, dy, dx] / q^2,
        y_in = q y + a + dy - p,  x_in = q x + b + dx - p  (inside the image)

    (a stride-1 convolution with zero padding p, then a q x q average pool); W for a dense one."""
    w = np.asarray(layer.weight, dtype=np.float64)
    if not layer.is_conv:
        return w.copy()
    c_out, c_in, k, _ = w.shape
    _, h, wd = in_shape
    p, q = layer.padding, layer.pool_size
    hp, wp = (h + 2 * p - k + 1) // q, (wd + 2 * p - k + 1) // q
    m = np.zeros((c_out * hp * wp, c_in * h * wd))
    yc, xc = np.arange(hp * q), np.arange(wp * q)  # convolution positions inside the pooled area
    o, c = np.arange(c_out)[:, None, None, None], np.arange(c_in)[None, :, None, None]
    for dy in range(k):
        for dx in range(k):
            yi, xi = yc + dy - p, xc + dx - p
            ys, xs = (yi >= 0) & (yi < h), (xi >= 0) & (xi < wd)
            post = (o * hp + (yc[ys] // q)[:, None]) * wp + (xc[xs] // q)[None, :]
            pre = (c * h + yi[ys][:, None]) * wd + xi[xs][None, :]
            shape = (c_out, c_in, int(ys.sum()), int(xs.sum()))
            np.add.at(m, (np.broadcast_to(post, shape), np.broadcast_to(pre, shape)),
                      np.broadcast_to(w[:, :, dy, dx][:, :, None, None] / (q * q), shape))
    return m


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - nir is a dependency
        raise ImportError("NIR export/import needs the 'nir' package (pip install nir)") from exc
    return nir


def _if_node(nir, shape: tuple[int, ...], dt: float, k: int):
    meta = {"dt_s": dt, "v_min": 0.0, "v_max": 2.0, "reset_mode": "subtract", "layer": k}
    return nir.IF(r=np.full(shape, 1.0 / dt), v_threshold=np.ones(shape), v_reset=np.zeros(shape), metadata=meta)


def export_conv_nir(graph: ConvEBMGraph, path: str | os.PathLike | None = None, *, card: Any = None,
                    settle: dict[str, Any] | None = None):
    """The NIR graph of ``graph`` (see module docstring), written with ``nir.write`` to ``path``
    if given. ``card`` (optional, with ``to_dict()`` and ``timing.dt_s``) is stored as JSON and
    gives the clock period; ``settle`` is stored as ``settle_*`` metadata."""
    nir = _nir()
    if not isinstance(graph, ConvEBMGraph):
        raise TypeError(f"graph must be a ConvEBMGraph, got {type(graph).__name__}")
    dt = float(card.timing.dt_s) if card is not None else DEFAULT_DT_S
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(graph.input_shape)})}
    edges: list[tuple[str, str]] = []
    shapes = graph.state_shapes()
    pre_shape: tuple[int, ...] = tuple(graph.input_shape)
    for i, (lay, shape) in enumerate(zip(graph.layers, shapes)):
        k = i + 1
        src = "input" if k == 1 else f"layer_{k - 1}"
        meta = {"layer": k, "direction": "forward"}
        if lay.is_conv:
            if lay.pool_size > 1 and lay.pool_kind != "avg":
                raise ValueError(f"layer {k}: NIR has no {lay.pool_kind}-pool node; export needs average pooling "
                                 f"(pool_kinds='avg' in ConvEBMConfig) or pool_size 1")
            if len(pre_shape) != 3:
                raise ValueError(f"layer {k}: a convolution after a dense layer is not supported")
            nodes[f"conv_{k}"] = nir.Conv2d(input_shape=tuple(pre_shape[1:]), weight=np.array(lay.weight, dtype=np.float64),
                                            stride=1, padding=int(lay.padding), dilation=1, groups=1,
                                            bias=np.array(lay.bias, dtype=np.float64).reshape(-1),
                                            metadata=dict(meta, pool_kind=lay.pool_kind))
            edges.append((src, f"conv_{k}"))
            last = f"conv_{k}"
            if lay.pool_size > 1:
                q = int(lay.pool_size)
                nodes[f"pool_{k}"] = nir.AvgPool2d(kernel_size=np.array([q, q]), stride=np.array([q, q]),
                                                   padding=np.array([0, 0]), metadata=dict(meta))
                edges.append((last, f"pool_{k}"))
                last = f"pool_{k}"
        else:
            if len(pre_shape) > 1:
                nodes[f"flatten_{k}"] = nir.Flatten(input_type={"input": np.array(pre_shape)}, start_dim=0)
                edges.append((src, f"flatten_{k}"))
                src = f"flatten_{k}"
            nodes[f"affine_{k}"] = nir.Affine(weight=np.array(lay.weight, dtype=np.float64),
                                              bias=np.array(lay.bias, dtype=np.float64), metadata=dict(meta))
            edges.append((src, f"affine_{k}"))
            last = f"affine_{k}"
        nodes[f"layer_{k}"] = _if_node(nir, shape, dt, k)
        edges.append((last, f"layer_{k}"))
        if k >= 2:
            n_post, n_pre = int(np.prod(shape)), int(np.prod(pre_shape))
            if n_post * n_pre > MAX_FEEDBACK_ENTRIES:
                raise ValueError(f"layer {k}: its feedback matrix has {n_post}x{n_pre} entries, more than the "
                                 f"{MAX_FEEDBACK_ENTRIES} a NIR Linear node is written with here")
            nodes[f"feedback_{k}"] = nir.Linear(weight=forward_matrix(lay, pre_shape).T.copy(),
                                                metadata={"layer": k, "direction": "feedback"})
            edges += [(f"layer_{k}", f"feedback_{k}"), (f"feedback_{k}", f"layer_{k - 1}")]
        pre_shape = shape
    last = f"layer_{len(graph.layers)}"
    if graph.readout == "ce":
        if len(pre_shape) > 1:
            nodes["flatten_readout"] = nir.Flatten(input_type={"input": np.array(pre_shape)}, start_dim=0)
            edges.append((last, "flatten_readout"))
            last = "flatten_readout"
        nodes["readout"] = nir.Affine(weight=np.array(graph.readout_weight, dtype=np.float64),
                                      bias=np.array(graph.readout_bias, dtype=np.float64),
                                      metadata={"role": "off-chip readout"})
        edges += [(last, "readout"), ("readout", "output")]
    else:
        edges.append((last, "output"))
    n_out = graph.num_classes if graph.readout == "ce" else int(np.prod(pre_shape))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "input_shape": np.array(graph.input_shape),
                "readout": graph.readout, "num_classes": int(graph.num_classes), "dt_s": dt,
                "time_convention": "signals are charges per clock step of dt_s; reset by subtraction",
                "feedback_layout": "Linear on C-order flattened layers (read with type_check=False)"}
    if card is not None:
        metadata["card_json"] = json.dumps(card.to_dict(), allow_nan=False)
    for key, value in (settle or {}).items():
        metadata[f"settle_{key}"] = value
    out = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)
    if path is not None:
        nir.write(os.fspath(path), out)
    return out


__all__ = ["ConvEBMGraph", "FORMAT", "FORMAT_VERSION", "GraphLayer", "SUPPORTED_NODE_TYPES", "export_conv_nir",
           "forward_matrix"]
