"""Strict reading of measured-data CSV files: named columns, finite numbers, errors that name
the file, the line and the column."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MeasuredTable:
    """Columns of a measured-data CSV file.

    ``numbers``: float64 column arrays by name; ``labels``: string columns by name;
    ``line_numbers``: the 1-based line of the file each row came from (for error messages);
    ``source``: the file name.
    """

    numbers: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    line_numbers: np.ndarray
    source: str

    def __len__(self) -> int:
        return int(self.line_numbers.size)


def read_measured_csv(
    path: str | os.PathLike,
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    label_columns: tuple[str, ...] = (),
    kind: str = "measured data",
) -> MeasuredTable:
    """Read a CSV file with a header row; lines starting with ``#`` and blank lines are skipped.

    ``required``/``optional`` name the numeric columns, ``label_columns`` the (required)
    string columns. Any other column, a missing column, an empty cell, a value that is not a
    number, NaN or infinity raises ValueError naming the line and column.
    """
    source = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            raw = [(i + 1, line) for i, line in enumerate(fh)]
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not a UTF-8 text CSV file ({kind} is expected)") from None
    lines = [(n, line) for n, line in raw if line.strip() and not line.lstrip().startswith("#")]
    allowed = tuple(label_columns) + tuple(required) + tuple(optional)
    if not lines:
        raise ValueError(f"{source}: empty; expected a header with columns {list(allowed)} and data rows ({kind})")
    rows = list(csv.reader([line for _, line in lines]))
    header = [h.strip() for h in rows[0]]
    missing = [c for c in tuple(label_columns) + tuple(required) if c not in header]
    unknown = [c for c in header if c not in allowed]
    duplicate = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or duplicate:
        raise ValueError(
            f"{source}, line {lines[0][0]}: header {header} does not fit {kind}: required columns "
            f"{list(label_columns) + list(required)}, optional {list(optional)}; missing {missing}, "
            f"unknown {unknown}, duplicated {duplicate}"
        )
    numbers: dict[str, list[float]] = {c: [] for c in header if c not in label_columns}
    labels: dict[str, list[str]] = {c: [] for c in label_columns}
    line_numbers = []
    for (line_no, _), row in zip(lines[1:], rows[1:]):
        if len(row) != len(header):
            raise ValueError(f"{source}, line {line_no}: {len(row)} values, the header has {len(header)} columns {header}")
        for name, cell in zip(header, row):
            cell = cell.strip()
            if cell == "":
                raise ValueError(f"{source}, line {line_no}, column {name!r}: empty value; measured data must be complete")
            if name in labels:
                labels[name].append(cell)
                continue
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(f"{source}, line {line_no}, column {name!r}: {cell!r} is not a number") from None
            if math.isnan(value):
                raise ValueError(
                    f"{source}, line {line_no}, column {name!r}: NaN; measured data must be finite "
                    "(drop the row or repeat the measurement)"
                )
            if math.isinf(value):
                raise ValueError(f"{source}, line {line_no}, column {name!r}: {cell!r} is infinite; measured data must be finite")
            numbers[name].append(value)
        line_numbers.append(line_no)
    if not line_numbers:
        raise ValueError(f"{source}: a header but no data rows ({kind})")
    return MeasuredTable(
        numbers={k: np.asarray(v, dtype=np.float64) for k, v in numbers.items()},
        labels=labels,
        line_numbers=np.asarray(line_numbers, dtype=np.int64),
        source=source,
    )


def check_finite_array(values: object, name: str) -> np.ndarray:
    """``values`` as a 1-D float64 array; ValueError naming ``name`` and the first bad index
    for NaN/inf, TypeError for non-numbers."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an array of numbers, got {type(values).__name__}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}] = {arr[i]!r}: measured data must be finite ({bad.size} bad value(s))")
    return arr
