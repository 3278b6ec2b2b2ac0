"""Presets: radio service presets and challenge presets, read by one reader from TOML files.

Modules
-------
files      the one preset-file reader (shipped name or path, SHA-256) and TOML key reader (:class:`KeyReader`)
radio      radio service presets (FCC BDC, Ofcom, trunking, DTV thresholds)
challenge  challenge presets (the FCC BDC challenge-process thresholds)
"""
