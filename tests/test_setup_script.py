"""scripts/setup.sh: a new .venv gets everything (torch first, then ".[all,test]"); run again it
skips pip while pyproject.toml and the script are unchanged and the packages are found, and
installs again when pyproject.toml changes. pip is replaced by a stub that records its calls."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _project(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "setup.sh", project / "scripts" / "setup.sh")
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    bin_dir = project / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "pip.log"
    # this interpreter finds analogeq, torch, brian2 and pytest: the "installed" state
    _executable(bin_dir / "python", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    _executable(bin_dir / "pip", f'#!/bin/sh\necho "$@" >> "{log}"\n')
    tools = tmp_path / "tools"
    tools.mkdir()
    _executable(tools / "ngspice", "#!/bin/sh\nexit 0\n")  # present: no apt-get
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    env.pop("ANALOGEQ_SETUP_FORCE", None)
    return project, log, env


def _setup(project: Path, env: dict[str, str]) -> list[str]:
    out = subprocess.run(["bash", "scripts/setup.sh"], cwd=project, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return (out.stdout + out.stderr).strip().splitlines()


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_setup_installs_once_then_skips_until_pyproject_changes(tmp_path):
    project, log, env = _project(tmp_path)
    first = _setup(project, env)
    assert _calls(log) == ["install -q torch==2.13.0", "install -q -e .[all,test]"]
    assert len(first) <= 3  # short output: no pages of "Requirement already satisfied"
    again = _setup(project, env)
    assert _calls(log) == ["install -q torch==2.13.0", "install -q -e .[all,test]"]  # pip not run
    assert again == ["setup: .venv is up to date (pyproject.toml unchanged since the last install)"]
    with open(project / "pyproject.toml", "a") as fh:
        fh.write("\n# a new dependency would go here\n")
    _setup(project, env)
    assert len(_calls(log)) == 4
    # forced, and when the stamp is gone (e.g. an interrupted install), it installs again
    _setup(project, {**env, "ANALOGEQ_SETUP_FORCE": "1"})
    (project / ".venv" / ".analogeq-setup.sha256").unlink()
    _setup(project, env)
    assert len(_calls(log)) == 8
