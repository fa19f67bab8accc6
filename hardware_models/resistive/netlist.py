"""A resistive network and one input as an ngspice netlist, and ngspice's operating point of it.

Circuit (node names; ``k`` the hidden layer from 1, ``j`` the node)::

    Vup{i}  up{i} 0   DC  gain x_i          input source, and its inverted copy:
    Vun{i}  un{i} 0   DC -gain x_i
    Vbp     bp 0      DC  bias_V            bias sources (when the network has biases)
    Vbn     bn 0      DC -bias_V
    R...    a b       1/g                   one resistor per conductance g > 0
    Dh{k}_{j}  0 h{k}_{j} dres              diode of an excitatory node (V >= 0)
    Dh{k}_{j}  h{k}_{j} 0 dres              diode of an inhibitory node (V <= 0)
    Vy{j}   y{j} 0    DC y_j                nudging target, and the nudging current source
    Gn{j}   0 o{j} y{j} o{j} beta           beta (V(y_j) - V(o_j)) [A] into o_j (a VCCS)

``.model dres D(IS=i_s N=n')``: ngspice computes V_T at TEMP = TNOM = 27 C with its own
constants, so n' = n v_t_V / V_T(27 C) makes n' V_T(27 C) = n v_t_V exactly. GMIN (the
conductance ngspice puts across every junction) is set to 1e-20 S and the tolerances tight
(RELTOL 1e-12, VNTOL 1e-15 V, ABSTOL 1e-18 A) so the printed operating point is the exact one to
its 15 printed digits. Only Shockley diodes can be exported (an ideal diode has no SPICE model).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..export.spice import NgspiceError, find_ngspice
from ..params import ParameterError
from .network import THERMAL_VOLTAGE_300K_V, ResistiveNetwork, ShockleyDiode

__all__ = ["node_names", "resistive_netlist", "run_ngspice_voltages"]


def _v(x: float) -> str:
    return repr(float(x))


def node_names(net: ResistiveNetwork) -> list[str]:
    """Names of the free nodes in the order of the settle's voltages (hidden layers, outputs)."""
    names = [f"h{k + 1}_{j}" for k, n in enumerate(net.layer_sizes[1:-1]) for j in range(n)]
    return names + [f"o{j}" for j in range(net.layer_sizes[-1])]


def resistive_netlist(net: ResistiveNetwork, x: np.ndarray, *, beta_S: float = 0.0, y: np.ndarray | None = None,
                      title: str = "analogeq deep resistive network") -> str:
    """Netlist text of ``net`` driven by one input ``x`` (n_in,), with a control block that runs
    one operating point and prints every free node's voltage (order of :func:`node_names`)."""
    if not isinstance(net.diode, ShockleyDiode):
        raise ParameterError("resistive_netlist", "diode", "only Shockley diodes have a SPICE model; "
                             f"got {net.diode.kind!r} (use net.with_diode(ShockleyDiode(...)))")
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    u = net.sources_V(x)[0]
    n_in = net.layer_sizes[0]
    lines = [f"* {title}: layers {list(net.layer_sizes)}, diode {net.diode.to_dict()}"]
    lines += [".options temp=27 tnom=27 gmin=1e-20 reltol=1e-12 vntol=1e-15 abstol=1e-18 itl1=1000"]
    n_spice = net.diode.n * net.diode.v_t_V / THERMAL_VOLTAGE_300K_V
    lines.append(f".model dres D(IS={_v(net.diode.i_s_A)} N={_v(n_spice)})")
    sources = [f"up{i}" for i in range(n_in)] + [f"un{i}" for i in range(n_in)]
    for name, value in zip(sources, u):
        lines.append(f"V{name} {name} 0 DC {_v(value)}")
    free = node_names(net)
    layers, start = [sources], 0
    for n in net.node_sizes:
        layers.append(free[start:start + n])
        start += n
    for k, g in enumerate(net.conductances_S):
        for a in range(g.shape[0]):
            for b in range(g.shape[1]):
                if g[a, b] > 0.0:
                    lines.append(f"R{k}_{a}_{b} {layers[k][a]} {layers[k + 1][b]} {_v(1.0 / g[a, b])}")
    if net.bias_conductances_S is not None:
        lines += [f"Vbp bp 0 DC {_v(net.bias_V)}", f"Vbn bn 0 DC {_v(-net.bias_V)}"]
        for k, b in enumerate(net.bias_conductances_S):
            for j, node in enumerate(layers[k + 1]):
                for row, src in ((0, "bp"), (1, "bn")):
                    if b[row, j] > 0.0:
                        lines.append(f"Rb{k}_{row}_{j} {node} {src} {_v(1.0 / b[row, j])}")
    for node, s in zip(free, net.signs()):
        if s > 0:
            lines.append(f"D{node} 0 {node} dres")
        elif s < 0:
            lines.append(f"D{node} {node} 0 dres")
    if beta_S:
        yy = np.broadcast_to(np.asarray(y, dtype=np.float64).reshape(-1), (net.layer_sizes[-1],))
        for j, node in enumerate(layers[-1]):
            lines += [f"Vy{j} y{j} 0 DC {_v(yy[j])}", f"Gn{j} 0 {node} y{j} {node} {_v(beta_S)}"]
    lines += [".control", "set numdgt=15", "op"] + [f"print v({n})" for n in free] + ["quit", ".endc", ".end"]
    return "\n".join(lines) + "\n"


_LINE = re.compile(r"^\s*v\(\s*([a-z0-9_]+)\s*\)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def run_ngspice_voltages(netlist: str | os.PathLike, *, executable: str = "ngspice",
                         timeout_s: float = 600.0) -> np.ndarray:
    """Run ``ngspice -b`` on a netlist (text or path) and return every printed node voltage [V],
    in the order of its ``print v(...)`` lines; :class:`NgspiceError` when ngspice is missing,
    fails, or a voltage is not printed."""
    binary = find_ngspice(executable)
    if binary is None:
        raise NgspiceError(f"ngspice executable {executable!r} not found on PATH (Debian/Ubuntu: apt-get install ngspice)")
    text = netlist if isinstance(netlist, str) and "\n" in netlist else Path(netlist).read_text()
    expected = re.findall(r"^print v\(([^)]+)\)\s*$", text, flags=re.MULTILINE)
    if not expected:
        raise NgspiceError("the netlist has no 'print v(...)' lines in a .control block")
    with tempfile.TemporaryDirectory(prefix="analogeq_ngspice_") as tmp:
        path = Path(tmp) / "circuit.cir"
        path.write_text(text)
        try:
            done = subprocess.run([binary, "-b", str(path)], capture_output=True, text=True, timeout=timeout_s, cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            raise NgspiceError(f"ngspice did not finish within {timeout_s} s") from exc
    values: dict[str, float] = {}
    for line in done.stdout.splitlines():
        match = _LINE.match(line.lower())
        if match:
            values[match.group(1)] = float(match.group(2))
    missing = [n for n in expected if n.lower() not in values]
    if done.returncode != 0 or missing:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise NgspiceError(f"ngspice exited with {done.returncode}; {len(missing)} of {len(expected)} voltages not "
                           f"printed (first missing: {missing[:3]}). Last output:\n{tail}")
    return np.array([values[n.lower()] for n in expected])
