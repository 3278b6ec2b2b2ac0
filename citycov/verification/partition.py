"""The three-way partition of one claim layer: claimed, modelled and measured, per hexagon, district and city.

Three views of one service (operator, technology, environment, speed tier) on the analysis grid:

* **claimed**: the operator's claim polygons, rasterised by cell centre (:func:`claim_mask`);
* **modelled**: citycov's own coverage mask for the service (e.g.
  ``CellularResult.network_mask(operator, technology)`` at the preset's threshold);
* **measured**: the challenge verdicts (:mod:`citycov.verification.challenge`): a grid cell is *tested* when its
  resolution-8 H3 hexagon (by cell centre) holds counted tests of the claim layer, and *failed*
  when that hexagon is challenged, itself or through a challenged resolution-7/6 parent.

Every figure is a sum over grid cells, so each cell falls in exactly one of the 16 classes of
the partition ``code = claimed·1 + modelled·2 + tested·4 + failed·8``; the atoms of that
partition are counted once per unit (hexagon, district, city) and every reported figure is
built by adding atoms.  The identities therefore hold *exactly*, in floating point too:

    claimed = claimed ∩ modelled + claimed − modelled
    modelled = claimed ∩ modelled + modelled − claimed

Areas are cell counts × the cell area (km²); populations are the population grid summed over
the same cells.  Districts use the cell-centre rule (one district per cell); the city is every
cell in any district (the whole grid when no districts are given).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
from rasterio.features import rasterize

from citycov.accounting.population import district_index as centre_district_index
from citycov.errors import RasterError
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts
from citycov.stored import row_strips
from citycov.verification.challenge import ChallengeResult, latlng_cells

CLAIMED, MODELLED, TESTED, FAILED = 1, 2, 4, 8
N_CODES = 16
CITY_ID = "city"
FIELDS = {
    "claimed": "claimed by the operator (claim polygon covers the cell centre)",
    "modelled": "covered in citycov's model",
    "claimed_modelled": "claimed and modelled",
    "claimed_not_modelled": "claimed but not modelled",
    "modelled_not_claimed": "modelled but not claimed",
    "claimed_tested": "claimed, in a hexagon with counted tests",
    "claimed_failed": "claimed, in a challenged hexagon (itself or a rolled-up parent)",
    "claimed_modelled_failed": "claimed and modelled, but failed by measurements",
    "claimed_not_modelled_failed": "claimed, not modelled and failed by measurements (both refute the claim)",
}
"""Every figure is reported as ``<field>_km2``, ``<field>_population`` and ``<field>_cells``."""
_ATOMS = {  # field -> (bits that must be set, bits that must be clear); only the non-derived fields
    "claimed_modelled": (CLAIMED | MODELLED, 0),
    "claimed_not_modelled": (CLAIMED, MODELLED),
    "modelled_not_claimed": (MODELLED, CLAIMED),
    "claimed_tested": (CLAIMED | TESTED, 0),
    "claimed_failed": (CLAIMED | FAILED, 0),
    "claimed_modelled_failed": (CLAIMED | MODELLED | FAILED, 0),
    "claimed_not_modelled_failed": (CLAIMED | FAILED, MODELLED),
}


@dataclass(frozen=True)
class Verification:
    """Tables of :data:`FIELDS` per hexagon (``hexagons``, index ``cell`` H3 int64, with
    ``cell_h3`` text), per district and for the city (``districts``, index ``area_id``, last row
    ``"city"``), and the per-cell partition ``codes`` (uint8, grid shape)."""

    hexagons: pd.DataFrame
    districts: pd.DataFrame
    codes: np.ndarray
    cell_area_km2: float
    hex_resolution: int

    @property
    def city(self) -> pd.Series:
        return self.districts.loc[CITY_ID]


def claim_mask(claims: gpd.GeoDataFrame, grid: GridSpec, *, rows: np.ndarray | list[int] | None = None) -> np.ndarray:
    """Bool grid: cells whose centre lies in any of the claim polygons ``rows`` (default all).

    ``claims`` must be in ``grid.crs`` (as :func:`citycov.io.claims.read_claims` returns them
    when given ``crs=grid.crs``); select one claim layer's rows with
    ``claim_layers(claims).features``.
    """
    if claims.crs is None or not claims.crs.equals(grid.crs):
        raise RasterError(f"claims are in {claims.crs}, the grid in {grid.crs.to_string()}; "
                          "read them with crs=grid.crs")
    geoms = claims.geometry.to_numpy() if rows is None else claims.geometry.to_numpy()[np.asarray(rows, dtype=int)]
    if len(geoms) == 0:
        return np.zeros(grid.shape, dtype=bool)
    burned = rasterize(((g, 1) for g in geoms), out_shape=grid.shape, transform=grid.transform, fill=0,
                       dtype="uint8", all_touched=False)
    return burned.astype(bool)


def grid_h3_cells(grid: GridSpec, resolution: int, *, where: np.ndarray | None = None) -> np.ndarray:
    """int64 grid: the H3 cell at ``resolution`` containing each cell centre (0 outside ``where``)."""
    out = np.zeros(grid.shape, dtype=np.int64)
    mask = np.ones(grid.shape, dtype=bool) if where is None else np.asarray(where, dtype=bool)
    out[mask] = h3_cells_where(grid, resolution, mask)
    return out


def h3_cells_where(grid: GridSpec, resolution: int, where: np.ndarray) -> np.ndarray:
    """int64, 1-D: the H3 cell at ``resolution`` of each cell centre where ``where`` (bool grid) is
    True, in row-major order (``grid_h3_cells(...)[where]``), computed strip by strip."""
    to_wgs84 = pyproj.Transformer.from_crs(grid.crs, 4326, always_xy=True)
    parts = []
    for r0, r1 in row_strips(grid.shape):
        row, col = np.nonzero(where[r0:r1])
        if len(row):
            x, y = grid.xy(row + r0, col)
            lon, lat = to_wgs84.transform(x, y)
            parts.append(latlng_cells(np.asarray(lat), np.asarray(lon), resolution))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _check_grid(name: str, values: np.ndarray, grid: GridSpec) -> None:
    if values.shape != grid.shape:
        raise RasterError(f"{name} has shape {values.shape}, the grid is {grid.shape}")


def partition_sums(codes: np.ndarray, units: np.ndarray, n_units: int, population: np.ndarray,
                   cell_area_km2: float) -> pd.DataFrame:
    """Figures of :data:`FIELDS` for ``n_units`` units from per-cell ``codes`` and ``units`` (−1: none).

    Built from the partition atoms, so ``claimed == claimed_modelled + claimed_not_modelled``
    (and the modelled identity) hold exactly for cells, km² and population.
    """
    sel = units >= 0
    key = units[sel].astype(np.int64) * N_CODES + codes[sel].astype(np.int64)
    counts = np.bincount(key, minlength=n_units * N_CODES).reshape(n_units, N_CODES)
    people = np.bincount(key, weights=population[sel].astype(np.float64),
                         minlength=n_units * N_CODES).reshape(n_units, N_CODES)
    code = np.arange(N_CODES)
    cols: dict[str, np.ndarray] = {}
    for name, (on, off) in _ATOMS.items():
        pick = ((code & on) == on) & ((code & off) == 0)
        cells = counts[:, pick].sum(axis=1)
        cols[f"{name}_cells"] = cells
        cols[f"{name}_km2"] = cells * cell_area_km2
        cols[f"{name}_population"] = people[:, pick].sum(axis=1)
    for total, parts in (("claimed", ("claimed_modelled", "claimed_not_modelled")),
                         ("modelled", ("claimed_modelled", "modelled_not_claimed"))):
        for unit in ("cells", "km2", "population"):
            cols[f"{total}_{unit}"] = cols[f"{parts[0]}_{unit}"] + cols[f"{parts[1]}_{unit}"]
    cols["area_km2"] = counts.sum(axis=1) * cell_area_km2
    cols["population"] = people.sum(axis=1)
    ordered = ["area_km2", "population"] + [f"{f}_{u}" for f in FIELDS for u in ("km2", "population", "cells")]
    return pd.DataFrame({c: cols[c] for c in ordered})


def verify(grid: GridSpec, *, claimed: np.ndarray, modelled: np.ndarray, population: np.ndarray,
           challenge: ChallengeResult | None = None, layer: int | None = None,
           districts: Districts | None = None, district_index: np.ndarray | None = None) -> Verification:
    """Compare claimed, modelled and measured coverage per hexagon, district and city.

    Parameters
    ----------
    grid
        The analysis grid.
    claimed, modelled
        Bool arrays of the grid shape (:func:`claim_mask`; the model's coverage mask).
    population
        Residents per cell (float, grid shape, finite).
    challenge, layer
        Challenge verdicts and the claim layer they are for; without them nothing is tested
        or failed.
    districts, district_index
        Districts (cell-centre rule) or their precomputed index raster
        (:func:`citycov.accounting.population.district_index`); without either the city is the grid.

    Returns
    -------
    Verification

    Raises
    ------
    RasterError
        An array not of the grid's shape, or non-finite population.

    Examples
    --------
    >>> v = verify(grid, claimed=claim_mask(claims, grid), modelled=mask, population=pop)  # doctest: +SKIP
    >>> v.city[["claimed_km2", "claimed_not_modelled_km2", "claimed_failed_km2"]]  # doctest: +SKIP
    """
    for name, arr in (("claimed", claimed), ("modelled", modelled), ("population", population)):
        _check_grid(name, np.asarray(arr), grid)
    if not np.isfinite(population).all():
        raise RasterError(f"population has {int((~np.isfinite(population)).sum())} non-finite cells; "
                          "fill nodata with 0 on read (it is never treated as 0 here)")
    if (challenge is None) != (layer is None):
        raise RasterError("give both challenge= and layer= (the claim layer the verdicts belong to), or neither")
    if district_index is None and districts is not None:
        district_index = centre_district_index(districts, grid)
    if district_index is not None:
        _check_grid("district_index", district_index, grid)
    study = district_index >= 0 if district_index is not None else np.ones(grid.shape, dtype=bool)
    claimed = np.asarray(claimed, dtype=bool)
    modelled = np.asarray(modelled, dtype=bool)
    res = challenge.preset.resolution if challenge is not None else 8
    relevant = (claimed | modelled) & study
    # the H3 cells of the relevant cells only (row-major), never a whole-grid int64 raster
    flat = h3_cells_where(grid, res, relevant)
    codes = claimed.astype(np.uint8) * np.uint8(CLAIMED)
    codes |= modelled.astype(np.uint8) * np.uint8(MODELLED)
    if challenge is not None:
        tested = np.zeros(grid.shape, dtype=bool)
        failed = np.zeros(grid.shape, dtype=bool)
        tested[relevant] = challenge.is_tested(flat, layer)
        failed[relevant] = challenge.is_challenged(flat, layer)
        codes |= tested.astype(np.uint8) * np.uint8(TESTED)
        codes |= failed.astype(np.uint8) * np.uint8(FAILED)
        del tested, failed

    flat_codes = codes.reshape(-1)
    pop = np.asarray(population).reshape(-1)  # float64 per selected cell in partition_sums
    # per hexagon
    sel = relevant.reshape(-1)
    uniq, inverse = np.unique(flat, return_inverse=True)
    del flat
    hex_table = partition_sums(flat_codes[sel], inverse, len(uniq), pop[sel], grid.cell_area_km2)
    hex_table.insert(0, "cell_h3", [h3.int_to_str(int(c)) for c in uniq])
    hex_table.index = pd.Index(uniq, name="cell")
    if challenge is not None:
        hex_table["tested"] = challenge.is_tested(uniq, layer)
        hex_table["challenged"] = challenge.is_challenged(uniq, layer)
    # per district, then the city
    if district_index is not None:
        n_d = int(district_index.max()) + 1 if district_index.size else 0
        n_d = max(n_d, len(districts) if districts is not None else 0)
        d_table = partition_sums(flat_codes, district_index.reshape(-1), n_d, pop, grid.cell_area_km2)
        ids = list(districts.frame["district_id"]) if districts is not None else [str(i) for i in range(n_d)]
        names = list(districts.frame["name"]) if districts is not None else ids
    else:
        d_table, ids, names = None, [], []
    city_units = np.where(study.reshape(-1), np.int8(0), np.int8(-1))
    city = partition_sums(flat_codes, city_units, 1, pop, grid.cell_area_km2)
    table = pd.concat([t for t in (d_table, city) if t is not None], ignore_index=True)
    table.insert(0, "name", [*names, "City total"])
    table.index = pd.Index([*ids, CITY_ID], name="area_id")
    return Verification(hexagons=hex_table, districts=table, codes=codes, cell_area_km2=grid.cell_area_km2,
                        hex_resolution=res)
