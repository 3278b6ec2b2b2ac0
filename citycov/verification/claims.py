"""The claims step of a run: challenge, three-way partition and calibration for every claim layer.

The pipeline step behind ``[inputs.claims]``/``[inputs.measurements]`` and ``[verification]``:

1. take the claim polygons (BDC-style layout, :mod:`citycov.io.claims`) and the speed/drive
   tests (unusable records dropped and counted, :mod:`citycov.io.measurements`) as read;
2. classify the tests against each claimed service layer (operator × technology ×
   environment × speed tier) on H3 and apply the challenge preset's geographic, temporal and
   testing thresholds (:mod:`citycov.verification.challenge`; the preset of ``[verification]``,
   ``fcc-2022`` by default, was loaded and checked by :func:`citycov.config.load_scenario`);
3. compare, per hexagon, district and city, the claim with citycov's own model (the
   operator's network at the scenario's level threshold for that technology) and with the
   measurement verdicts (:mod:`citycov.verification.partition`);
4. when tests carry a measured level, fit a calibration of the model (offset and slope
   against log-distance, cross-validated by hexagon, :mod:`citycov.verification.calibration`).

The model side compares *coverage at the level threshold*; the speed tier of a claim is
checked by the measurements only, until the engine models throughput.  Every output names
the preset, its version and source.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from citycov.config import VerificationConfig
from citycov.crs import WGS84
from citycov.engine.cellular import CellularResult
from citycov.errors import CitycovWarning
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts
from citycov.io.measurements import MeasurementSet
from citycov.verification.calibration import Calibration, fit_calibration, sample_model
from citycov.verification.challenge import (
    ChallengeResult,
    classify_tests,
    evaluate_challenges,
    hexagon_frame,
)
from citycov.verification.partition import FIELDS, claim_mask, verify

SUMMARY_FIELDS = ("claimed", "modelled", "claimed_not_modelled", "claimed_failed", "modelled_not_claimed",
                  "claimed_tested", "claimed_modelled_failed", "claimed_not_modelled_failed")


@dataclass
class ClaimsResult:
    """Everything the verification produced.

    ``hexes``: one row per (claim layer, resolution-8 hexagon) touched by a claim, the model or
    a test, with the three-way figures and the verdict (WGS84 hexagon polygons).
    ``summary``: one row per (claim layer, district) and the city.  ``challenged``: the
    challenged areas as BDC-like polygons (one MultiPolygon per layer, WGS84).
    ``calibration``: the fitted calibration (None without measured levels).
    """

    layers: pd.DataFrame
    hexes: gpd.GeoDataFrame
    summary: pd.DataFrame
    challenged: gpd.GeoDataFrame
    challenge: ChallengeResult
    drops: pd.DataFrame
    n_tests_read: int
    n_tests_kept: int
    calibration: Calibration | None = None
    notes: list[str] = field(default_factory=list)

    def verdict_counts(self) -> pd.DataFrame:
        """Hexagons per layer: evaluated, challenged (own verdict) and challenged with roll-up."""
        h = self.challenge.hexagons
        rows = []
        for layer in self.layers["layer"]:
            sel = h[h["layer"] == layer]
            rows.append({"layer": int(layer), "hexagons_tested": int(len(sel)),
                         "hexagons_challenged": int(sel["challenged"].sum()),
                         "parents_challenged": int(self.challenge.rollup.loc[
                             (self.challenge.rollup["layer"] == layer) & self.challenge.rollup["challenged"]
                         ].shape[0])})
        return pd.DataFrame(rows)

    def provenance(self) -> dict[str, Any]:
        p = self.challenge.preset
        return {
            "preset": {"name": p.name, "version": p.version, "source": p.source, "sha256": p.sha256},
            "rule": self.challenge.rule, "as_of": str(self.challenge.as_of),
            "tests_read": self.n_tests_read, "tests_kept": self.n_tests_kept,
            "tests_dropped": {str(r): int(n) for r, n in zip(self.drops["reason"], self.drops["dropped"],
                                                              strict=True)} if len(self.drops) else {},
            "test_status": {str(k): int(v) for k, v in self.challenge.status_counts.items()},
            "calibration": self.calibration.to_dict() if self.calibration is not None else None,
            "notes": list(self.notes),
        }


def verify_claims(cfg: VerificationConfig, *, claims: gpd.GeoDataFrame, tests: MeasurementSet,
                  cellular: CellularResult, sectors: gpd.GeoDataFrame, grid: GridSpec, population: np.ndarray,
                  districts: Districts, district_index: np.ndarray) -> ClaimsResult:
    """Run the challenge, the three-way comparison and the calibration (see the module docstring).

    ``claims`` and ``tests.tests`` are in the grid CRS (as the readers return them).
    """
    preset = cfg.preset
    classified = classify_tests(tests.tests, claims, preset, as_of=cfg.as_of)
    challenge = evaluate_challenges(classified, rule=cfg.rule)
    layers = classified.layers
    notes = [f"challenge preset {preset.name} v{preset.version} ({preset.source}); rule {cfg.rule}; "
             f"tests valid to {cfg.as_of}",
             "modelled = the operator's network at the scenario's level threshold of the claimed technology "
             "(speed tiers are checked by the measurements only)"]
    hex_frames, summary_frames, challenged_rows = [], [], []
    for lay in layers.itertuples():
        claimed = claim_mask(claims, grid, rows=list(lay.features))
        if (lay.operator, lay.technology) in cellular.networks:
            modelled = cellular.network_mask(lay.operator, lay.technology)
        else:
            modelled = np.zeros(grid.shape, dtype=bool)
            notes.append(f"layer {lay.layer}: no {lay.technology} sectors of {lay.operator} in the sector table; "
                         "modelled coverage is empty")
        if lay.environment == "in_vehicle":
            notes.append(f"layer {lay.layer}: in-vehicle claim compared with outdoor modelled coverage")
        v = verify(grid, claimed=claimed, modelled=modelled, population=population, challenge=challenge,
                   layer=int(lay.layer), district_index=district_index, districts=districts)
        h = v.hexagons.reset_index()
        h.insert(0, "layer", int(lay.layer))
        hex_frames.append(h)
        d = v.districts.reset_index()
        d.insert(0, "layer", int(lay.layer))
        summary_frames.append(d)
        cells = challenge.challenged_cells(int(lay.layer))
        for res in preset.rollup_resolutions:
            parents = challenge.challenged_cells(int(lay.layer), res)
            if len(parents):
                kids = [h3.str_to_int(k) for p in parents for k in h3.cell_to_children(h3.int_to_str(int(p)),
                                                                                       preset.resolution)]
                cells = np.union1d(cells, np.asarray(kids, dtype=np.int64))
        if len(cells):
            geom = shapely.union_all(hexagon_frame(cells).geometry.to_numpy())
            provider = ",".join(sorted({str(claims["providerid"].iloc[i]) for i in lay.features}))
            challenged_rows.append({"providerid": provider, "operator": lay.operator,
                                    "technology": lay.technology, "mindown": lay.min_down_mbps,
                                    "minup": lay.min_up_mbps,
                                    "environmnt": 1 if lay.environment == "in_vehicle" else 0,
                                    "hexagons": int(len(cells)), "preset": f"{preset.name} v{preset.version}",
                                    "geometry": geom})
    layer_cols = layers.drop(columns=["features"])
    hexes = pd.concat(hex_frames, ignore_index=True) if hex_frames else pd.DataFrame()
    if len(hexes):
        verdicts = challenge.hexagons[["layer", "cell", "n_tests", "n_negative", "challenged"]].rename(
            columns={"challenged": "challenged_own"})
        hexes = hexes.merge(verdicts, on=["layer", "cell"], how="left")
        hexes = hexes.merge(layer_cols, on="layer", how="left")
        hexes["verdict"] = np.select(
            [hexes["challenged"].fillna(False).astype(bool), hexes["tested"].fillna(False).astype(bool)],
            ["challenged", "tested, not challenged"], "untested")
        hexes = gpd.GeoDataFrame(hexes, geometry=hexagon_frame(hexes["cell"].to_numpy()).geometry.to_numpy(),
                                 crs=WGS84)
    else:
        hexes = gpd.GeoDataFrame(hexes, geometry=[], crs=WGS84)
    summary = pd.concat(summary_frames, ignore_index=True) if summary_frames else pd.DataFrame()
    if len(summary):
        summary = summary.merge(layer_cols, on="layer", how="left")
    challenged = gpd.GeoDataFrame(challenged_rows, geometry="geometry", crs=WGS84) if challenged_rows else \
        gpd.GeoDataFrame({"providerid": []}, geometry=[], crs=WGS84)

    calibration = None
    kept = tests.tests
    if cfg.calibrate and "rsrp_dbm" in kept.columns and kept["rsrp_dbm"].notna().sum() >= 50:
        frames = []
        for tech in sorted(set(kept["technology"]) & {t for _, t in cellular.networks}):
            sel = kept[kept["technology"] == tech]
            sampled = sample_model(cellular, sectors, grid, sel, technology=tech)
            same = sampled["sector_operator"].to_numpy() == sel["operator"].to_numpy()
            frame = pd.DataFrame({"measured": sel["rsrp_dbm"].to_numpy(), "modelled": sampled["modelled_dbm"],
                                  "distance_km": sampled["distance_km"], "group": sel["environment"].to_numpy(),
                                  "lat": sel["lat"].to_numpy(), "lon": sel["lon"].to_numpy()})
            frames.append(frame[same])
        data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        ok = data.dropna() if len(data) else data
        if len(ok) >= 50:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CitycovWarning)
                calibration = fit_calibration(
                    ok["measured"].to_numpy(float), ok["modelled"].to_numpy(float), ok["distance_km"].to_numpy(float),
                    ok["group"].astype(str).to_numpy(), lat_deg=ok["lat"].to_numpy(float),
                    lon_deg=ok["lon"].to_numpy(float), group_by="environment",
                    provenance={"tests_used": int(len(ok)), "preset": preset.name})
        else:
            notes.append(f"calibration skipped: only {len(ok)} tests with a measured level served by the same "
                         "operator's modelled network")
    return ClaimsResult(layers=layer_cols, hexes=hexes, summary=summary, challenged=challenged, challenge=challenge,
                        drops=tests.drops, n_tests_read=tests.n_read, n_tests_kept=tests.n_kept,
                        calibration=calibration, notes=notes)


SUMMARY_COLUMNS = [f"{f}_{u}" for f in SUMMARY_FIELDS for u in ("km2", "population")]
__all__ = ["FIELDS", "SUMMARY_COLUMNS", "ClaimsResult", "verify_claims"]
