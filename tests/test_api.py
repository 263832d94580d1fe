"""The public surface: __all__ is exactly what symgrad exports, and every name resolves."""

import doctest
import importlib
import pkgutil

import pytest

import symgrad


def test_all_names_resolve_and_are_sorted():
    for name in symgrad.__all__:
        assert hasattr(symgrad, name), name
    assert list(symgrad.__all__) == sorted(symgrad.__all__)


def test_version():
    assert symgrad.__version__.count(".") >= 2


MODULES = sorted(m.name for m in pkgutil.walk_packages(symgrad.__path__, "symgrad.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
