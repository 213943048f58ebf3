"""The gaze map cache: computed once, keyed by parameters, never reads a half-written part."""
from __future__ import annotations

import numpy as np
import pytest

from gazelib.data.fixations import Scanpath
from gazelib.gaze import cache
from gazelib.gaze.heatmap import vam


class TinyDataset:
    name = "kvasir"

    def __init__(self, n=5):
        rng = np.random.default_rng(1)
        self.ids = [f"im{i}" for i in range(n)]
        self._paths = {id: Scanpath(id, rng.uniform(0.1, 0.9, 4), rng.uniform(0.1, 0.9, 4), rng.uniform(100, 400, 4),
                                    np.arange(4) * 300.0, 30 + i, 40) for i, id in enumerate(self.ids)}

    def scanpath(self, id):
        return self._paths[id]

    def image(self, id):
        raise FileNotFoundError(f"no image file for {id}")


@pytest.fixture
def counted(monkeypatch):
    calls = []
    original = cache.compute_map

    def counting(dataset, kind, id, params):
        calls.append((kind, id))
        return original(dataset, kind, id, params)

    monkeypatch.setattr(cache, "compute_map", counting)
    return calls


def test_second_call_reads_the_cache_and_matches_the_direct_computation(counted):
    data = TinyDataset()
    first = cache.gaze_maps(data, "vam", workers=1, progress=False)
    assert len(counted) == 5
    again = cache.gaze_maps(data, "vam", ids=["im3", "im1"], workers=1, progress=False)
    assert len(counted) == 5 and list(again) == ["im3", "im1"]
    direct = vam(data.scanpath("im3"), 33, 40, 70.0)
    assert again["im3"].dtype == np.float32 and again["im3"].shape == (33, 40)
    assert np.abs(again["im3"] - direct).max() <= 0.5 / cache.QUANT + 1e-7   # uint16 fixed point
    np.testing.assert_array_equal(first["im3"], again["im3"])


def test_a_parameter_change_recomputes(counted):
    data = TinyDataset(2)
    cache.gaze_maps(data, "vam", workers=1, progress=False)
    cache.gaze_maps(data, "vam", workers=1, progress=False, sigma=20)
    assert len(counted) == 4
    cache.gaze_maps(data, "track", workers=1, progress=False, ratios=(1.0,))
    cache.gaze_maps(data, "track", workers=1, progress=False, ratios=(1.0,), tau=0.1)
    assert len(counted) == 8
    with pytest.raises(TypeError, match="bogus"):
        cache.gaze_maps(data, "vam", workers=1, progress=False, bogus=1)


def test_half_written_parts_are_ignored_and_only_missing_ids_computed(counted):
    data = TinyDataset(4)
    cache.gaze_maps(data, "san", ids=["im0", "im1"], workers=1, progress=False)
    directory = cache.cache_dir("kvasir", "san", cache.resolve_params("kvasir", "san", {}))
    (directory / ".part-deadbeef.npz.tmp1").write_bytes(b"PK\x03\x04 truncated")   # a crashed writer
    maps = cache.gaze_maps(data, "san", workers=1, progress=False)
    assert sorted(id for _, id in counted) == ["im0", "im1", "im2", "im3"]
    assert maps["im2"].shape == (14, 14) and maps["im2"].max() == pytest.approx(1.0)


def test_parallel_workers_give_the_same_maps():
    data = TinyDataset(4)
    parallel = cache.gaze_maps(data, "track", workers=2, chunk=1, progress=False)
    assert parallel["im0"].shape == (3, 30, 40)
    serial = {id: cache.compute_map(data, "track", id, cache.resolve_params("kvasir", "track", {})) for id in data.ids}
    for id in data.ids:
        assert np.abs(parallel[id] - serial[id]).max() <= 0.5 / cache.QUANT + 1e-7


def test_crf_without_images_fails_clearly():
    with pytest.raises(RuntimeError, match="needs the image of 'im0'"):
        cache.gaze_maps(TinyDataset(1), "crf", workers=1, progress=False)


def test_a_long_computation_announces_its_count_and_estimate_first(counted, capsys, monkeypatch):
    clock = iter([10.0, 100.0])   # the 3 timed maps take 90 s: 30 s a map
    monkeypatch.setattr(cache.time, "perf_counter", lambda: next(clock))
    cache.ensure_maps(TinyDataset(5), "vam", workers=1, chunk=2)
    # 5 maps x 30 s over 1 process = 150 s = 2.5 min; the warm-up and timed maps are computed again in their chunks
    assert "kvasir: 5 vam maps to compute in 1 process(es), about 2.5 min (3 maps timed" in capsys.readouterr().out
    assert len(counted) == 4 + 5
    cache.ensure_maps(TinyDataset(5), "vam", workers=1, chunk=2, sigma=20, progress=False)
    cache.ensure_maps(TinyDataset(2), "vam", workers=1, chunk=2, sigma=30)   # one chunk: no announcement
    assert "maps to compute" not in capsys.readouterr().out
