"""Docstring examples are executable and right (numpydoc ``Examples`` blocks)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "citycov.crs",
    "citycov.engine.linkbudget",
    "citycov.io.msi",
    "citycov.presets.radio",
    "citycov.engine.antenna",
    "citycov.config",
    "citycov.propagation.free_space",
    "citycov.propagation.hata",
    "citycov.propagation.tr38901",
    "citycov.propagation.diffraction",
    "citycov.propagation.p2108",
    "citycov.propagation.p2109",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
