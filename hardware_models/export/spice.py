"""SPICE (ngspice) netlists of programmed crossbar arrays, and a batch-mode runner.

Circuit (one array, rows driven, columns sensed; the geometry of
:mod:`hardware_models.crossbar.ir_drop`), with node names (``P`` = the optional prefix)::

    V{P}in{i}    {P}in{i}  0          DC v[i]          driver i (ideal source)
    R{P}src{i}   {P}in{i}  {P}rd{i}   r_source_ohm     driver output resistance
    R{P}rw{i}_0  {P}rd{i}  {P}r{i}_0  r_row_segment    wire from the driver to cell (i, 0)
    R{P}rw{i}_{j} {P}r{i}_{j-1} {P}r{i}_{j}           row wire between cells
    R{P}x{i}_{j} {P}r{i}_{j} {P}c{i}_{j} 1/g[i, j]     the cell (omitted where g == 0: open)
    R{P}cw{i}_{j} {P}c{i-1}_{j} {P}c{i}_{j}           column wire between cells
    R{P}cw0_{j}  {P}c0_{j} {P}cs{j}   r_col_segment    wire from cell (0, j) to the sense side
    R{P}sns{j}   {P}cs{j}  {P}vg{j}   r_sense_ohm      sense resistance
    V{P}sense{j} {P}vg{j}  0          DC 0             virtual ground; its current is I[j]

A zero resistance is written as a 0 V source (an exact short) instead of a resistor. The
sensed current ``I[j]`` flows from the array into the virtual ground; ngspice reports the
current through ``V{P}sense{j}`` from its + node to its - node, which is exactly ``I[j]``.
The control block runs one operating point and prints every sense current with 15 digits.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..crossbar.wires import WireResistances, check_conductances, check_wires
from ..files import atomic_write

__all__ = [
    "crossbar_netlist",
    "write_netlist",
    "run_ngspice",
    "find_ngspice",
    "NgspiceError",
]


class NgspiceError(RuntimeError):
    """ngspice is missing, failed, or printed nothing we could read."""


def _value(x: float) -> str:
    return repr(float(x))


def _branch(lines: list[str], kind: str, name: str, a: str, b: str, r_ohm: float) -> None:
    """A resistor, or a 0 V source for a zero resistance (an exact short)."""
    if r_ohm > 0.0:
        lines.append(f"R{name} {a} {b} {_value(r_ohm)}")
    else:
        lines.append(f"V{name}_short {a} {b} DC 0")


def crossbar_netlist(
    g_S: np.ndarray,
    v_rows_V: np.ndarray,
    wires: WireResistances | None = None,
    *,
    prefix: str = "",
    title: str = "analogeq crossbar array",
    control: bool = True,
) -> str:
    """Netlist text of one programmed array ``g_S`` (rows, cols) [S] with row voltages [V].

    ``prefix`` (letters, digits, underscore) keeps the node and element names of several
    arrays apart in one file; with ``control=False`` no title, control block or ``.end`` is
    written (for assembling several arrays: see :func:`write_netlist`).
    """
    g = check_conductances(g_S, "g_S")
    wires = check_wires(wires)
    rows, cols = g.shape
    v = np.asarray(v_rows_V, dtype=np.float64)
    if v.shape != (rows,):
        raise ValueError(f"v_rows_V must have shape ({rows},) to match g_S {g.shape}, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("v_rows_V contains NaN or inf")
    if not re.fullmatch(r"[A-Za-z0-9_]*", prefix):
        raise ValueError(f"prefix may hold only letters, digits and '_', got {prefix!r}")
    P = prefix.lower()
    lines: list[str] = []
    if control:
        lines.append(f"* {title}")
    lines.append(f"* array {P or '(no prefix)'}: {rows} rows x {cols} columns, wires {wires.to_dict()}")
    for i in range(rows):
        lines.append(f"V{P}in{i} {P}in{i} 0 DC {_value(v[i])}")
        _branch(lines, "R", f"{P}src{i}", f"{P}in{i}", f"{P}rd{i}", wires.r_source_ohm)
        _branch(lines, "R", f"{P}rw{i}_0", f"{P}rd{i}", f"{P}r{i}_0", wires.r_row_segment_ohm)
        for j in range(1, cols):
            _branch(lines, "R", f"{P}rw{i}_{j}", f"{P}r{i}_{j - 1}", f"{P}r{i}_{j}", wires.r_row_segment_ohm)
    for i in range(rows):
        for j in range(cols):
            if g[i, j] > 0.0:
                lines.append(f"R{P}x{i}_{j} {P}r{i}_{j} {P}c{i}_{j} {_value(1.0 / g[i, j])}")
    for j in range(cols):
        for i in range(1, rows):
            _branch(lines, "R", f"{P}cw{i}_{j}", f"{P}c{i - 1}_{j}", f"{P}c{i}_{j}", wires.r_col_segment_ohm)
        _branch(lines, "R", f"{P}cw0_{j}", f"{P}c0_{j}", f"{P}cs{j}", wires.r_col_segment_ohm)
        _branch(lines, "R", f"{P}sns{j}", f"{P}cs{j}", f"{P}vg{j}", wires.r_sense_ohm)
        lines.append(f"V{P}sense{j} {P}vg{j} 0 DC 0")
    if control:
        lines.extend(_control_block([f"v{P}sense{j}" for j in range(cols)]))
    return "\n".join(lines) + "\n"


def _control_block(sources: list[str]) -> list[str]:
    out = [".control", "set numdgt=15", "op"]
    # one print per source keeps every line "i(name) = value" whatever the count
    out.extend(f"print i({s})" for s in sources)
    out.extend(["quit", ".endc", ".end"])
    return out


def write_netlist(
    path: str | os.PathLike,
    arrays: list[tuple[str, np.ndarray, np.ndarray]],
    wires: WireResistances | None = None,
    *,
    title: str = "analogeq crossbar",
) -> Path:
    """Write several arrays ``[(prefix, g_S, v_rows_V), ...]`` into one netlist (atomically).

    :func:`run_ngspice` on the file returns the sense currents of the arrays one after the
    other, in this order (columns in order within each array).
    """
    if not arrays:
        raise ValueError("arrays must hold at least one (prefix, g_S, v_rows_V)")
    prefixes = [p for p, _, _ in arrays]
    if len(set(p.lower() for p in prefixes)) != len(prefixes):
        raise ValueError(f"array prefixes must be distinct (case-insensitive), got {prefixes}")
    lines = [f"* {title}"]
    sources: list[str] = []
    for prefix, g, v in arrays:
        lines.append(crossbar_netlist(g, v, wires, prefix=prefix, control=False).rstrip("\n"))
        sources.extend(f"v{prefix.lower()}sense{j}" for j in range(np.shape(g)[1]))
    lines.extend(_control_block(sources))
    path = Path(path)
    atomic_write(path, "\n".join(lines) + "\n")
    return path


def find_ngspice(executable: str = "ngspice") -> str | None:
    """Path of the ngspice binary, or None where it is not installed."""
    return shutil.which(executable)


_PRINT_LINE = re.compile(r"^\s*i\(\s*([a-z0-9_]+)\s*\)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def run_ngspice(netlist: str | os.PathLike, *, executable: str = "ngspice", timeout_s: float = 600.0) -> np.ndarray:
    """Run ngspice in batch mode (``ngspice -b``) on a netlist and read the sense currents.

    ``netlist`` is a path to a netlist file or the netlist text itself (recognised by a
    newline). Returns the currents [A] of every ``print i(...)`` of the control block, in the
    order printed (for :func:`crossbar_netlist`: column 0, 1, ...). Raises
    :class:`NgspiceError` when ngspice is missing, fails, or a current is not printed.
    """
    binary = find_ngspice(executable)
    if binary is None:
        raise NgspiceError(f"ngspice executable {executable!r} not found on PATH (Debian/Ubuntu: apt-get install ngspice)")
    with tempfile.TemporaryDirectory(prefix="analogeq_ngspice_") as tmp:
        if isinstance(netlist, str) and "\n" in netlist:
            text = netlist
        else:
            text = Path(netlist).read_text()
        expected = re.findall(r"^print i\(([^)]+)\)\s*$", text, flags=re.MULTILINE)
        if not expected:
            raise NgspiceError("the netlist has no 'print i(...)' lines in a .control block")
        path = Path(tmp) / "circuit.cir"
        path.write_text(text)
        try:
            done = subprocess.run(
                [binary, "-b", str(path)], capture_output=True, text=True, timeout=timeout_s, cwd=tmp
            )
        except subprocess.TimeoutExpired as exc:
            raise NgspiceError(f"ngspice did not finish within {timeout_s} s") from exc
    values: dict[str, float] = {}
    for line in done.stdout.splitlines():
        match = _PRINT_LINE.match(line.lower())
        if match:
            values[match.group(1)] = float(match.group(2))
    missing = [name for name in expected if name.lower() not in values]
    if done.returncode != 0 or missing:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise NgspiceError(
            f"ngspice exited with {done.returncode}; {len(missing)} of {len(expected)} currents not printed "
            f"(first missing: {missing[:3]}). Last output:\n{tail}"
        )
    return np.array([values[name.lower()] for name in expected])
