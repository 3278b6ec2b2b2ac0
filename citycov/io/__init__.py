"""Readers for real-world formats; each validates, reprojects once and returns plain data."""

from citycov.io.boundaries import Districts, read_districts
from citycov.io.fibre import read_fibre_nodes, read_fibre_routes
from citycov.io.raster import RasterLayer, read_dem, read_population
from citycov.io.sites import read_sectors, read_wlan
from citycov.io.vector import read_vector

__all__ = [
    "Districts",
    "RasterLayer",
    "read_dem",
    "read_districts",
    "read_fibre_nodes",
    "read_fibre_routes",
    "read_population",
    "read_sectors",
    "read_vector",
    "read_wlan",
]
