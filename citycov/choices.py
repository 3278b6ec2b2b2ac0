"""The vocabularies of the scenario: one tuple per choice set, the only place each is spelled.

The scenario reader checks values against these; the wings import them from here (the engine
maps each name to its kernel code, the presets and readers check their own fields against them).
"""

from __future__ import annotations

TECHNOLOGIES = ("3G", "4G", "5G")
"""Cellular technologies of the sector table, the engine's rasters and the reports."""
ENV_CLASSES = ("dense_urban", "urban", "suburban", "open")
"""Environment classes of the engine (index = class code), from population density."""
RADIO_MODELS = ("auto", "okumura_hata", "cost231_hata", "tr38901")
"""Empirical path-loss model of the fast mode (``[radio].model``; ``auto`` picks by band)."""
DIFFRACTION_METHODS = ("knife_edge", "deygout", "bullington")
"""Fast mode's terrain diffraction (``[radio].diffraction``); the engine maps each to its kernel code."""
ENGINE_MODES = ("fast", "exact")
"""Engine mode per technology (``[radio].mode``)."""
EXACT_MODELS = ("itm", "p1812")
"""Exact mode's path-profile model (``[radio].exact_model``)."""
EXACT_GEOMETRIES = ("radial", "cell")
"""Exact mode's profiles (``[radio].exact_geometry``): the prefixes of the fan's rays, each cell
painted from its nearest ray sample (the default), or each cell's own profile (the reference)."""
BROADCAST_MODELS = ("preset", "p1812", "itm")
"""Model of the broadcast step (``[broadcast].model``)."""
INDOOR_BUILDING_CLASSES = ("traditional", "thermally_efficient")
"""ITU-R P.2109 building classes (``[services].indoor_building_class``), in the Recommendation's order."""
TARGET_SCOPES = ("districts", "city")
FIBRE_RULES = ("drop_distance", "premises", "capacity")
ZONAL_RULE_NAMES = ("fraction", "centroid", "all_touched")
UNCERTAINTY_STEPS = ("coarser", "finer")
"""Grid steps of the uncertainty band (``[accounting].uncertainty_resolution``): twice and half the cell."""
REPORT_LANGS = ("en", "zh")
BASEMAPS = ("none", "osm")
OCID_RADIOS = ("UMTS", "LTE", "NR")
"""OpenCelliD radios the engine models (3G, 4G, 5G); GSM and CDMA cells are dropped and counted."""
OCID_DEFAULT_KEYS = ("band", "freq_mhz", "bandwidth_mhz", "height_m", "eirp_dbm", "downtilt_deg",
                     "v_beamwidth_deg", "h_beamwidth_deg", "sectors")
"""Keys of ``[inputs.opencellid.defaults.<radio>]``: what OpenCelliD lacks, per radio."""
OCID_SECTORS = (1, 3)
"""Sectors per OpenCelliD cell: 1 omnidirectional, 3 at azimuths 0/120/240 degrees (a guess)."""
OCID_JOINS = ("fill", "add")
"""How ``[inputs.opencellid]`` joins ``[inputs.sectors]``: ``fill`` adds only the cells the sector
table lacks (matched by ids or position), ``add`` adds every cell (the same network twice counts twice)."""
