"""The coverage engine: tiled cellular coverage over terrain, link budgets, antennas, WLAN and broadcast.

Modules
-------
cellular    the tiled cellular engine (best server, SINR, speed tiers)
sectors     the sector table as arrays for the kernels, and the kernels' other structs
tiles       tiling, ray-fan wedges and the co-channel reach limit
exact       parameters of the exact (ITM / P.1812) mode
linkbudget  reference-signal offsets, noise, best server, throughput, uplink, speed tiers
antenna     the 3GPP sector pattern and its MSI export
wlan        WLAN access-point coverage
broadcast   DTV and trunking field strength on their own grid
viewshed    line of sight and viewsheds (one observer or many), exact per cell near visibility edges
_*_kernels  the Numba kernels behind them (plain array functions, imported only by this wing)
"""

from citycov.engine.visibility import line_of_sight, viewshed, viewshed_count

__all__ = ["line_of_sight", "viewshed", "viewshed_count"]
