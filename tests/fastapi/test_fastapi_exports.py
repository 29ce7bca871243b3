"""p1guard_fastapi's public API: ``__all__`` matches the namespace, every name is documented."""

from __future__ import annotations

import p1guard_fastapi


def test_all_matches_module_namespace() -> None:
    public = {name for name in dir(p1guard_fastapi) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(p1guard_fastapi, name)).__name__ == "module"}
    assert set(p1guard_fastapi.__all__) - {"__version__"} == public - modules


def test_every_public_name_has_a_docstring() -> None:
    for name in p1guard_fastapi.__all__:
        if name != "__version__":
            assert getattr(p1guard_fastapi, name).__doc__, name


def test_contract_name_exists() -> None:
    assert "PingOneBearer" in p1guard_fastapi.__all__
