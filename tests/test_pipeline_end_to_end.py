"""Tiny end-to-end scenarios that can be checked by hand.

One omni 900 MHz LTE site at the centre of a 10 km square district on flat ground with
uniform population (1,000 residents/km², so the suburban Hata class).  The covered share
must equal the analytic disc-over-square fraction π·R²/L², where R is where the Hata
suburban loss (worked out here from Hata 1980, independently of citycov's kernels)
reaches the RSRP budget.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import citycov
from citycov.accounting.districts import CITY_ID

from .conftest import X0, Y0, make_tiny, sector_row


def hata_suburban_radius_km(freq_mhz: float, hb_m: float, hm_m: float, max_loss_db: float) -> float:
    """Invert Hata's suburban formula L = A + B·log10(d) for d (Hata 1980, small/medium city a(hm))."""
    lf = math.log10(freq_mhz)
    a_hm = (1.1 * lf - 0.7) * hm_m - (1.56 * lf - 0.8)
    a = 69.55 + 26.16 * lf - 13.82 * math.log10(hb_m) - a_hm - 2.0 * math.log10(freq_mhz / 28.0) ** 2 - 5.4
    b = 44.9 - 6.55 * math.log10(hb_m)
    return 10.0 ** ((max_loss_db - a) / b)


def test_disc_over_square_matches_analytic_fraction(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    # RSRP per resource element: 61 dBm EIRP spread over 1,200 subcarriers (LTE 20 MHz)
    ref_eirp = 61.0 - 10.0 * math.log10(1200)
    r_km = hata_suburban_radius_km(900.0, 30.0, 1.5, ref_eirp - (-105.0))
    assert 3.0 < r_km < 4.0  # about 3.4 km: well inside the 5 km half-side
    expected = math.pi * r_km**2 / (tiny.side_m / 1000.0) ** 2
    city = res.table.loc[CITY_ID]
    assert city["population"] == pytest.approx(100.0 * tiny.density_per_km2, rel=1e-6)
    # Tolerance: 0.5 percentage points, the cell-centre discretisation of a 3.4 km disc
    # on 100 m cells (about 1,150 cells) is well below that.
    assert city["wireless_pct"] / 100.0 == pytest.approx(expected, abs=0.005)


def test_ftth_drop_distance_counts_cells_by_hand(tmp_path):
    # Node at the square's centre, a cell corner: cell centres sit at (±50, ±150, ±250) m.
    # Within 300 m: 8 per quadrant (all pairs except (250, 250)), so 32 cells x 10 residents.
    tiny = make_tiny(tmp_path / "t")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    assert int(res.rasters["ftth"].sum()) == 32
    city = res.table.loc[CITY_ID]
    assert city["households_passed"] == pytest.approx(32 * 10 / 2.5)
    assert city["households"] == pytest.approx(100 * 1000 / 2.5)


def test_targets_pass_fail_and_gap(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    by_metric = {r.target.metric: r for r in res.target_results if r.area_id == CITY_ID}
    wireless = by_metric["wireless_population"]
    assert not wireless.passed
    covered = res.table.loc[CITY_ID, "population_covered"]
    assert wireless.gap == math.ceil(0.8 * 100_000 - covered)
    assert by_metric["ftth_households"].gap == math.ceil(0.5 * 40_000 - 128)


def test_ridge_adds_hand_computed_knife_edge_loss(tmp_path):
    """A 100 m ridge 2 km east of the site: the cell 4 km east loses J(ν) − J(ν_smooth)
    relative to the cell 4 km west (P.526 eq. 31, geometry worked by hand)."""
    dem = np.full((140, 140), 10.0, dtype=np.float32)
    dem[:, 90] = 110.0  # x in [X0+7000, X0+7100): centre 2,000 m east of the site
    site = sector_row(x=X0 + 5050.0, y=Y0 + 5050.0)
    tiny = make_tiny(tmp_path / "t", dem_m=dem, sectors=[site], radio="floor_dbm = -160")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    rsrp = res.rasters["best_dbm"][1]
    row, col = res.grid.rowcol(np.array([X0 + 5050.0]), np.array([Y0 + 5050.0]))
    east = float(rsrp[row[0], col[0] + 40])
    west = float(rsrp[row[0], col[0] - 40])

    k_re = 4.0 / 3.0 * 6_371_000.0
    lam = 299_792_458.0 / 900e6

    def j(nu: float) -> float:
        return 0.0 if nu <= -0.78 else 6.9 + 20 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1)

    # Ridge: tx at 40 m, rx at 11.5 m, edge 110 m at d1 = 2 km of d = 4 km, plus earth bulge.
    h_edge = 110.0 + 2000 * 2000 / (2 * k_re) - (40.0 + (11.5 - 40.0) * 0.5)
    nu = h_edge * math.sqrt(2 * 4000 / (lam * 2000 * 2000))
    # Smooth earth: the last sample before the receiver (3.9 km) is the horizon point.
    h_smooth = 10.0 + 3900 * 100 / (2 * k_re) - (40.0 + (11.5 - 40.0) * 3900 / 4000)
    nu0 = h_smooth * math.sqrt(2 * 4000 / (lam * 3900 * 100))
    expected = j(nu) - j(nu0)
    assert expected == pytest.approx(27.5, abs=0.1)
    assert west - east == pytest.approx(expected, abs=0.05)
    # The west cell sees flat ground: exactly the Hata suburban level.
    lf = math.log10(900.0)
    a_hm = (1.1 * lf - 0.7) * 1.5 - (1.56 * lf - 0.8)
    loss = (69.55 + 26.16 * lf - 13.82 * math.log10(30) - a_hm + (44.9 - 6.55 * math.log10(30)) * math.log10(4.0)
            - 2 * math.log10(900 / 28) ** 2 - 5.4)
    assert west == pytest.approx(61.0 - 10 * math.log10(1200) - loss, abs=0.01)


def test_outputs_written_with_provenance(tmp_path, tiny):
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    paths = citycov.write_outputs(res, tmp_path / "out")
    for path in paths.values():
        assert (path.is_file() and path.stat().st_size > 0) or (path.is_dir() and any(path.iterdir()))
    report = paths["report.md"].read_text(encoding="utf-8")
    assert "SYNTHETIC INPUT" in report
    assert citycov.__version__ in report
    for rec in res.inputs:
        assert rec.sha256 in report
    import json

    doc = json.loads(paths["districts.json"].read_text(encoding="utf-8"))
    assert doc["provenance"]["synthetic_inputs"] == ["population"]
    assert [a["area_id"] for a in doc["areas"]] == ["1", "city"]
    import rasterio

    with rasterio.open(paths["rsrp_dbm.tif"]) as src:
        assert src.count == 3 and src.crs.to_epsg() == 32649
        assert src.tags()["SYNTHETIC_INPUTS"] == "population"
    assert not list(tmp_path.glob(".out-staging-*"))


def test_extrapolation_is_recorded_in_the_report(tmp_path, tiny):
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    assert any("below their 1 km minimum distance" in t for t in res.extrapolation)
    paths = citycov.write_outputs(res, tmp_path / "out")
    assert "Extrapolation: Okumura-Hata/COST-231 (1 sectors)" in paths["report.md"].read_text(encoding="utf-8")
