"""The sweep evaluation of a deep resistive network's own parameters (physics only, no network
training, no substrate): ``resistive_network``.

One point draws a random network (``n_in``-``n_hidden``-``n_out``, conductances uniform in
[``g_min_S``, ``g_max_S``], bias sources at +-1 V when ``bias``) and a batch of inputs uniform in
[0, 1] from the point's seed (stream ``resistive_network``), and settles it to ``tol_A`` with the
``diode`` (``ideal``, or ``shockley`` with ``i_s_A`` and ideality ``diode_n``) at ``input_gain``.
Every parameter can be an axis: the sweep the issue asks for is over gain, I_s, n and the g range.

Metrics: ``mean_sweeps`` and ``max_sweeps`` of the exact block coordinate descent,
``converged_fraction``; ``max_kcl_residual_A`` recomputed edge by edge in numpy
(:func:`hardware_models.resistive.reference.kcl_residual_A`, independent of the kernel);
``output_std_V`` (spread of the output voltages over the batch: the signal a classifier reads),
``mean_abs_output_V``; ``conducting_fraction`` (hidden nodes whose diode conducts: s V <= 0 for an
ideal diode, forward current above I_s for a Shockley one); ``power_W`` (mean dissipated power
per sample at the steady state); ``max_abs_from_ideal_V`` (for a Shockley diode: the largest
node-voltage difference from the ideal-diode solve of the same network, 0 for an ideal diode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analogeq.sweeps.context import PointContext
from analogeq.sweeps.evaluations import Param, register_evaluation
from hardware_models.params import Boolean, Integer, OneOf, Real
from hardware_models.resistive import IdealDiode, ResistiveNetwork, ShockleyDiode, settle
from hardware_models.resistive.reference import diode_currents_A, dissipated_power_W, kcl_residual_A

__all__ = ["resistive_network"]


def resistive_network(ctx: PointContext) -> dict[str, Any]:
    """Settle a random resistive network at the point's parameters (module docstring)."""
    p = ctx.params
    rng = ctx.rng("resistive_network")
    diode = IdealDiode() if p["diode"] == "ideal" else ShockleyDiode(i_s_A=p["i_s_A"], n=p["diode_n"])
    net = ResistiveNetwork.random((p["n_in"], p["n_hidden"], p["n_out"]), rng, g_min_S=p["g_min_S"],
                                  g_max_S=p["g_max_S"], bias=p["bias"], input_gain=p["input_gain"], diode=diode)
    x = rng.random((p["batch"], p["n_in"]))
    r = settle(net, x, tol_A=p["tol_A"], max_sweeps=p["max_sweeps"])
    v = r.voltages_V
    s = net.signs()
    hidden = s != 0
    if isinstance(diode, ShockleyDiode):
        conducting = -s[None] * diode_currents_A(net, v) > diode.i_s_A  # forward current leaving the node
        ideal = settle(net.with_diode(IdealDiode()), x, tol_A=p["tol_A"], max_sweeps=p["max_sweeps"]).voltages_V
        from_ideal = float(np.abs(v - ideal).max())
    else:
        conducting = s[None] * v <= 0.0
        from_ideal = 0.0
    out = r.output_V
    return {
        "mean_sweeps": float(r.sweeps.mean()),
        "max_sweeps": int(r.sweeps.max()),
        "converged_fraction": float(r.converged.mean()),
        "max_kcl_residual_A": float(kcl_residual_A(net, x, v).max()),
        "output_std_V": float(out.std(axis=0).mean()),
        "mean_abs_output_V": float(np.abs(out).mean()),
        "conducting_fraction": float(conducting[:, hidden].mean()),
        "power_W": float(dissipated_power_W(net, x, v).mean()),
        "max_abs_from_ideal_V": from_ideal,
    }


_SIZE = Integer(minimum=1)
_POSITIVE = Real(0.0, exclusive_minimum=True)

register_evaluation(
    "resistive_network", resistive_network,
    params={
        "n_in": Param(16, _SIZE, "inputs (2 n_in sources +x, -x)"),
        "n_hidden": Param(32, _SIZE, "hidden nodes (half excitatory, half inhibitory)"),
        "n_out": Param(4, _SIZE, "output nodes"),
        "batch": Param(32, _SIZE, "inputs settled per point"),
        "input_gain": Param(1.0, _POSITIVE, "volts per unit of input"),
        "diode": Param("shockley", OneOf(("ideal", "shockley")), "diode model of the hidden nodes"),
        "i_s_A": Param(1e-12, _POSITIVE, "Shockley saturation current [A]"),
        "diode_n": Param(1.0, _POSITIVE, "Shockley ideality factor n"),
        "g_min_S": Param(1e-7, Real(0.0), "lower end of the conductance draw [S]"),
        "g_max_S": Param(25e-6, _POSITIVE, "upper end of the conductance draw [S]"),
        "bias": Param(True, Boolean(), "bias sources at +-1 V"),
        "tol_A": Param(1e-14, Real(0.0), "KCL tolerance of the settle [A]"),
        "max_sweeps": Param(10_000, _SIZE, "sweep budget"),
    },
    description="settle a random deep resistive network (physics only): sweeps, KCL residual, output spread, "
                "power, distance to the ideal-diode solve",
    metrics=("mean_sweeps", "output_std_V", "power_W", "max_abs_from_ideal_V"),
)
