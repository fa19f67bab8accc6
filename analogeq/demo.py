"""``analogeq demo``: the end-to-end job, as a list of sections that each add rows to one table.

``run_demo(out_dir, quick=False, seed=0, device="cpu")`` runs every section of
:data:`SECTIONS` in order with one shared :class:`DemoContext`, prints the results table,
writes ``demo_results.json`` in ``out_dir`` and returns the results.

A section is a function ``section(ctx) -> list[dict]``: each dict is one table row, with any
of the columns of :data:`COLUMNS` (others are printed after them). Sections share work through
``ctx.artifacts`` (e.g. the ``"float"`` section leaves the trained dense EBM in
``ctx.artifacts["dense_ebm"]``, the data in ``["digits"]`` and the checkpoint path in
``["dense_ebm_checkpoint"]`` for the hardware sections). To add a section::

    from analogeq.demo import register_section
    register_section("crossbar", my_section)          # appended after the existing ones
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger(__name__)

#: epochs of the digits training with ``quick=True`` (the full demo uses the recipe's)
QUICK_EPOCHS = 5

#: table columns in print order (rows may add others)
#: settle_steps: mean settling steps per batch of 64 (a batch stops when its slowest sample is settled)
COLUMNS = ("section", "substrate", "model", "dataset", "accuracy", "settle_steps", "train_s", "eval_s", "notes")


@dataclass
class DemoContext:
    """What every section sees: where to write, how much to do, and the shared artifacts."""

    out_dir: Path
    quick: bool = False
    seed: int = 0
    device: str = "cpu"
    progress: bool | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)


Section = Callable[[DemoContext], list[dict[str, Any]]]


def section_float(ctx: DemoContext) -> list[dict[str, Any]]:
    """Train the digits dense EBM with symmetric EqProp and evaluate it on the float substrate."""
    import torch

    from analogeq.checkpoint import save_checkpoint
    from analogeq.data import load_dataset
    from analogeq.models import build_model
    from analogeq.substrates import build_substrate
    from analogeq.train import evaluate, train
    from analogeq.train.recipes import digits_dense

    splits = load_dataset("digits", seed=0)
    model_config, train_config = digits_dense(ctx.seed, epochs=QUICK_EPOCHS if ctx.quick else None, device=ctx.device)
    model = build_model(model_config)
    history = train(model, splits, train_config, progress=ctx.progress)
    t0 = time.perf_counter()
    substrate = build_substrate("float", model, device=ctx.device)
    test = splits.test.to(ctx.device)
    with torch.no_grad():
        accuracy = float((substrate.predict(test.x) == test.y).float().mean())
    eval_s = time.perf_counter() - t0
    stats = evaluate(model, splits.test, batch_size=64, device=ctx.device)
    ckpt = save_checkpoint(
        ctx.out_dir / "dense_ebm_digits.safetensors",
        model,
        {
            "dataset": "digits", "split_seed": 0, "data_root": None, "train_config": train_config.to_dict(),
            "val_accuracy": history["final_val_accuracy"], "test_accuracy": accuracy,
            "train_seconds": history["train_seconds"],
        },
    )
    ctx.artifacts.update(digits=splits, dense_ebm=model, dense_ebm_checkpoint=str(ckpt), dense_ebm_history=history)
    hidden = "-".join(str(h) for h in model_config["hidden_sizes"])
    return [
        {
            "section": "float",
            "substrate": f"float32 ({ctx.device})",
            "model": f"dense EBM 64-{hidden}-10 ({model_config['readout']})",
            "dataset": f"digits test ({len(splits.test)})",
            "accuracy": accuracy,
            "settle_steps": stats["mean_settle_steps"],
            "train_s": history["train_seconds"],
            "eval_s": eval_s,
            "notes": f"symmetric EqProp, beta {train_config.beta}, {train_config.epochs} epochs; "
            f"{100 * stats['converged_fraction']:.1f}% of samples settled to {model.config.tol:g}",
        }
    ]


def _lazy_section(module: str, name: str) -> Section:
    """A section imported when it runs (hardware sections load numba/brian2 only when used)."""

    def section(ctx: DemoContext) -> list[dict[str, Any]]:
        import importlib

        return getattr(importlib.import_module(module), name)(ctx)

    section.__name__ = name
    section.__doc__ = f"``{module}.{name}``"
    return section


#: the demo's sections, in order: (name, function)
SECTIONS: list[tuple[str, Section]] = [
    ("float", section_float),
    ("crossbar", _lazy_section("analogeq.demo_crossbar", "section_crossbar")),
    ("spiking", _lazy_section("analogeq.demo_spiking", "section_spiking")),
]


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


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of the rows: the :data:`COLUMNS` used by any row, then the others."""
    if not rows:
        return "(no results)"
    extra = []
    for r in rows:
        extra += [k for k in r if k not in COLUMNS and k not in extra]
    cols = [c for c in COLUMNS if any(c in r for r in rows)] + extra
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(r) for r in cells])


def _write_json_atomic(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, default=str)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run_demo(
    out_dir: str | os.PathLike = "demo-report",
    quick: bool = False,
    *,
    seed: int = 0,
    device: str = "cpu",
    sections: list[str] | None = None,
    progress: bool | None = None,
    print_table: bool = True,
) -> dict[str, Any]:
    """Run the demo sections (all, or those named in ``sections``) and return
    ``{"rows", "sections", "seconds", "out_dir", "table"}``; also written to ``out_dir/demo_results.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    known = [n for n, _ in SECTIONS]
    if sections is not None:
        unknown = [s for s in sections if s not in known]
        if unknown:
            raise ValueError(f"unknown demo section(s) {unknown}; available: {known}")
    ctx = DemoContext(out_dir=out, quick=quick, seed=seed, device=device, progress=progress)
    rows: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    for name, section in SECTIONS:
        if sections is not None and name not in sections:
            continue
        logger.info("demo section %r", name)
        t0 = time.perf_counter()
        rows += section(ctx)
        timings[name] = time.perf_counter() - t0
    table = format_table(rows)
    results = {
        "rows": rows, "sections": timings, "seconds": time.perf_counter() - t_all,
        "out_dir": str(out), "table": table, "quick": quick, "seed": seed, "device": device,
    }
    _write_json_atomic(out / "demo_results.json", results)
    if print_table:
        print(table)
        print(f"\n(total {results['seconds']:.1f} s; results in {out / 'demo_results.json'})")
    return results


__all__ = ["COLUMNS", "DemoContext", "SECTIONS", "format_table", "register_section", "run_demo", "section_float"]
