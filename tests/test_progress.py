"""The one overall progress bar (analogeq.progress): quiet when stderr is not a terminal, its total
is the number of planned units (a robustness suite's steps, the demo's weighted sections) and it
ends full; a job inside another job draws no second bar; the results do not depend on it."""

from __future__ import annotations

import io

import pytest

import analogeq.demo as demo
import analogeq.progress as progress
from analogeq.robustness.evaluate import evaluate_robustness
from analogeq.robustness.plan import plan_attacks
from analogeq.robustness.suite import QUICK

TINY = QUICK.replace(linf_eps=(0.1,), l2_eps=(1.0,), pgd_steps=2, square_queries=5, convergence_steps=0,
                     corruption_examples=4, corruption_names=("gaussian_noise",), corruption_severities=(1,),
                     certify_examples=2, certify_n=20, certify_n0=10, gradient_modes=False)


class RecordingBar:
    """Stands in for tqdm: records the total, the updates and whether it was closed."""

    made: list["RecordingBar"] = []

    def __init__(self, total, **options):
        self.total, self.n, self.closed, self.options = total, 0, False, options
        RecordingBar.made.append(self)

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text

    def close(self):
        self.closed = True


@pytest.fixture
def bars(monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(progress, "tqdm", RecordingBar)
    monkeypatch.delenv("ANALOGEQ_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    return RecordingBar.made


@pytest.fixture(scope="module")
def case(nearest_mean_digits):
    sub, x, y = nearest_mean_digits
    return sub, x[1000:1012], y[1000:1012]


def test_quiet_when_stderr_is_not_a_terminal(case, bars, capsys):
    sub, x, y = case
    evaluate_robustness(sub, x, y, suite=TINY, seed=0)  # pytest's captured stderr is not a tty
    assert bars == [] and capsys.readouterr().err == ""
    # the real tqdm on a non-terminal stream: nothing is written either
    assert progress.show_progress() is False


def test_bar_total_is_the_planned_units_and_ends_full(case, bars, monkeypatch):
    sub, x, y = case
    monkeypatch.setattr("sys.stderr", _Terminal())
    with_bar = evaluate_robustness(sub, x, y, suite=TINY, seed=0)
    monkeypatch.setenv("ANALOGEQ_PROGRESS", "0")
    quiet = evaluate_robustness(sub, x, y, suite=TINY, seed=0)
    (bar,) = bars
    plan = plan_attacks(TINY, sub.num_classes, has_reference=False)
    # randomness + clean + one per attack run + gates + 4 extras (corruptions, certification, detection, energy)
    assert bar.total == 2 + len(plan.attacks) + 1 + 4 and len(plan.attacks) >= 4
    assert bar.n == bar.total and bar.closed
    assert _figures(with_bar) == _figures(quiet)


def test_an_inner_job_relabels_the_outer_bar_and_draws_none(case, bars, monkeypatch):
    sub, x, y = case
    monkeypatch.setenv("ANALOGEQ_PROGRESS", "1")
    with progress.overall(3, "outer") as outer:
        evaluate_robustness(sub, x, y, suite=TINY, seed=0, extras=False)
        outer.step("one")
        assert progress.active()
    assert not progress.active()
    (bar,) = bars
    assert bar.total == 3 and bar.n == 1 and bar.postfix == "one"


def test_demo_bar_counts_the_weighted_sections_that_run(tmp_path, bars, monkeypatch):
    ran = []
    fake = [(name, (lambda ctx, name=name: ran.append(name) or [])) for name in ("float", "crossbar", "extra")]
    monkeypatch.setattr(demo, "SECTIONS", fake)
    monkeypatch.setenv("ANALOGEQ_PROGRESS", "1")
    demo.run_demo(tmp_path, sections=["float", "extra"], report=False, print_table=False)
    (bar,) = bars
    assert ran == ["float", "extra"]
    assert bar.total == demo.PROGRESS_WEIGHTS["float"] + 10 == bar.n  # a section without a weight counts 10


def test_real_tqdm_draws_on_a_terminal_and_ends_at_the_total(monkeypatch):
    stream = _Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.delenv("ANALOGEQ_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    with progress.overall(4, "job") as bar:
        for k in range(4):
            bar.step(f"part {k}")
    assert bar.done == 4 and "4/4" in stream.getvalue()


def _figures(result):
    """The accuracies of a robustness result (its timings differ run to run)."""
    return ({k: v for k, v in result["summary"].items() if "time" not in k},
            {name: {eps: entry.get("per_draw", entry.get("accuracy")) for eps, entry in by_eps.items()}
             if isinstance(by_eps, dict) else by_eps for name, by_eps in result["attacks"].items()})


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_compile_notice_speaks_once_and_only_when_the_first_call_is_slow(capfd):
    import time

    with progress.compile_notice("test-slow", after_s=0.05):
        time.sleep(0.3)
    with progress.compile_notice("test-slow", after_s=0.05):  # later calls: silent
        time.sleep(0.3)
    with progress.compile_notice("test-quick", after_s=1.0):  # a quick first call: silent
        pass
    time.sleep(1.2)
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "compiling the test-slow kernels" in lines[0]


def test_compare_bar_counts_training_and_one_evaluation_per_substrate(bars, monkeypatch):
    import analogeq.compare.run as run

    evaluated = []
    monkeypatch.setattr(run, "load_or_train", lambda entry, *a, **k: (entry.name, 0.0, {"final_val_accuracy": 0.5}))
    monkeypatch.setattr(run, "_build_substrate", lambda kind, model, **k: (kind, model))
    monkeypatch.setattr(run, "evaluate_robustness", lambda substrate, *a, **k: evaluated.append(substrate) or {})
    monkeypatch.setattr(run, "_row", lambda entry, model, kind, *a: {"clean": 1.0, "pgd_linf": 0.5, "square_linf": 0.5})
    monkeypatch.setenv("ANALOGEQ_PROGRESS", "1")
    run.compare("digits", models=["ebm", "mlp"], substrates=("float", "crossbar"), quick=True)
    (bar,) = bars
    # 2 models x (training + float + crossbar)
    assert len(evaluated) == 4 and bar.total == 2 * 3 == bar.n
