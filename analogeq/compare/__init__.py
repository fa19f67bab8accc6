"""One table comparing EBMs with feed-forward baselines and defences, on float and on hardware.

``compare(...)`` trains (or loads) every model of a list of *entries*, evaluates each with the
robustness harness (:func:`analogeq.robustness.evaluate.evaluate_robustness`: PGD, Square,
natural corruptions, randomized-smoothing certification, sanity gates) on every requested
substrate (``"float"``, and ``"crossbar"`` with a device card when that substrate is
registered), and returns one table: a list of rows, one per (entry, substrate).

    from analogeq.compare import compare, to_markdown
    result = compare("digits", models=["ebm", "mlp"], quick=True, out_dir="compare-out")
    print(to_markdown(result))

One module per job:

* :mod:`~analogeq.compare.entries`: the models of the table (:func:`default_entries`, with the
  list of entries) and the budgets (:func:`settings_for`);
* :mod:`~analogeq.compare.training`: train an entry, or load it from a checkpoint trained the
  same way;
* :mod:`~analogeq.compare.run`: :func:`compare`, which measures every entry on every substrate
  (the row fields are listed there);
* :mod:`~analogeq.compare.markdown`: the Markdown table and the files ``compare.json`` /
  ``compare.md``.
"""

from analogeq.compare.entries import (
    CompareEntry,
    CompareSettings,
    dataset_radii,
    default_entries,
    select_entries,
    settings_for,
)
from analogeq.compare.markdown import to_markdown, write_compare
from analogeq.compare.run import SCHEMA, compare
from analogeq.compare.training import load_or_train, train_entry

__all__ = ["SCHEMA", "CompareEntry", "CompareSettings", "compare", "dataset_radii", "default_entries", "load_or_train",
           "select_entries", "settings_for", "to_markdown", "train_entry", "write_compare"]
