"""``analogeq sweep``: run a parameter sweep, show its progress, export and plot its results.

    analogeq sweep run SPEC.toml --db sweep.db [--executor inprocess|processes|dask]
                                 [--workers N] [--scheduler tcp://host:8786] [--max-points N]
                                 [--point-limit N] [--network-cache DIR]
    analogeq sweep status --db sweep.db [--json]
    analogeq sweep export --db sweep.db --csv results.csv
    analogeq sweep plot --db sweep.db --out plots/ [--metric NAME ...] [--no-heatmaps]

``run`` prints the number of points first and refuses a spec of more than 100,000 grid points
unless --point-limit says otherwise. It skips the points the database already holds, so
re-running a killed or interrupted (Ctrl-C) sweep finishes it.
It shows a progress bar (points done, time left) on a terminal and is quiet otherwise; it exits
with 1 if some point failed (the failures are stored with their message and retried next time).
A spec names its evaluations (the built-in ones and those of installed plugins, entry-point
group ``analogeq.sweep_evaluations``); it never names code to import.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from analogeq.commands import command_parser
from hardware_models.errors import one_line


def register(subparsers: Any) -> None:
    parser = command_parser(
        subparsers, "sweep", "run noise/peripheral/device parameter sweeps into an SQLite database", __doc__)
    sub = parser.add_subparsers(dest="sweep_command", metavar="ACTION")

    run_p = sub.add_parser("run", help="run (or resume) the sweep of a TOML spec")
    run_p.add_argument("spec", help="sweep spec (TOML)")
    run_p.add_argument("--db", required=True, help="results database (SQLite; created if missing)")
    run_p.add_argument("--executor", choices=("inprocess", "processes", "dask"), default="inprocess",
                       help="where points run (default: inprocess)")
    run_p.add_argument("--workers", type=int, default=None,
                       help="processes for --executor processes, or LocalCluster workers for dask")
    run_p.add_argument("--scheduler", default=None,
                       help="address of a running Dask scheduler, e.g. tcp://host:8786 (implies --executor dask)")
    run_p.add_argument("--max-points", type=int, default=None, help="run at most this many missing points")
    run_p.add_argument("--point-limit", type=int, default=None,
                       help="refuse a spec with more grid points than this (default 100000); raise it to mean a bigger sweep")
    run_p.add_argument("--network-cache", default=None,
                       help="folder of trained networks (default: <db>.networks beside the database)")
    bar = run_p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show the progress bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show the progress bar")

    status_p = sub.add_parser("status", help="planned / finished / skipped / failed points per sweep")
    status_p.add_argument("--db", required=True)
    status_p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    export_p = sub.add_parser("export", help="write every point and its metrics to CSV")
    export_p.add_argument("--db", required=True)
    export_p.add_argument("--csv", required=True, help="output CSV file")

    plot_p = sub.add_parser("plot", help="PNG plots (95%% bands over seeds, heat maps) and report.md")
    plot_p.add_argument("--db", required=True)
    plot_p.add_argument("--out", required=True, help="output folder")
    plot_p.add_argument("--metric", action="append", default=None, help="metric to plot (repeatable; default: each evaluation's main metric)")
    plot_p.add_argument("--no-heatmaps", action="store_true", help="skip the two-axis heat maps")

    parser.set_defaults(func=run, _sweep_parser=parser)


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "sweep_command", None)
    if action is None:
        args._sweep_parser.print_help()
        return 2
    return {"run": _run, "status": _status, "export": _export, "plot": _plot}[action](args)


def _run(args: argparse.Namespace) -> int:
    from analogeq.sweeps import load_spec, run_sweep
    from analogeq.sweeps.executors import make_executor
    from analogeq.sweeps.spec import DEFAULT_POINT_LIMIT

    executor = args.executor
    if args.scheduler is not None:
        if executor not in ("inprocess", "dask"):
            raise ValueError(f"--scheduler needs --executor dask, got --executor {executor}")
        executor = "dask"
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if executor == "inprocess" and args.workers not in (None, 1):
        raise ValueError(f"--workers {args.workers} needs --executor processes or dask (inprocess runs one point at a time)")
    workers = args.workers if executor != "inprocess" else None
    point_limit = DEFAULT_POINT_LIMIT if args.point_limit is None else args.point_limit
    if point_limit < 1:
        raise ValueError(f"--point-limit must be >= 1, got {point_limit}")
    if args.scheduler is not None:  # connect first: a wrong address fails in seconds, before any work
        executor = make_executor("dask", scheduler=args.scheduler)
    try:
        spec = load_spec(args.spec, point_limit=point_limit)
        print(f"sweep {spec.name}: {spec.n_points():,} grid points (limit {point_limit:,})", flush=True)
        summary = run_sweep(spec, args.db, executor=executor, workers=workers, scheduler=None,
                            progress=args.progress, max_points=args.max_points, network_cache=args.network_cache)
    finally:
        if not isinstance(executor, str):
            executor.close()
    print(
        f"sweep {summary.name}: {summary.planned} points, {summary.already_done} already done, "
        f"ran {summary.ran} (ok {summary.ok}, skipped {summary.skipped}, error {summary.error}) "
        f"in {summary.wall_s:.1f} s{' on ' + summary.executor if summary.executor else ''}"
    )
    for line in summary.errors[:10]:
        print(f"  error {line}", file=sys.stderr)
    return 1 if summary.error else 0


def _status(args: argparse.Namespace) -> int:
    from analogeq.report.tables import markdown_table
    from analogeq.sweeps.store import ResultStore

    with ResultStore(args.db, create=False) as store:
        counts = store.status_counts()
        total = store.result_count()
    if args.json:
        print(json.dumps({"sweeps": counts, "results": total}, indent=2))
        return 0
    if not counts:
        print(f"{args.db}: no sweep recorded yet")
        return 0
    print(markdown_table(counts, ["name", "planned", "ok", "skipped", "error", "pending", "runs", "last_run_at"]), end="")
    print(f"{total} results stored")
    return 0


def _export(args: argparse.Namespace) -> int:
    from analogeq.sweeps.export import export_csv

    n = export_csv(args.db, args.csv)
    print(f"wrote {n} points to {args.csv}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from analogeq.report.grouping import numeric_metrics
    from analogeq.report.sweep_report import write_sweep_report
    from analogeq.sweeps.store import ResultStore

    if args.metric:  # a metric no point measured would give zero plots and exit 0: refuse it by name
        with ResultStore(args.db, create=False) as store:
            known = numeric_metrics(store.point_rows())
        unknown = [m for m in args.metric if m not in known]
        if unknown:
            raise ValueError(f"--metric {unknown[0]!r}: no stored point has this metric; metrics in {args.db}: {known}")
    out = write_sweep_report(args.db, args.out, metrics=args.metric, heatmaps=not args.no_heatmaps)
    print(f"wrote {len(out['plots'])} plots and {out['report']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run only the sweep command (``python -m analogeq.commands.sweep run ...``)."""
    parser = argparse.ArgumentParser(prog="analogeq")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["sweep", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except (ValueError, FileNotFoundError, TypeError) as exc:
        print(f"analogeq sweep: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"analogeq sweep: {one_line(str(exc)) or 'stopped (Ctrl-C)'}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
