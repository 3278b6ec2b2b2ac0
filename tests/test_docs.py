"""Docstring examples are executable and right (numpydoc ``Examples`` blocks).

Every module of the package is searched (``pkgutil.walk_packages``), so a new module's examples
run without being listed here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import citycov

FINDER = doctest.DocTestFinder()
SKIP = {"citycov.__main__"}  # importing it runs the command line


def modules_with_examples() -> list[str]:
    """Names of the package's modules whose docstrings hold at least one example that runs (not
    all ``+SKIP``, as those reading a file are)."""
    names = []
    for info in pkgutil.walk_packages(citycov.__path__, prefix="citycov."):
        if info.name in SKIP:
            continue
        module = importlib.import_module(info.name)
        if any(not example.options.get(doctest.SKIP) for test in FINDER.find(module) for example in test.examples):
            names.append(info.name)
    return sorted(names)


MODULES = modules_with_examples()


def test_discovery_finds_modules_in_every_wing():
    assert {"citycov.verification.challenge", "citycov.propagation.itm", "citycov.propagation.p1812",
            "citycov.crs", "citycov.engine.antenna"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
