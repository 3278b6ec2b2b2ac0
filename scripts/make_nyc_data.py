#!/usr/bin/env python3
"""Build the embedded New York City example data (seeded, deterministic).

Real data:
  * borough boundaries: ``data/boundaries/nybb_16a.zip``, NYC Department of City Planning's
    "Borough Boundaries" release 16A (clipped to the shoreline), as shipped unchanged in the
    geopandas 0.11-0.14 wheels (``geopandas/datasets/nybb_16a.zip``).  The file is checked in
    byte for byte; this script only reads it (and checks its SHA-256);
  * the borough census table: 2020 Census total population (P1) per county.
SYNTHETIC stand-ins (every file is labelled synthetic, in its tags, its name and the scenario):
  * population: a WorldPop-style GeoTIFF (EPSG:4326, 3 arc-second pixels, float32 persons per
    pixel, nodata -99999) whose pixels in each borough sum to the borough's census figure;
  * terrain: SRTM-style 3 arc-second ``.hgt`` tiles (N40W074, N40W075), zipped as USGS
    distributes them (``.hgt.zip``);
  * cellular network: an OpenCelliD-style export (the standard 14 columns) of LTE and NR cells
    of three US operators.

usage: python scripts/make_nyc_data.py [--seed 1811] [--nybb data/boundaries/nybb_16a.zip] [--out data]

To fetch the boundaries afresh (the checked-in copy is identical):
  pip download geopandas==0.14.4 --no-deps -d /tmp/gpd && unzip -j /tmp/gpd/geopandas-0.14.4-py3-none-any.whl \
      geopandas/datasets/nybb_16a.zip -d data/boundaries
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import shapely
from affine import Affine

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
NYBB_SHA256 = "b4a98fc3b77be5af58676de9560c2782b902b83d1d8c7914dea8d0e75177e2a1"  # geopandas 0.14.4 wheel
WGS84 = "EPSG:4326"
SEED = 1811  # the year of the Commissioners' Plan of Manhattan's street grid

# 2020 Census, total population (table P1), by borough (county): BoroCode -> (name, county, population).
CENSUS_2020 = {
    1: ("Manhattan", "New York County", 1_694_251),
    2: ("Bronx", "Bronx County", 1_472_654),
    3: ("Brooklyn", "Kings County", 2_736_074),
    4: ("Queens", "Queens County", 2_405_464),
    5: ("Staten Island", "Richmond County", 495_747),
}
CENSUS_SOURCE = "US Census Bureau, 2020 Census Redistricting Data (P.L. 94-171), table P1, total population"

# WorldPop-style population grid: 3 arc-seconds over the five boroughs (EPSG:4326).
POP_RES_DEG = 3.0 / 3600.0
POP_BOUNDS = (-74.27, 40.48, -73.69, 40.93)  # west, south, east, north (the boroughs span -74.256..-73.700)
POP_NODATA = -99999.0

# Approximate residential centres (lon, lat, e-folding radius km, weight), good to about 1 km.
URBAN_CENTRES = [
    (-73.985, 40.758, 2.0, 2.0),   # Midtown Manhattan
    (-73.970, 40.785, 2.0, 3.0),   # Upper West / Upper East Side
    (-73.945, 40.830, 2.5, 3.0),   # Harlem, Washington Heights
    (-74.000, 40.720, 2.0, 2.0),   # Lower Manhattan, Lower East Side
    (-73.915, 40.830, 2.5, 3.0),   # South Bronx (Concourse, Morrisania)
    (-73.890, 40.862, 2.5, 2.5),   # Fordham, Bedford Park
    (-73.860, 40.840, 3.0, 1.5),   # Parkchester, Soundview
    (-73.985, 40.690, 2.0, 1.5),   # Downtown Brooklyn
    (-73.940, 40.680, 3.0, 3.0),   # Bedford-Stuyvesant, Crown Heights
    (-73.955, 40.640, 3.0, 3.0),   # Flatbush
    (-73.990, 40.615, 3.0, 2.0),   # Borough Park, Bensonhurst
    (-73.920, 40.700, 2.5, 2.0),   # Bushwick
    (-73.880, 40.745, 2.5, 3.0),   # Jackson Heights, Elmhurst
    (-73.830, 40.760, 2.5, 2.0),   # Flushing
    (-73.800, 40.700, 3.0, 2.0),   # Jamaica
    (-73.920, 40.765, 2.0, 2.0),   # Astoria
    (-74.080, 40.635, 2.5, 2.0),   # St. George, Staten Island north shore
    (-74.150, 40.590, 3.5, 1.5),   # New Springville, mid-island
    (-74.190, 40.540, 3.0, 1.0),   # Eltingville, south shore
]
# Large unpopulated areas inside the land boundaries (lon, lat, radius km): parks and airports.
EMPTY_AREAS = [
    (-73.9654, 40.7829, 0.6),  # Central Park
    (-73.7781, 40.6413, 2.2),  # JFK airport
    (-73.8740, 40.7769, 0.9),  # LaGuardia airport
    (-73.8456, 40.7400, 0.9),  # Flushing Meadows-Corona Park
    (-73.9690, 40.6602, 0.7),  # Prospect Park
    (-73.8050, 40.8650, 1.2),  # Pelham Bay Park
    (-74.1350, 40.5900, 1.3),  # Staten Island Greenbelt
    (-74.1900, 40.5750, 1.5),  # Fresh Kills
]

# Synthetic terrain: SRTM 3 arc-second tiles (1201 x 1201 points, named by the south-west corner).
HGT_TILES = ("N40W075", "N40W074")
HGT_SIZE = 1201
# Ridges: polyline of (lon, lat, crest height m), half-width km.  Positions and heights approximate.
RIDGES = [
    ([(-74.1115, 40.5975, 125.0), (-74.095, 40.620, 80.0), (-74.078, 40.638, 35.0)], 1.0),  # Todt Hill, Grymes Hill
    ([(-73.928, 40.872, 60.0), (-73.932, 40.862, 70.0), (-73.945, 40.835, 50.0), (-73.958, 40.810, 40.0)],
     0.45),                                                                   # Inwood, Fort Tryon, Morningside
    ([(-73.905, 40.905, 80.0), (-73.910, 40.880, 60.0)], 0.7),               # Riverdale ridge, Bronx
    ([(-74.035, 40.625, 30.0), (-73.990, 40.655, 65.0), (-73.965, 40.665, 55.0), (-73.890, 40.685, 50.0),
      (-73.850, 40.712, 50.0), (-73.740, 40.728, 30.0)], 1.0),                # Harbor Hill moraine (Battle Hill)
]
# The Palisades cliff on the west bank of the Hudson (New Jersey): the only land modelled outside the
# boroughs; crest line (lon, lat, height m), a steep face to the east, a gentle dip slope to the west.
PALISADES = [(-74.035, 40.735, 40.0), (-73.990, 40.810, 80.0), (-73.955, 40.860, 100.0), (-73.925, 40.930, 110.0)]

# Synthetic OpenCelliD export: US operators (MCC-MNC as assigned), LTE and NR cells.
OPERATORS = [("310", "260", "T-Mobile", 0.40), ("310", "410", "AT&T", 0.30), ("311", "480", "Verizon", 0.30)]
OCID_COLUMNS = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable",
                "created", "updated", "averageSignal"]
SITES_PER_KM2 = (0.30, 1.50)   # eNodeBs per km², all operators together: (least, most) before thinning
RESIDENTS_PER_SITE = 15_000    # one eNodeB (all operators) per this many residents, clipped to SITES_PER_KM2


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def km_between(lon, lat, lon0, lat0):
    """Local flat-earth distance, km (good to < 0.5 % over New York City)."""
    return np.hypot((lon - lon0) * 111.32 * math.cos(math.radians(40.7)), (lat - lat0) * 110.57)


def km_to_polyline(lon, lat, points) -> tuple[np.ndarray, np.ndarray]:
    """Distance (km, local flat earth) from each (lon, lat) to a polyline of (lon, lat, height)
    vertices, and the height interpolated at the nearest point of the polyline."""
    kx, ky = 111.32 * math.cos(math.radians(40.7)), 110.57
    x, y = lon * kx, lat * ky
    best = np.full(np.shape(lon), np.inf)
    height = np.zeros(np.shape(lon))
    for (lon0, lat0, h0), (lon1, lat1, h1) in itertools.pairwise(points):
        x0, y0, x1, y1 = lon0 * kx, lat0 * ky, lon1 * kx, lat1 * ky
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        d = np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))
        closer = d < best
        best = np.where(closer, d, best)
        height = np.where(closer, h0 + t * (h1 - h0), height)
    return best, height


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma_cells: float) -> np.ndarray:
    """Gaussian-filtered white noise (FFT, periodic), scaled to unit standard deviation."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    filt = np.exp(-2.0 * (math.pi * sigma_cells) ** 2 * (kx * kx + ky * ky))
    z = np.fft.irfft2(np.fft.rfft2(rng.standard_normal(shape)) * filt, s=shape)
    return z / z.std()


def read_boroughs(nybb: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(nybb)
    if str(frame.crs.to_epsg()) != "2263":
        raise SystemExit(f"{nybb}: expected EPSG:2263 (NY State Plane Long Island, US feet), got {frame.crs}")
    return frame.sort_values("BoroCode").reset_index(drop=True)


def borough_index(boroughs_wgs84: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Row of ``boroughs_wgs84`` whose polygon contains each point, -1 outside every borough."""
    out = np.full(lon.shape, -1, dtype=np.int64)
    for i, geom in enumerate(boroughs_wgs84.geometry):
        shapely.prepare(geom)
        w, s, e, n = geom.bounds
        box = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
        inside = np.zeros(lon.shape, dtype=bool)
        inside[box] = shapely.contains_xy(geom, lon[box], lat[box])
        out[inside] = i
    return out


def land_elevation_m(lon: np.ndarray, lat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Synthetic land elevation (m): a 3-12 m plain, the ridges of :data:`RIDGES` and gentle texture."""
    texture = smooth_noise(lon.shape, rng, 6.0)
    z = 6.0 + 2.5 * texture
    for points, half_km in RIDGES:
        d_km, crest_m = km_to_polyline(lon, lat, points)
        z = np.maximum(z, crest_m * np.exp(-0.5 * (d_km / half_km) ** 2) + 2.0 * texture)
    # Upland Bronx and northern Manhattan (the Manhattan Prong): 20-40 m rolling ground.
    north = np.clip((lat - 40.80) / 0.06, 0.0, 1.0) * (lon < -73.78)
    z += north * (18.0 + 8.0 * texture)
    return np.clip(z, 1.0, None)


def write_terrain(data: Path, boroughs_wgs84: gpd.GeoDataFrame, seed: int) -> list[Path]:
    """The two SRTM tiles, each ``N40W0xx.hgt`` (big-endian int16, 1201 x 1201 points, row 0 the
    northern edge, points on whole multiples of 3") zipped as ``N40W0xx.hgt.zip``."""
    rng = np.random.default_rng(seed)
    step = 1.0 / (HGT_SIZE - 1)
    # Both tiles as one field (they share the lon -74 column), so the seam matches exactly.
    lon = -75.0 + np.arange(2 * HGT_SIZE - 1) * step
    lat = 41.0 - np.arange(HGT_SIZE) * step
    lon2, lat2 = np.meshgrid(lon, lat)
    land = borough_index(boroughs_wgs84, lon2, lat2) >= 0
    z = np.where(land, land_elevation_m(lon2, lat2, rng), 0.0)
    # The Palisades: a 0.15 km cliff face east of the crest line, a 2.5 km dip slope west of it.
    d_km, crest_m = km_to_polyline(lon2, lat2, PALISADES)
    crest_lon = np.interp(lat2, [p[1] for p in PALISADES], [p[0] for p in PALISADES])
    sigma_km = np.where(lon2 > crest_lon, 0.15, 2.5)
    palisades = crest_m * np.exp(-0.5 * (d_km / sigma_km) ** 2)
    new_jersey = ~land & (lat2 > 40.70) & (lat2 < 40.95) & (lon2 < -73.90) & (palisades >= 5.0)
    z = np.where(new_jersey, palisades, z)
    z = np.rint(z).astype(">i2")
    out_dir = data / "terrain"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in HGT_TILES:
        west = -int(name[4:7])
        c0 = round((west + 75.0) / step)
        tile = z[:, c0:c0 + HGT_SIZE]
        path = out_dir / f"{name}.hgt.zip"
        info = zipfile.ZipInfo(f"{name}.hgt", date_time=(2024, 1, 1, 0, 0, 0))  # fixed: a deterministic zip
        info.compress_type = zipfile.ZIP_DEFLATED
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(info, tile.tobytes(), compresslevel=9)
        path.write_bytes(buf.getvalue())
        paths.append(path)
        print(f"{path.name}: {tile.min()}..{tile.max()} m, {path.stat().st_size:,} bytes")
    return paths


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that sum exactly to ``total``."""
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    short = int(total - base.sum())
    if short:
        order = np.argsort(-(share - base), kind="stable")
        base[order[:short]] += 1
    return base


def write_population(data: Path, boroughs_wgs84: gpd.GeoDataFrame, seed: int) -> tuple[np.ndarray, Affine]:
    """WorldPop-style counts: float32 persons per 3" pixel, each borough's pixels (by pixel
    centre) summing to its 2020 census total; pixels outside the boroughs are nodata."""
    rng = np.random.default_rng(seed + 1)
    west, south, east, north = POP_BOUNDS
    cols, rows = round((east - west) / POP_RES_DEG), round((north - south) / POP_RES_DEG)
    transform = Affine(POP_RES_DEG, 0.0, west, 0.0, -POP_RES_DEG, north)
    lon = west + (np.arange(cols) + 0.5) * POP_RES_DEG
    lat = north - (np.arange(rows) + 0.5) * POP_RES_DEG
    lon2, lat2 = np.meshgrid(lon, lat)
    index = borough_index(boroughs_wgs84, lon2, lat2)
    weight = np.full(lon2.shape, 0.25)
    for clon, clat, radius_km, w in URBAN_CENTRES:
        weight += w * np.exp(-km_between(lon2, lat2, clon, clat) / radius_km)
    for elon, elat, radius_km in EMPTY_AREAS:
        weight *= np.where(km_between(lon2, lat2, elon, elat) < radius_km, 0.02, 1.0)
    weight *= np.exp(0.35 * smooth_noise(lon2.shape, rng, 1.0))
    # Pixels shrink with latitude: weight per km² times the pixel's area.
    weight *= np.cos(np.radians(lat2))
    pop = np.full(lon2.shape, POP_NODATA, dtype=np.float64)
    for i, row in boroughs_wgs84.iterrows():
        cells = index == i
        total = CENSUS_2020[int(row["BoroCode"])][2]
        # Whole persons by largest remainder, then spread by up to ±0.5 of a person: WorldPop-like
        # fractional counts whose float64 sum is still the census figure (the spread sums to 0).
        whole = largest_remainder(weight[cells], total).astype(np.float64)
        frac = rng.uniform(-0.5, 0.5, whole.size) * (whole > 0)
        frac -= frac.sum() / max(int((whole > 0).sum()), 1) * (whole > 0)
        pop[cells] = whole + frac
    out = data / "population" / "newyork_population_synthetic_3s.tif"
    out.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "float32", "crs": WGS84,
               "transform": transform, "nodata": POP_NODATA, "compress": "deflate", "predictor": 3, "tiled": True,
               "blockxsize": 256, "blockysize": 256}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(pop.astype("float32"), 1)
        dst.update_tags(SYNTHETIC="yes", UNITS="persons per pixel", SEED=str(seed),
                        DESCRIPTION="SYNTHETIC WorldPop-style population grid for New York City: each borough's "
                        "pixels (by pixel centre) sum to its 2020 Census total; weights decay from approximate "
                        "residential centres, parks and airports nearly empty. Not a real population map.",
                        CENSUS=CENSUS_SOURCE, GENERATOR="scripts/make_nyc_data.py")
    print(f"{out.name}: {cols} x {rows} pixels, {out.stat().st_size:,} bytes")
    return np.where(pop == POP_NODATA, 0.0, pop), transform


def write_census(data: Path) -> None:
    rows = [{"borocode": code, "borough": name, "county": county, "census2020_population": pop,
             "source": CENSUS_SOURCE} for code, (name, county, pop) in sorted(CENSUS_2020.items())]
    (data / "population").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(data / "population" / "newyork_borough_population.csv", index=False)


def write_opencellid(data: Path, boroughs_wgs84: gpd.GeoDataFrame, pop: np.ndarray, transform: Affine,
                     seed: int) -> None:
    """A synthetic OpenCelliD export: eNodeBs drawn with a density that follows the residents,
    three LTE cells each (cell positions scattered around the mast as crowd-sourced estimates
    are), an NR cell on some of them; only cells inside the boroughs."""
    rng = np.random.default_rng(seed + 2)
    pixel_km2 = (np.cos(np.radians(40.7)) * 111.32 * POP_RES_DEG) * (110.57 * POP_RES_DEG)
    k = 9  # smooth the density over 9 x 9 pixels (~0.7 km)
    padded = np.pad(pop, k // 2)
    csum = padded.cumsum(0).cumsum(1)
    csum = np.pad(csum, ((1, 0), (1, 0)))
    box = csum[k:, k:] - csum[:-k, k:] - csum[k:, :-k] + csum[:-k, :-k]
    density = box / (k * k * pixel_km2)  # residents per km²
    lo, hi = SITES_PER_KM2
    site_density = np.where(pop > 0, np.clip(density / RESIDENTS_PER_SITE, lo, hi), 0.0)
    counts = rng.poisson(site_density * pixel_km2)
    rows, cols = np.nonzero(counts)
    rows, cols = np.repeat(rows, counts[rows, cols]), np.repeat(cols, counts[rows, cols])
    lon = transform.c + (cols + rng.uniform(0.0, 1.0, cols.size)) * transform.a
    lat = transform.f + (rows + rng.uniform(0.0, 1.0, rows.size)) * transform.e
    inside = borough_index(boroughs_wgs84, lon, lat) >= 0
    lon, lat = lon[inside], lat[inside]
    n = lon.size
    pick = rng.choice(len(OPERATORS), size=n, p=[o[3] for o in OPERATORS])
    geod = pyproj.Geod(ellps="WGS84")
    t0, t1 = 1_483_228_800, 1_719_792_000  # 2017-01-01 .. 2024-07-01 UTC
    records = []
    enb_next = {i: 100_000 + 7_000 * i for i in range(len(OPERATORS))}
    for j in range(n):
        mcc, mnc, _, _ = OPERATORS[pick[j]]
        enb = enb_next[pick[j]]
        enb_next[pick[j]] += int(rng.integers(1, 4))
        tac = 20_000 + 100 * int(pick[j]) + int((lat[j] - 40.4) * 40)
        base_az = rng.uniform(0.0, 120.0)
        layers = [("LTE", enb * 256 + s + 1, base_az + 120.0 * s) for s in range(3)]
        if rng.random() < 0.5:
            layers.append(("NR", enb * 4096 + 1, base_az))
        for radio, cell, az in layers:
            # A crowd-sourced cell position: the centre of its samples, 50-400 m down the boresight.
            clon, clat, _ = geod.fwd(lon[j], lat[j], az % 360.0, rng.uniform(50.0, 400.0))
            created = int(rng.integers(t0, t1 - 86_400 * 30))
            samples = int(np.clip(rng.lognormal(3.0, 1.2), 1, 5000))
            records.append({
                "radio": radio, "mcc": mcc, "net": mnc, "area": tac, "cell": cell,
                "unit": int(rng.integers(0, 504 if radio == "LTE" else 1008)),
                "lon": round(clon, 6), "lat": round(clat, 6), "range": int(rng.uniform(300, 2500)),
                "samples": samples, "changeable": 1, "created": created,
                "updated": int(rng.integers(created + 86_400, t1)),
                "averageSignal": 0 if rng.random() < 0.8 else int(rng.uniform(-110, -70)),
            })
    table = pd.DataFrame.from_records(records, columns=OCID_COLUMNS)
    # The export is clipped to the boroughs, as a download by bounding polygon would be.
    table = table[borough_index(boroughs_wgs84, table["lon"].to_numpy(), table["lat"].to_numpy()) >= 0]
    out = data / "sites" / "newyork_opencellid_synthetic.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(f"{out.name}: {n} eNodeBs, {len(table)} cells ({len(records) - len(table)} outside the boroughs "
          f"left out), {out.stat().st_size:,} bytes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--nybb", type=Path, default=DATA / "boundaries" / "nybb_16a.zip")
    ap.add_argument("--out", type=Path, default=DATA, help="data folder to write into (default: data/)")
    args = ap.parse_args()
    digest = sha256(args.nybb)
    if digest != NYBB_SHA256:
        raise SystemExit(f"{args.nybb}: SHA-256 {digest}, expected {NYBB_SHA256} (geopandas 0.14.4's nybb_16a.zip)")
    boroughs = read_boroughs(args.nybb)
    wgs = boroughs.to_crs(WGS84)
    write_census(args.out)
    write_terrain(args.out, wgs, args.seed)
    pop, transform = write_population(args.out, wgs, args.seed)
    write_opencellid(args.out, wgs, pop, transform, args.seed)


if __name__ == "__main__":
    main()
