"""The public API of p1guard_flask stays what the architecture promises."""

from __future__ import annotations

import inspect

from werkzeug.local import LocalProxy

import p1guard_flask


def test_all_matches_module_namespace() -> None:
    public = {name for name in dir(p1guard_flask) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(p1guard_flask, name))}
    assert set(p1guard_flask.__all__) - {"__version__"} == public - modules


def test_contract_names_exist() -> None:
    assert {"P1Guard", "current_token"} <= set(p1guard_flask.__all__)
    assert isinstance(p1guard_flask.current_token, LocalProxy)


def test_public_callables_have_docstrings_with_examples() -> None:
    for name in ("P1Guard", "auth_error_response", "get_token", "guard_from_config"):
        assert ">>>" in (getattr(p1guard_flask, name).__doc__ or ""), name
    for name, member in inspect.getmembers(p1guard_flask.P1Guard):
        if not name.startswith("_"):
            doc = getattr(member, "__doc__", None) or ""
            assert ">>>" in doc, name
