"""FTTH coverage: which cells (and so which households) are passed by fibre.

Rule ``drop_distance``: a cell is passed when its centre lies within ``drop_distance_m``
of a fibre route or an access node (the length of a typical drop cable).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from rasterio.features import rasterize

from citycov.grid import GridSpec


def passed_cells(grid: GridSpec, *, drop_distance_m: float, nodes: gpd.GeoDataFrame | None = None,
                 routes: gpd.GeoDataFrame | None = None) -> np.ndarray:
    """Bool raster: cell centre within ``drop_distance_m`` of any node or route (inputs in ``grid.crs``)."""
    geoms = []
    for frame in (nodes, routes):
        if frame is not None and len(frame):
            geoms.extend(frame.geometry.buffer(drop_distance_m, quad_segs=8).to_numpy())
    if not geoms:
        return np.zeros(grid.shape, dtype=bool)
    burned = rasterize(((g, 1) for g in geoms), out_shape=grid.shape, transform=grid.transform, fill=0,
                       dtype="uint8", all_touched=False)
    return burned.astype(bool)
