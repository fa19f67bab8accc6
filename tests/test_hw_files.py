"""hardware_models.files: atomic writes replace or (overwrite=False) refuse an existing target,
and never leave a temporary file behind."""

from __future__ import annotations

import os

import pytest

from hardware_models.files import atomic_output, atomic_write, default_file_mode


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_replaces_and_sets_the_plain_open_mode(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write(target, "first")
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.stat(target).st_mode & 0o777 == default_file_mode()
    assert _temporaries(target.parent) == []


def test_overwrite_false_writes_a_new_file(tmp_path):
    target = tmp_path / "new.txt"
    atomic_write(target, "made", overwrite=False)
    assert target.read_text() == "made"
    assert os.stat(target).st_nlink == 1  # the temporary name was unlinked after the link
    assert _temporaries(tmp_path) == []


def test_overwrite_false_refuses_an_existing_target_and_leaves_it(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("original")
    with pytest.raises(FileExistsError, match="kept.txt"):
        atomic_write(target, "replacement", overwrite=False)
    assert target.read_text() == "original"
    assert _temporaries(tmp_path) == []


def test_overwrite_false_sees_a_target_that_appears_during_the_block(tmp_path):
    target = tmp_path / "raced.db"
    with pytest.raises(FileExistsError):
        with atomic_output(target, overwrite=False) as tmp:
            tmp.write_text("ours")
            target.write_text("theirs")  # another writer created it meanwhile
    assert target.read_text() == "theirs"
    assert _temporaries(tmp_path) == []


def test_an_exception_in_the_block_leaves_the_target_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("before")
    for overwrite in (True, False):
        with pytest.raises(RuntimeError):
            with atomic_output(target, overwrite=overwrite) as tmp:
                tmp.write_text("half")
                raise RuntimeError("stop")
        assert target.read_text() == "before"
    assert _temporaries(tmp_path) == []
