"""OpenCelliD exports from any country: operator names, bands from channel numbers, scenario
band tables and defaults, sectorisation, the join with a sector table; 2G sector rows; the
lon/lat hint.  Expected bands and frequencies are worked by hand from the 3GPP formulas."""

from __future__ import annotations

import textwrap

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import citycov
from citycov.channels import (
    band_centre_mhz,
    band_for_mhz,
    earfcn_carrier,
    nrarfcn_carrier,
    uarfcn_carrier,
)
from citycov.errors import CitycovWarning, ScenarioError, SiteTableError
from citycov.io import read_fibre_nodes, read_sectors, read_wlan
from citycov.io.broadcast import read_transmitters
from citycov.io.cell_join import join_cells
from citycov.io.fibre import read_premises
from citycov.io.opencellid import opencellid_note, read_opencellid
from citycov.io.villages import read_villages

from .conftest import UTM49, X0, Y0, make_tiny, sector_row

LAMBERT93 = "EPSG:2154"  # France
HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
PARIS = (2.35, 48.85)


def _ocid_line(radio: str, mcc: int, net: int, cell: int, lon: float = PARIS[0], lat: float = PARIS[1],
               area: int = 1000) -> str:
    return f"{radio},{mcc},{net},{area},{cell},1,{lon},{lat},800,20,1,1500000000,1700000000,0"


def _write(tmp_path, lines, header=HEADER, name="208.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- channel numbers
@pytest.mark.parametrize(("earfcn", "band", "mhz"), [
    (1300, "B3", 1815.0),    # 1805 + 0.1 (1300 - 1200)
    (6300, "B20", 806.0),    # 791 + 0.1 (6300 - 6150)
    (3100, "B7", 2655.0),    # 2620 + 0.1 (3100 - 2750)
    (5230, "B13", 751.0),    # 746 + 0.1 (5230 - 5180)
    (9410, "B28", 778.0),    # 758 + 0.1 (9410 - 9210)
    (38950, "B40", 2330.0),  # 2300 + 0.1 (38950 - 38650)
    (66986, "B66", 2165.0),  # 2110 + 0.1 (66986 - 66436)
    (68661, "B71", 624.5),   # 617 + 0.1 (68661 - 68586)
    (0, "B1", 2110.0),       # the first channel of band 1
])
def test_earfcn_band_and_downlink_frequency(earfcn, band, mhz):
    assert earfcn_carrier(earfcn) == (band, pytest.approx(mhz, abs=1e-9))


@pytest.mark.parametrize(("nrarfcn", "band", "mhz"), [
    (636666, "n78", 3549.99),    # 3000 + 0.015 (636666 - 600000)
    (428000, "n1", 2140.0),      # 0.005 x 428000
    (620000, "n78", 3300.0),     # 3000 + 0.015 x 20000: n78 and n77 overlap, n78 named
    (720000, "n79", 4800.0),     # 3000 + 0.015 x 120000
    (151600, "n28", 758.0),      # 0.005 x 151600
    (524000, "n41", 2620.0),     # 0.005 x 524000: n41, n7 and n38 overlap, n41 named
    (2016667, "", 24250.08),     # the first 60 kHz raster point (FR2: no FR1 band)
])
def test_nrarfcn_frequency_and_band(nrarfcn, band, mhz):
    assert nrarfcn_carrier(nrarfcn) == (band, pytest.approx(mhz, abs=1e-9))


@pytest.mark.parametrize(("uarfcn", "band", "mhz"), [
    (10700, "B1", 2140.0),   # 10700 / 5
    (3011, "B8", 942.2),     # 340 + 3011 / 5
    (1537, "B4", 2112.4),    # 1805 + 1537 / 5
    (4400, "B5", 880.0),     # 4400 / 5
    (9800, "B2", 1960.0),    # 9800 / 5
])
def test_uarfcn_band_and_downlink_frequency(uarfcn, band, mhz):
    assert uarfcn_carrier(uarfcn) == (band, pytest.approx(mhz, abs=1e-9))


def test_channels_outside_the_tables_have_no_band():
    assert earfcn_carrier(99999)[0] == "" and np.isnan(earfcn_carrier(99999)[1])
    assert uarfcn_carrier(5000)[0] == ""
    assert band_centre_mhz("LTE", "B99") is None and band_for_mhz("LTE", 100.0) == ""


# ------------------------------------------------------------------------------- operators
def test_french_export_gives_operator_names_and_counts_unlisted_pairs(tmp_path):
    path = _write(tmp_path, [_ocid_line("LTE", 208, 1, 1001), _ocid_line("LTE", 208, 10, 1002),
                             _ocid_line("LTE", 208, 15, 1003), _ocid_line("LTE", 208, 20, 1004),
                             _ocid_line("LTE", 208, 26, 1005), _ocid_line("LTE", 310, 260, 1006)])
    cells = read_opencellid(path, crs=LAMBERT93)
    assert cells["operator"].tolist() == ["Orange", "SFR", "Free Mobile", "Bouygues Telecom", "208-26", "T-Mobile"]
    assert cells.attrs["unnamed_operators"] == {"208-26": 1}
    assert "1 cells of 1 unlisted MCC-MNC pairs kept as codes: 208-26 (1)" in opencellid_note(cells)
    named = read_opencellid(path, crs=LAMBERT93, operators={"208-26": "NRJ Mobile", "208-01": "Orange France"})
    assert named["operator"].tolist()[:5] == ["Orange France", "SFR", "Free Mobile", "Bouygues Telecom", "NRJ Mobile"]
    assert named.attrs["unnamed_operators"] == {}


# ------------------------------------------------------------------------------- bands
def test_channel_columns_set_band_and_frequency(tmp_path):
    header = HEADER + ",earfcn,NR-ARFCN,uarfcn"
    path = _write(tmp_path, [
        _ocid_line("LTE", 208, 1, 2001) + ",6300,,",     # B20 806.0
        _ocid_line("LTE", 208, 1, 2002) + ",1300,,",     # B3 1815.0
        _ocid_line("LTE", 208, 10, 2003) + ",3100,,",    # B7 2655.0
        _ocid_line("NR", 208, 1, 4096 * 7) + ",,636666,",  # n78 3549.99
        _ocid_line("UMTS", 208, 1, 2005) + ",,,10700",   # B1 2140.0
        _ocid_line("LTE", 208, 1, 2006) + ",99999,,",    # outside the table: the LTE default
        _ocid_line("GSM", 208, 1, 2008) + ",,,",         # dropped (2G)
        _ocid_line("LTE", 208, 1, 2007) + ",,,",         # no channel: the LTE default
    ], header=header)
    with pytest.warns(CitycovWarning, match="1 of 8 cells dropped"):
        cells = read_opencellid(path, crs=LAMBERT93)
    assert cells["band"].tolist() == ["B20", "B3", "B7", "n78", "B1", "B3", "B3"]
    assert cells["freq_mhz"].tolist() == pytest.approx([806.0, 1815.0, 2655.0, 3549.99, 2140.0, 1850.0, 1850.0])
    assert cells.attrs["band_sources"] == {"channel column NR-ARFCN": 1, "channel column earfcn": 3,
                                           "channel column uarfcn": 1, "channel outside the tables": 1,
                                           "default": 2}
    assert "band from: channel column NR-ARFCN 1, channel column earfcn 3" in opencellid_note(cells)


def test_generic_arfcn_column_is_read_per_radio(tmp_path):
    path = _write(tmp_path, [_ocid_line("LTE", 208, 20, 3001) + ",6300",
                             _ocid_line("UMTS", 208, 20, 3002) + ",10700"], header=HEADER + ",arfcn")
    cells = read_opencellid(path, crs=LAMBERT93)
    assert cells["band"].tolist() == ["B20", "B1"]
    assert cells["freq_mhz"].tolist() == pytest.approx([806.0, 2140.0])


def test_non_numeric_channel_is_an_error_naming_the_line(tmp_path):
    path = _write(tmp_path, [_ocid_line("LTE", 208, 1, 1) + ",abc"], header=HEADER + ",earfcn")
    with pytest.raises(SiteTableError, match=r"earfcn: not a number at line 2"):
        read_opencellid(path, crs=LAMBERT93)


def test_scenario_band_table_per_operator(tmp_path):
    header = HEADER + ",earfcn"
    path = _write(tmp_path, [
        _ocid_line("LTE", 208, 1, 4001) + ",",       # table: B20, centre (791 + 821) / 2 = 806
        _ocid_line("LTE", 208, 10, 4002) + ",",      # table: 2655 MHz -> band 7 (2620..2690)
        _ocid_line("LTE", 208, 15, 4003) + ",",      # table: B28 at 773 MHz, 10 MHz wide
        _ocid_line("LTE", 208, 1, 4004) + ",1300",   # the channel wins over the table: B3 1815
        _ocid_line("LTE", 208, 20, 4005) + ",",      # not in the table: the LTE default
    ], header=header)
    bands = {"208-01": {"LTE": "B20"}, "208-10": {"LTE": 2655.0},
             "208-15": {"LTE": {"band": "B28", "freq_mhz": 773.0, "bandwidth_mhz": 10.0}}}
    cells = read_opencellid(path, crs=LAMBERT93, bands=bands)
    assert cells["band"].tolist() == ["B20", "B7", "B28", "B3", "B3"]
    assert cells["freq_mhz"].tolist() == pytest.approx([806.0, 2655.0, 773.0, 1815.0, 1850.0])
    assert cells["bandwidth_mhz"].tolist() == [20.0, 20.0, 10.0, 20.0, 20.0]
    assert cells.attrs["band_sources"] == {"channel column earfcn": 1, "default": 1, "scenario bands table": 3}
    with pytest.raises(SiteTableError, match=r"unknown band 'B99'"):
        read_opencellid(path, crs=LAMBERT93, bands={"208-01": {"LTE": "B99"}})


def test_scenario_defaults_per_radio(tmp_path):
    path = _write(tmp_path, [_ocid_line("LTE", 208, 1, 5001), _ocid_line("NR", 208, 1, 4096 * 9)])
    cells = read_opencellid(path, crs=LAMBERT93, defaults={
        "LTE": {"height_m": 25.0, "eirp_dbm": 58.0, "band": "B7", "bandwidth_mhz": 10.0, "downtilt_deg": 6.0},
        "NR": {"freq_mhz": 2600.0}})
    lte, nr = cells.iloc[0], cells.iloc[1]
    # band 7 alone: the centre of its downlink, 2620 + 0.1 (3449 + 1 - 2750) / 2 = 2655 MHz
    assert (lte["band"], lte["freq_mhz"], lte["bandwidth_mhz"], lte["height_m"], lte["eirp_dbm"],
            lte["downtilt_deg"]) == ("B7", 2655.0, 10.0, 25.0, 58.0, 6.0)
    assert (nr["band"], nr["freq_mhz"], nr["height_m"]) == ("n41", 2600.0, 30.0)  # 2600 MHz lies in n41
    note = opencellid_note(cells)
    assert "per-radio defaults, not measured" in note and "LTE: 4G B7 2655 MHz 10 MHz wide, 25 m, EIRP 58 dBm" in note


def test_three_sectors_per_cell_at_0_120_240(tmp_path):
    path = _write(tmp_path, [_ocid_line("LTE", 208, 1, 256 * 77 + 1), _ocid_line("UMTS", 208, 1, 6002)])
    cells = read_opencellid(path, crs=LAMBERT93, sectors=3, defaults={"UMTS": {"sectors": 1}})
    lte = cells[cells["radio"] == "LTE"]
    assert lte["azimuth_deg"].tolist() == [0.0, 120.0, 240.0]
    assert lte["h_beamwidth_deg"].tolist() == [65.0, 65.0, 65.0] and not lte["omni"].any()
    assert lte["site_id"].nunique() == 1 and cells["sector_id"].is_unique
    umts = cells[cells["radio"] == "UMTS"]
    assert len(umts) == 1 and umts["omni"].all() and np.isnan(umts["azimuth_deg"].iloc[0])
    assert cells.attrs["cells"] == 2
    assert "omnidirectional or 3 sectors per cell, per radio" in opencellid_note(cells)
    with pytest.raises(SiteTableError, match=r"sectors: expected one of \[1, 3\]"):
        read_opencellid(path, crs=LAMBERT93, sectors=2)


# ------------------------------------------------------------------------------- join
def _sectors_frame(rows, crs=LAMBERT93):
    frame = pd.DataFrame(rows)
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                            crs=crs)


def _site(x, y, operator="Orange", sector_id="A-1", technology="4G", **extra):
    return {**sector_row(site_id=sector_id.split("-")[0], sector_id=sector_id, operator=operator,
                         technology=technology, x=x, y=y), **extra}


def _cells_at(tmp_path, points, crs=LAMBERT93, **kw):
    """OpenCelliD LTE cells of Orange (208-01) at projected ``points`` (x, y, cell id)."""
    lonlat = gpd.GeoSeries([shapely.Point(x, y) for x, y, _ in points], crs=crs).to_crs("EPSG:4326")
    lines = [_ocid_line("LTE", 208, 1, c, p.x, p.y) for (_, _, c), p in zip(points, lonlat, strict=True)]
    return read_opencellid(_write(tmp_path, lines), crs=crs, **kw)


def test_join_by_ids_counts_the_network_once(tmp_path):
    x0, y0 = 652_000.0, 6_862_000.0  # Paris in Lambert-93
    sectors = _sectors_frame([_site(x0, y0, sector_id="A-1", mcc=208, mnc=1, cell_id=256 * 10 + 1),
                              _site(x0 + 3000, y0, sector_id="B-1", mcc=208, mnc=1, cell_id=256 * 11 + 1)])
    # the same two cells, their crowd positions 900 m off (beyond match_distance_m: ids decide),
    # and a third cell the sector table lacks
    cells = _cells_at(tmp_path, [(x0 + 900, y0, 256 * 10 + 1), (x0 + 3000, y0 + 900, 256 * 11 + 1),
                                 (x0 + 6000, y0, 256 * 12 + 1)])
    joined, counts = join_cells(sectors, cells)
    assert (counts.cells, counts.by_ids, counts.by_position, counts.added) == (3, 2, 0, 1)
    assert joined["sector_id"].tolist()[:2] == ["A-1", "B-1"] and len(joined) == 3
    assert joined["cell_id"].tolist() == [2561, 2817, 3073]
    assert "2 of 3 OpenCelliD cells are sector-table rows (by ids 2, by position within 500 m 0)" in counts.note()
    added, add_counts = join_cells(sectors, cells, how="add")
    assert len(added) == 5 and "counted twice" in add_counts.note()


def test_join_by_position_same_operator_and_technology(tmp_path):
    x0, y0 = 652_000.0, 6_862_000.0
    sectors = _sectors_frame([_site(x0, y0, sector_id="A-1"), _site(x0, y0, sector_id="A-2", azimuth_deg=120.0),
                              _site(x0 + 5000, y0, sector_id="C-1", operator="SFR")])
    # 300 m from A (same operator, same technology): A's; 300 m from C but C is SFR's: added;
    # 2 km from everything: added
    cells = _cells_at(tmp_path, [(x0 + 300, y0, 1), (x0, y0 + 300, 2), (x0 + 5300, y0, 3), (x0 + 2000, y0, 4)],
                      sectors=3)
    joined, counts = join_cells(sectors, cells, match_distance_m=500.0)
    assert (counts.cells, counts.by_ids, counts.by_position, counts.added) == (4, 0, 2, 2)
    assert len(joined) == 3 + 2 * 3  # two cells of three sectors each added
    tight, tight_counts = join_cells(sectors, cells, match_distance_m=200.0)
    assert tight_counts.by_position == 0 and len(tight) == 3 + 4 * 3


def test_join_warns_when_operator_names_differ(tmp_path):
    x0, y0 = 652_000.0, 6_862_000.0
    sectors = _sectors_frame([_site(x0, y0, operator="Orange SA")])
    cells = _cells_at(tmp_path, [(x0 + 100, y0, 1)])
    with pytest.warns(CitycovWarning, match=r"the operators differ \(sector table \['Orange SA'\], OpenCelliD "
                                            r"\['Orange'\]\)"):
        joined, counts = join_cells(sectors, cells)
    assert counts.added == 1 and len(joined) == 2


def test_same_network_twice_in_a_scenario_is_counted_once(tmp_path):
    """The tiny district's two sites given as a sector table and as their OpenCelliD export:
    join = fill (the default) models them once, so the coverage equals the sector table's."""
    side = 4000.0
    a, b = (X0 + 1000.0, Y0 + 2000.0), (X0 + 3000.0, Y0 + 2000.0)
    rows = [sector_row(site_id="A", sector_id="A-1", operator="China Mobile", x=a[0], y=a[1], eirp_dbm=40.0),
            sector_row(site_id="B", sector_id="B-1", operator="China Mobile", x=b[0], y=b[1], eirp_dbm=40.0)]
    alone = make_tiny(tmp_path / "alone", side_m=side, sectors=rows)
    both = make_tiny(tmp_path / "both", side_m=side, sectors=rows, extra=textwrap.dedent("""
        [inputs.opencellid]
        path = "cells.csv"
        """))
    lonlat = gpd.GeoSeries([shapely.Point(a[0] + 150, a[1]), shapely.Point(b[0], b[1] - 200)],
                           crs=UTM49).to_crs("EPSG:4326")
    lines = [_ocid_line("LTE", 460, 0, 256 * (i + 1) + 1, p.x, p.y) for i, p in enumerate(lonlat)]
    _write(both.folder, lines, name="cells.csv")
    res_alone = citycov.run(citycov.load_scenario(alone.scenario))
    res_both = citycov.run(citycov.load_scenario(both.scenario))
    assert len(res_both.sectors) == 2
    assert res_both.city["wireless_pct"] == res_alone.city["wireless_pct"]
    record = next(r for r in res_both.inputs if r.name == "opencellid")
    assert any("join = fill: 2 of 2 OpenCelliD cells are sector-table rows" in n for n in record.notes)
    # join = add models both copies (the OpenCelliD defaults are 20 dB stronger): more coverage, counted twice
    both.scenario.write_text(both.scenario.read_text(encoding="utf-8") + 'join = "add"\n', encoding="utf-8")
    res_add = citycov.run(citycov.load_scenario(both.scenario))
    assert len(res_add.sectors) == 4 and res_add.city["wireless_pct"] > res_alone.city["wireless_pct"]


def test_scenario_keys_are_parsed_and_checked(tmp_path):
    tiny = make_tiny(tmp_path / "t", extra=textwrap.dedent("""
        [inputs.opencellid]
        path = "cells.csv"
        min_samples = 3
        sectors = 3
        join = "add"
        match_distance_m = 300
        operators = { "208-26" = "NRJ Mobile" }
        [inputs.opencellid.bands]
        "208-01" = { LTE = "B20", NR = { band = "n78", bandwidth_mhz = 80 } }
        [inputs.opencellid.defaults.LTE]
        height_m = 25
        sectors = 1
        """))
    (tiny.folder / "cells.csv").write_text(HEADER + "\n", encoding="utf-8")
    spec = citycov.load_scenario(tiny.scenario).inputs["opencellid"]
    assert (spec.min_samples, spec.sectors, spec.join, spec.match_distance_m) == (3, 3, "add", 300.0)
    assert spec.operators == {"208-26": "NRJ Mobile"}
    assert spec.bands == {"208-01": {"LTE": {"band": "B20"}, "NR": {"band": "n78", "bandwidth_mhz": 80.0}}}
    assert spec.defaults == {"LTE": {"height_m": 25.0, "sectors": 1}}
    text = tiny.scenario.read_text(encoding="utf-8")
    bad = (text.replace('join = "add"', 'join = "merge"').replace("sectors = 3", "sectors = 2")
           .replace('"208-26"', '"20826"').replace('LTE = "B20"', 'LTE = "B99"')
           .replace("bandwidth_mhz = 80", "bandwidth_mhz = 7").replace("height_m = 25", "height_m = 900"))
    tiny.scenario.write_text(bad, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        citycov.load_scenario(tiny.scenario)
    msg = str(info.value)
    for fragment in ("[inputs.opencellid].join must be one of ['fill', 'add'], got 'merge'",
                     "[inputs.opencellid].sectors must be one of [1, 3]",
                     "[inputs.opencellid].operators: key '20826' must be \"MCC-MNC\"",
                     "[inputs.opencellid].bands.208-01.LTE.band: unknown LTE band 'B99'",
                     "bands.208-01.NR.bandwidth_mhz: 7 MHz is not a NR channel bandwidth",
                     "[inputs.opencellid].defaults.LTE.height_m must be <= 300.0, got 900"):
        assert fragment in msg, fragment


# ------------------------------------------------------------------------------- 6a: 2G rows
def test_sector_table_2g_rows_are_dropped_and_counted(tmp_path):
    rows = [sector_row(sector_id="S1-1"), sector_row(sector_id="S1-2", technology="GSM", bandwidth_mhz=0.2),
            sector_row(sector_id="S1-3", technology="2g", eirp_dbm="n/a"), sector_row(sector_id="S1-4", technology="5G",
                                                                                     bandwidth_mhz=100.0)]
    path = tmp_path / "s.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with pytest.warns(CitycovWarning, match=r"2 of 4 sectors dropped: technology \['2g', 'GSM'\] is not modelled "
                                            r"\(3G, 4G and 5G only\) at line 3, line 4"):
        out = read_sectors(path, crs=UTM49, lon_column="x", lat_column="y")
    assert out["sector_id"].tolist() == ["S1-1", "S1-4"]
    assert out.attrs["dropped"] == {"2G/CDMA technology": 2}
    # problems in the rows kept still name the file's own lines
    pd.DataFrame([*rows, sector_row(sector_id="S1-5", technology="WIMAX")]).to_csv(path, index=False)
    with pytest.raises(SiteTableError, match=r"technology: expected one of \['3G', '4G', '5G'\] at line 6 "
                                             r"\(found \['WIMAX'\]\)"), pytest.warns(CitycovWarning):
        read_sectors(path, crs=UTM49, lon_column="x", lat_column="y")
    pd.DataFrame([rows[1]]).to_csv(path, index=False)
    with pytest.raises(SiteTableError, match=r"all 1 sectors are 2G/CDMA"):
        read_sectors(path, crs=UTM49, lon_column="x", lat_column="y")


# ------------------------------------------------------------------------------- 6b: lon/lat hint
@pytest.mark.parametrize(("reader", "section", "row"), [
    (read_sectors, "sectors", sector_row()),
    (read_wlan, "wlan", {"ap_id": "AP1", "operator": "T", "freq_mhz": 2437.0, "height_m": 4.0, "eirp_dbm": 20.0}),
    (read_fibre_nodes, "fibre_nodes", {"node_id": "N1", "kind": "cabinet", "ports": 288}),
    (read_premises, "premises", {"premises_id": "P1"}),
    (read_villages, "villages", {"village_id": "V1"}),
    (read_transmitters, "broadcast", {"tx_id": "T1"}),
])
def test_missing_lon_lat_names_the_options(tmp_path, reader, section, row):
    data = {k: v for k, v in row.items() if k not in ("x", "y")}
    path = tmp_path / "t.csv"
    pd.DataFrame([{**data, "Longitude": 2.35, "Latitude": 48.85}]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="missing coordinate columns") as info:
        reader(path, crs="EPSG:4326")
    msg = str(info.value)
    assert f"set lon_column/lat_column in [inputs.{section}] to name yours: " \
           f'lon_column = "Longitude", lat_column = "Latitude"' in msg
    pd.DataFrame([{**data, "east": 2.35, "north": 48.85}]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=rf"set lon_column/lat_column in \[inputs.{section}\] to name yours$"):
        reader(path, crs="EPSG:4326")
