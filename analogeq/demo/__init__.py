"""``analogeq demo``: the end-to-end job on digits, as a list of sections that each add table rows.

``run_demo(out_dir, quick=False, seed=0, device="cpu")`` runs every section of :data:`SECTIONS`
in order with one shared :class:`DemoContext`, prints the results tables, writes
``demo_results.json``, ``report.md`` (tables and PNG plots, :mod:`analogeq.demo.report`) and the
files of each section into ``out_dir``, and returns the results.

Sections (each in its own module, imported when it runs):

=============  =========================================================================
``float``      :mod:`analogeq.demo.floating`: train the dense EBM with EqProp, run it in float
``crossbar``   :mod:`analogeq.demo.crossbar`: ideal crossbar and PCM 1 h after programming,
               energy and latency, accuracy against drift time
``spiking``    :mod:`analogeq.demo.spiking`: the same weights as spikes (Brian2)
``robustness`` :mod:`analogeq.demo.robustness`: one attack/corruption harness on every substrate
``conv``       :mod:`analogeq.demo.conv`: a convolutional EBM (average pools) trained on mnist-5k,
               on float, crossbar (ideal, PCM 1 day), spiking, and its NIR graph
``resistive``  :mod:`analogeq.demo.resistive`: a deep resistive network (diodes) trained with
               EqProp, on ideal and PCM conductances (1 day), energy, settling sweeps, robustness
``sweep``      :mod:`analogeq.demo.sweep`: read noise x ADC bits, resumable (SQLite)
=============  =========================================================================

A section is a function ``section(ctx) -> list[dict]``: each dict is one table row. Rows go
into the table named by their ``"table"`` key (default ``"results"``); the terminal shows each
table with the columns its rows use, except those in :data:`REPORT_ONLY` (the report shows all).
Sections share work through ``ctx.artifacts`` (the ``"float"`` section leaves the trained
model in ``ctx.artifacts["dense_ebm"]``, the data splits in ``["splits"]`` and the checkpoint path in
``["dense_ebm_checkpoint"]``). To add a section::

    from analogeq.demo import register_section
    register_section("mine", my_section)          # appended after the existing ones
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from analogeq.progress import overall
from hardware_models.params import check_one_of

from hardware_models.files import atomic_write

logger = logging.getLogger(__name__)

#: datasets the demo can run on, with the recipe (:func:`analogeq.train.recipes.recipe`) it trains
DEMO_DATASETS = {"digits": "digits_dense", "mnist-5k": "mnist5k_dense"}

#: columns in print order (rows may add others, printed after these)
#: settle_steps: mean settling steps per batch of 64 (a batch stops when its slowest sample is settled);
#: settle_converged, settle_median_steps: the substrate's settle_report() (fraction of the samples
#: that converged, median steps per sample)
COLUMNS = ("section", "substrate", "model", "dataset", "accuracy", "accuracy_ci95", "agreement", "settle_steps",
           "settle_converged", "settle_median_steps", "train_s", "eval_s", "notes")

#: columns shown in report.md and demo_results.json but not in the terminal (too wide)
REPORT_ONLY = ("model", "dataset", "notes", "table", "energy_breakdown")


@dataclass
class DemoContext:
    """What every section sees: where to write, how much to do, and the shared artifacts."""

    out_dir: Path
    quick: bool = False
    seed: int = 0
    device: str = "cpu"
    progress: bool | None = None
    #: the data the demo trains on: "digits" (default) or "mnist-5k" (see :data:`DEMO_DATASETS`)
    dataset: str = "digits"
    artifacts: dict[str, Any] = field(default_factory=dict)


Section = Callable[[DemoContext], list[dict[str, Any]]]


def _lazy_section(module: str, name: str) -> Section:
    """A section imported when it runs (hardware sections load numba/brian2 only when used)."""

    def section(ctx: DemoContext) -> list[dict[str, Any]]:
        return getattr(importlib.import_module(module), name)(ctx)

    section.__name__ = name
    section.__doc__ = f"``{module}.{name}``"
    return section


#: the demo's sections, in order: (name, function)
SECTIONS: list[tuple[str, Section]] = [
    ("float", _lazy_section("analogeq.demo.floating", "section_float")),
    ("crossbar", _lazy_section("analogeq.demo.crossbar", "section_crossbar")),
    ("spiking", _lazy_section("analogeq.demo.spiking", "section_spiking")),
    ("robustness", _lazy_section("analogeq.demo.robustness", "section_robustness")),
    ("conv", _lazy_section("analogeq.demo.conv", "section_conv")),
    ("resistive", _lazy_section("analogeq.demo.resistive", "section_resistive")),
    ("sweep", _lazy_section("analogeq.demo.sweep", "section_sweep")),
]

#: sections that need the trained network of the ``float`` section
NEEDS_FLOAT = ("crossbar", "spiking", "robustness", "sweep")


#: weight of each section on the demo's progress bar: about its seconds in the full demo on 2
#: shared cores (451 s in RESULTS.md, of which robustness 340 s); a section not listed weighs 10
PROGRESS_WEIGHTS = {"float": 30, "crossbar": 25, "spiking": 25, "robustness": 340, "conv": 120, "resistive": 90, "sweep": 20}


def progress_plan(sections: list[str] | None = None) -> list[tuple[str, int]]:
    """(section, weight) of every section that will run, in order: the units of the demo's bar."""
    return [(n, PROGRESS_WEIGHTS.get(n, 10)) for n, _ in SECTIONS if sections is None or n in sections]


def register_section(name: str, section: Section, *, before: str | None = None) -> None:
    """Add a section (at the end, or before the section named ``before``)."""
    if any(n == name for n, _ in SECTIONS):
        raise ValueError(f"demo section {name!r} is already registered")
    if before is None:
        SECTIONS.append((name, section))
        return
    names = [n for n, _ in SECTIONS]
    if before not in names:
        raise ValueError(f"no demo section {before!r}; sections: {names}")
    SECTIONS.insert(names.index(before), (name, section))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0.0 and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _one_table(rows: list[dict[str, Any]], hide: tuple[str, ...], ordered: bool) -> str:
    extra: list[str] = []
    for r in rows:
        extra += [k for k in r if (k not in COLUMNS or not ordered) and k not in extra]
    cols = [c for c in ((*COLUMNS, *extra) if ordered else extra) if c not in hide and any(c in r for r in rows)]
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(r) for r in cells])


def format_table(rows: list[dict[str, Any]], *, hide: tuple[str, ...] = REPORT_ONLY) -> str:
    """Plain-text tables of the rows, one per ``"table"`` group (in first-seen order), minus the
    ``hide`` columns: the ``"results"`` table with the :data:`COLUMNS` its rows use and then their
    other keys, the other tables with their rows' keys in order and without ``section``."""
    if not rows:
        return "(no results)"
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r.get("table", "results"), []).append(r)
    parts = []
    for name, group in groups.items():
        ordered = name == "results"
        text = _one_table(group, hide if ordered else (*hide, "section"), ordered)
        parts.append(text if len(groups) == 1 else f"[{name}]\n{text}")
    return "\n\n".join(parts)


def _header(rows: list[dict[str, Any]]) -> str:
    first = next((r for r in rows if "model" in r and "dataset" in r), None)
    return f"{first['model']} on {first['dataset']}" if first else ""


def _stopped_line(section: str, done: list[str], out: Path) -> str:
    """The one line of a demo stopped by Ctrl-C in ``section``: what finished and where its files are."""
    kept = (f"sections {', '.join(done)} finished and their files are in {str(out)!r}" if done
            else f"no section finished ({str(out)!r} holds no results yet)")
    return (f"stopped (Ctrl-C) in section {section!r}: {kept}; report.md and demo_results.json are written only "
            "at the end: run the same command again")


def run_demo(
    out_dir: str | os.PathLike = "demo-report",
    quick: bool = False,
    *,
    seed: int = 0,
    device: str = "cpu",
    sections: list[str] | None = None,
    progress: bool | None = None,
    print_table: bool = True,
    report: bool = True,
    dataset: str = "digits",
) -> dict[str, Any]:
    """Run the demo sections (all, or those named in ``sections``) and return ``{"rows",
    "sections", "seconds", "out_dir", "table", "report"}``; also written to
    ``out_dir/demo_results.json``. ``report=False`` skips ``report.md`` and the plots.
    ``dataset``: one of :data:`DEMO_DATASETS` (its recipe in :mod:`analogeq.train.recipes`)."""
    check_one_of("dataset", dataset, tuple(DEMO_DATASETS))
    out = Path(out_dir)
    known = [n for n, _ in SECTIONS]
    if sections is not None:
        unknown = [s for s in sections if s not in known]
        if unknown:
            raise ValueError(f"unknown demo section(s) {unknown}; available: {known}")
        if "float" in known and "float" not in sections and any(s in NEEDS_FLOAT for s in sections):
            raise ValueError(f"demo sections {[s for s in sections if s in NEEDS_FLOAT]} need the network the "
                             "'float' section trains; add --section float")
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out_dir=out, quick=quick, seed=seed, device=device, progress=progress, dataset=dataset)
    rows: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    plan = dict(progress_plan(sections))
    with overall(sum(plan.values()), "demo", unit="units", progress=progress) as bar:
        for name, section in SECTIONS:
            if name not in plan:
                continue
            logger.info("demo section %r", name)
            bar.label(name)
            t0 = time.perf_counter()
            try:
                rows += section(ctx)
            except KeyboardInterrupt:
                raise KeyboardInterrupt(_stopped_line(name, list(timings), out)) from None
            timings[name] = time.perf_counter() - t0
            bar.step(f"{name} done", n=plan[name])
    table = format_table(rows)
    header = _header(rows)
    report_info = None
    if report:
        from analogeq.demo.report import write_demo_report

        report_info = write_demo_report(ctx, rows, timings, table)
    results = {
        "rows": rows, "sections": timings, "seconds": time.perf_counter() - t_all,
        "out_dir": str(out), "table": table, "quick": quick, "seed": seed, "device": device, "dataset": dataset,
        "report": report_info,
    }
    atomic_write(out / "demo_results.json", json.dumps(results, indent=2, default=str))
    if print_table:
        if header:
            print(header + "\n")
        print(table)
        where = report_info["report"] if report_info else out / "demo_results.json"
        print(f"\n(total {results['seconds']:.1f} s; report in {where})")
    return results


__all__ = ["COLUMNS", "DemoContext", "REPORT_ONLY", "SECTIONS", "format_table", "register_section", "run_demo"]
