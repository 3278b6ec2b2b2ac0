"""Propagation models: Numba kernels behind vectorised public functions.

Each model family has its own module; the kernels (``*_db``) take numbers only and are
called directly by the radio engine; the public functions (``*_loss_db``) broadcast like
numpy, validate their domain (raising :class:`~citycov.errors.ModelError` that names the
argument, value and valid range) and return float64 arrays (floats for scalar input).
"""

from citycov.propagation.diffraction import (
    MULTI_EDGE_METHODS,
    knife_edge_loss_db,
    multi_knife_edge_loss_curved_db,
    multi_knife_edge_loss_db,
)
from citycov.propagation.free_space import free_space_loss_db
from citycov.propagation.hata import HATA_ENVIRONMENTS, cost231_hata_loss_db, okumura_hata_loss_db
from citycov.propagation.itm import ItmResult, itm_area, itm_p2p
from citycov.propagation.p1812 import P1812Result, p1812
from citycov.propagation.p2108 import (
    CLUTTER_TYPES,
    p2108_height_gain_db,
    p2108_terrestrial_loss_db,
)
from citycov.propagation.p2109 import p2109_building_entry_loss_db
from citycov.propagation.tr38901 import (
    TR38901_SCENARIOS,
    tr38901_los_probability,
    tr38901_loss_db,
    tr38901_shadow_fading_db,
)

__all__ = [
    "CLUTTER_TYPES",
    "HATA_ENVIRONMENTS",
    "MULTI_EDGE_METHODS",
    "TR38901_SCENARIOS",
    "ItmResult",
    "P1812Result",
    "cost231_hata_loss_db",
    "free_space_loss_db",
    "itm_area",
    "itm_p2p",
    "knife_edge_loss_db",
    "multi_knife_edge_loss_curved_db",
    "multi_knife_edge_loss_db",
    "okumura_hata_loss_db",
    "p1812",
    "p2108_height_gain_db",
    "p2108_terrestrial_loss_db",
    "p2109_building_entry_loss_db",
    "tr38901_los_probability",
    "tr38901_loss_db",
    "tr38901_shadow_fading_db",
]
