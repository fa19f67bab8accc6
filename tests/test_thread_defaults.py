"""Issue 17 item 13, threads: the ``analogeq`` command sets torch's (and, where chosen, Numba's)
thread count from the measured defaults when it starts; importing the package sets nothing;
the environment variables win, a bad value is one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from analogeq import cli, threads
from hardware_models.params import ParameterError

_VARS = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "ANALOGEQ_TORCH_THREADS", "ANALOGEQ_NUMBA_THREADS")


def test_the_default_is_applied_by_the_cli_entry_point_not_at_import():
    env = {k: v for k, v in os.environ.items() if k not in _VARS}
    script = ("import contextlib, io, torch; torch.set_num_threads(3)\n"
              "import analogeq, analogeq.cli, analogeq.threads, analogeq.substrates, analogeq.commands.demo\n"
              "after_import = torch.get_num_threads()\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    code = analogeq.cli.main(['cards', 'list'])\n"
              "print(after_import, code, torch.get_num_threads(), analogeq.threads.DEFAULT_TORCH_THREADS)")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    after_import, code, after_cli, default = (int(v) for v in out.stdout.split())
    assert after_import == 3  # importing changed nothing
    assert code == 0 and after_cli == default != 3  # the entry point set the measured default


@pytest.mark.parametrize("environ, expected", [
    ({}, {"torch": threads.DEFAULT_TORCH_THREADS, "numba": threads.DEFAULT_NUMBA_THREADS}),
    ({"ANALOGEQ_TORCH_THREADS": "2", "OMP_NUM_THREADS": "4"}, {"torch": 2, "numba": threads.DEFAULT_NUMBA_THREADS}),
    ({"OMP_NUM_THREADS": "4", "NUMBA_NUM_THREADS": "1"}, {"torch": None, "numba": None}),
    ({"ANALOGEQ_NUMBA_THREADS": " 1 "}, {"torch": threads.DEFAULT_TORCH_THREADS, "numba": 1}),
])
def test_environment_variables_choose_the_counts(environ, expected):
    assert threads.thread_counts(environ) == expected


@pytest.mark.parametrize("value", ["0", "two", "1.5", "99999"])
def test_a_bad_thread_variable_is_one_line_exit_2(monkeypatch, capsys, value):
    monkeypatch.setenv("ANALOGEQ_TORCH_THREADS", value)
    with pytest.raises(ParameterError, match="ANALOGEQ_TORCH_THREADS"):
        threads.thread_counts()
    code = cli.main(["cards", "list"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "ANALOGEQ_TORCH_THREADS" in err and value in err


def test_the_cli_applies_the_variable_and_a_commands_threads_flag_wins(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ANALOGEQ_TORCH_THREADS", "2")
    assert cli.main(["cards", "list"]) == 0 and torch.get_num_threads() == 2
    seen = []
    import analogeq.demo

    monkeypatch.setattr(analogeq.demo, "run_demo", lambda *a, **k: seen.append(torch.get_num_threads()))
    assert cli.main(["demo", "--threads", "1", "--out", str(tmp_path / "d")]) == 0
    assert seen == [1]


def test_a_library_that_is_not_installed_is_left_alone(monkeypatch):
    """The light install has no torch: the defaults skip it (its commands need none) instead of
    failing every command, `analogeq cards` included (tests/test_light_install.py runs that)."""
    import importlib.util

    from analogeq.threads import apply_thread_defaults

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    applied = apply_thread_defaults({"ANALOGEQ_TORCH_THREADS": "1", "ANALOGEQ_NUMBA_THREADS": "1"})
    assert "torch" not in applied and applied["numba"] == 1
