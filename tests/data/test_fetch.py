"""fetch/verify: mirror copies, idempotence, corrupted files, and the download path on file:// URLs."""
import hashlib
import json
import zipfile

import pytest

from gazelib.data import fetch as F


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_checksums_cover_the_whole_layout():
    known = F.checksums()
    assert sum(p.startswith("kvasir-seg/images/") for p in known) == 1000
    assert sum(p.startswith("kvasir-seg/masks/") for p in known) == 1000
    assert known["gazemedseg/kvasir_fixation.csv"] == "a9f6b2ff4c28b600f9f00e9c702a3d3e8c0bcef98336ea308cb12b8ed008c635"
    assert known["gazemedseg/nci-isbi_fixation.csv"] == "a015416168ed215ee84e903579ca78f62122dcd76b28545400fbaf96058c59aa"
    assert "kvasir-seg/kavsir_bboxes.json" in known and sum(p.startswith("nci-isbi/labels/") for p in known) == 60
    assert all(any(F.fnmatch.fnmatch(p, s.pattern) for s in F.SOURCES) for p in known)
    assert F.source_of("gazemedseg/kvasir_fixation.csv").url.startswith(
        "https://raw.githubusercontent.com/med-air/GazeMedSeg/cf3aa2a/GazeMedSEg/")


def test_mirror_subset_copy_is_idempotent_and_verified(mirror, tmp_path):
    only = ["gazemedseg/*", "kvasir-seg/images/cju0q*", "nci-isbi/examples/*"]
    report = F.fetch(tmp_path, mirror=mirror, progress=False, only=only)
    copied = report["copied"]
    assert len(copied) == 2 + 2 + sum(1 for p in F.checksums() if p.startswith("kvasir-seg/images/cju0q"))
    assert (tmp_path / "gazemedseg" / "kvasir_fixation.csv").read_bytes() == \
        (mirror / "gazemedseg" / "kvasir_fixation.csv").read_bytes()
    assert not list(tmp_path.rglob(".*.tmp*"))   # no temporaries left
    again = F.fetch(tmp_path, mirror=mirror, progress=False, only=only)
    assert again["copied"] == [] and sorted(again["skipped"]) == sorted(copied)
    assert F.verify(tmp_path, only=only) == []
    # corrupt one file: verify names it, fetch repairs it
    target = tmp_path / "gazemedseg" / "nci-isbi_fixation.csv"
    target.write_bytes(target.read_bytes()[:-1] + b"9")
    problems = F.verify(tmp_path, only=only)
    assert len(problems) == 1 and problems[0].startswith(f"checksum mismatch: {target}")
    target.unlink()
    assert F.verify(tmp_path, only=only) == [f"missing: {target}"]
    assert F.fetch(tmp_path, mirror=mirror, progress=False, only=only)["copied"] == ["gazemedseg/nci-isbi_fixation.csv"]


def test_verify_reports_required_files_missing(tmp_path):
    problems = F.verify(tmp_path)
    assert f"missing: {tmp_path / 'gazemedseg' / 'kvasir_fixation.csv'}" in problems
    assert len(problems) == 2003       # every required file; the optional NCI-ISBI folder is absent
    assert len(F.verify(tmp_path, include_optional=True)) == len(F.checksums())


def test_corrupted_mirror_file_is_an_error_naming_it(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "gazemedseg").mkdir(parents=True)
    (mirror / "gazemedseg" / "kvasir_fixation.csv").write_bytes(b"not the real file")
    with pytest.raises(F.DataError, match=r"checksum mismatch for .*kvasir_fixation.csv"):
        F.fetch(tmp_path / "root", mirror=mirror, progress=False, only="gazemedseg/kvasir_fixation.csv")
    assert not (tmp_path / "root" / "gazemedseg" / "kvasir_fixation.csv").exists()
    with pytest.raises(F.DataError, match=r"nci-isbi_fixation.csv is missing from the mirror"):
        F.fetch(tmp_path / "root", mirror=mirror, progress=False, only="gazemedseg/nci-isbi_fixation.csv")


def test_optional_files_absent_from_mirror_are_reported(tmp_path):
    (tmp_path / "mirror").mkdir()
    report = F.fetch(tmp_path / "root", mirror=tmp_path / "mirror", progress=False, only="nci-isbi/examples/*")
    assert len(report["unavailable"]) == 2 and report["copied"] == []


def test_download_file_url(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(b"x" * 3_000_000)
    dest = F.download(source.as_uri(), tmp_path / "got" / "file.bin", progress=False)
    assert dest.read_bytes() == source.read_bytes() and sorted(p.name for p in (tmp_path / "got").iterdir()) == ["file.bin"]
    with pytest.raises(F.DataError, match="could not download"):
        F.download((tmp_path / "nothing").as_uri(), tmp_path / "got" / "x.bin", progress=False)
    assert sorted(p.name for p in (tmp_path / "got").iterdir()) == ["file.bin"]   # no temporary of x.bin


def test_download_and_unpack_a_kvasir_like_zip(tmp_path, monkeypatch):
    files = {"Kvasir-SEG/images/a.jpg": b"image a", "Kvasir-SEG/masks/a.jpg": b"mask a",
             "Kvasir-SEG/kavsir_bboxes.json": b"{}", "Kvasir-SEG/readme.txt": b"ignored"}
    archive = tmp_path / "kvasir-seg.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    expected = {"kvasir-seg/images/a.jpg": sha(b"image a"), "kvasir-seg/masks/a.jpg": sha(b"mask a"),
                "kvasir-seg/kavsir_bboxes.json": sha(b"{}")}
    monkeypatch.setattr(F, "SOURCES", (F.Source("kvasir-seg/*", archive.as_uri(), "kvasir-zip"),))
    monkeypatch.delenv("GAZELIB_MIRROR", raising=False)
    root = tmp_path / "root"
    report = F.fetch(root, progress=False, expected=expected)
    assert sorted(report["downloaded"]) == sorted(expected)
    assert (root / "kvasir-seg" / "masks" / "a.jpg").read_bytes() == b"mask a"
    assert not (root / "kvasir-seg" / "readme.txt").exists()
    assert F.verify(root, expected=expected) == []
    assert F.fetch(root, progress=False, expected=expected)["skipped"] == sorted(expected)
    bad = dict(expected, **{"kvasir-seg/images/a.jpg": sha(b"other")})
    (root / "kvasir-seg" / "images" / "a.jpg").unlink()
    with pytest.raises(F.DataError, match=r"checksum mismatch for .*images/a.jpg"):
        F.fetch(root, progress=False, expected=bad)


def test_checksums_file_is_valid_json():
    assert set(json.loads(F.CHECKSUMS_FILE.read_text())) == {"about", "files"}


def test_download_single_files(tmp_path, monkeypatch):
    remote = tmp_path / "remote.csv"
    remote.write_bytes(b"IMAGE\n")
    monkeypatch.setattr(F, "SOURCES", (F.Source("gazemedseg/kvasir_fixation.csv", remote.as_uri(), "file"),
                                       F.Source("nci-isbi/*", None, "mirror", optional=True)))
    monkeypatch.delenv("GAZELIB_MIRROR", raising=False)
    expected = {"gazemedseg/kvasir_fixation.csv": sha(b"IMAGE\n"), "nci-isbi/labels/x.nrrd": sha(b"")}
    report = F.fetch(tmp_path / "root", progress=False, expected=expected)
    assert report["downloaded"] == ["gazemedseg/kvasir_fixation.csv"]
    assert report["unavailable"] == ["nci-isbi/labels/x.nrrd"]
    assert (tmp_path / "root" / "gazemedseg" / "kvasir_fixation.csv").read_bytes() == b"IMAGE\n"
