"""The robustness harness: one set of attacks, gates and measurements for every substrate.

* :mod:`analogeq.robustness.attacks`: FGSM, PGD, APGD (CE/DLR), APGD-T, C&W L2, Square,
  Transfer, behind one calling convention (``attack(substrate, x, y) -> AttackResult``).
* :mod:`analogeq.robustness.eot`: expectation over transformation for stochastic substrates.
* :mod:`analogeq.robustness.gates`: the sanity gates (Carlini et al. 2019; Athalye et al. 2018).
* :mod:`analogeq.robustness.suite`: the ``quick`` (smoke test), ``standard`` (default) and ``full`` attack suites.
* :mod:`analogeq.robustness.plan`: a suite as a list of attack runs (plain data, each with the
  name of its random stream); :mod:`analogeq.robustness.runner` runs them.
* :mod:`analogeq.robustness.evaluate`: :func:`evaluate_robustness`, the one entry point (the
  JSON/Markdown reports live in :mod:`analogeq.report.robustness` and are re-exported).
* :mod:`analogeq.robustness.corruptions`, :mod:`~analogeq.robustness.certify`,
  :mod:`~analogeq.robustness.detect`, :mod:`~analogeq.robustness.energy`: natural corruptions,
  randomized smoothing, feature squeezing and the energy view (used by the evaluation).

    from analogeq.robustness import evaluate_robustness
    result = evaluate_robustness(substrate, x, y, reference_substrate=float_substrate)  # standard suite
"""

from analogeq.robustness.evaluate import compare_markdown, evaluate_robustness, to_markdown, write_report
from analogeq.robustness.suite import FULL, QUICK, STANDARD, AttackSuite, get_suite

__all__ = ["AttackSuite", "FULL", "QUICK", "STANDARD", "compare_markdown", "evaluate_robustness", "get_suite", "to_markdown",
           "write_report"]
