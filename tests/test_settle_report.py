"""Item 4 of issue 14: every settle a substrate predicts with is reported (fraction of the samples
that converged, median steps), and a substrate whose settle misses its tolerance on more than 1%
of the samples warns ONCE, naming the budget and the tolerance."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from analogeq.contract import SettleLog, SettleOutcome
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.ebm.settle import settle
from analogeq.report.tables import settle_columns, settle_text
from analogeq.substrates import build_substrate

LOGGER = "analogeq.settle"


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def _model(free_steps: int, gain: float = 0.5) -> DenseEBM:
    return DenseEBM(DenseEBMConfig(hidden_sizes=(16,), init_gain=gain, free_steps=free_steps, tol=1e-5, seed=1))


@pytest.fixture(autouse=True)
def fresh_warning_registry(monkeypatch):
    """Each test starts as a fresh process: the settle warnings given by earlier tests (kept per
    process, so that twenty draws of one card warn once) must not turn this test's into DEBUG."""
    import analogeq.contract as contract

    monkeypatch.setattr(contract, "_WARNED_SETTINGS", set())


@pytest.fixture
def images():
    return torch.rand(24, 1, 8, 8, generator=torch.Generator().manual_seed(3))


def test_log_median_and_fraction_match_numpy_over_batches(caplog):
    rng = np.random.default_rng(0)
    log = SettleLog("median test")
    steps, conv = [], []
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for n in (7, 1, 12, 30):  # odd and even totals on the way
            s = rng.integers(1, 50, n)
            c = rng.random(n) < 0.995
            log.add(SettleOutcome(s, c | (s < 50), max_steps=50, tol=1e-3))
            steps += list(s)
            conv += list(c | (s < 50))
            rep = log.report()
            assert rep.median_steps == np.median(steps) and rep.samples == len(steps)
            assert rep.converged_fraction == pytest.approx(np.mean(conv))
    assert _warnings(caplog) == []
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        log.add(SettleOutcome([50, 50], [False, False], max_steps=50, tol=1e-3))  # 2 of 52 > 1%
        log.add(SettleOutcome([50] * 5, [False] * 5, max_steps=50, tol=1e-3))
    (message,) = _warnings(caplog)
    assert "free_steps=50" in message and "tol=0.001" in message and "2 of 52" in message


def test_tiny_budget_on_float_warns_once_and_reports_unconverged(images, caplog):
    sub = build_substrate("float", _model(free_steps=7))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        sub.logits(images)
        sub.logits(images[:5])
    rep = sub.settle_report()
    assert rep["samples"] == 29 and rep["converged_fraction"] < 1.0
    assert rep["median_steps"] == 7 and rep["max_steps"] == 7
    (message,) = _warnings(caplog)  # once, not once per call
    assert "float substrate" in message and "free_steps=7" in message and "tol=1e-05" in message
    with caplog.at_level(logging.DEBUG, logger=LOGGER):  # a second substrate, same settings: DEBUG only
        build_substrate("float", _model(free_steps=7)).logits(images)
    assert len(_warnings(caplog)) == 1 and caplog.records[-1].levelno == logging.DEBUG


def test_converging_float_settle_reports_one_and_the_steps_of_single_sample_settles(images, caplog):
    model = _model(free_steps=1000)
    sub = build_substrate("float", model)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        sub.logits(images)
    rep = sub.settle_report()
    assert rep["converged_fraction"] == 1.0 and _warnings(caplog) == []
    # second method: each image settled alone with the plain batch-wide loop
    with torch.no_grad():
        alone = [settle(model, images[i:i + 1], max_steps=1000, tol=1e-5, per_sample=False).steps
                 for i in range(len(images))]
    assert rep["median_steps"] == np.median(alone)
    assert settle_columns(rep) == {"settle_converged": 1.0, "settle_median_steps": float(np.median(alone))}
    assert "100.0% of 24 samples converged" in settle_text(rep)


def test_crossbar_reports_its_settle_in_cost_and_warns_once(images, caplog):
    from analogeq.substrates.crossbar import CrossbarSubstrate

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        ok = CrossbarSubstrate(_model(free_steps=1000), "ideal", drift_time_s=0.0)
        ok.logits(images)
    assert ok.settle_report()["converged_fraction"] == 1.0 and _warnings(caplog) == []
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        tiny = CrossbarSubstrate(_model(free_steps=6), "ideal", drift_time_s=0.0)
        tiny.logits(images)
        tiny.logits(images)
    cost = tiny.cost()
    assert cost["settle_converged_fraction"] < 1.0 and cost["settle_median_steps"] == 6.0
    assert cost["steps"] == 6.0  # the mean steps of the cost model agree with the report
    (message,) = _warnings(caplog)
    assert "crossbar substrate" in message and "free_steps=6" in message
    tiny.reset_cost()
    assert tiny.settle_report() is None


def test_resistive_names_its_sweep_budget_and_current_tolerance(images, caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        sub = build_substrate("resistive", _model(free_steps=100), card="ideal", max_sweeps=3)
        sub.logits(images[:8])
    rep = sub.settle_report()
    assert rep["converged_fraction"] < 1.0 and rep["max_steps"] == 3 and rep["tol_unit"] == "A"
    (message,) = _warnings(caplog)
    assert "max_sweeps=3" in message and "tol_A=1e-12 A" in message
    assert sub.cost()["settle_converged_fraction"] == rep["converged_fraction"]


def test_a_feed_forward_network_has_no_settle_report(images):
    from analogeq.baselines.models.mlp import MLP, MLPConfig

    sub = build_substrate("float", MLP(MLPConfig(hidden_sizes=(8,))))
    sub.logits(images)
    assert sub.settle_report() is None
    assert settle_columns(None) == {"settle_converged": None, "settle_median_steps": None}


def test_robustness_result_reports_the_settle_of_every_prediction(images, caplog):
    from analogeq.robustness.evaluate import evaluate_robustness, to_markdown
    from analogeq.robustness.suite import QUICK

    sub = build_substrate("float", _model(free_steps=5))
    x = images[:8]
    suite = QUICK.replace(linf_eps=(0.1,), l2_eps=(1.0,), pgd_steps=2, square_queries=5, convergence_steps=0,
                          gradient_modes=False)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = evaluate_robustness(sub, x, sub.predict(x), suite=suite, extras=False)
    settle = result["settle"]
    assert settle == sub.settle_report() and settle["converged_fraction"] < 1.0 and settle["max_steps"] == 5
    assert settle["samples"] > len(x)  # the clean and the adversarial predictions
    assert len(_warnings(caplog)) == 1
    assert settle_text(settle) in to_markdown(result)


def test_training_evaluation_reports_the_median_steps_over_samples(digits_splits):
    from analogeq.train import evaluate

    model = _model(free_steps=1000)
    data = digits_splits.test.subset(24, seed=0)
    stats = evaluate(model, data, batch_size=16)  # batches of 16 and 8 samples
    with torch.no_grad():
        first = settle(model, data.x[:16], max_steps=1000, tol=1e-5, per_sample=False).steps
    assert stats["median_settle_steps"] == first  # 16 of the 24 samples ran their batch's steps
