"""Atomic file writes: the one place that writes result files (cards, exports, checkpoints,
reports, plots, the sweep database's creation).

A file is written to a hidden temporary file in the same folder, flushed to disk, given the
permissions a plain ``open(path, "w")`` would give (0666 minus the user's umask, so that
collaborators on a shared machine can read it), then renamed over the target with
``os.replace``: a reader sees the old file or the new one, never half of one, and a crash leaves
at most a temporary file named ``.<name>.<random>.tmp``, which :func:`remove_stale_temporaries`
clears on a later run.

    atomic_write("report.md", text)
    with atomic_output("model.safetensors") as tmp:   # for libraries that write to a path
        save_file(tensors, str(tmp))
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_output", "atomic_write", "default_file_mode", "remove_stale_temporaries"]

_UMASK_LOCK = threading.Lock()
TEMP_SUFFIX = ".tmp"


def default_file_mode() -> int:
    """0o666 with the process umask applied: the mode ``open(path, "w")`` creates files with."""
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, suffix: str = TEMP_SUFFIX) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on normal exit it replaces ``path``, on an
    exception it is removed and ``path`` is left as it was. The parent folder is created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically (see the module docstring); returns the path."""
    target = Path(path)
    with atomic_output(target) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode(encoding) if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
    return target


def remove_stale_temporaries(folder: str | os.PathLike, *, older_than_s: float = 3600.0) -> list[Path]:
    """Remove the temporaries an interrupted :func:`atomic_output` left in ``folder``
    (``.<name>.<random>.tmp``, untouched for ``older_than_s`` seconds); returns what was removed."""
    removed = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    now = time.time()
    for p in root.glob(f".*{TEMP_SUFFIX}"):
        try:
            if p.is_file() and now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed
