"""Clutter rasters and antenna pattern folders, end to end on the tiny scenario.

The tiny scenario: one omni 900 MHz LTE site at the centre of a 10 km square on flat ground
(see ``conftest.make_tiny``).  A clutter class loss is added at the receiver, so the level of
every cell served in both runs must drop by exactly the loss of its class; an antenna pattern
whose horizontal cut is 6 dB everywhere must lower every level by exactly 6 dB against an
isotropic pattern file.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import citycov
from citycov.errors import InputFileError, RasterError, ScenarioError, SiteTableError

from .conftest import UTM49, X0, Y0, make_tiny, sector_row, write_raster

FAST = "[accounting]\nuncertainty = false\n"
LTE = 1  # band of 4G in TECHNOLOGIES


def clutter_scenario(folder, classes: np.ndarray, loss_db: str, *, nodata=255, x0=X0 - 2000.0,
                     y1=Y0 + 12_000.0, crs: str = UTM49, cell_m: float = 100.0):
    extra = f'[inputs.clutter]\npath = "clutter.tif"\nvintage = "test classes"\nloss_db = {loss_db}\n' + FAST
    tiny = make_tiny(folder, extra=extra)
    write_raster(folder / "clutter.tif", classes, x0=x0, y1=y1, cell_m=cell_m, crs=crs, nodata=nodata)
    return tiny


def two_class_raster() -> np.ndarray:
    """140 x 140 cells of 100 m from (X0 − 2 km, Y0 + 12 km): class 10 west, class 20 east of
    x = X0 + 5 km (column 70), i.e. exactly the east half of the district."""
    classes = np.full((140, 140), 10, dtype=np.uint8)
    classes[:, 70:] = 20
    return classes


def test_clutter_lowers_levels_by_exactly_the_class_loss(tmp_path):
    base = make_tiny(tmp_path / "base", extra=FAST)
    ref = citycov.run(citycov.load_scenario(base.scenario))
    tiny = clutter_scenario(tmp_path / "clutter", two_class_raster(), '{ "10" = 3.0, "20" = 7.5 }')
    res = citycov.run(citycov.load_scenario(tiny.scenario))

    assert res.grid.same_as(ref.grid)
    x, _ = res.grid.cell_centres()
    east = np.broadcast_to(x[None, :] > X0 + 5000.0, res.grid.shape)
    before, after = ref.rasters["best_dbm"][LTE], res.rasters["best_dbm"][LTE]
    both = np.isfinite(before) & np.isfinite(after)
    assert both[east].sum() > 1000 and both[~east].sum() > 1000
    np.testing.assert_allclose((before - after)[both & ~east], 3.0, atol=1e-4)
    np.testing.assert_allclose((before - after)[both & east], 7.5, atol=1e-4)
    # a loss never creates coverage, and it removes some at the edge
    assert not (np.isfinite(after) & ~np.isfinite(before)).any()
    assert res.city["population_covered"] < ref.city["population_covered"]

    record = next(r for r in res.inputs if r.name == "clutter")
    assert record.sha256 == hashlib.sha256((tiny.folder / "clutter.tif").read_bytes()).hexdigest()
    assert record.vintage == "test classes"
    # the 100 x 100 grid of the 10 km square: 50 columns of each class
    assert any("class 10: 3 dB over 5,000 cells" in n and "class 20: 7.5 dB over 5,000 cells" in n
               for n in record.notes)


def test_clutter_in_another_crs_is_reprojected_by_nearest_class(tmp_path):
    # one class over a WGS84 raster that covers the whole grid: every served cell loses 4 dB
    base = make_tiny(tmp_path / "base", extra=FAST)
    ref = citycov.run(citycov.load_scenario(base.scenario))
    classes = np.full((200, 200), 50, dtype=np.int16)
    tiny = clutter_scenario(tmp_path / "wgs", classes, '{ "50" = 4.0, "60" = 9.0 }', nodata=-1,
                            x0=110.98, y1=23.16, crs="EPSG:4326", cell_m=0.001)
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    before, after = ref.rasters["best_dbm"][LTE], res.rasters["best_dbm"][LTE]
    both = np.isfinite(before) & np.isfinite(after)
    assert both.sum() > 1000
    np.testing.assert_allclose((before - after)[both], 4.0, atol=1e-4)
    record = next(r for r in res.inputs if r.name == "clutter")
    assert any("not present on the grid: [60]" in n for n in record.notes)


def test_unknown_classes_and_nodata_inside_the_study_area_in_one_error(tmp_path):
    classes = two_class_raster()
    classes[30:33, 40:44] = 255  # nodata: grid rows 10..12, cols 20..23 (12 cells)
    classes[100:107, 100] = 31  # 7 cells of an unknown class
    tiny = clutter_scenario(tmp_path / "t", classes, '{ "10" = 3.0 }')
    with pytest.raises(RasterError) as info:
        citycov.run(citycov.load_scenario(tiny.scenario))
    msg = str(info.value)
    assert "clutter.tif" in msg
    # the 12 nodata cells: centres x = X0 + 2050..2350, y = Y0 + 8750..8950
    assert "no clutter class for 12 of 10,000 study-area cells" in msg  # 100 x 100 cells of 100 m
    assert f"x {X0 + 2050:.0f}..{X0 + 2350:.0f}, y {Y0 + 8750:.0f}..{Y0 + 8950:.0f}" in msg
    # class 20: the east half, 50 x 100 cells, less the 7 of class 31
    assert "2 clutter classes on the grid have no [inputs.clutter].loss_db entry: 20 (4,993 cells), 31 (7 cells)" \
        in msg


def test_clutter_table_errors_are_listed_with_their_key(tmp_path):
    tiny = clutter_scenario(tmp_path / "t", two_class_raster(), '{ "ten" = 3.0, "20" = 120.0, "30" = "x" }')
    with pytest.raises(ScenarioError) as info:
        citycov.load_scenario(tiny.scenario)
    msg = str(info.value)
    for frag in ("[inputs.clutter].loss_db.20 must be a number in [-20, 80] dB, got 120.0",
                 "[inputs.clutter].loss_db.30 must be a number in [-20, 80] dB, got 'x'",
                 "class codes must be whole numbers (the raster's values), got ['ten']"):
        assert frag in msg, frag
    tiny.scenario.write_text(tiny.scenario.read_text().replace('loss_db = { "ten" = 3.0, "20" = 120.0, "30" = "x" }',
                                                               ""))
    with pytest.raises(ScenarioError, match=r"\[inputs.clutter\].loss_db is required"):
        citycov.load_scenario(tiny.scenario)


# --------------------------------------------------------------------------------------------
# antenna patterns


def msi_text(name: str, h_loss_db: float) -> str:
    lines = [f"NAME {name}", "FREQUENCY 900", "GAIN 17 dBi", "HORIZONTAL 360"]
    lines += [f"{a} {h_loss_db}" for a in range(360)]
    lines += ["VERTICAL 360"] + [f"{a} 0" for a in range(360)]
    return "\n".join(lines) + "\n"


def pattern_scenario(folder, pattern: str, *, with_folder: bool = True):
    extra = ('[inputs.antenna_patterns]\npath = "antennas"\nvintage = "vendor 2024"\n' if with_folder else "") + FAST
    tiny = make_tiny(folder, extra=extra, sectors=[sector_row(x=X0 + 5000.0, y=Y0 + 5000.0, antenna_pattern=pattern)])
    (folder / "antennas").mkdir()
    (folder / "antennas" / "iso.msi").write_text(msi_text("ISO", 0.0), encoding="utf-8")
    (folder / "antennas" / "minus6.txt").write_text(msi_text("MINUS6", 6.0), encoding="utf-8")
    (folder / "antennas" / "readme.md").write_text("not a pattern", encoding="utf-8")
    return tiny


def test_pattern_files_named_in_the_sector_table_shape_the_levels(tmp_path):
    iso = citycov.run(citycov.load_scenario(pattern_scenario(tmp_path / "iso", "iso").scenario))
    tiny = pattern_scenario(tmp_path / "m6", "minus6")
    m6 = citycov.run(citycov.load_scenario(tiny.scenario))
    a, b = iso.rasters["best_dbm"][LTE], m6.rasters["best_dbm"][LTE]
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 1000
    np.testing.assert_allclose((a - b)[both], 6.0, atol=1e-4)
    records = {r.name: r for r in m6.inputs if r.name.startswith("antenna_pattern:")}
    assert sorted(records) == ["antenna_pattern:iso", "antenna_pattern:minus6"]  # readme.md is not a pattern
    path = tiny.folder / "antennas" / "minus6.txt"
    assert records["antenna_pattern:minus6"].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert records["antenna_pattern:minus6"].vintage == "vendor 2024"


def test_blank_pattern_uses_the_3gpp_model(tmp_path):
    plain = citycov.run(citycov.load_scenario(make_tiny(tmp_path / "plain", extra=FAST).scenario))
    blank = citycov.run(citycov.load_scenario(pattern_scenario(tmp_path / "blank", "").scenario))
    np.testing.assert_array_equal(plain.rasters["best_dbm"], blank.rasters["best_dbm"])


def test_unknown_pattern_name_names_the_sectors(tmp_path):
    tiny = pattern_scenario(tmp_path / "t", "nope")
    with pytest.raises(SiteTableError, match=r"antenna_pattern names without a file in \[inputs.antenna_patterns\]: "
                                             r"\['nope'\] \(sectors S1-1\); files found: \['iso', 'minus6'\]"):
        citycov.run(citycov.load_scenario(tiny.scenario))


def test_pattern_column_without_a_folder_is_a_scenario_error(tmp_path):
    tiny = pattern_scenario(tmp_path / "t", "iso", with_folder=False)
    with pytest.raises(ScenarioError, match=r"1 sectors name an antenna_pattern \(S1-1\) but the scenario has no "
                                            r"\[inputs.antenna_patterns\] folder"):
        citycov.run(citycov.load_scenario(tiny.scenario))


def test_bad_pattern_files_are_listed_together(tmp_path):
    tiny = pattern_scenario(tmp_path / "t", "iso")
    (tiny.folder / "antennas" / "broken.pln").write_text("NAME X\nHORIZONTAL 2\n0 1\n", encoding="utf-8")
    (tiny.folder / "antennas" / "iso.txt").write_text(msi_text("ISO2", 0.0), encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        citycov.run(citycov.load_scenario(tiny.scenario))
    msg = str(info.value)
    assert "pattern name 'iso' is given by several files ['iso.msi', 'iso.txt']" in msg
    assert "broken.pln" in msg and "no GAIN line" in msg


def test_sector_table_reads_numeric_pattern_names_as_text(tmp_path):
    rows = [sector_row(sector_id="A", antenna_pattern=742215), sector_row(sector_id="B", antenna_pattern=None)]
    pd.DataFrame(rows).to_csv(tmp_path / "s.csv", index=False)
    from citycov.io import read_sectors

    table = read_sectors(tmp_path / "s.csv", crs=UTM49, lon_column="x", lat_column="y")
    assert table["antenna_pattern"].tolist() == ["742215", ""]
