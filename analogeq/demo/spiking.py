"""``analogeq demo`` rows for the spiking substrate: the digits EBM settling as spikes (Brian2).

:func:`section_spiking` follows the section convention of :mod:`analogeq.demo`. It uses the
trained dense EBM and the digits splits the ``"float"`` section leaves in ``ctx.artifacts`` and
returns one row per spiking card:

* ``spiking ideal``: the ``spiking-ideal`` card (no mismatch, noise, leak or quantisation);
* ``spiking mixed-signal``: the ``spiking-mixed-signal`` card (threshold and leak mismatch,
  quantised weights; its figures are illustrative, see the card's references).

Each row gives the agreement with the float substrate's predictions, the test accuracy, the
simulated settling time (the card's free phase), the spikes and the energy per inference.
The demo runs Brian2's ``numpy`` target unless ``ANALOGEQ_BRIAN_TARGET`` says otherwise: it
needs no compiler and no 1-2 minute first compilation, and at digits size it is fast enough.
"""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["section_spiking"]

DEMO_CARDS = (("spiking ideal", "spiking-ideal"), ("spiking mixed-signal", "spiking-mixed-signal"))


def section_spiking(ctx: Any) -> list[dict[str, Any]]:
    """Run the digits EBM on two spiking cards (see module docstring)."""
    import torch

    from analogeq.report.energy import energy_breakdown_text
    from analogeq.substrates import build_substrate

    model, splits = ctx.artifacts["dense_ebm"], ctx.artifacts["splits"]
    test = splits.test
    n = 120 if ctx.quick else len(test)
    x, y = test.x[:n], test.y[:n]
    float_pred = build_substrate("float", model).predict(x)
    target = os.environ.get("ANALOGEQ_BRIAN_TARGET", "numpy")
    rows = []
    for label, card in DEMO_CARDS:
        t0 = time.perf_counter()
        substrate = build_substrate("spiking", model, card=card, seed=ctx.seed, target=target)
        with torch.no_grad():
            pred = substrate.predict(x)
        eval_s = time.perf_counter() - t0
        cost = substrate.cost()
        timing = substrate.card.timing
        rows.append(
            {
                "section": "spiking",
                "substrate": label,
                "model": "dense EBM (same weights)",
                "dataset": f"{splits.name} test ({n})",
                "accuracy": float((pred == y).float().mean()),
                "agreement": float((pred == float_pred).float().mean()),
                "energy_per_inference_uJ": cost["energy_per_inference_J"] * 1e6,
                "latency_per_inference_us": cost["latency_per_inference_s"] * 1e6,
                "spikes_per_inference": cost.get("spikes_per_inference"),
                "energy_breakdown": energy_breakdown_text(cost),
                "eval_s": eval_s,
                "notes": f"Brian2 {substrate.backend.target}; {timing.free_steps} steps of "
                f"{timing.dt_s * 1e3:g} ms simulated; rates over the last {timing.window_steps} steps",
            }
        )
    return rows
