"""Accuracy under corruptions for any substrate, and the corruption error (Hendrycks & Dietterich 2019).

A *corruption table* is ``{name: {severity: accuracy}}`` with accuracies in [0, 1], as
returned by :func:`corruption_accuracy`.

Corruption error of a model f on corruption c relative to a reference model r
(Hendrycks & Dietterich 2019, "Benchmarking Neural Network Robustness to Common Corruptions
and Perturbations", ICLR, section 3):

    CE_c = sum_s E_{s,c}(f) / sum_s E_{s,c}(r),        mCE = mean over c of CE_c,

with E = 1 - accuracy and s over the severities. The relative version subtracts each model's
clean error: relCE_c = sum_s (E_{s,c}(f) - E_clean(f)) / sum_s (E_{s,c}(r) - E_clean(r)).
For ImageNet-C the reference is AlexNet; for CIFAR-10-C there is no fixed one, so the caller
names it (for example the float substrate when evaluating hardware).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from analogeq.robustness.corruptions.constants import SEVERITIES, check_severity
from hardware_models.params import check_int
from analogeq.robustness.corruptions.registry import CORRUPTION_NAMES, check_corruption_name, corrupt
from analogeq.substrates.base import Substrate
from analogeq.contract import check_input

logger = logging.getLogger(__name__)

CorruptionTable = dict[str, dict[int, float]]


def _check_names(names: Iterable[str] | None) -> tuple[str, ...]:
    if names is None:
        return CORRUPTION_NAMES
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise ValueError("names must hold at least one corruption name")
    for name in names:
        check_corruption_name(name)
    if len(set(names)) != len(names):
        raise ValueError(f"names must not repeat a corruption, got {names}")
    return names


def _check_severities(severities: Iterable[int]) -> tuple[int, ...]:
    severities = tuple(check_severity(s) for s in severities)
    if not severities:
        raise ValueError("severities must hold at least one severity in 1..5")
    if len(set(severities)) != len(severities):
        raise ValueError(f"severities must not repeat, got {severities}")
    return severities


def check_labelled_batch(substrate: Substrate, x: Any, y: Any) -> None:
    """Raise unless x is a valid image batch in [0, 1] for ``substrate`` and y its int labels."""
    check_input(x, substrate.input_shape)
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"x must have pixel values in [0, 1], got min {lo:.6g} and max {hi:.6g}")
    if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"y must be an integer torch.Tensor of labels, got {type(y).__name__} {getattr(y, 'dtype', '')}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {tuple(y.shape)}")
    if int(y.min()) < 0 or int(y.max()) >= substrate.num_classes:
        raise ValueError(
            f"labels must be in 0..{substrate.num_classes - 1}, got min {int(y.min())} and max {int(y.max())}"
        )


def corruption_accuracy(
    substrate: Substrate,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Iterable[str] | None = None,
    severities: Iterable[int] = SEVERITIES,
    seed: int = 0,
    batch_size: int = 256,
) -> CorruptionTable:
    """Accuracy of ``substrate`` on ``x`` corrupted by each corruption at each severity.

    ``x`` (N, C, H, W) in [0, 1] with C = 1 or 3, ``y`` (N,) integer labels. ``names`` default
    to all 19 corruptions. Image i is corrupted with the random stream (seed, i) whatever the
    ``batch_size``, and classified with one draw of ``substrate.logits`` (on a stochastic
    substrate, repeat with ``substrate.reseed`` for an interval over draws).
    Returns ``{name: {severity: accuracy}}``.
    """
    names = _check_names(names)
    severities = _check_severities(severities)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    check_labelled_batch(substrate, x, y)
    y_cpu = y.detach().cpu().to(torch.int64)
    n = x.shape[0]
    table: CorruptionTable = {}
    for name in names:
        table[name] = {}
        for severity in severities:
            correct = 0
            for start in range(0, n, batch_size):
                xb = corrupt(x[start : start + batch_size], name, severity, seed, first_index=start)
                pred = substrate.predict(xb.to(substrate.device)).cpu()
                correct += int((pred == y_cpu[start : start + batch_size]).sum())
            table[name][severity] = correct / n
            logger.debug("corruption %s severity %d: accuracy %.4f", name, severity, table[name][severity])
    return table


def _check_table(table: Mapping[str, Mapping[int, float]], field: str) -> None:
    if not isinstance(table, Mapping) or not table:
        raise ValueError(f"{field} must be a non-empty mapping {{name: {{severity: accuracy}}}}")
    for name, row in table.items():
        check_corruption_name(name)
        if not isinstance(row, Mapping) or not row:
            raise ValueError(f"{field}[{name!r}] must be a non-empty mapping {{severity: accuracy}}")
        for severity, acc in row.items():
            check_severity(severity)
            if not (isinstance(acc, (float, int, np.floating)) and 0.0 <= float(acc) <= 1.0):
                raise ValueError(f"{field}[{name!r}][{severity}] must be an accuracy in [0, 1], got {acc!r}")


def mean_corruption_accuracy(table: Mapping[str, Mapping[int, float]]) -> float:
    """Mean accuracy over all corruptions and severities of a table (the 'CIFAR-10-C mean')."""
    _check_table(table, "table")
    return float(np.mean([acc for row in table.values() for acc in row.values()]))


def _check_same_cells(table: Mapping, reference: Mapping) -> None:
    if set(table) != set(reference):
        raise ValueError(
            f"table and reference must cover the same corruptions, got {sorted(table)} and {sorted(reference)}"
        )
    for name in table:
        if set(table[name]) != set(reference[name]):
            raise ValueError(
                f"table and reference must cover the same severities for {name!r}, "
                f"got {sorted(table[name])} and {sorted(reference[name])}"
            )


def corruption_errors(
    table: Mapping[str, Mapping[int, float]], reference: Mapping[str, Mapping[int, float]]
) -> dict[str, float]:
    """CE_c = sum_s (1 - acc_{s,c}) / sum_s (1 - ref_{s,c}) for every corruption c."""
    _check_table(table, "table")
    _check_table(reference, "reference")
    _check_same_cells(table, reference)
    out = {}
    for name, row in table.items():
        ref_error = sum(1.0 - float(reference[name][s]) for s in row)
        if ref_error <= 0.0:
            raise ValueError(f"reference has zero error on {name!r}: the corruption error is undefined")
        out[name] = sum(1.0 - float(acc) for acc in row.values()) / ref_error
    return out


def mean_corruption_error(
    table: Mapping[str, Mapping[int, float]], reference: Mapping[str, Mapping[int, float]]
) -> float:
    """mCE: the mean over corruptions of :func:`corruption_errors` (1.0 = as good as the reference)."""
    return float(np.mean(list(corruption_errors(table, reference).values())))


def relative_mean_corruption_error(
    table: Mapping[str, Mapping[int, float]],
    clean_accuracy: float,
    reference: Mapping[str, Mapping[int, float]],
    reference_clean_accuracy: float,
) -> float:
    """Relative mCE: the mean over c of sum_s (E_{s,c} - E_clean) / sum_s (E^ref_{s,c} - E^ref_clean)."""
    _check_table(table, "table")
    _check_table(reference, "reference")
    _check_same_cells(table, reference)
    for value, field in ((clean_accuracy, "clean_accuracy"), (reference_clean_accuracy, "reference_clean_accuracy")):
        if not (isinstance(value, (float, int, np.floating)) and 0.0 <= float(value) <= 1.0):
            raise ValueError(f"{field} must be an accuracy in [0, 1], got {value!r}")
    ratios = []
    for name, row in table.items():
        ref_gap = sum(float(reference_clean_accuracy) - float(reference[name][s]) for s in row)
        if ref_gap <= 0.0:
            raise ValueError(f"reference loses no accuracy on {name!r}: the relative corruption error is undefined")
        ratios.append(sum(float(clean_accuracy) - float(acc) for acc in row.values()) / ref_gap)
    return float(np.mean(ratios))
