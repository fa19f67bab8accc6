"""Datasets: the bundled digits split, and MNIST / CIFAR readers on tiny files written here."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from analogeq.data import load_dataset
from analogeq.data.readers import read_idx, write_cifar_pickle, write_idx


def test_digits_split_sizes_layout_and_stratification(digits_splits):
    d = digits_splits
    # scikit-learn's digits: 1797 images 8x8, values 0..16 (UCI optical digits)
    assert d.sizes() == {"train": 1258, "val": 179, "test": 360}
    assert sum(d.sizes().values()) == 1797
    for part in (d.train, d.val, d.test):
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64
        assert part.x.shape[1:] == (1, 8, 8)
        assert float(part.x.min()) == 0.0 and float(part.x.max()) == 1.0
    # stratified: every class is in every split in proportion (178..183 per class overall)
    for part, frac in ((d.train, 0.7), (d.test, 0.2)):
        counts = torch.bincount(part.y, minlength=10).float()
        assert float((counts / len(part) - 0.1).abs().max()) < 0.01
    # values are the sklearn pixels / 16
    raw = load_digits()
    all_x = torch.cat([d.train.x, d.val.x, d.test.x]).reshape(-1, 64) * 16
    assert set(np.unique(all_x.numpy()).astype(int)) <= set(range(17))
    assert float(all_x.sum()) == float(raw.images.sum())


def test_digits_split_is_seeded():
    a, b, c = load_dataset("digits", seed=0), load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.test.x, c.test.x)
    assert c.sizes() == a.sizes()


def _tiny_mnist(tmp_path, compress):
    rng = np.random.default_rng(0)
    data = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (120, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(120, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(6, dtype=np.uint8),
    }
    for name, arr in data.items():
        write_idx(tmp_path / (name + (".gz" if compress else "")), arr, compress=compress)
    return data


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_round_trip(tmp_path, compress):
    data = _tiny_mnist(tmp_path, compress)
    d = load_dataset("mnist", tmp_path, seed=0)
    assert d.num_classes == 10 and d.input_shape == (1, 28, 28)
    # 1/12 of each class's 12 training images is held out for validation
    assert len(d.train) == 110 and len(d.val) == 10 and len(d.test) == 6
    np.testing.assert_array_equal((d.test.x[:, 0].numpy() * 255).round().astype(np.uint8), data["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(d.test.y.numpy(), data["t10k-labels-idx1-ubyte"])
    # every training image ends up in train or val, once
    got = torch.cat([d.train.x, d.val.x]).reshape(120, -1).mul(255).round().to(torch.uint8).numpy()
    want = data["train-images-idx3-ubyte"].reshape(120, -1)
    assert sorted(map(bytes, got)) == sorted(map(bytes, want))


def test_idx_reader_rejects_malformed_files(tmp_path):
    p = tmp_path / "x"
    write_idx(p, np.zeros((2, 3, 3), np.uint8))
    raw = p.read_bytes()
    p.write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(p)
    p.write_bytes(b"\x12\x34" + raw[2:])
    with pytest.raises(ValueError, match="not an idx file"):
        read_idx(p)
    p.write_bytes(raw[:2] + b"\x0d" + raw[3:])
    with pytest.raises(ValueError, match="type code 0x0d"):
        read_idx(p)
    p.write_bytes(gzip.compress(raw)[:-8])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(p)


def test_mnist_missing_file_and_bad_labels(tmp_path):
    _tiny_mnist(tmp_path, False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="6 images but labels of shape"):
        load_dataset("mnist", tmp_path)


def test_cifar10_and_cifar100_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    c10 = tmp_path / "cifar-10-batches-py"
    c10.mkdir()
    train_parts = []
    for i in range(1, 6):
        x = rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, 10)
        write_cifar_pickle(c10 / f"data_batch_{i}", x, y)
        train_parts.append((x, y))
    tx, ty = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8), np.array([0, 1, 2, 3])
    write_cifar_pickle(c10 / "test_batch", tx, ty)
    d = load_dataset("cifar10", tmp_path)  # the parent directory works too
    assert d.input_shape == (3, 32, 32) and len(d.train) + len(d.val) == 50 and len(d.test) == 4
    # channel planes: the first 1024 bytes of a row are the red plane of a 32x32 image
    np.testing.assert_array_equal((d.test.x.numpy() * 255).round().astype(np.uint8), tx)
    np.testing.assert_array_equal(d.test.y.numpy(), ty)

    c100 = tmp_path / "c100"
    c100.mkdir()
    write_cifar_pickle(c100 / "train", rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8), rng.integers(0, 100, 20), label_key="fine_labels")
    write_cifar_pickle(c100 / "test", tx, np.array([99, 5, 0, 42]), label_key="fine_labels")
    d = load_dataset("cifar100", c100)
    assert d.num_classes == 100 and d.test.y.tolist() == [99, 5, 0, 42]


def test_cifar_reader_refuses_code_and_malformed_pickles(tmp_path):
    c10 = tmp_path
    for i in range(1, 6):
        write_cifar_pickle(c10 / f"data_batch_{i}", np.zeros((2, 3, 32, 32), np.uint8), [0, 1])

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(c10 / "test_batch", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": [0]}, fh)
    with pytest.raises(ValueError, match="refusing to load global builtins.print"):
        load_dataset("cifar10", c10)
    with open(c10 / "test_batch", "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, fh, protocol=2)
    with pytest.raises(ValueError, match=r"shape \(N, 3072\)"):
        load_dataset("cifar10", c10)
    (c10 / "test_batch").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable CIFAR"):
        load_dataset("cifar10", c10)
    (c10 / "data_batch_3").unlink()
    write_cifar_pickle(c10 / "test_batch", np.zeros((2, 3, 32, 32), np.uint8), [0, 1])
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_dataset("cifar10", c10)


def test_unknown_dataset_and_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("cifar10", "/definitely/not/here")
    with pytest.raises(ValueError, match="give its directory"):
        load_dataset("cifar100", None)
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        load_dataset("mnist", tmp_path / "file")
    with pytest.raises(ValueError, match="seed"):
        load_dataset("digits", seed=-1)
