"""CIFAR-10-C reader on tiny fake files, corruption accuracy on a substrate, mCE, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from analogeq.robustness.corruptions import (
    CORRUPTION_NAMES,
    corrupt,
    corruption_accuracy,
    corruption_errors,
    load_cifar10c,
    mean_corruption_accuracy,
    mean_corruption_error,
    relative_mean_corruption_error,
)
from analogeq.substrates.float import FloatSubstrate
from analogeq.contract import as_classifier

# ------------------------------------------------------------------------------ reader


def write_fake_cifar10c(root, name="fog", n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(5 * n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5 * n).astype(np.uint8)  # the release stores uint8 labels
    np.save(root / f"{name}.npy", images)
    np.save(root / "labels.npy", labels)
    return images, labels


def test_reader_round_trip(tmp_path):
    images, labels = write_fake_cifar10c(tmp_path, "fog", n=4)
    for severity in (1, 3, 5):
        x, y = load_cifar10c(tmp_path, "fog", severity)
        assert x.dtype == torch.float32 and x.shape == (4, 3, 32, 32)
        assert y.dtype == torch.int64 and y.shape == (4,)
        block = slice(4 * (severity - 1), 4 * severity)
        np.testing.assert_array_equal(np.rint(x.numpy() * 255).astype(np.uint8), images[block].transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(y.numpy(), labels[block])
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory not found"):
        load_cifar10c(tmp_path / "nowhere", "fog", 1)
    with pytest.raises(FileNotFoundError, match="fog.npy"):
        load_cifar10c(tmp_path, "fog", 1)
    write_fake_cifar10c(tmp_path, "fog", n=2)
    with pytest.raises(ValueError, match="unknown corruption name"):
        load_cifar10c(tmp_path, "rain", 1)
    with pytest.raises(ValueError, match="severity"):
        load_cifar10c(tmp_path, "fog", 6)
    np.save(tmp_path / "snow.npy", np.zeros((10, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(5 n, 32, 32, 3\)"):
        load_cifar10c(tmp_path, "snow", 1)
    np.save(tmp_path / "snow.npy", np.zeros((10, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        load_cifar10c(tmp_path, "snow", 1)
    np.save(tmp_path / "snow.npy", np.zeros((9, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="5 severities"):
        load_cifar10c(tmp_path, "snow", 1)
    np.save(tmp_path / "snow.npy", np.zeros((15, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="labels.npy"):  # 15 images, 10 labels
        load_cifar10c(tmp_path, "snow", 1)
    np.save(tmp_path / "fog.npy", np.zeros((10, 32, 32, 3), np.uint8))
    np.save(tmp_path / "labels.npy", np.full(10, 12, np.int64))
    with pytest.raises(ValueError, match="outside 0..9"):
        load_cifar10c(tmp_path, "fog", 1)
    (tmp_path / "labels.npy").unlink()
    with pytest.raises(FileNotFoundError, match="labels.npy"):
        load_cifar10c(tmp_path, "fog", 1)


# -------------------------------------------------------------------------- evaluation


class MeanBrightness(nn.Module):
    """Class 1 if the mean pixel exceeds 0.35, else class 0 (logits +-(mean - .35))."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3)) - 0.35
        return torch.stack([-m, m], dim=1)


def brightness_substrate(shape=(1, 8, 8)):
    return FloatSubstrate(as_classifier(MeanBrightness(), shape, 2))


def test_corruption_accuracy_matches_a_direct_computation_and_ignores_batch_size():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.uniform(0.1, 0.6, (10, 1, 8, 8)), dtype=torch.float32)
    y = (x.mean(dim=(1, 2, 3)) > 0.35).long()
    names = ["fog", "brightness", "gaussian_noise"]
    sub = brightness_substrate()
    table = corruption_accuracy(sub, x, y, names=names, severities=(1, 5), seed=3, batch_size=3)
    table_one_batch = corruption_accuracy(sub, x, y, names=names, severities=(1, 5), seed=3, batch_size=100)
    assert table == table_one_batch
    for name in names:
        for severity in (1, 5):
            xc = corrupt(x, name, severity, seed=3)
            expected = float(((xc.mean(dim=(1, 2, 3)) > 0.35).long() == y).float().mean())
            assert table[name][severity] == pytest.approx(expected)
    assert table["brightness"][5] < 1.0  # brightening pushes images over the threshold
    assert mean_corruption_accuracy(table) == pytest.approx(np.mean([v for r in table.values() for v in r.values()]))


def test_corruption_accuracy_covers_all_types_by_default():
    x = torch.full((2, 1, 8, 8), 0.5)
    y = torch.ones(2, dtype=torch.int64)
    table = corruption_accuracy(brightness_substrate(), x, y, severities=(2,), seed=0)
    assert tuple(table) == CORRUPTION_NAMES and all(set(r) == {2} for r in table.values())


def test_mean_corruption_error_closed_form():
    model = {"fog": {1: 0.9, 2: 0.8}, "snow": {1: 0.6, 2: 0.4}}
    ref = {"fog": {1: 0.8, 2: 0.6}, "snow": {1: 0.5, 2: 0.5}}
    # CE_fog = (.1 + .2) / (.2 + .4) = .5 ; CE_snow = (.4 + .6) / (.5 + .5) = 1
    assert corruption_errors(model, ref) == pytest.approx({"fog": 0.5, "snow": 1.0})
    assert mean_corruption_error(model, ref) == pytest.approx(0.75)
    assert mean_corruption_error(ref, ref) == pytest.approx(1.0)
    # relative: fog (.95-.9 + .95-.8) / (.9-.8 + .9-.6) = .2/.4 ; snow (.35 + .55) / (.4 + .4) = .9/.8
    rel = relative_mean_corruption_error(model, 0.95, ref, 0.9)
    assert rel == pytest.approx((0.5 + 0.9 / 0.8) / 2)


def test_evaluation_bad_input():
    sub = brightness_substrate()
    x = torch.full((2, 1, 8, 8), 0.5)
    y = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(ValueError, match="unknown corruption name 'rain'"):
        corruption_accuracy(sub, x, y, names=["rain"])
    with pytest.raises(ValueError, match="severity"):
        corruption_accuracy(sub, x, y, names=["fog"], severities=(0,))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        corruption_accuracy(sub, x + 1.0, y, names=["fog"])
    with pytest.raises(ValueError, match="empty batch"):
        corruption_accuracy(sub, x[:0], y[:0], names=["fog"])
    with pytest.raises(ValueError, match="labels must be in 0..1"):
        corruption_accuracy(sub, x, torch.tensor([0, 2]), names=["fog"])
    with pytest.raises(ValueError, match="batch_size"):
        corruption_accuracy(sub, x, y, names=["fog"], batch_size=0)
    with pytest.raises(ValueError, match="same corruptions"):
        mean_corruption_error({"fog": {1: 0.5}}, {"snow": {1: 0.5}})
    with pytest.raises(ValueError, match="zero error"):
        mean_corruption_error({"fog": {1: 0.5}}, {"fog": {1: 1.0}})
    with pytest.raises(ValueError, match=r"accuracy in \[0, 1\]"):
        mean_corruption_accuracy({"fog": {1: 1.5}})


# ------------------------------------------------------------------------ corrupt input


def test_corrupt_bad_input():
    x = np.full((2, 3, 32, 32), 0.5)
    with pytest.raises(ValueError, match="unknown corruption name 'rain'; allowed: gaussian_noise, shot_noise"):
        corrupt(x, "rain", 1)
    for severity in (0, 6, -1):
        with pytest.raises(ValueError, match="severity: must be an integer >= 1 and <= 5"):
            corrupt(x, "fog", severity)
    for severity in (2.0, "3", True):
        with pytest.raises(TypeError, match="severity"):
            corrupt(x, "fog", severity)
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*max 1.5"):
        corrupt(x + 1.0, "fog", 1)
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*min -0.1"):
        corrupt(x - 0.6, "fog", 1)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        corrupt(bad, "fog", 1)
    with pytest.raises(ValueError, match="empty batch"):
        corrupt(x[:0], "fog", 1)
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        corrupt(x[0], "fog", 1)
    with pytest.raises(ValueError, match="C = 1 .* or 3"):
        corrupt(np.full((1, 2, 8, 8), 0.5), "fog", 1)
    with pytest.raises(ValueError, match="at least 4 x 4"):
        corrupt(np.full((1, 1, 2, 8), 0.5), "fog", 1)
    with pytest.raises(ValueError, match="floating point"):
        corrupt(np.zeros((1, 3, 8, 8), np.uint8), "fog", 1)
    with pytest.raises(ValueError, match="floating point"):
        corrupt(torch.zeros((1, 3, 8, 8), dtype=torch.uint8), "fog", 1)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        corrupt(x.tolist(), "fog", 1)
    with pytest.raises(ValueError, match="seed: must be an integer >= 0"):
        corrupt(x, "fog", 1, seed=-1)
    with pytest.raises(ValueError, match="first_index"):
        corrupt(x, "fog", 1, first_index=1.5)
