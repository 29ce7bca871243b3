"""Every example in p1guard's docstrings runs and shows what it claims."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import p1guard

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(p1guard.__path__, prefix="p1guard.")
    if not info.name.startswith("p1guard.testing._")
)


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
