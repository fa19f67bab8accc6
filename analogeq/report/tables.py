"""Markdown tables from rows of dicts."""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Sequence

Column = str | tuple[str, str] | tuple[str, str, str]


def format_value(value: Any, fmt: str | None = None) -> str:
    """A cell's text: ``fmt`` (a ``str.format`` spec such as ``"{:.3f}"``) if given, otherwise
    4 significant digits for floats, ``str`` for the rest, empty for None, ``nan`` for NaN."""
    if value is None:
        return ""
    if fmt is not None:
        return fmt.format(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return str(value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (dicts) with the given ``columns``.

    Each column is a key, or ``(key, header)``, or ``(key, header, fmt)`` with ``fmt`` a
    ``str.format`` spec applied to the value (e.g. ``"{:.1%}"``). A missing key gives an empty
    cell. Columns whose values are all numbers (or empty) are right-aligned. Pipes and newlines
    in cells are escaped. Returns the table text ending with a newline.
    """
    if isinstance(columns, str) or not columns:
        raise ValueError("columns must be a non-empty sequence of keys or (key, header[, fmt]) tuples")
    specs: list[tuple[str, str, str | None]] = []
    for i, col in enumerate(columns):
        if isinstance(col, str):
            specs.append((col, col, None))
        elif isinstance(col, tuple) and len(col) in (2, 3) and all(isinstance(c, str) for c in col):
            specs.append((col[0], col[1], col[2] if len(col) == 3 else None))
        else:
            raise ValueError(f"columns[{i}] must be a key or a (key, header[, fmt]) tuple of strings, got {col!r}")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"rows[{i}] must be a mapping (dict), got {type(row).__name__}")
    header = "| " + " | ".join(_escape(h) for _, h, _ in specs) + " |"
    aligns = []
    for key, _, _ in specs:
        values = [row.get(key) for row in rows if row.get(key) is not None]
        aligns.append("---:" if values and all(_is_number(v) for v in values) else "---")
    lines = [header, "| " + " | ".join(aligns) + " |"]
    for row in rows:
        cells = [_escape(format_value(row.get(key), fmt)) for key, _, fmt in specs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def settle_columns(report: Mapping[str, Any] | None) -> dict[str, Any]:
    """Table cells of a substrate's ``settle_report()``: ``settle_converged`` (fraction of the
    samples whose settle ended within the tolerance) and ``settle_median_steps``; both None
    where nothing settled on a tolerance (feed-forward, the spiking substrate's fixed run)."""
    if not report:
        return {"settle_converged": None, "settle_median_steps": None}
    return {"settle_converged": float(report["converged_fraction"]), "settle_median_steps": float(report["median_steps"])}


def settle_text(report: Mapping[str, Any] | None) -> str:
    """One line for a ``settle_report()``, e.g. ``"settle: 98.6% of 360 samples converged
    (tol 1e-05), median 37 of at most 150 steps"``."""
    if not report:
        return "settle: no settle on a tolerance"
    unit = f" {report['tol_unit']}" if report.get("tol_unit") else ""
    return (f"settle: {100.0 * report['converged_fraction']:.1f}% of {report['samples']} samples converged "
            f"(tol {report['tol']:g}{unit}), median {report['median_steps']:g} of at most {report['max_steps']} steps")
