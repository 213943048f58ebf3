"""Atomic writes (``gazelib.core.files``): complete or absent, no temporary left on any error path,
a full disk reported in one line naming the folder."""
from __future__ import annotations

import errno
import os

import pytest
import torch

from gazelib.core import files


def _no_temporaries(folder):
    assert not [p.name for p in folder.iterdir() if files.TMP_MARK in p.name]


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "deep" / "x.txt"
    assert files.write_text(path, "one") == path and path.read_text() == "one"
    files.write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    _no_temporaries(path.parent)


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = files.write_text(tmp_path / "x.txt", "old")
    for error in (ValueError("bad"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with files.replacing(path) as tmp:
                tmp.write_text("half")
                raise error
        assert path.read_text() == "old"
        _no_temporaries(tmp_path)


@pytest.mark.parametrize("code, message", [
    (errno.ENOSPC, "could not write x.pt: no space left on device in {folder}"),
    (errno.EDQUOT, "could not write x.pt: disk quota exceeded in {folder}"),
    (errno.EROFS, "could not write x.pt: {folder} is on a read-only file system"),
])
def test_a_full_disk_is_one_line_naming_the_folder(tmp_path, monkeypatch, code, message):
    def full(fd, data):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(files.WriteError) as error:
        files.save_torch({"w": torch.ones(3)}, tmp_path / "x.pt")
    assert str(error.value) == message.format(folder=tmp_path) and error.value.errno == code
    assert isinstance(error.value, OSError)            # the CLI's one-line errors include OSError
    assert not list(tmp_path.iterdir())


def test_other_os_errors_pass_unchanged(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(IsADirectoryError):
        files.write_text(tmp_path / "x", "text")
    _no_temporaries(tmp_path)


def test_save_torch_round_trips(tmp_path):
    saved = {"w": torch.arange(6.0).view(2, 3), "n": 3}
    loaded = torch.load(files.save_torch(saved, tmp_path / "c.pt"), weights_only=True)
    assert torch.equal(loaded["w"], saved["w"]) and loaded["n"] == 3


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = files.temporary_path(tmp_path / "part-a.npz").with_name(".part-a.npz.tmp999999999")
    live = files.temporary_path(tmp_path / "part-b.npz")      # this process: alive
    kept = tmp_path / "part-c.npz"
    for path in (dead, live, kept):
        path.write_bytes(b"x")
    files.remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, kept.name])
