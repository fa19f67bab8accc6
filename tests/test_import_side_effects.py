"""Importing the packages changes nothing in the host process; the command line sets
OMP_WAIT_POLICY itself, before any command module (torch, Numba) is imported, and a value the
user set wins."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

import analogeq.cli as cli


def test_importing_the_packages_sets_no_environment_variable():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    script = ("import os, sys, hardware_models, hardware_models.cards, analogeq, analogeq.cli; "
              "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["None", "False"]


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_cli_sets_the_wait_policy_before_building_its_commands(monkeypatch, given, expected, capsys):
    if given is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", given)
    seen = []

    def parser_stub():  # build_parser imports the command modules (torch, Numba): the policy is set by then
        seen.append(os.environ.get("OMP_WAIT_POLICY"))
        parser = argparse.ArgumentParser(prog="analogeq")
        parser.add_argument("--verbose", action="store_true")
        parser.add_argument("--debug", action="store_true")
        return parser

    monkeypatch.setattr(cli, "build_parser", parser_stub)
    assert cli.main([]) == 2
    assert seen == [expected] and os.environ["OMP_WAIT_POLICY"] == expected
