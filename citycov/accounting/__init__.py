"""Accounting: population and households per district, fibre, targets, gaps and service presets.

Modules
-------
population  zonal weights (exact cell-district overlaps) and district sums
districts   district and city coverage tables
fibre       FTTH coverage from routes, access nodes and premises
services    radio service presets evaluated on the engine's rasters
targets     district figures against the plan's targets
gaps        coverage gaps as ranked polygons
"""
