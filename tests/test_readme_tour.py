"""The README's API tour runs as written: every ```python block of its "A tour of the Python
API" section is executed in order, in one namespace, and must end without an error."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## A tour of the Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_tour_has_code():
    blocks = tour_blocks()
    assert len(blocks) >= 2 and all("import" in b for b in blocks)


def test_the_tour_runs_as_written(capsys):
    namespace: dict = {}
    for block in tour_blocks():
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "['crossbar', 'float', 'resistive', 'spiking']" in out
    assert namespace["result"]["summary"] and namespace["y"].shape == (32, 128)
