"""The public API is what `__all__` says, and every name in it exists."""

from __future__ import annotations

import importlib
import types

import pytest

import lgscope

PUBLIC_MODULES = [
    "lgscope",
    "lgscope.model",
    "lgscope.replay",
    "lgscope.store",
    "lgscope.store.build",
    "lgscope.store.decode",
    "lgscope.store.resolve",
    "lgscope.testing",
    "lgscope.units",
]


def test_top_level_exports() -> None:
    exported = set(lgscope.__all__)
    public = {
        name
        for name, value in vars(lgscope).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"annotations"} <= exported
    assert exported <= set(vars(lgscope))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but missing"


def test_every_error_derives_from_lgscope_error() -> None:
    errors = [
        getattr(lgscope, n)
        for n in lgscope.__all__
        if n.endswith(("Error", "Found", "Store", "Conflict", "Extra", "Resolved", "Unavailable"))
    ]
    errors = [e for e in errors if isinstance(e, type) and issubclass(e, Exception)]
    assert len(errors) >= 15
    assert all(issubclass(e, lgscope.LgscopeError) for e in errors)
