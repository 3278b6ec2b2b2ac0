"""Propagation models: Numba kernels behind vectorised public functions.

Each model family has its own module; the kernels (``*_db``) take numbers only and are
called directly by the radio engine; the public functions (``*_loss_db``) broadcast like
numpy, validate their domain and return float64 arrays (floats for scalar input).
"""

from citycov.propagation.diffraction import knife_edge_loss_db
from citycov.propagation.free_space import free_space_loss_db
from citycov.propagation.hata import HATA_ENVIRONMENTS, cost231_hata_loss_db, okumura_hata_loss_db
from citycov.propagation.tr38901 import TR38901_SCENARIOS, tr38901_loss_db

__all__ = [
    "HATA_ENVIRONMENTS",
    "TR38901_SCENARIOS",
    "cost231_hata_loss_db",
    "free_space_loss_db",
    "knife_edge_loss_db",
    "okumura_hata_loss_db",
    "tr38901_loss_db",
]
