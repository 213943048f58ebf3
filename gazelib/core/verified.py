"""Cache files that carry the digest of their content (the tensor cache and the gaze-map cache).

A verified file is one header line, ``gazelib-verified sha256 <64 hex digits>``, then the payload
(a ``torch.save`` or ``.npz`` byte string). ``write`` stores it atomically (``files.write_bytes``);
``read`` checks the payload against the header and decodes it. A file without the header (an older
gazelib's cache, or a file put there by hand), with content that does not match its digest, or whose
payload does not decode into what the caller expects, is removed with a ``CacheWarning`` naming it,
and ``read`` returns None: the caller rebuilds it. A file that cannot be read at all (permissions, an
I/O error) is a one-line ``OSError`` naming it.

Each file is hashed once per process: a file already verified (same device, inode, size and
modification time) is only decoded again.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gazelib.core import files

HEADER = b"gazelib-verified sha256 "
_LINE = len(HEADER) + 64 + 1
_VERIFIED: set[tuple] = set()   # (path, st_dev, st_ino, st_size, st_mtime_ns) of files hashed in this process
T = TypeVar("T")


class CacheWarning(UserWarning):
    """A cache file was damaged or replaced and is rebuilt."""


def _digest(payload: bytes | memoryview) -> bytes:
    return hashlib.sha256(payload).hexdigest().encode()


def write(path: Path | str, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` with its digest, atomically."""
    return files.write_bytes(path, HEADER + _digest(payload) + b"\n" + payload)


def read(path: Path | str, decode: Callable[[memoryview], T]) -> T | None:
    """``decode(payload)`` of the verified file ``path``, or None (the file removed, a ``CacheWarning``
    given) when it carries no digest, does not match it, or ``decode`` fails on it."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())   # of the file read, even if the name is replaced meanwhile
            data = handle.read()
    except OSError as error:
        raise OSError(f"cannot read the cache file {path}: {error.strerror or error}") from error
    key = (str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    payload = memoryview(data)[_LINE:]
    if key not in _VERIFIED:
        if not data.startswith(HEADER) or data[_LINE - 1:_LINE] != b"\n":
            return _discard(path, "carries no content digest (written by an older gazelib, or put there by hand)")
        if data[len(HEADER):_LINE - 1] != _digest(payload):
            return _discard(path, "does not match the digest written with it (changed since)")
        _VERIFIED.add(key)
    try:
        return decode(payload)
    except Exception as error:   # any failure to decode means the same: the file cannot be used, rebuild it
        _VERIFIED.discard(key)
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return _discard(path, f"cannot be decoded ({type(error).__name__}{': ' + detail if detail else ''})")


def _discard(path: Path, why: str) -> None:
    warnings.warn(f"cache file {path} {why}; rebuilding it", CacheWarning, stacklevel=3)
    path.unlink(missing_ok=True)
    return None


def read_tensor(path: Path | str, count: int, size: int):
    """The tensor cached at ``path`` (``read``): a ``(count, C, size, size)`` tensor, else None."""
    import torch

    def decode(payload: memoryview):
        tensor = torch.load(io.BytesIO(payload), weights_only=True)
        if not isinstance(tensor, torch.Tensor) or tensor.ndim != 4 or tensor.shape[0] != count \
                or tuple(tensor.shape[-2:]) != (size, size):
            raise ValueError(f"expected a ({count}, C, {size}, {size}) tensor, found "
                             f"{tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__}")
        return tensor
    return read(path, decode)
