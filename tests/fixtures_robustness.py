"""Shared pytest fixtures of the robustness tests (imported by conftest.py)."""

from __future__ import annotations

import pytest  # noqa: F401

__all__: list[str] = []
