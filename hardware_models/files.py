"""Atomic file writes: the one place that writes result files (cards, exports, checkpoints,
reports, plots, the sweep database's creation).

A file is written to a hidden temporary file in the same folder, flushed to disk, given the
permissions a plain ``open(path, "w")`` would give (0666 minus the user's umask, so that
collaborators on a shared machine can read it), then renamed over the target with
``os.replace``: a reader sees the old file or the new one, never half of one, and a crash leaves
at most a temporary file named ``.<name>.<random>.tmp``: the next write of the same file removes
it once it is :data:`STALE_AFTER_S` old (and :func:`remove_stale_temporaries` clears a folder).

With ``overwrite=False`` the target is never replaced: the finished temporary file is
hard-linked to the target name (``os.link`` fails if the name exists, atomically, so of two
writers racing for one new file exactly one wins) and the temporary name is then unlinked; a
target that exists raises ``FileExistsError`` and is left as it was. On a filesystem without
hard links the file is moved into place only if the target does not exist at that moment (best
effort: the check and the move are two steps).

    atomic_write("report.md", text)
    with atomic_output("model.safetensors") as tmp:   # for libraries that write to a path
        save_file(tensors, str(tmp))
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from hardware_models.errors import AnalogeqError

__all__ = ["OutputPathError", "atomic_output", "atomic_write", "check_output_path", "default_file_mode",
           "remove_stale_temporaries"]

_UMASK_LOCK = threading.Lock()
TEMP_SUFFIX = ".tmp"


def default_file_mode() -> int:
    """0o666 with the process umask applied: the mode ``open(path, "w")`` creates files with."""
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, suffix: str = TEMP_SUFFIX, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on normal exit it becomes ``path``, on an
    exception it is removed and ``path`` is left as it was. The parent folder is created.

    ``overwrite=False``: raise ``FileExistsError`` (after removing the temporary file) instead of
    replacing a ``path`` that exists when the block ends (see the module docstring)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_of(target, suffix)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


#: errors of ``os.link`` that mean "this filesystem has no hard links", not "the name exists"
_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def _link_new(tmp: Path, target: Path) -> None:
    """Give ``tmp``'s file the name ``target`` unless ``target`` exists (``FileExistsError``)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "file exists; not replaced (overwrite=False)", str(target)) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if target.exists():
            raise FileExistsError(errno.EEXIST, "file exists; not replaced (overwrite=False)", str(target)) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def atomic_write(path: str | os.PathLike, data: str | bytes, *, encoding: str = "utf-8",
                 overwrite: bool = True) -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically (see the module docstring); returns
    the path. ``overwrite=False``: ``FileExistsError`` if ``path`` exists (it is left as it was)."""
    target = Path(path)
    with atomic_output(target, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode(encoding) if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
    return target


#: a temporary file of this target untouched for this long was left by a crash (a live writer
#: touches its file within seconds: checkpoints, cards and a new database are written in one go)
STALE_AFTER_S = 600.0


def _remove_stale_of(target: Path, suffix: str) -> None:
    """Remove what crashed writers of ``target`` left beside it (``.<name>.<random><suffix>``
    and SQLite's ``-journal``/``-wal``/``-shm`` files of such a temporary database), once they
    are :data:`STALE_AFTER_S` old; called by every :func:`atomic_output`, so the next write of a
    file clears the leftovers of an interrupted one."""
    now = time.time()
    for p in target.parent.glob(f".{glob.escape(target.name)}.*{suffix}*"):
        try:
            if p.is_file() and now - p.stat().st_mtime >= STALE_AFTER_S:
                p.unlink()
        except OSError:
            continue


def remove_stale_temporaries(folder: str | os.PathLike, *, older_than_s: float = 3600.0) -> list[Path]:
    """Remove the temporaries an interrupted :func:`atomic_output` left in ``folder``
    (``.<name>.<random>.tmp``, and SQLite side files ``.tmp-wal`` etc., untouched for
    ``older_than_s`` seconds); returns what was removed."""
    removed = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    now = time.time()
    for p in root.glob(f".*{TEMP_SUFFIX}*"):
        try:
            if p.is_file() and now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


class OutputPathError(AnalogeqError):
    """An output path that cannot be written (found before any work starts)."""


def check_output_path(path: str | os.PathLike, *, option: str = "output", directory: bool = False,
                      in_place: bool = False) -> Path:
    """Check, before a command does its work, that ``path`` can be written; returns it as a Path.

    A file output (``directory=False``) must not be an existing folder; a folder output must not
    be an existing file. The nearest existing parent must be a folder this process may write
    into (missing folders are created by the writer); ``in_place=True`` (a file updated where it
    is, such as a database) also needs an existing file to be writable. Raises :class:`OutputPathError` naming
    ``option`` (e.g. ``--out``) in one line. Nothing is created here.
    """
    if not os.fspath(path):
        raise OutputPathError(f"{option}: an empty path")
    try:
        return _check_output_path(Path(os.fspath(path)).expanduser(), str(path), option, directory, in_place)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links
        if isinstance(exc, OutputPathError):
            raise
        raise OutputPathError(f"{option} {str(path)[:80]!r}: not a usable path ({getattr(exc, 'strerror', None) or exc})") from None


def _check_output_path(target: Path, path: str, option: str, directory: bool, in_place: bool) -> Path:
    if directory and target.exists() and not target.is_dir():
        raise OutputPathError(f"{option} {str(path)!r}: is a file; a folder is needed here")
    if not directory and target.is_dir():
        raise OutputPathError(f"{option} {str(path)!r}: is a folder; a file path is needed here")
    if directory and target.is_dir():
        existing = target
    else:
        existing = target.absolute().parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"{option} {str(path)!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {str(path)!r}: no permission to write into {str(existing)!r}")
    if in_place and target.is_file() and not os.access(target, os.R_OK | os.W_OK):
        raise OutputPathError(f"{option} {str(path)!r}: exists but this process may not read and write it")
    return target
