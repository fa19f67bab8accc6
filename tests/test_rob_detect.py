"""Feature squeezing: squeezers against references, score, 5% false-positive threshold, detection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analogeq.robustness.detect import (
    FeatureSqueezing,
    FeatureSqueezingConfig,
    median_smooth,
    non_local_means,
    reduce_bit_depth,
    threshold_at_false_positive_rate,
)
from fixtures_robustness import NoisyLogits, plain_fgsm


def test_bit_depth_reduction_rounds_to_the_nearest_level():
    x = torch.linspace(0, 1, 101).reshape(1, 1, 1, 101)
    one = reduce_bit_depth(x, 1)
    assert set(one.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(one, (x > 0.5).float())  # 0.5 itself rounds to even (0)
    three = reduce_bit_depth(x, 3)
    assert torch.allclose(three * 7, torch.round(three * 7))
    assert (three - x).abs().max() <= 1 / 14 + 1e-7


def test_median_2x2_is_the_upper_median_of_the_up_left_window():
    rng = np.random.default_rng(0)
    a = rng.random((2, 3, 5, 6))
    out = median_smooth(torch.tensor(a), 2).numpy()
    ref = np.empty_like(a)
    for i in range(5):
        for j in range(6):
            rows = [max(i - 1, 0), i]  # mirrored border: row -1 reads row 0
            cols = [max(j - 1, 0), j]
            window = a[:, :, rows][:, :, :, cols].reshape(2, 3, 4)
            ref[:, :, i, j] = np.sort(window, axis=-1)[:, :, 2]
    np.testing.assert_allclose(out, ref)


def test_non_local_means_limits():
    rng = np.random.default_rng(1)
    a = torch.tensor(rng.random((2, 3, 8, 8)))
    # h -> infinity: every weight 1, the mean over the 3 x 3 search window (mirrored borders)
    flat = non_local_means(a, 3, 3, 1e6).numpy()
    padded = np.pad(a.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)), mode="symmetric")
    ref = np.mean([padded[:, :, 1 + dy : 9 + dy, 1 + dx : 9 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    np.testing.assert_allclose(flat, ref, atol=1e-9)
    # h -> 0: only the pixel's own patch matches: the identity
    np.testing.assert_allclose(non_local_means(a, 5, 3, 1e-4).numpy(), a.numpy(), atol=1e-12)
    const = torch.full((1, 1, 8, 8), 0.3, dtype=torch.float64)
    np.testing.assert_allclose(non_local_means(const, 13, 3, 2 / 255).numpy(), 0.3, atol=1e-12)


# ------------------------------------------------------------------------ score, threshold


def test_score_is_the_max_l1_distance_of_softmaxes(nearest_mean_digits):
    substrate, x, _ = nearest_mean_digits
    cfg = FeatureSqueezingConfig(bits=2, median_size=2, nl_means=(3, 3, 0.1))
    det = FeatureSqueezing(substrate, cfg)
    xb = x[:6]
    p = torch.softmax(substrate.logits(xb).double(), -1)
    squeezed = [reduce_bit_depth(xb, 2), median_smooth(xb, 2), non_local_means(xb, 3, 3, 0.1)]
    l1 = torch.stack([(p - torch.softmax(substrate.logits(s).double(), -1)).abs().sum(-1) for s in squeezed])
    per = det.scores_per_squeezer(xb)
    assert list(per) == ["bit_depth_2", "median_2x2", "nl_means_3_3_0.1"]
    for k, name in enumerate(per):
        torch.testing.assert_close(per[name], l1[k])
    torch.testing.assert_close(det.scores(xb), l1.max(dim=0).values)


def test_threshold_at_false_positive_rate_closed_form():
    scores = np.arange(1.0, 101.0)  # 1 .. 100
    t = threshold_at_false_positive_rate(scores, 0.05)
    assert t == 95.0 and (scores > t).sum() == 5
    assert threshold_at_false_positive_rate(scores, 0.123) == 88.0  # ceil(87.7) = 88th smallest
    ties = np.array([0.0] * 90 + [1.0] * 10)
    assert threshold_at_false_positive_rate(ties, 0.05) == 1.0  # nothing above: ties cannot be split


def test_fitted_threshold_flags_5_percent_of_clean_inputs_and_detects_fgsm(nearest_mean_digits):
    substrate, x, y = nearest_mean_digits
    calibration, x_test, y_test = x[1000:1400], x[1400:], y[1400:]
    det = FeatureSqueezing(substrate, FeatureSqueezingConfig(bits=2, median_size=None, nl_means=None)).fit(calibration)
    flagged_calibration = det.detect(calibration).double().mean().item()
    assert 0.05 - 1 / 400 <= flagged_calibration <= 0.05  # exact up to one input (no ties here)
    report = det.evaluate(x_test, {"fgsm_0.1": plain_fgsm(substrate, x_test, y_test, 0.1)}, labels=y_test)
    # held-out clean inputs: 5% within 4 binomial standard deviations of 397 draws (~0.011 each)
    assert abs(report["false_positive_rate"] - 0.05) < 0.045
    fgsm_report = report["attacks"]["fgsm_0.1"]
    # measured 0.59 for this model; the detector is far better than its false-positive rate
    assert fgsm_report["detection_rate"] > 0.3
    assert fgsm_report["n_successful"] > 100 and fgsm_report["detection_rate_successful"] > 0.3
    assert det.detection_rate(x_test) == pytest.approx(report["false_positive_rate"])


def test_detector_runs_on_a_stochastic_substrate_with_draws_averaged(nearest_mean_digits):
    substrate, x, y = nearest_mean_digits
    noisy = NoisyLogits(substrate, noise=0.5)
    cfg = FeatureSqueezingConfig(bits=2, median_size=None, nl_means=None, n_draws=4, batch_size=64)
    det = FeatureSqueezing(noisy, cfg).fit(x[1000:1400])
    # scoring again draws afresh: 5% flagged in expectation only (binomial sd ~0.011 for 397)
    assert abs(det.detect(x[1400:]).double().mean().item() - 0.05) < 0.045
    # averaging draws shrinks the draw-to-draw part of the score of clean inputs
    one = FeatureSqueezing(noisy, FeatureSqueezingConfig(bits=2, median_size=None, nl_means=None, n_draws=1))
    assert det.scores(x[1200:1300]).mean() < one.scores(x[1200:1300]).mean()


# ----------------------------------------------------------------------------- bad input


def test_bad_input(nearest_mean_digits):
    substrate, x, y = nearest_mean_digits
    for rate in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="false_positive_rate"):
            FeatureSqueezingConfig(false_positive_rate=rate)
    with pytest.raises(ValueError, match="bits"):
        FeatureSqueezingConfig(bits=0)
    with pytest.raises(ValueError, match="median_size"):
        FeatureSqueezingConfig(median_size=1)
    with pytest.raises(ValueError, match="search_window: must be an odd integer >= 1"):
        FeatureSqueezingConfig(nl_means=(4, 3, 0.1))
    with pytest.raises(ValueError, match="strength"):
        FeatureSqueezingConfig(nl_means=(3, 3, 0.0))
    with pytest.raises(ValueError, match="at least one squeezer"):
        FeatureSqueezingConfig(bits=None, median_size=None, nl_means=None)
    det = FeatureSqueezing(substrate, FeatureSqueezingConfig(bits=2, median_size=None, nl_means=None))
    with pytest.raises(ValueError, match="call fit"):
        det.detect(x[:4])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        det.fit(x[:10] + 1.0)
    with pytest.raises(ValueError, match="empty batch"):
        det.scores(x[:0])
    det.fit(x[1000:1100])
    with pytest.raises(ValueError, match="labels must have shape"):
        det.evaluate(x[:4], x[4:8], labels=y[:3])
    with pytest.raises(TypeError, match="Substrate"):
        FeatureSqueezing(object())
    with pytest.raises(ValueError, match="empty"):
        threshold_at_false_positive_rate(np.array([]), 0.05)
