"""WLAN access-point coverage: the log-distance model from each access point, best level per cell."""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from citycov.config import WlanConfig
from citycov.engine import _radio_kernels
from citycov.engine.sectors import inside_grid
from citycov.grid import GridSpec
from citycov.propagation.free_space import fspl_db


def wlan_coverage(aps: gpd.GeoDataFrame, valid: np.ndarray, grid: GridSpec, wlan: WlanConfig) -> np.ndarray:
    """Best WLAN level (dBm, float32, NaN = none) per cell with the log-distance model of ``wlan``.

    Reach of each access point: where the level falls to the threshold, capped at
    ``wlan.max_range_m``.
    """
    x = aps.geometry.x.to_numpy()
    y = aps.geometry.y.to_numpy()
    inside = inside_grid(grid, x, y, "WLAN access points", aps["ap_id"].to_numpy())
    freq = aps["freq_mhz"].to_numpy(dtype=np.float64)[inside]
    eirp = aps["eirp_dbm"].to_numpy(dtype=np.float64)[inside]
    l1m = np.array([fspl_db(f, 0.001) for f in freq])
    reach = np.minimum(10.0 ** ((eirp - wlan.threshold_dbm - l1m) / (10.0 * wlan.path_loss_exponent)),
                       wlan.max_range_m)
    row_f, col_f = grid.fractional_rowcol(x[inside], y[inside])
    best = np.full(grid.shape, np.nan, dtype=np.float32)
    _radio_kernels.wlan_coverage(row_f, col_f, aps["height_m"].to_numpy(dtype=np.float64)[inside], eirp, freq, reach,
                                 grid.cell_m, wlan.rx_height_m, wlan.path_loss_exponent, valid, best)
    return best
