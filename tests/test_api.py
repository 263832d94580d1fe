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


def test_api_reference_index_lists_exactly_all():
    from pathlib import Path
    import re

    text = (Path(__file__).resolve().parent.parent / "docs" / "reference" / "api.md").read_text(encoding="utf-8")
    index = text.split("\n## Index\n", 1)[1]
    documented = re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", index, re.M)
    assert sorted(documented) == sorted(symgrad.__all__)
    assert len(documented) == len(set(documented))



def test_no_module_shares_its_name_with_a_public_function():
    for name in MODULES:
        leaf = name.rsplit(".", 1)[1]
        assert not callable(getattr(symgrad, leaf, None)), f"module {name} shadows symgrad.{leaf}"


@pytest.mark.parametrize("old, new", [("check", "check_claims"), ("VERDICTS", "CLAIM_VERDICTS"),
                                      ("Path", "ChainPath"), ("Step", "Update")])
def test_renamed_names_still_work_for_one_release_and_say_their_new_name(old, new):
    with pytest.warns(DeprecationWarning, match=f"symgrad.{new}"):
        assert getattr(symgrad, old) is getattr(symgrad, new)
    assert old not in symgrad.__all__ and new in symgrad.__all__


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'chek'"):
        symgrad.chek  # noqa: B018
