"""Verified cache files (``gazelib.core.verified``): the tensor cache and the gaze-map cache carry the
digest of their content; a damaged or replaced file is rebuilt with a warning naming it, a file that
cannot be read is a one-line error."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle

import numpy as np
import pytest
import torch

from gazelib.core import targets, verified
from gazelib.gaze import cache
from tests.gaze.test_cache import TinyDataset
from tests.test_safety import _Evil
from tests.core.test_train import Disks, tiny_cfg

IDS = ["img00", "img01", "img02"]


def _tensor_file(cfg):
    return targets._cache_path(Disks(), IDS, cfg, "mask")


def test_file_layout_by_hand(tmp_path):
    path = verified.write(tmp_path / "x.bin", b"payload")
    assert path.read_bytes() == b"gazelib-verified sha256 " + hashlib.sha256(b"payload").hexdigest().encode() \
        + b"\npayload"
    assert verified.read(path, bytes) == b"payload"


def test_a_cached_tensor_is_read_back(monkeypatch):
    cfg = tiny_cfg()
    first = targets.build_tensors(Disks(), IDS, cfg, ("mask",))["mask"]
    monkeypatch.setitem(targets.TARGETS, "mask", dataclasses.replace(targets.TARGETS["mask"],
                                                                      build=lambda *a: pytest.fail("built again")))
    assert torch.equal(targets.build_tensors(Disks(), IDS, cfg, ("mask",))["mask"], first)


def _replace_with_zeros(path):
    torch.save(torch.zeros_like(torch.load(io.BytesIO(path.read_bytes()[verified._LINE:]), weights_only=True)), path)


@pytest.mark.parametrize("damage, why", [
    (_replace_with_zeros, "carries no content digest"),
    (lambda p: p.write_bytes(b""), "carries no content digest"),
    (lambda p: p.write_bytes(p.read_bytes()[:-5] + b"\0\0\0\0\0"), "does not match the digest written with it"),
    (lambda p: verified.write(p, pickle.dumps({"x": _Evil()}, protocol=2)), "cannot be decoded (UnpicklingError"),
    (lambda p: verified.write(p, _bytes(torch.zeros(2, 1, 16, 16, dtype=torch.uint8))),
     "cannot be decoded (ValueError: expected a (3, C, 16, 16) tensor, found (2, 1, 16, 16))"),
])
def test_a_damaged_or_replaced_tensor_file_is_rebuilt_with_a_warning_naming_it(damage, why, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tiny_cfg()
    built = targets.build_tensors(Disks(), IDS, cfg, ("mask",))["mask"]
    path = _tensor_file(cfg)
    damage(path)
    with pytest.warns(verified.CacheWarning, match=f"cache file {path} .*{_escaped(why)}.*; rebuilding it"):
        again = targets.build_tensors(Disks(), IDS, cfg, ("mask",))["mask"]
    assert torch.equal(again, built) and again.any()      # the real masks, not the zeros put there
    assert verified.read_tensor(path, len(IDS), 16) is not None
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()


def _escaped(text):
    import re
    return re.escape(text)


def _bytes(tensor):
    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    return buffer.getvalue()


def test_a_cache_file_that_cannot_be_read_is_one_line(tmp_path):
    cfg = tiny_cfg()
    path = _tensor_file(cfg)
    path.mkdir(parents=True)            # there, but no file
    with pytest.raises(OSError, match=f"^cannot read the cache file {_escaped(str(path))}: Is a directory$"):
        targets.build_tensors(Disks(), IDS, cfg, ("mask",))


def test_each_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    hashed = []
    digest = verified._digest
    monkeypatch.setattr(verified, "_digest", lambda payload: hashed.append(1) or digest(payload))
    path = verified.write(tmp_path / "x.bin", b"abc")
    hashed.clear()
    for _ in range(3):
        assert verified.read(path, bytes) == b"abc"
    assert len(hashed) == 1
    verified.write(path, b"abcd")      # a new file: hashed again
    assert verified.read(path, bytes) == b"abcd" and len(hashed) == 3


def test_a_replaced_gaze_part_is_recomputed_with_a_warning(monkeypatch):
    data = TinyDataset(3)
    first = cache.gaze_maps(data, "vam", workers=1, progress=False)
    (part,) = cache.cache_dir("kvasir", "vam", cache.resolve_params("kvasir", "vam", {})).glob("part-*.npz")
    with np.load(io.BytesIO(part.read_bytes()[verified._LINE:])) as stored:   # same entries, all zeros
        np.savez(part.with_suffix(""), **{k: np.zeros_like(stored[k]) for k in stored.files})
    computed = []
    original = cache.compute_map
    monkeypatch.setattr(cache, "compute_map", lambda *a: computed.append(a[2]) or original(*a))
    with pytest.warns(verified.CacheWarning, match=f"cache file {part} carries no content digest"):
        again = cache.gaze_maps(data, "vam", workers=1, progress=False)
    assert sorted(computed) == data.ids
    for id in data.ids:
        np.testing.assert_array_equal(again[id], first[id])
