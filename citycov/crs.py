"""Coordinate reference systems: the GCJ-02 datum, automatic UTM choice, reproject-on-read.

GCJ-02 (the Chinese "offset" datum used by Amap, Tencent and Gaode data) is not an
EPSG CRS: it is WGS84 lon/lat passed through a published obfuscation polynomial that
shifts points by about 600 m in Guangzhou.  citycov treats it as a pseudo-CRS called
``"gcj02"`` that readers accept for any vector input and convert to WGS84 immediately,
so nothing downstream ever mixes the two.

The forward transform is the widely published algorithm (Krasovsky 1940 ellipsoid
``a = 6378245 m``, ``e² = 0.00669342162296594323``).  The inverse has no closed form; it
is solved by fixed-point iteration to better than 1e-10 degrees (about 0.01 mm).
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from citycov.errors import CRSError

GCJ02 = "gcj02"
"""Name of the GCJ-02 pseudo-CRS accepted by every vector reader."""

_GCJ02_ALIASES = {"gcj02", "gcj-02", "gcj_02", "mars"}
_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
WGS84 = pyproj.CRS.from_epsg(4326)


def is_gcj02(value: Any) -> bool:
    """True when ``value`` names the GCJ-02 pseudo-CRS (case-insensitive)."""
    return isinstance(value, str) and value.strip().lower() in _GCJ02_ALIASES


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Bounding-box test used by the published algorithm: outside it GCJ-02 equals WGS84."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return (
        (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    )


def _gcj02_offset_deg(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84 (dlon, dlat) in degrees at WGS84 position (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    periodic = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat = dlat + periodic
    dlat = dlat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon = dlon + periodic
    dlon = dlon + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A_M * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A_M / sqrt_magic * np.cos(rad_lat) * pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat (degrees) to GCJ-02 with the published forward algorithm.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(113.3245, 23.1066)
    >>> round(float(lon) - 113.3245, 4), round(float(lat) - 23.1066, 4)
    (0.0054, -0.0026)
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _gcj02_offset_deg(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (to ``tol_deg`` degrees).

    Raises
    ------
    CRSError
        If the iteration does not converge (it converges in < 10 steps everywhere in China).
    """
    g_lon = np.asarray(lon, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        err_lon, err_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - err_lon
        w_lat = w_lat - err_lat
        if np.all(np.abs(err_lon) < tol_deg) and np.all(np.abs(err_lat) < tol_deg):
            return w_lon, w_lat
    raise CRSError(f"GCJ-02 inverse did not converge to {tol_deg} degrees in {max_iter} iterations")


def _gcj02_coords_to_wgs84(coords: np.ndarray) -> np.ndarray:
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def gcj02_frame_to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy of ``frame`` (lon/lat in GCJ-02) with geometries converted to WGS84."""
    out = frame.copy()
    geoms = shapely.transform(np.asarray(frame.geometry.values), _gcj02_coords_to_wgs84)
    return gpd.GeoDataFrame(out.drop(columns=frame.geometry.name), geometry=geoms, crs=WGS84)


def parse_crs(value: Any, *, where: str) -> pyproj.CRS | str:
    """Turn a user CRS value into a :class:`pyproj.CRS`, or the string ``"gcj02"``.

    ``where`` names the source (file or scenario key) for the error message.
    """
    if is_gcj02(value):
        return GCJ02
    try:
        return pyproj.CRS.from_user_input(value)
    except (pyproj.exceptions.CRSError, TypeError) as exc:
        raise CRSError(
            f"{where}: unknown CRS {value!r}; expected an EPSG code such as 'EPSG:4326' or 'gcj02'"
        ) from exc


def utm_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 UTM zone CRS containing (lon, lat), e.g. EPSG:32649 for Guangzhou."""
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise CRSError(f"no UTM zone for lon={lon}, lat={lat}: outside -180..180 / -80..84")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def require_projected(crs: pyproj.CRS, *, where: str) -> pyproj.CRS:
    """Check that ``crs`` is projected with metre units."""
    if not crs.is_projected:
        raise CRSError(f"{where}: analysis CRS {crs.to_string()} is not projected; give a metric CRS")
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if unit not in ("metre", "meter"):
        raise CRSError(f"{where}: analysis CRS {crs.to_string()} has units {unit!r}; expected metres")
    return crs


def to_crs(frame: gpd.GeoDataFrame, crs: pyproj.CRS, *, where: str) -> gpd.GeoDataFrame:
    """Reproject ``frame`` to ``crs``; refuse frames with no CRS (never guess)."""
    if frame.crs is None:
        raise CRSError(f"{where}: no CRS; set one in the file or declare crs = ... in the scenario")
    return frame.to_crs(crs)


def grid_north_offset_deg(x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Grid azimuth of true north at each point of projected ``crs`` (meridian convergence),
    degrees clockwise: add it to a true-north azimuth to get a grid azimuth."""
    to_geo = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    to_grid = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    xn, yn = to_grid.transform(lon, np.asarray(lat) + 0.001)
    return np.degrees(np.arctan2(np.asarray(xn) - x, np.asarray(yn) - y))
