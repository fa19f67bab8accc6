"""The comparison as Markdown, and the two files a comparison writes (``compare.json``, ``compare.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hardware_models.files import atomic_write

__all__ = ["to_markdown", "write_compare"]


def _fmt(v: Any, ci: Any = None) -> str:
    if v is None:
        return "-"
    text = f"{100 * v:.1f}"
    return f"{text} ± {100 * ci:.1f}" if ci else text


def to_markdown(result: dict[str, Any]) -> str:
    """The table as Markdown (accuracies in %, ± the 95% interval over noise draws)."""
    rows = result["rows"]
    radius = None
    for r in rows:
        if r.get("certified_accuracy"):
            radius = sorted(r["certified_accuracy"], key=float)[0]
            break
    eps = rows[0]["pgd_eps_linf"] if rows else None
    lines = [
        f"# Comparison on {result['dataset']} ({rows[0]['n_examples'] if rows else 0} test images, seed {result['seed']})",
        "",
        f"PGD and Square: L_inf eps {eps:g}; worst L_inf: per example over every L_inf attack at that eps; "
        f"corruptions: mean accuracy over the suite's types and severities; "
        f"certified: randomized smoothing at L2 radius {radius}." if eps is not None else "",
        "",
        "| model | defence | substrate | params | clean | PGD | Square | worst L_inf | corruptions | certified | train s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        sub = r["substrate"] + (f" ({r['card']})" if r.get("card") else "")
        cert = (r.get("certified_accuracy") or {}).get(radius) if radius else None
        ci = r.get("ci95") or {}
        lines.append(
            f"| {r['model']} | {r['defence']} | {sub} | {r['parameters']} | {_fmt(r['clean'], ci.get('clean'))} | "
            f"{_fmt(r['pgd_linf'], ci.get('pgd_linf'))} | {_fmt(r['square_linf'], ci.get('square_linf'))} | "
            f"{_fmt(r.get('worst_case_linf'))} | {_fmt(r['corruptions_mean'])} | {_fmt(cert)} | {r['train_time_s']:.1f} |"
        )
    for s in result.get("skipped", []):
        lines.append("")
        lines.append(f"Skipped {s.get('entry', 'all models')} on {s['substrate']}: {s['reason']}")
    return "\n".join(lines) + "\n"


def write_compare(result: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``compare.json`` and ``compare.md`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "compare.json", out / "compare.md"
    atomic_write(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    atomic_write(md_path, to_markdown(result))
    return json_path, md_path
