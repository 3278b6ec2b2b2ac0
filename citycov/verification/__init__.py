"""Verification of operators' coverage claims.

Modules
-------
claims       the claims step of a run (partition, challenge, calibration together)
partition    the three-way partition of claimed area (confirmed / model-only / unsupported)
challenge    the H3 challenge engine (FCC-style hexagon tests on measurements)
calibration  fitting the propagation model to drive-test measurements
"""
