"""Compare a benchmark's JSON with a reference run: key paths, and the figures side by side.

    python benchmarks/check_keys.py NEW.json benchmarks/results/bench_crossbar.json
    python benchmarks/check_keys.py NEW.json OLD.json --figures --depth 2

A key path is the chain of dict keys from the top (``crossbar.ci95.clean``); list items are
``[]`` (the keys of every dict item are merged). Prints the paths only one side has and exits 1
when there are any (so a quick run can be checked against a quick reference; a quick run against
a full one legitimately lacks what only the full run adds). ``--figures`` adds a Markdown table
of the numbers (and booleans) at depth <= ``--depth`` on both sides, ``machine`` left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterator


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of ``value`` (see the module docstring)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.add(path)
            out |= key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            out |= key_paths(item, f"{prefix}[]")
    return out


def figures(value: Any, depth: int, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of the numbers and booleans at most ``depth`` dict levels down."""
    if not isinstance(value, dict) or depth < 1:
        return
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key == "machine":
            continue
        if isinstance(item, (bool, int, float)) or item is None:
            yield path, item
        elif isinstance(item, dict):
            yield from figures(item, depth - 1, path)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new")
    parser.add_argument("reference")
    parser.add_argument("--figures", action="store_true", help="print the figures of both side by side")
    parser.add_argument("--depth", type=int, default=1, help="dict levels of figures to print (default 1)")
    args = parser.parse_args(argv)
    with open(args.new) as f:
        new = json.load(f)
    with open(args.reference) as f:
        ref = json.load(f)
    only_new, only_ref = sorted(key_paths(new) - key_paths(ref)), sorted(key_paths(ref) - key_paths(new))
    for path in only_ref:
        print(f"missing (only in the reference): {path}")
    for path in only_new:
        print(f"extra (only in the new run): {path}")
    if not (only_new or only_ref):
        print(f"same key paths ({len(key_paths(new))})")
    if args.figures:
        new_figures, ref_figures = dict(figures(new, args.depth)), dict(figures(ref, args.depth))
        print("\n| key | reference | new |\n| --- | --- | --- |")
        for path in list(ref_figures) + [p for p in new_figures if p not in ref_figures]:
            print(f"| {path} | {_fmt(ref_figures.get(path))} | {_fmt(new_figures.get(path))} |")
    return 1 if only_new or only_ref else 0


if __name__ == "__main__":
    sys.exit(main())
