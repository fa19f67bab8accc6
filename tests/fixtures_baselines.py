"""Shared pytest fixtures of the baselines tests (imported by conftest.py)."""

from __future__ import annotations

import pytest  # noqa: F401

__all__: list[str] = []
