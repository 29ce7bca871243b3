"""The public API stays what the architecture promises: every façade exports exactly its
``__all__``, sorted, each name documented; implementation modules are private."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import p1guard

FACADES = [
    "p1guard",
    "p1guard.asgi",
    "p1guard.errors",
    "p1guard.rp",
    "p1guard.testing",
    "p1guard.web",
    "p1guard.wsgi",
    "p1guard_django",
    "p1guard_fastapi",
    "p1guard_flask",
]


def isort_key(name: str) -> tuple[int, str]:
    """``__all__`` order as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions."""
    if name.isupper() or (name.upper() == name and "_" in name):
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def foreign(value: object) -> bool:
    """An object another library defined (imported for use, not exported)."""
    home = getattr(value, "__module__", None)
    return isinstance(home, str) and not home.startswith("p1guard")


@pytest.mark.parametrize("name", FACADES)
def test_facade_exports_exactly_its_sorted_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = [entry for entry in module.__all__ if entry != "__version__"]
    assert exported == sorted(exported, key=isort_key), f"{name}.__all__ is not sorted"
    public = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_") and not isinstance(value, ModuleType)
    }
    for entry in exported:  # a lazy façade (p1guard.testing) resolves names on first access
        assert getattr(module, entry) is not None
    unlisted = {member for member in public - set(exported) if not foreign(getattr(module, member))}
    unlisted -= {"annotations", "TYPE_CHECKING"}
    assert not unlisted, f"public in {name} but not in __all__"


@pytest.mark.parametrize("name", FACADES)
def test_every_exported_name_has_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    for entry in module.__all__:
        value = getattr(module, entry)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{name}.{entry} has no docstring"


def test_implementation_modules_are_private() -> None:
    public = {
        info.name
        for info in pkgutil.walk_packages(p1guard.__path__, prefix="p1guard.")
        if not any(part.startswith("_") for part in info.name.split(".")[1:])
    }
    # The façades, the error family, and the pytest plugin (an entry point by name).
    assert public == {
        "p1guard.asgi",
        "p1guard.errors",
        "p1guard.rp",
        "p1guard.testing",
        "p1guard.testing.plugin",
        "p1guard.web",
        "p1guard.wsgi",
    }


def test_contract_names_exist() -> None:
    for name in (
        "PingOne",
        "Guard",
        "AccessToken",
        "AuthError",
        "MissingToken",
        "InvalidToken",
        "InsufficientScope",
        "ProviderUnavailable",
    ):
        assert name in p1guard.__all__
        assert getattr(p1guard, name).__doc__
