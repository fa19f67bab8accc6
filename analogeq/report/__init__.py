"""Reports: Markdown tables, seed aggregation with confidence intervals, and plots of sweeps.

``markdown_table(rows, columns)`` is for everyone; ``write_sweep_report(db, out_dir)`` turns a
sweep database into PNG plots and a Markdown report. Plotting imports matplotlib lazily.
"""

from analogeq.report.tables import format_value, markdown_table


def __getattr__(name: str):
    if name in ("aggregate", "numeric_metrics", "axis_values"):
        from analogeq.report import grouping

        return getattr(grouping, name)
    if name in ("plot_metric_vs_axis", "plot_heatmap"):
        from analogeq.report import plots

        return getattr(plots, name)
    if name in ("write_sweep_report", "summary_table"):
        from analogeq.report import sweep_report

        return getattr(sweep_report, name)
    raise AttributeError(f"module 'analogeq.report' has no attribute {name!r}")


__all__ = ["format_value", "markdown_table", "aggregate", "numeric_metrics", "axis_values",
           "plot_metric_vs_axis", "plot_heatmap", "write_sweep_report", "summary_table"]
