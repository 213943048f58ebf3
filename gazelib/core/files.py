"""Writing a file so that it is complete or absent: every file gazelib writes goes through here.

``replacing(path)`` hands out a temporary path beside ``path`` (``.<name>.tmp<pid>``); when the block
ends normally the temporary is renamed over ``path`` (atomic on one file system), and on any error,
Ctrl-C included, it is removed. A full disk, an exceeded quota or a read-only file system becomes one
``WriteError`` naming the folder; other errors pass unchanged.

``write_bytes`` / ``write_text`` / ``save_torch`` are the usual cases. ``save_torch`` serialises to
memory first: torch's own file writer reports a full disk as an opaque ``RuntimeError``
("enforce fail at inline_container.cc ... unexpected pos"), Python's write as ``ENOSPC``.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
from collections.abc import Iterator
from pathlib import Path

#: errno -> what it means for the folder written to (one line, the folder named).
_FULL = {errno.ENOSPC: "no space left on device in {folder}", errno.EDQUOT: "disk quota exceeded in {folder}",
         errno.EROFS: "{folder} is on a read-only file system"}
TMP_MARK = ".tmp"


class WriteError(OSError):
    """A file could not be written for want of space or a writable disk (the message names the folder)."""


def temporary_path(path: Path) -> Path:
    """The temporary ``path`` is written to first: hidden, beside it, named after this process."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def out_of_space(error: BaseException) -> bool:
    """True for the errors ``replacing`` reports as a ``WriteError``: a full disk, quota, read-only disk."""
    return isinstance(error, OSError) and error.errno in _FULL


def _write_error(error: OSError, path: Path) -> OSError:
    why = _FULL.get(error.errno)
    if why is None:
        return error
    clean = WriteError(f"could not write {path.name}: {why.format(folder=path.parent)}")
    clean.errno = error.errno
    return clean


@contextlib.contextmanager
def replacing(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; it replaces ``path`` when the block
    ends, and is removed if the block (or the rename) fails."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise _write_error(error, path) from error
        raise


def write_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (``replacing``); return ``path``."""
    path = Path(path)
    with replacing(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    return path


def write_text(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def torch_bytes(obj) -> bytes:
    """``torch.save`` of ``obj`` into memory."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_torch(obj, path: Path | str) -> Path:
    """``torch.save(obj, path)``, atomically, with a full disk reported as such (module docstring)."""
    return write_bytes(path, torch_bytes(obj))


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporaries in ``folder`` of processes that no longer run (killed with SIGKILL, which
    no clean-up survives); those of live writers stay."""
    for tmp in folder.glob(f".*{TMP_MARK}*"):
        pid = tmp.name.rpartition(TMP_MARK)[2]
        if not pid.isdigit() or not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
