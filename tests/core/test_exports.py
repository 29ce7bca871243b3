"""The public API stays what the architecture promises."""

from __future__ import annotations

import p1guard


def test_all_matches_module_namespace() -> None:
    public = {name for name in dir(p1guard) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(p1guard, name)).__name__ == "module"}
    assert set(p1guard.__all__) - {"__version__"} == public - modules


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


def test_every_public_name_has_a_docstring() -> None:
    for name in p1guard.__all__:
        if name != "__version__":
            assert getattr(p1guard, name).__doc__, name
