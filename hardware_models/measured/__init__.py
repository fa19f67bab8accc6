"""Device cards from measured data: programming statistics from (target, measured) conductance
pairs and drift exponents from conductance-versus-time series, each with a fit report
(parameters, standard errors, residuals, R^2, ``summary()``). numpy only.

    from hardware_models.measured import fit_programming_csv, fit_drift_csv
    fit = fit_programming_csv("write_verify.csv")     # g_target_S,g_measured_S
    print(fit.summary())
    card = fit.to_card(kind="table")                   # or kind="pcm": fitted sigma(g) polynomial
    drift = fit_drift_csv("retention.csv")             # device_id,t_s,g_S
    pcm_card = drift.apply_to_card(some_pcm_card)      # fitted nu mean/std vs conductance

:func:`csv_kind` tells the two file layouts apart by their header.
"""

from __future__ import annotations

import os

from .csvio import MeasuredTable, read_measured_csv
from .drift import DRIFT_CSV_COLUMNS, DRIFT_CSV_LABEL, DeviceDrift, DriftBins, DriftFit, fit_drift, fit_drift_csv
from .programming import PROGRAMMING_CSV_COLUMNS, LevelStatistics, ProgrammingFit, fit_programming, fit_programming_csv
from .wls import LinearFit, weighted_least_squares

CSV_LAYOUTS = {
    "programming": PROGRAMMING_CSV_COLUMNS,
    "drift": (DRIFT_CSV_LABEL,) + DRIFT_CSV_COLUMNS,
}


def csv_kind(path: str | os.PathLike) -> str:
    """``"programming"`` or ``"drift"`` from the header of a measured-data CSV file; ValueError
    (listing both layouts) for any other header."""
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            header = next((line for line in fh if line.strip() and not line.lstrip().startswith("#")), "")
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not a UTF-8 text CSV file") from None
    columns = sorted(h.strip() for h in header.strip().split(","))
    for kind, expected in CSV_LAYOUTS.items():
        if columns == sorted(expected):
            return kind
    raise ValueError(
        f"{source}: header {header.strip()!r} is not a measured-data layout; expected the columns "
        + " or ".join(f"{','.join(cols)} ({kind})" for kind, cols in CSV_LAYOUTS.items())
    )


__all__ = [
    "CSV_LAYOUTS",
    "csv_kind",
    "MeasuredTable",
    "read_measured_csv",
    "LinearFit",
    "weighted_least_squares",
    "LevelStatistics",
    "ProgrammingFit",
    "fit_programming",
    "fit_programming_csv",
    "DeviceDrift",
    "DriftBins",
    "DriftFit",
    "fit_drift",
    "fit_drift_csv",
]
