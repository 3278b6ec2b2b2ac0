"""Fuzzing every input a scenario accepts: a malformed file is answered by a CitycovError whose
message is ONE line naming the file (and the line or feature and the column where the fault is
one cell), or it is accepted, any CitycovWarning naming the file; never another exception (a
traceback) and never a hang.

Most cases call the readers in process; a sample runs end to end through the CLI on the tiny
scenario (exit code 1 and one ``citycov: error:`` line, or exit 0 with the warning repeated in
``report.md``).  Hypothesis mutates valid tables (cells blanked, wrong types, NaN/inf/huge
numbers, columns dropped, duplicate and conflicting keys, extra or missing fields, header only,
truncation, random, NUL and non-UTF-8 bytes, BOM, CRLF, another delimiter); it runs
derandomized (a fixed seed) without a deadline, so the suite is deterministic.

Cases per input kind (hypothesis examples + parametrized cases); ``test_plan_matches_docstring``
keeps this table true and the session summary prints the counts actually run:

=====================  ===========
input kind             cases
=====================  ===========
scenario TOML          30
sectors CSV            40
WLAN CSV               16
broadcast CSV          24
fibre nodes CSV        16
premises CSV           16
villages CSV           20
census CSV             24
household sizes CSV    12
measurements CSV       30
OpenCelliD CSV         20
districts GeoJSON      24
claims GeoJSON         20
fibre routes GeoJSON   12
GeoJSON geometries     33
GeoPackage/Shapefile   16
rasters                30
antenna patterns       30
listed cases           14
CLI end to end         5
total                  432
=====================  ===========
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from citycov.config import load_scenario
from citycov.engine.antenna import sector_pattern_msi
from citycov.errors import CitycovError, CitycovWarning
from citycov.grid import GridSpec
from citycov.io import (
    read_dem,
    read_districts,
    read_fibre_nodes,
    read_fibre_routes,
    read_population,
    read_sectors,
    read_wlan,
)
from citycov.io.antenna_patterns import read_pattern_folder
from citycov.io.broadcast import read_transmitters
from citycov.io.claims import read_claims
from citycov.io.clutter import read_clutter
from citycov.io.district_tables import read_district_values
from citycov.io.fibre import read_premises
from citycov.io.measurements import read_measurements
from citycov.io.msi import format_msi, read_msi
from citycov.io.opencellid import read_opencellid
from citycov.io.villages import check_within_districts, read_villages

from .conftest import UTM49, X0, Y0, make_tiny, write_raster

ANALYSIS = pyproj.CRS(UTM49)
HANG_S = 60
"""A reader that takes longer than this on a file of a few lines hangs (a fuzz failure)."""

# -- the plan: examples per hypothesis test, parametrized cases ------------------------------------

EXAMPLES = {"sectors CSV": 40, "WLAN CSV": 16, "broadcast CSV": 24, "fibre nodes CSV": 16, "premises CSV": 16,
            "villages CSV": 20, "census CSV": 24, "household sizes CSV": 12, "measurements CSV": 30,
            "OpenCelliD CSV": 20, "districts GeoJSON": 24, "claims GeoJSON": 20, "fibre routes GeoJSON": 12,
            "scenario TOML": 30, "antenna patterns": 24}
COUNTS: collections.Counter[str] = collections.Counter()


SCALE = float(os.environ.get("CITYCOV_FUZZ_SCALE", "1"))
"""``CITYCOV_FUZZ_SCALE=20`` runs 20 times the examples with fresh random seeds (a deeper, not
deterministic search); the default 1 is the deterministic suite."""


def fuzz_settings(kind: str) -> settings:
    return settings(max_examples=max(1, round(EXAMPLES[kind] * SCALE)), deadline=None, derandomize=SCALE == 1,
                    database=None,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink), print_blob=False,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request):
    """Write the cases run per input kind to the terminal summary."""

    class Summary:
        @staticmethod
        def pytest_terminal_summary(terminalreporter) -> None:
            if not COUNTS:
                return
            terminalreporter.section("fuzz cases per input kind (tests/test_fuzz_inputs.py)")
            for kind, n in sorted(COUNTS.items()):
                if n <= 0:
                    continue
                terminalreporter.write_line(f"{kind:<24} {n:>5}")
            terminalreporter.write_line(f"{'total':<24} {sum(COUNTS.values()):>5}")

    name = "citycov-fuzz-counts"
    if not request.config.pluginmanager.has_plugin(name):
        request.config.pluginmanager.register(Summary(), name)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


_serial = iter(range(10**9))


def fresh(work: Path, name: str) -> Path:
    """A new folder for one case."""
    folder = work / f"{next(_serial):05d}"
    folder.mkdir()
    return folder / name


# -- the contract -------------------------------------------------------------------------------

class HangError(Exception):
    """A reader ran past HANG_S (not a CitycovError: the test fails)."""


@contextlib.contextmanager
def no_hang(seconds: int = HANG_S):
    def alarm(signum, frame):
        raise HangError(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    error: str | None
    warnings: list[str] = field(default_factory=list)


def contract(call, names: list[str | Path], *, where: str | None = None, columns: list[str] | None = None,
             kind: str) -> Outcome:
    """Run ``call``: a CitycovError must be one line naming one of ``names``; and, when the case
    broke one cell (``where``: ``line 4`` / ``feature 2``), that place and one of ``columns``.
    Any other exception propagates (the test fails); so does a hang."""
    COUNTS[kind] += 1
    texts = [str(n) for n in names]
    with no_hang(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
            error = None
        except CitycovError as exc:
            error = str(exc)
    found = [str(w.message) for w in caught if issubclass(w.category, CitycovWarning)]
    for text in found:
        assert "\n" not in text, text
        assert any(t in text for t in texts), f"warning does not name the file: {text}"
    if error is None:
        return Outcome(None, found)
    assert error.strip() and "\n" not in error and "\r" not in error, f"not one line: {error!r}"
    assert any(t in error for t in texts), f"error does not name the file {texts}: {error}"
    if where is not None:
        assert re.search(rf"\b{where}\b", error), f"error does not name {where}: {error}"
        if columns:  # a column by name, or by its byte in the line (undecodable or NUL bytes)
            assert any(c in error for c in columns) or re.search(rf"\b{where}, byte \d+", error), \
                f"error names no column of {columns}: {error}"
    return Outcome(error, found)


# -- mutations of a CSV table ---------------------------------------------------------------------

NASTY = ["", " ", "NaN", "nan", "inf", "-inf", "1e308", "-1e308", "1e999", "0", "-1", "-0", "abc", "TRUE", "None",
         "NULL", "#N/A", "1,5", '"', "'", "\n", "a\nb", "ü", "中文", "9" * 30, "0x10", "1_000", "１２", "\t", ";",
         "2024-13-45", "9999-12-31 23:59:59", "0001-01-01", "1e-320", "3.5", "500", "-999"]
VALUES = st.one_of(st.sampled_from(NASTY), st.text(max_size=6),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(-(2**70), 2**70).map(str))


@dataclass(frozen=True)
class Op:
    name: str
    args: tuple = ()


def table_ops(n_rows: int, n_cols: int) -> st.SearchStrategy[Op]:
    row = st.integers(1, n_rows)
    col = st.integers(0, n_cols - 1)
    frac = st.floats(0.0, 1.0)
    return st.one_of(
        st.builds(lambda r, c, v: Op("cell", (r, c, v)), row, col, VALUES),
        st.builds(lambda c: Op("drop_column", (c,)), col),
        st.builds(lambda r: Op("duplicate_row", (r,)), row),
        st.builds(lambda a, b, c: Op("copy_cell", (a, b, c)), row, row, col),
        st.just(Op("header_only")),
        st.builds(lambda c, d: Op("rename_column", (c, d)), col, st.one_of(st.sampled_from(["", " ", "x"]), col)),
        st.builds(lambda r: Op("extra_field", (r,)), row),
        st.builds(lambda r: Op("short_row", (r,)), row),
        st.builds(lambda r: Op("blank_line", (r,)), row),
        st.builds(lambda d: Op("delimiter", (d,)), st.sampled_from([";", "\t", "|"])),
        st.just(Op("bom")),
        st.just(Op("crlf")),
        st.builds(lambda f: Op("truncate", (f,)), frac),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.binary(min_size=1, max_size=8)),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\x00",
                                                                                 b"\xd6\xd0\xce\xc4", b"\x80\x80"])),
        st.just(Op("latin1")),
        st.just(Op("empty")),
    )


def csv_variant(rows: list[list[str]]) -> st.SearchStrategy[tuple[list[Op], bool]]:
    """Lists of mutations of ``rows`` (header + data); the flag says the case is one cell edit."""
    ops = table_ops(len(rows) - 1, len(rows[0]))
    single = st.builds(lambda r, c, v: [Op("cell", (r, c, v))], st.integers(1, len(rows) - 1),
                       st.integers(0, len(rows[0]) - 1), VALUES)
    return st.one_of(single.map(lambda o: (o, True)), st.lists(ops, min_size=1, max_size=3).map(lambda o: (o, False)))


def render_csv(rows: list[list[str]], ops: list[Op]) -> bytes:
    rows = [list(r) for r in rows]
    delimiter, bom, crlf, blank_after = ",", False, False, set()
    byte_ops = []
    for op in ops:
        n_cols = len(rows[0]) if rows else 0
        if op.name == "cell" and len(rows) > op.args[0] and op.args[1] < len(rows[op.args[0]]):
            rows[op.args[0]][op.args[1]] = op.args[2]
        elif op.name == "drop_column" and n_cols > 1:
            c = op.args[0] % n_cols
            rows = [r[:c] + r[c + 1:] for r in rows]
        elif op.name == "duplicate_row" and len(rows) > op.args[0]:
            rows.append(list(rows[op.args[0]]))
        elif op.name == "copy_cell" and len(rows) > max(op.args[0], op.args[1]) and n_cols:
            c = op.args[2] % n_cols
            if c < len(rows[op.args[0]]) and c < len(rows[op.args[1]]):
                rows[op.args[1]][c] = rows[op.args[0]][c]
        elif op.name == "header_only":
            rows = rows[:1]
        elif op.name == "rename_column" and n_cols:
            c, new = op.args[0] % n_cols, op.args[1]
            rows[0][c] = rows[0][new % n_cols] if isinstance(new, int) else new
        elif op.name == "extra_field" and len(rows) > op.args[0]:
            rows[op.args[0]].append("7")
        elif op.name == "short_row" and len(rows) > op.args[0] and len(rows[op.args[0]]) > 1:
            rows[op.args[0]].pop()
        elif op.name == "blank_line":
            blank_after.add(op.args[0])
        elif op.name == "delimiter":
            delimiter = op.args[0]
        elif op.name == "bom":
            bom = True
        elif op.name == "crlf":
            crlf = True
        else:
            byte_ops.append(op)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    for i, r in enumerate(rows):
        writer.writerow(r)
        if i in blank_after:
            out.write("\r\n" if crlf else "\n")
    text = out.getvalue()
    data = ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8")
    return apply_byte_ops(data, byte_ops, text)


def apply_byte_ops(data: bytes, ops: list[Op], text: str = "") -> bytes:
    for op in ops:
        if op.name == "truncate":
            data = data[:int(len(data) * op.args[0])]
        elif op.name == "insert_bytes":
            k = int(len(data) * op.args[0])
            data = data[:k] + op.args[1] + data[k:]
        elif op.name == "latin1":
            data = (text or data.decode("utf-8", errors="replace")).replace("e", "é", 1).encode("latin-1",
                                                                                                 errors="replace")
        elif op.name == "empty":
            data = b""
    return data


def cell_place(rows: list[list[str]], ops: list[Op]) -> tuple[str, list[str]]:
    """``line N`` and the column of a one-cell case (header = line 1)."""
    r, c, _ = ops[0].args
    return f"line {r + 1}", [rows[0][c]]


def fuzz_csv(work: Path, kind: str, rows: list[list[str]], data: tuple[list[Op], bool], read,
             suffix: str = ".csv") -> Outcome:
    ops, single = data
    if single and "\r" in ops[0].args[2]:
        single = False  # csv.writer leaves a lone CR unquoted: a line break, so the row moves down
    path = fresh(work, f"{kind.split()[0].lower()}{suffix}")
    path.write_bytes(render_csv(rows, ops))
    where, columns = cell_place(rows, ops) if single else (None, None)
    return contract(lambda: read(path), [path], where=where, columns=columns, kind=kind)


def table(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.strip().splitlines()]


# -- valid tables ---------------------------------------------------------------------------------

SECTORS = table("""
site_id,sector_id,operator,technology,freq_mhz,bandwidth_mhz,lon,lat,height_m,eirp_dbm,azimuth_deg,downtilt_deg,h_beamwidth_deg,v_beamwidth_deg,scs_khz
S1,S1-1,Mobile,4G,1850,20,113.30,23.10,30,60,0,4,65,7,
S1,S1-2,Mobile,4G,1850,20,113.30,23.10,30,60,120,4,65,7,
S2,S2-1,Unicom,5G,3500,100,113.31,23.11,35,75,,6,360,10,30
S3,S3-1,Telecom,3G,2140,5,113.32,23.12,25,58,240,4,65,7,
""")
WLAN = table("""
ap_id,operator,freq_mhz,height_m,eirp_dbm,lon,lat
AP1,City,2437,4,20,113.30,23.10
AP2,City,5180,5,23,113.31,23.11
AP3,Mall,2412,3,20,113.32,23.12
""")
BROADCAST = table("""
tx_id,service,operator,freq_mhz,height_m,erp_w,eirp_dbm,azimuth_deg,h_beamwidth_deg,v_beamwidth_deg,downtilt_deg,polarisation,lon,lat
DTV-01,dtv,GDTV,554,450,10000,,,,,,h,113.30,23.10
PDT-01,trunking,Police,851,60,,50,90,65,10,3,v,113.31,23.11
PDT-02,trunking,Police,853,40,50,,,,,,,113.32,23.12
""")
NODES = table("""
node_id,kind,ports,lon,lat
N1,olt,4096,113.30,23.10
N2,cabinet,288,113.31,23.11
N3,splitter,32,113.32,23.12
""")
PREMISES = table("""
premises_id,households,ftth_ready,lon,lat
P1,12,yes,113.30,23.10
P2,1.5,false,113.31,23.11
P3,40,1,113.32,23.12
""")
VILLAGES = table("""
village_id,kind,lon,lat
V001,village,113.30,23.10
V002,village,113.31,23.11
T001,town,113.32,23.12
""")
CENSUS = table("""
district_id,population,name
1,1250000,Yuexiu
2,980000,Haizhu
3,450000,Liwan
""")
SIZES = table("""
district_id,persons_per_household
1,2.6
2,2.9
3,3.1
""")
MEASUREMENTS = table("""
timestamp,lon,lat,accuracy_m,technology,operator,download_mbps,upload_mbps,latency_ms,environment,rsrp_dbm
2024-05-01 08:30:00,113.30,23.10,5,4G,Mobile,42.5,10.1,35,outdoor,-95
2024-05-01T09:30:00Z,113.31,23.11,8,5G,Unicom,310,60,18,in-vehicle,-88
2024-05-02 17:00:00,113.32,23.12,12,LTE,Telecom,0,0,60000,0,
2024-05-03 07:15:00+08:00,113.33,23.13,3,NR,Mobile,512,80,12,outdoor_stationary,-101
""")
OCID = table("""
radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal
LTE,460,0,9350,123456789,100,113.30,23.10,1000,12,1,1459692994,1716193711,0
NR,460,1,9351,5123456789,200,113.31,23.11,800,4,1,1459692994,1716193711,0
UMTS,460,1,9351,27481,0,113.32,23.12,1500,30,1,1459692994,1716193711,0
GSM,460,0,9350,4321,0,113.33,23.13,2000,3,1,1459692994,1716193711,0
""")
CENSUS_IDS = ["1", "2", "3"]
DISTRICT_AREA = gpd.GeoDataFrame(geometry=[shapely.box(113.2, 23.0, 113.4, 23.2)], crs="EPSG:4326").to_crs(ANALYSIS)


def read_villages_in_area(path: Path) -> None:
    frame = read_villages(path, crs="EPSG:4326", to_crs=ANALYSIS)
    check_within_districts(frame, DISTRICT_AREA, source=path)


CSV_READERS = {
    "sectors CSV": (SECTORS, lambda p: read_sectors(p, crs="EPSG:4326", to_crs=ANALYSIS)),
    "WLAN CSV": (WLAN, lambda p: read_wlan(p, crs="gcj02", to_crs=ANALYSIS)),
    "broadcast CSV": (BROADCAST, lambda p: read_transmitters(p, crs="EPSG:4326", to_crs=ANALYSIS)),
    "fibre nodes CSV": (NODES, lambda p: read_fibre_nodes(p, crs="EPSG:4326", to_crs=ANALYSIS)),
    "premises CSV": (PREMISES, lambda p: read_premises(p, crs="EPSG:4326", to_crs=ANALYSIS)),
    "villages CSV": (VILLAGES, read_villages_in_area),
    "census CSV": (CENSUS, lambda p: read_district_values(p, CENSUS_IDS, id_column="district_id",
                                                           value_column="population", lo=0.0, hi=1e9, lo_open=True)),
    "household sizes CSV": (SIZES, lambda p: read_district_values(p, CENSUS_IDS, id_column="district_id",
                                                                   value_column="persons_per_household", lo=0.5,
                                                                   hi=20.0)),
    "measurements CSV": (MEASUREMENTS, lambda p: read_measurements(p, crs=ANALYSIS)),
    "OpenCelliD CSV": (OCID, lambda p: read_opencellid(p, crs=ANALYSIS)),
}


@pytest.mark.parametrize("kind", list(CSV_READERS))
def test_valid_tables_are_read_without_error(kind, work):
    rows, read = CSV_READERS[kind]
    outcome = fuzz_csv(work, f"valid {kind}", rows, ([], False), read)
    COUNTS[f"valid {kind}"] -= 1  # the baseline is not a fuzz case
    assert outcome.error is None, outcome.error


def _csv_test(kind: str):
    rows, read = CSV_READERS[kind]

    @fuzz_settings(kind)
    @given(data=csv_variant(rows))
    def test(work, data):
        fuzz_csv(work, kind, rows, data, read)

    test.__name__ = "test_fuzz_" + re.sub(r"\W+", "_", kind.lower()).strip("_")
    return test


test_fuzz_sectors_csv = _csv_test("sectors CSV")
test_fuzz_wlan_csv = _csv_test("WLAN CSV")
test_fuzz_broadcast_csv = _csv_test("broadcast CSV")
test_fuzz_fibre_nodes_csv = _csv_test("fibre nodes CSV")
test_fuzz_premises_csv = _csv_test("premises CSV")
test_fuzz_villages_csv = _csv_test("villages CSV")
test_fuzz_census_csv = _csv_test("census CSV")
test_fuzz_household_sizes_csv = _csv_test("household sizes CSV")
test_fuzz_measurements_csv = _csv_test("measurements CSV")
test_fuzz_opencellid_csv = _csv_test("OpenCelliD CSV")


# -- the listed tracebacks and silent accepts (hardening issue, item 7) ----------------------------

def _csv_text(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in rows) + "\n"


M_HEADER = ",".join(MEASUREMENTS[0])
LISTED = {  # case -> (file name, content, reader, expected fragment; None: accepted with this warning)
    "sectors header only": ("sectors.csv", _csv_text(SECTORS[:1]), CSV_READERS["sectors CSV"][1],
                            "has a header and no rows; expected at least one sector"),
    "broadcast header only": ("broadcast.csv", _csv_text(BROADCAST[:1]), CSV_READERS["broadcast CSV"][1],
                              "has a header and no rows; expected at least one transmitter"),
    "census empty": ("census.csv", "", CSV_READERS["census CSV"][1], "is empty (0 bytes)"),
    "census zero population": ("census.csv", "district_id,population\n1,0\n2,5\n3,7\n", CSV_READERS["census CSV"][1],
                               "district 1: population missing or outside 0 (excluded)..1e+09 (found 0) at line 2"),
    "census conflicting rows": ("census.csv", "district_id,population\n1,100\n2,5\n3,7\n1,200\n",
                                CSV_READERS["census CSV"][1],
                                "district_id 1: given on 2 lines (line 2, line 5) with conflicting population "
                                "[100, 200]"),
    "measurements far dates": ("tests.csv", _csv_text(MEASUREMENTS[:2]) + "9999-12-31 23:59:59,113.3,23.1,5,4G,A,1,1,"
                               "30,outdoor,\n0001-01-01,113.3,23.1,5,4G,A,1,1,30,outdoor,\n",
                               CSV_READERS["measurements CSV"][1],
                               ("warning", "2 of 3 test records dropped (timestamp 2) at line 3, line 4")),
    "measurements only far dates": ("tests.csv", M_HEADER + "\n2262-04-12,113.3,23.1,5,4G,A,1,1,30,outdoor,\n",
                                    CSV_READERS["measurements CSV"][1],
                                    "all 1 test records are unusable (timestamp 1) at line 2"),
    "measurements header only": ("tests.csv", M_HEADER + "\n", CSV_READERS["measurements CSV"][1],
                                 "has a header and no rows; expected at least one test record"),
    "district ring not closed": ("districts.geojson",
                                 None, None, "geometry cannot be built at feature 2"),
    "district names not UTF-8": ("districts.geojson", None, None, "line 1, byte"),
    "villages duplicate ids": ("villages.csv", "village_id,lon,lat\nV1,113.3,23.1\nV1,113.31,23.11\n",
                               read_villages_in_area, "village_id: duplicate values ['V1'] at line 2, line 3"),
    "villages blank id": ("villages.csv", "village_id,lon,lat\nV1,113.3,23.1\n ,113.31,23.11\n",
                          read_villages_in_area, "village_id: empty at line 3"),
    "villages header only": ("villages.csv", "village_id,kind,lon,lat\n", read_villages_in_area,
                             "has a header and no rows; expected at least one village"),
    "villages all outside": ("villages.csv", "village_id,lon,lat\nV1,114.3,23.1\nV2,114.31,23.11\n",
                             read_villages_in_area, "all 2 villages lie outside the districts (line 2, line 3)"),
}


@pytest.mark.parametrize("case", list(LISTED))
def test_listed_tracebacks_and_silent_accepts(case, work):
    name, content, read, expected = LISTED[case]
    path = fresh(work, name)
    if name == "districts.geojson":
        ops = ([Op("geometry", (1, "unclose_ring"))] if "ring" in case
               else [Op("prop", (2, "name_en", "Café")), Op("latin1")])
        path.write_bytes(render_json(DISTRICTS_JSON, ops))
        read = JSON_READERS["districts GeoJSON"][1]
    else:
        path.write_text(content, encoding="utf-8")
    outcome = contract(lambda: read(path), [path], kind="listed cases")
    if isinstance(expected, tuple):
        assert outcome.error is None and any(expected[1] in w for w in outcome.warnings), outcome
    else:
        assert outcome.error is not None and expected in outcome.error, outcome


# -- GeoJSON --------------------------------------------------------------------------------------

def _feature(props: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _square(x: float, y: float, d: float = 0.05) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


DISTRICTS_JSON = [_feature({"adcode": "440103", "name_en": "Liwan", "name": "荔湾区"}, _square(113.20, 23.10)),
                  _feature({"adcode": "440104", "name_en": "Yuexiu", "name": "越秀区"}, _square(113.25, 23.10)),
                  _feature({"adcode": "440105", "name_en": "Haizhu", "name": "海珠区"}, _square(113.30, 23.05))]
CLAIMS_JSON = [_feature({"providerid": "P1", "technology": "4G", "mindown": 10, "minup": 1, "environmnt": 0,
                         "operator": "Mobile"}, _square(113.20, 23.10)),
               _feature({"providerid": "P2", "technology": "500", "mindown": 35, "minup": 3,
                         "environmnt": "in_vehicle", "operator": "Unicom"}, _square(113.25, 23.10, 0.02))]
ROUTES_JSON = [_feature({"route_id": "R1"}, {"type": "LineString", "coordinates": [[113.2, 23.1], [113.3, 23.1]]}),
               _feature({"route_id": "R2"}, {"type": "MultiLineString",
                                             "coordinates": [[[113.2, 23.1], [113.2, 23.2]],
                                                             [[113.25, 23.1], [113.3, 23.15]]]})]
JSON_VALUES = st.one_of(st.sampled_from([None, "", " ", 0, -1, 1e308, -1e308, True, [], {}, "中文", "abc",
                                         "9" * 30, 2**70]),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))
GEOMETRY_EDITS = ["unclose_ring", "null", "point", "empty", "huge", "bowtie", "nan_token", "short_ring",
                  "missing_coordinates", "wrong_type", "nested_garbage"]


def _scaled(coords: Any, factor: float) -> Any:
    return [_scaled(c, factor) for c in coords] if isinstance(coords, list) else coords * factor


def _edit_geometry(geometry: dict | None, how: str) -> Any:
    g = json.loads(json.dumps(geometry))
    if how == "null":
        return None
    if how == "point":
        return {"type": "Point", "coordinates": [113.3, 23.1]}
    if not isinstance(g, dict) or not isinstance(g.get("coordinates"), list) or not g["coordinates"]:
        return g  # already broken: a second edit leaves it
    if how == "empty":
        return {"type": g["type"], "coordinates": []}
    if how == "missing_coordinates":
        return {"type": g["type"]}
    if how == "wrong_type":
        return {"type": "Hexagon", "coordinates": g["coordinates"]}
    if how == "nested_garbage":
        return {"type": g["type"], "coordinates": "abc"}
    if how == "huge":
        return {"type": g["type"], "coordinates": _scaled(g["coordinates"], 1e306)}
    if g["type"] != "Polygon":
        return {"type": g["type"], "coordinates": [[1e400, 2]] if how == "nan_token" else []}
    ring = g["coordinates"][0]
    if not isinstance(ring, list) or len(ring) < 4:
        return g
    if how == "unclose_ring":
        g["coordinates"][0] = ring[:-1]
    elif how == "bowtie":
        g["coordinates"][0] = [ring[0], ring[2], ring[1], ring[3], ring[0]]
    elif how == "short_ring":
        g["coordinates"][0] = [ring[0], ring[1], ring[0]]
    elif how == "nan_token":
        g["coordinates"][0][1] = ["NaN", 23.1]
    return g


def json_ops(n: int, keys: list[str]) -> st.SearchStrategy[Op]:
    feat = st.integers(0, n - 1)
    frac = st.floats(0.0, 1.0)
    return st.one_of(
        st.builds(lambda i, k, v: Op("prop", (i, k, v)), feat, st.sampled_from(keys), JSON_VALUES),
        st.builds(lambda i, k: Op("drop_prop", (i, k)), feat, st.sampled_from(keys)),
        st.builds(lambda k: Op("drop_prop_all", (k,)), st.sampled_from(keys)),
        st.builds(lambda i, h: Op("geometry", (i, h)), feat, st.sampled_from(GEOMETRY_EDITS)),
        st.builds(lambda i: Op("duplicate_feature", (i,)), feat),
        st.just(Op("no_features")),
        st.sampled_from([Op("crs", ("EPSG:3857",)), Op("crs", ("EPSG:999999",)), Op("crs", ("garbage",))]),
        st.just(Op("not_a_collection")),
        st.builds(lambda f: Op("truncate", (f,)), frac),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.binary(min_size=1, max_size=6)),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.sampled_from([b"\xff", b"\xe9", b"\x00"])),
        st.just(Op("latin1")),
        st.just(Op("bom")),
        st.just(Op("empty")),
    )


def render_json(features: list[dict], ops: list[Op]) -> bytes:
    doc: Any = {"type": "FeatureCollection", "features": json.loads(json.dumps(features))}
    byte_ops, bom = [], False
    for op in ops:
        feats = doc.get("features", []) if isinstance(doc, dict) else []
        if op.name == "prop" and op.args[0] < len(feats):
            feats[op.args[0]]["properties"][op.args[1]] = op.args[2]
        elif op.name == "drop_prop" and op.args[0] < len(feats):
            feats[op.args[0]]["properties"].pop(op.args[1], None)
        elif op.name == "drop_prop_all":
            for f in feats:
                f["properties"].pop(op.args[0], None)
        elif op.name == "geometry" and op.args[0] < len(feats):
            feats[op.args[0]]["geometry"] = _edit_geometry(feats[op.args[0]]["geometry"], op.args[1])
        elif op.name == "duplicate_feature" and op.args[0] < len(feats):
            feats.append(json.loads(json.dumps(feats[op.args[0]])))
        elif op.name == "no_features" and isinstance(doc, dict):
            doc["features"] = []
        elif op.name == "crs" and isinstance(doc, dict):
            doc["crs"] = {"type": "name", "properties": {"name": op.args[0]}}
        elif op.name == "not_a_collection":
            doc = feats[0] if feats else {"type": "Nothing"}
        elif op.name == "bom":
            bom = True
        else:
            byte_ops.append(op)
    text = json.dumps(doc, ensure_ascii=False).replace('"NaN"', "NaN").replace("Infinity", "1e400")
    data = ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8")
    return apply_byte_ops(data, byte_ops, text)


def json_variant(features: list[dict]) -> st.SearchStrategy[tuple[list[Op], bool]]:
    keys = sorted({k for f in features for k in f["properties"]})
    ops = json_ops(len(features), keys)
    single = st.builds(lambda i, k, v: [Op("prop", (i, k, v))], st.integers(0, len(features) - 1),
                       st.sampled_from(keys), JSON_VALUES)
    return st.one_of(single.map(lambda o: (o, True)), st.lists(ops, min_size=1, max_size=3).map(lambda o: (o, False)))


JSON_READERS = {
    "districts GeoJSON": (DISTRICTS_JSON, lambda p: read_districts(p, to_crs=ANALYSIS)),
    "claims GeoJSON": (CLAIMS_JSON, lambda p: read_claims(p, crs=ANALYSIS)),
    "fibre routes GeoJSON": (ROUTES_JSON, lambda p: read_fibre_routes(p, to_crs=ANALYSIS)),
}


@pytest.mark.parametrize("kind", list(JSON_READERS))
def test_valid_geojson_is_read_without_error(kind, work):
    features, read = JSON_READERS[kind]
    path = fresh(work, "valid.geojson")
    path.write_bytes(render_json(features, []))
    outcome = contract(lambda: read(path), [path], kind="valid")
    COUNTS["valid"] -= 1
    assert outcome.error is None, outcome.error


def _json_test(kind: str):
    features, read = JSON_READERS[kind]

    @fuzz_settings(kind)
    @given(data=json_variant(features))
    def test(work, data):
        ops, single = data
        path = fresh(work, f"{kind.split()[0]}.geojson")
        path.write_bytes(render_json(features, ops))
        where = columns = None
        if single:
            where, columns = f"feature {ops[0].args[0] + 1}", [ops[0].args[1]]
        contract(lambda: read(path), [path], where=where, columns=columns, kind=kind)

    test.__name__ = "test_fuzz_" + re.sub(r"\W+", "_", kind.lower()).strip("_")
    return test


@pytest.mark.parametrize("how", GEOMETRY_EDITS)
@pytest.mark.parametrize("kind", list(JSON_READERS))
def test_fuzz_geojson_geometries(kind, how, work):
    """Every broken geometry is refused naming its feature (here the first)."""
    features, read = JSON_READERS[kind]
    path = fresh(work, "broken.geojson")
    path.write_bytes(render_json(features, [Op("geometry", (0, how))]))
    outcome = contract(lambda: read(path), [path], kind="GeoJSON geometries")
    assert outcome.error is not None, f"{kind}: {how} accepted"
    if how != "nan_token" or kind != "fibre routes GeoJSON":  # 1e400 in a line: OGR refuses the JSON itself
        assert "feature 1" in outcome.error, outcome.error


test_fuzz_districts_geojson = _json_test("districts GeoJSON")
test_fuzz_claims_geojson = _json_test("claims GeoJSON")
test_fuzz_fibre_routes_geojson = _json_test("fibre routes GeoJSON")


# -- GeoPackage and Shapefile ---------------------------------------------------------------------

def _districts_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"adcode": ["440103", "440104"], "name_en": ["Liwan", "Yuexiu"],
                             "name": ["荔湾区", "越秀区"]},
                            geometry=[shapely.box(113.2, 23.1, 113.25, 23.15), shapely.box(113.25, 23.1, 113.3, 23.15)],
                            crs="EPSG:4326")


def _gpkg_bytes_attribute(path: Path) -> None:
    """Make feature 2's name_en bytes that are not UTF-8 (same length: the record stays valid)."""
    raw = path.read_bytes()
    assert raw.count(b"Yuexiu") == 1
    path.write_bytes(raw.replace(b"Yuexiu", b"Yuex\xe9u"))


def _write_vector_case(folder: Path, case: str) -> Path:
    frame = _districts_frame()
    gpkg, shp = folder / "districts.gpkg", folder / "districts.shp"
    if case == "gpkg blank id":
        frame.loc[1, "adcode"] = " "
    elif case == "gpkg duplicate id":
        frame.loc[1, "adcode"] = "440103"
    elif case == "gpkg null geometry":
        frame.loc[0, "geometry"] = None
    elif case == "gpkg bowtie":
        frame.loc[1, "geometry"] = shapely.Polygon([(113.2, 23.1), (113.3, 23.2), (113.3, 23.1), (113.2, 23.2)])
    elif case == "gpkg points":
        frame["geometry"] = shapely.points(frame.geometry.get_coordinates().groupby(level=0).first().to_numpy())
    elif case == "gpkg no features":
        frame = frame.iloc[:0]
    elif case == "gpkg no crs":
        frame = frame.set_crs(None, allow_override=True)
    if case.startswith("gpkg"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyogrio warns about the missing CRS: that is the case
            frame.to_file(gpkg, driver="GPKG", layer="districts")
        if case == "gpkg non-UTF-8 attribute":
            _gpkg_bytes_attribute(gpkg)
        elif case == "gpkg two layers":
            frame.to_file(gpkg, driver="GPKG", layer="other")
        elif case == "gpkg truncated":
            gpkg.write_bytes(gpkg.read_bytes()[:3000])
        elif case == "gpkg random bytes":
            gpkg.write_bytes(bytes(range(256)) * 8)
        elif case == "gpkg 0 bytes":
            gpkg.write_bytes(b"")
        return gpkg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_file(shp, driver="ESRI Shapefile", encoding="latin-1" if "latin" in case else "utf-8")
    if case == "shp missing dbf":
        shp.with_suffix(".dbf").unlink()
    elif case == "shp missing shx":
        shp.with_suffix(".shx").unlink()
    elif case == "shp truncated dbf":
        dbf = shp.with_suffix(".dbf")
        dbf.write_bytes(dbf.read_bytes()[:100])
    elif case == "shp no prj":
        shp.with_suffix(".prj").unlink()
    elif case == "shp latin-1 without cpg":
        shp.with_suffix(".cpg").unlink(missing_ok=True)
    return shp


VECTOR_CASES = ["gpkg blank id", "gpkg duplicate id", "gpkg null geometry", "gpkg bowtie", "gpkg points",
                "gpkg no features", "gpkg no crs", "gpkg non-UTF-8 attribute", "gpkg two layers", "gpkg truncated",
                "gpkg random bytes", "gpkg 0 bytes", "shp missing dbf", "shp missing shx", "shp truncated dbf",
                "shp no prj"]


@pytest.mark.parametrize("case", VECTOR_CASES)
def test_fuzz_gpkg_shapefile_districts(case, work):
    folder = fresh(work, "x").parent
    path = _write_vector_case(folder, case)
    outcome = contract(lambda: read_districts(path, to_crs=ANALYSIS), [path], kind="GeoPackage/Shapefile")
    must_fail = {"gpkg blank id", "gpkg duplicate id", "gpkg null geometry", "gpkg bowtie", "gpkg points",
                 "gpkg no features", "gpkg no crs", "gpkg non-UTF-8 attribute", "gpkg truncated", "gpkg random bytes",
                 "gpkg 0 bytes", "shp missing dbf", "shp missing shx", "shp truncated dbf", "shp no prj"}
    assert (outcome.error is not None) == (case in must_fail), outcome
    if case == "gpkg non-UTF-8 attribute":
        assert "feature 2, column 'name_en'" in outcome.error
    if case == "gpkg two layers":
        assert any("holds 2 layers" in w for w in outcome.warnings)


# -- rasters --------------------------------------------------------------------------------------

GRID = GridSpec.from_bounds((X0, Y0, X0 + 2000.0, Y0 + 2000.0), cell_m=100.0, crs=ANALYSIS)
RASTER_CASES = ["all nodata", "all NaN", "no CRS", "0 bytes", "truncated", "random bytes", "text", "inf cells",
                "huge values", "all zero"]
RASTER_KINDS = {
    "dem": lambda p: read_dem(p, GRID),
    "population": lambda p: read_population(p, GRID),
    "clutter": lambda p: read_clutter(p, GRID, loss_db={10: 5.0, 20: 12.0}),
}


def _write_raster_case(path: Path, kind: str, case: str) -> None:
    base = {"dem": 10.0, "population": 5.0, "clutter": 10.0}[kind]
    values = np.full((24, 24), base, dtype=np.float32)
    nodata = -9999.0
    crs = UTM49
    if case == "all nodata":
        values[:] = nodata
    elif case == "all NaN":
        values[:] = np.nan
        nodata = None
    elif case == "no CRS":
        crs = None
    elif case == "inf cells":
        values[3:5, 3:5] = np.inf
    elif case == "huge values":
        values[:] = 3.0e38
    elif case == "all zero":
        values[:] = 0.0
    profile_crs = crs
    if profile_crs is None:
        import rasterio
        from affine import Affine

        with rasterio.open(path, "w", driver="GTiff", height=24, width=24, count=1, dtype="float32",
                           transform=Affine(100.0, 0, X0 - 200.0, 0, -100.0, Y0 + 2200.0), nodata=nodata) as dst:
            dst.write(values, 1)
    else:
        write_raster(path, values, x0=X0 - 200.0, y1=Y0 + 2200.0, cell_m=100.0, nodata=nodata)
    if case == "0 bytes":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(path.read_bytes()[:600])
    elif case == "random bytes":
        path.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    elif case == "text":
        path.write_text("not a raster\n", encoding="utf-8")


@pytest.mark.parametrize("case", RASTER_CASES)
@pytest.mark.parametrize("kind", list(RASTER_KINDS))
def test_fuzz_rasters(kind, case, work):
    path = fresh(work, f"{kind}.tif")
    _write_raster_case(path, kind, case)
    outcome = contract(lambda: RASTER_KINDS[kind](path), [path], kind="rasters")
    if (kind, case) == ("dem", "all zero"):
        assert outcome.error is None, outcome.error  # sea level is terrain
        return
    assert outcome.error is not None, f"{kind} {case} accepted"
    if case in ("all nodata", "all NaN"):
        assert "has no valid cell" in outcome.error


# -- antenna patterns -----------------------------------------------------------------------------

MSI_LINES = format_msi(sector_pattern_msi(gain_dbi=17.0, h_beamwidth_deg=65.0)).splitlines()
MSI_VALUES = st.one_of(st.sampled_from(["", "nan", "inf", "-inf", "1e308", "-5", "abc", "360", "0", "-0", "1e999",
                                        "HORIZONTAL 360", "VERTICAL 2", "GAIN", "GAIN 17 dBx", "中文"]),
                       st.text(max_size=8))


def msi_ops() -> st.SearchStrategy[Op]:
    line = st.integers(0, len(MSI_LINES) - 1)
    frac = st.floats(0.0, 1.0)
    return st.one_of(
        st.builds(lambda i: Op("drop_line", (i,)), line),
        st.builds(lambda i: Op("duplicate_line", (i,)), line),
        st.builds(lambda i, v: Op("replace_value", (i, v)), line, MSI_VALUES),
        st.builds(lambda i, v: Op("replace_line", (i, v)), line, MSI_VALUES),
        st.builds(lambda a, b: Op("swap", (a, b)), line, line),
        st.builds(lambda f: Op("truncate", (f,)), frac),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.binary(min_size=1, max_size=6)),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.sampled_from([b"\xff", b"\xb0", b"\x00"])),
        st.just(Op("empty")),
    )


def render_msi(ops: list[Op]) -> bytes:
    lines = list(MSI_LINES)
    byte_ops = []
    for op in ops:
        if op.name == "drop_line" and op.args[0] < len(lines):
            del lines[op.args[0]]
        elif op.name == "duplicate_line" and op.args[0] < len(lines):
            lines.insert(op.args[0], lines[op.args[0]])
        elif op.name == "replace_value" and op.args[0] < len(lines):
            parts = lines[op.args[0]].split(None, 1)
            lines[op.args[0]] = f"{parts[0]} {op.args[1]}"
        elif op.name == "replace_line" and op.args[0] < len(lines):
            lines[op.args[0]] = op.args[1]
        elif op.name == "swap" and max(op.args) < len(lines):
            a, b = op.args
            lines[a], lines[b] = lines[b], lines[a]
        else:
            byte_ops.append(op)
    return apply_byte_ops(("\n".join(lines) + "\n").encode("utf-8"), byte_ops)


@fuzz_settings("antenna patterns")
@given(ops=st.lists(msi_ops(), min_size=1, max_size=3))
def test_fuzz_antenna_pattern_files(work, ops):
    path = fresh(work, "panel.msi")
    path.write_bytes(render_msi(ops))
    outcome = contract(lambda: read_msi(path), [path], kind="antenna patterns")
    if outcome.error is None:
        pattern = read_msi(path)
        assert np.isfinite(pattern.h_loss_db).all() and np.isfinite(pattern.v_loss_db).all()
        assert np.isfinite(pattern.gain_dbi)


FOLDER_CASES = ["empty folder", "two files one name", "only a subfolder", "an empty file", "binary file",
                "valid and broken"]


@pytest.mark.parametrize("case", FOLDER_CASES)
def test_fuzz_antenna_pattern_folders(case, work):
    folder = fresh(work, "patterns")
    folder.mkdir()
    good = "\n".join(MSI_LINES) + "\n"
    if case == "two files one name":
        (folder / "a.msi").write_text(good, encoding="utf-8")
        (folder / "a.pln").write_text(good, encoding="utf-8")
    elif case == "only a subfolder":
        (folder / "sub.msi").mkdir()
    elif case == "an empty file":
        (folder / "a.msi").write_bytes(b"")
    elif case == "binary file":
        (folder / "a.msi").write_bytes(bytes(range(256)))
    elif case == "valid and broken":
        (folder / "a.msi").write_text(good, encoding="utf-8")
        (folder / "b.msi").write_text(good.replace("GAIN", "GAINS"), encoding="utf-8")
    outcome = contract(lambda: read_pattern_folder(folder), [folder], kind="antenna patterns")
    assert outcome.error is not None


# -- the scenario TOML ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_folder(work) -> Path:
    tiny = make_tiny(work / "tiny_toml", extra='[inputs.census]\npath = "census.csv"\n')
    (tiny.folder / "census.csv").write_text("district_id,population\n1,100000\n", encoding="utf-8")
    return tiny.folder


TOML_VALUES = st.sampled_from(['"x"', "-1", "0", "1e999", "inf", "nan", "-inf", "[]", "{}", "true", '""',
                               '"EPSG:999999"', '"gcj02"', "1e308", '"../nope.csv"', '"/"', "[1, 2]", "'''a'''",
                               "\"\\ud800\"", "2024-01-01", '"中文"'])


def toml_ops(n: int) -> st.SearchStrategy[Op]:
    line = st.integers(0, n - 1)
    frac = st.floats(0.0, 1.0)
    return st.one_of(
        st.builds(lambda i: Op("drop_line", (i,)), line),
        st.builds(lambda i: Op("duplicate_line", (i,)), line),
        st.builds(lambda i, v: Op("toml_value", (i, v)), line, TOML_VALUES),
        st.builds(lambda i, v: Op("replace_line", (i, v)), line, st.text(max_size=10)),
        st.builds(lambda f: Op("truncate", (f,)), frac),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.binary(min_size=1, max_size=6)),
        st.builds(lambda f, b: Op("insert_bytes", (f, b)), frac, st.sampled_from([b"\xff", b"\xe9", b"\x00"])),
        st.just(Op("bom")),
        st.just(Op("empty")),
    )


@fuzz_settings("scenario TOML")
@given(data=st.data())
def test_fuzz_scenario_toml(tiny_folder, data):
    lines = (tiny_folder / "tiny.toml").read_text(encoding="utf-8").splitlines()
    ops = data.draw(st.lists(toml_ops(len(lines)), min_size=1, max_size=3))
    byte_ops, bom = [], False
    for op in ops:
        if op.name == "drop_line" and op.args[0] < len(lines):
            del lines[op.args[0]]
        elif op.name == "duplicate_line" and op.args[0] < len(lines):
            lines.insert(op.args[0], lines[op.args[0]])
        elif op.name == "toml_value" and op.args[0] < len(lines) and "=" in lines[op.args[0]]:
            key = lines[op.args[0]].split("=", 1)[0]
            lines[op.args[0]] = f"{key}= {op.args[1]}"
        elif op.name == "replace_line" and op.args[0] < len(lines):
            lines[op.args[0]] = op.args[1]
        elif op.name == "bom":
            bom = True
        else:
            byte_ops.append(op)
    raw = ("\ufeff" if bom else "").encode("utf-8") + apply_byte_ops(("\n".join(lines) + "\n").encode("utf-8"),
                                                                      byte_ops)
    path = tiny_folder / f"fuzz_{next(_serial):05d}.toml"
    path.write_bytes(raw)
    contract(lambda: load_scenario(path), [path], kind="scenario TOML")


# -- end to end through the CLI -------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "citycov", *args], capture_output=True, text=True, timeout=600)


def _cli_case(folder: Path, case: str) -> tuple[Path, str]:
    """Write the tiny scenario with one broken input; returns the scenario and the file to be named."""
    extra = "[accounting]\nuncertainty = false\n"
    if case == "villages partly outside":
        extra += '[inputs.villages]\npath = "villages.csv"\ncrs = "EPSG:32649"\nlon_column = "x"\nlat_column = "y"\n'
    if case == "census not UTF-8":
        extra += '[inputs.census]\npath = "census.csv"\n'
    tiny = make_tiny(folder, extra=extra)
    if case == "sectors header only":
        text = tiny.sectors.read_text(encoding="utf-8")
        tiny.sectors.write_text(text.splitlines()[0] + "\n", encoding="utf-8")
        return tiny.scenario, str(tiny.sectors)
    if case == "census not UTF-8":
        (folder / "census.csv").write_bytes(b"district_id,population\n1,12\xff00\n")
        return tiny.scenario, str(folder / "census.csv")
    if case == "dem all nodata":
        write_raster(folder / "dem.tif", np.full((140, 140), -9999.0, dtype=np.float32), x0=X0 - 2000.0,
                     y1=Y0 + 12_000.0, cell_m=100.0, nodata=-9999.0)
        return tiny.scenario, str(folder / "dem.tif")
    if case == "districts ring not closed":
        ring = [[X0, Y0], [X0 + 10_000.0, Y0], [X0 + 10_000.0, Y0 + 10_000.0], [X0, Y0 + 10_000.0]]
        doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:32649"}},
               "features": [_feature({"adcode": "1", "name_en": "Square", "name": "方形区"},
                                     {"type": "Polygon", "coordinates": [ring]})]}
        (folder / "districts.geojson").write_text(json.dumps(doc), encoding="utf-8")
        text = tiny.scenario.read_text(encoding="utf-8").replace("districts.gpkg", "districts.geojson")
        tiny.scenario.write_text(text, encoding="utf-8")
        return tiny.scenario, str(folder / "districts.geojson")
    assert case == "villages partly outside"
    (folder / "villages.csv").write_text(
        "village_id,kind,x,y\n"
        f"V1,village,{X0 + 1000},{Y0 + 1000}\nV2,village,{X0 + 9000},{Y0 + 9000}\n"
        f"V3,village,{X0 + 5000},{Y0 + 5000}\nV4,town,{X0 + 10_080},{Y0 + 5000}\n", encoding="utf-8")
    return tiny.scenario, str(folder / "villages.csv")


CLI_CASES = {
    "sectors header only": "has a header and no rows",
    "census not UTF-8": "line 2, byte 5",
    "dem all nodata": "has no valid cell",
    "districts ring not closed": "geometry cannot be built at feature 1",
    "villages partly outside": None,
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, str, Path]]:
    """Every CLI case, run at once (each ``subprocess.run``: most of a run is the import)."""
    base = tmp_path_factory.mktemp("cli")
    jobs = {}
    for i, case in enumerate(CLI_CASES):
        scenario, named = _cli_case(base / f"case{i}", case)
        jobs[case] = (scenario, named, base / f"case{i}" / "out")
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {case: pool.submit(run_cli, "-q", "run", str(scenario), "--out", str(out), "--no-progress",
                                     "--cell-m", "500") for case, (scenario, _, out) in jobs.items()}
        return {case: (futures[case].result(), named, out) for case, (_, named, out) in jobs.items()}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_fuzz_cli_end_to_end(case, cli_runs):
    COUNTS["CLI end to end"] += 1
    proc, named, out = cli_runs[case]
    assert "Traceback" not in proc.stderr, proc.stderr
    expected = CLI_CASES[case]
    if expected is None:
        assert proc.returncode == 0, proc.stderr
        report = (out / "report.md").read_text(encoding="utf-8")
        assert f"{named}: 1 of 4 villages lie outside every district (line 5) and are not counted" in report
        return
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("citycov: error:")]
    assert len(lines) == 1, proc.stderr
    assert named in lines[0] and expected in lines[0], lines[0]
    assert not out.exists() or not any(out.iterdir())


# -- the plan and its counts ----------------------------------------------------------------------

PARAMETRIZED = {"GeoPackage/Shapefile": len(VECTOR_CASES),
                "GeoJSON geometries": len(GEOMETRY_EDITS) * len(JSON_READERS),
                "rasters": len(RASTER_CASES) * len(RASTER_KINDS), "listed cases": len(LISTED),
                "antenna patterns": len(FOLDER_CASES), "CLI end to end": len(CLI_CASES)}


def planned() -> dict[str, int]:
    plan = collections.Counter(EXAMPLES)
    plan.update(PARAMETRIZED)
    return dict(plan)


def test_plan_matches_docstring():
    rows = dict(re.findall(r"^(\S.*?)\s{2,}(\d+)$", __doc__, flags=re.MULTILINE))
    table = {k: int(v) for k, v in rows.items() if k != "total"}
    assert table == planned()
    assert int(rows["total"]) == sum(planned().values()) >= 300


def test_counts_ran_as_planned():
    """Last in the module: when every fuzz test ran, at least the planned cases ran (hypothesis may
    run a few explicit or shrinking examples more, never fewer unless a strategy is exhausted)."""
    ran = {k: n for k, n in COUNTS.items() if n > 0 and not k.startswith("valid")}
    if set(ran) != set(planned()):
        pytest.skip(f"only part of the module ran ({sorted(ran)})")
    assert sum(ran.values()) >= 300
    for kind, n in planned().items():
        assert ran[kind] >= n * 0.9, (kind, ran[kind], n)

