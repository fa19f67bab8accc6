"""Helpers shared by the sweep tests (tests/test_sweeps_*.py import them by name; not conftest).

* :func:`spec_toml` writes the TOML text of a small sweep spec;
* :func:`write_spec` / :func:`load_spec_text` / :func:`spec_error` put a spec's text in a file and
  load it (or return the one-line error it gives);
* :func:`sweep_rows` runs a spec in process and returns its point rows; :func:`ok_metrics` the
  metrics of a database's finished points;
* :func:`plugin_evaluation` is what a plugin's entry point returns (the registry tests load it
  through a stand-in entry point ``fixtures_sweeps:plugin_evaluation``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from analogeq.sweeps import Evaluation, Param, ResultStore, SweepSpec, load_spec, run_sweep
from hardware_models.params import Integer

__all__ = ["load_spec_text", "ok_metrics", "plugin_evaluation", "spec_error", "spec_toml", "sweep_rows", "write_spec"]


def spec_toml(name: str, *, evaluations: str, axes: str = "", seeds: str = "[0]", card: str = "pcm",
              extra: str = "") -> str:
    """A spec: ``name``, ``seeds``, ``extra`` top-level lines, ``[card] preset``, ``[axes]`` lines
    and the ``[evaluations.<name>]`` tables (all TOML text)."""
    return "\n".join([f'name = "{name}"', f"seeds = {seeds}", textwrap.dedent(extra), "[card]", f'preset = "{card}"',
                      "[axes]", textwrap.dedent(axes), textwrap.dedent(evaluations), ""])


def write_spec(folder: Path, text: str, name: str = "spec.toml") -> Path:
    """``text`` (dedented) as the file ``folder/name``."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def load_spec_text(folder: Path, text: str, name: str = "spec.toml") -> SweepSpec:
    """The spec of ``text``, loaded from ``folder/name``."""
    return load_spec(write_spec(folder, text, name))


def spec_error(folder: Path, text: str) -> str:
    """The ValueError message loading ``text`` gives (it must give one)."""
    with pytest.raises(ValueError) as info:
        load_spec_text(folder, text)
    return str(info.value)


def ok_metrics(db: Any) -> dict[str, dict]:
    """Metrics of every finished point of the database at ``db``, by key."""
    with ResultStore(db, create=False) as store:
        return {r.key: r.metrics for r in store.results() if r.status == "ok"}


def sweep_rows(folder: Path, text: str, db_name: str = "s.db") -> list[dict[str, Any]]:
    """Run the spec ``text`` in process (every point must finish) and return its point rows."""
    db = folder / db_name
    summary = run_sweep(load_spec_text(folder, text), db, progress=False)
    assert summary.ok == summary.planned, summary.errors
    with ResultStore(db) as store:
        return store.point_rows()


def _plugin_metric(ctx: Any) -> dict[str, float]:
    return {"value": float(ctx.seed * ctx.params["scale"])}


def plugin_evaluation() -> Evaluation:
    """A plugin's evaluation, as its entry point returns it."""
    return Evaluation("test_plugin", _plugin_metric, params={"scale": Param(2, Integer(minimum=1), "a factor")},
                      metrics=("value",))
