"""Fixation CSV reading and validation: every rule on a tiny malformed file, then the real files."""
from pathlib import Path

import numpy as np
import pytest

from gazelib.data.fixations import FixationError, check_coverage, fixation_statistics, read_fixations

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gaze_two_images.csv"
LINES = FIXTURE.read_text().splitlines()
HEADER = LINES[0].split(",")


def write(tmp_path, edits=(), drop_column=None, extra_rows=()):
    """The fixture with cells replaced: edits = [(csv line number, column, new text)]."""
    rows = [line.split(",") for line in LINES] + [r.split(",") for r in extra_rows]
    for line, column, text in edits:
        rows[line - 1][HEADER.index(column)] = text
    if drop_column:
        j = HEADER.index(drop_column)
        rows = [r[:j] + r[j + 1:] for r in rows]
    path = tmp_path / "gaze.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    return path


def test_good_file_is_read_in_index_order():
    s = read_fixations(FIXTURE)
    assert sorted(s) == ["a", "b"]
    b = s["b"]                                   # rows are in reverse index order in the file
    np.testing.assert_array_equal(b.x, [0.1, 0.5])
    np.testing.assert_array_equal(b.y, [0.2, 0.25])
    np.testing.assert_array_equal(b.duration, [100, 200])
    np.testing.assert_array_equal(b.start, [0, 300])
    assert (b.height, b.width, b.image_id) == (4, 6, "b")
    assert b.x.dtype == np.float64 and len(s["a"]) == 3


def test_summary_hand_computed():
    out = fixation_statistics(read_fixations(FIXTURE))
    assert out["images"] == 2 and out["fixations"] == 5
    assert out["fixations_per_image"] == {"min": 2, "median": 2.5, "max": 3}
    assert out["duration_ms"]["total"] == 545.0
    # viewing time: a 200+120-10 = 310, b 300+200-0 = 500 -> median 405
    assert out["viewing_time_per_image_ms"] == 405.0


@pytest.mark.parametrize("line, column, text, words", [
    (3, "CURRENT_FIX_X", "abc", "not a number: 'abc'"),
    (4, "CURRENT_FIX_Y", "", "missing value"),
    (5, "CURRENT_FIX_DURATION", "nan", "missing value"),
    (5, "CURRENT_FIX_START", "inf", "not a number: 'inf'"),
    (2, "CURRENT_FIX_X", "1.5", "outside [0, 1]"),
    (6, "CURRENT_FIX_Y", "-0.01", "outside [0, 1]"),
    (3, "CURRENT_FIX_DURATION", "0", "not positive"),
    (4, "CURRENT_FIX_DURATION", "-5", "not positive"),
    (5, "CURRENT_FIX_INDEX", "1", "duplicate index 1"),
    (5, "CURRENT_FIX_INDEX", "1.5", "not an integer"),
    (4, "CURRENT_FIX_INDEX", "0", "below 1"),
    (6, "CURRENT_FIX_START", "60", "start time goes backwards"),
    (5, "IMAGE_HEIGHT", "7.0", "more than one IMAGE_HEIGHT"),
    (4, "IMAGE", "", "empty image name"),
])
def test_each_rule_names_file_row_and_column(tmp_path, line, column, text, words):
    path = write(tmp_path, [(line, column, text)])
    with pytest.raises(FixationError) as info:
        read_fixations(path)
    message = str(info.value)
    assert str(path) in message
    assert f"row {line}, column {column}: " in message and words in message
    assert (line, column) in [(row, col) for row, col, _ in info.value.problems]


def test_start_time_backwards_is_reported_at_the_later_fixation(tmp_path):
    # a: starts 10, 70, 200 -> setting index 3 to 50 goes backwards at line 6 only
    with pytest.raises(FixationError) as info:
        read_fixations(write(tmp_path, [(6, "CURRENT_FIX_START", "50")]))
    assert [(r, c) for r, c, _ in info.value.problems] == [(6, "CURRENT_FIX_START")]
    assert "50 after 70" in str(info.value)


def test_missing_column(tmp_path):
    with pytest.raises(FixationError, match=r"row 1, column CURRENT_FIX_START: missing column"):
        read_fixations(write(tmp_path, drop_column="CURRENT_FIX_START"))


def test_pupil_column_is_not_required(tmp_path):
    assert len(read_fixations(write(tmp_path, drop_column="CURRENT_FIX_PUPIL"))) == 2


def test_index_gaps_allowed_by_default_but_not_when_consecutive(tmp_path):
    path = write(tmp_path, [(6, "CURRENT_FIX_INDEX", "5")])       # a: 1, 2, 5
    assert len(read_fixations(path)["a"]) == 3
    with pytest.raises(FixationError, match=r"row 6, column CURRENT_FIX_INDEX: .*expected 3, found 5"):
        read_fixations(path, consecutive=True)


def test_image_sizes_checked_against_files(tmp_path):
    sizes = {"a": (3, 5), "b": (4, 7)}
    with pytest.raises(FixationError) as info:
        read_fixations(FIXTURE, image_sizes=sizes)
    assert [(r, c) for r, c, _ in info.value.problems] == [(2, "IMAGE_WIDTH")]   # first row of b only
    assert "6 but image 'b.jpg' is 7 pixels" in str(info.value)
    with pytest.raises(FixationError, match=r"row 2, column IMAGE: no such image in the data set: 'b.jpg'"):
        read_fixations(FIXTURE, image_sizes={"a": (3, 5)})


def test_all_problems_collected_and_listing_capped(tmp_path):
    extra = [f"c.jpg,{i},2,0.5,100,1,{i},1,1" for i in range(1, 31)]   # 30 x out of range
    with pytest.raises(FixationError) as info:
        read_fixations(write(tmp_path, [(3, "CURRENT_FIX_X", "abc")], extra_rows=extra))
    assert len(info.value.problems) == 31
    assert str(info.value).startswith("31 problem(s)") and "... and 11 more" in str(info.value)


def test_coverage_names_missing_images():
    with pytest.raises(FixationError, match=r"column IMAGE: image 'c' has no fixation") as info:
        check_coverage(read_fixations(FIXTURE), ["a", "b", "c", "d"], FIXTURE)
    assert len(info.value.problems) == 2 and str(FIXTURE) in str(info.value)
    check_coverage(read_fixations(FIXTURE), ["a", "b"], FIXTURE)


def test_real_files(mirror):
    import time

    start = time.perf_counter()
    kvasir = read_fixations(mirror / "gazemedseg" / "kvasir_fixation.csv")
    assert time.perf_counter() - start < 2.0      # ~0.3 s measured; slack for loaded CI machines
    nci = read_fixations(mirror / "gazemedseg" / "nci-isbi_fixation.csv")
    assert (len(kvasir), sum(map(len, kvasir.values()))) == (1000, 26832)
    assert (len(nci), sum(map(len, nci.values()))) == (789, 17397)
    first = nci["Prostate3T-01-0027_14"]          # the file's first rows
    np.testing.assert_allclose(first.x[:2], [0.4846041666666668, 0.46559375])
    np.testing.assert_array_equal(first.start[:4], [7, 786, 1520, 1788])
    assert (first.height, first.width) == (320, 320)
    assert all(np.all(np.diff(s.start) >= 0) for s in kvasir.values())
