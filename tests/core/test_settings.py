"""One settings reader for environment variables, Flask config and Django's dict."""

from __future__ import annotations

from datetime import timedelta

import pytest

from p1guard import ConfigError
from p1guard._settings import guard_from_env, guard_from_settings, setting_flag

ENV = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
BASE = {"P1GUARD_ENV_ID": ENV, "P1GUARD_AUDIENCE": "https://api.example.com"}


def test_minimal_settings() -> None:
    guard = guard_from_settings(BASE)
    assert guard.pingone.issuer == f"https://auth.pingone.com/{ENV}/as"
    assert guard.mode == "jwt"
    assert not guard.can_introspect


def test_strings_from_the_environment_are_parsed() -> None:
    guard = guard_from_env(
        {
            **BASE,
            "P1GUARD_REGION": "eu",
            "P1GUARD_AUDIENCE": "https://a.example, https://b.example",
            "P1GUARD_MODE": "Introspect",
            "P1GUARD_CLIENT_ID": "rid",
            "P1GUARD_CLIENT_SECRET": "rsecret",
            "P1GUARD_CHECK_REVOCATION": "yes",
            "P1GUARD_LEEWAY": "5",
            "P1GUARD_TIMEOUT": "2.5",
            "P1GUARD_STRICT_TYP": "on",
        }
    )
    assert guard.pingone.issuer.startswith("https://auth.pingone.eu/")
    assert guard.policy.audiences == {"https://a.example", "https://b.example"}
    assert guard.mode == "introspect"
    assert guard.check_revocation
    assert guard.can_introspect
    assert guard.policy.leeway == 5.0
    assert guard.policy.strict_typ
    assert guard.pingone.timeout == 2.5


def test_python_values_and_a_custom_prefix() -> None:
    guard = guard_from_settings(
        {
            "ISSUER": "https://login.example.com/as",
            "AUDIENCE": ["x", "y"],
            "LEEWAY": timedelta(seconds=3),
        },
        prefix="",
    )
    assert guard.pingone.issuer == "https://login.example.com/as"
    assert guard.policy.leeway == 3.0


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"P1GUARD_AUDIENCE": "x"}, "P1GUARD_ENV_ID"),
        ({"P1GUARD_ENV_ID": ENV}, "P1GUARD_AUDIENCE"),
        ({**BASE, "P1GUARD_ENV_ID": "nope"}, "P1GUARD_ENV_ID"),
        ({**BASE, "P1GUARD_REGION": "MARS"}, "P1GUARD_REGION"),
        ({**BASE, "P1GUARD_MODE": "magic"}, "P1GUARD_MODE"),
        ({**BASE, "P1GUARD_MODE": "introspect"}, "P1GUARD_CLIENT_ID"),
        ({**BASE, "P1GUARD_LEEWAY": "soon"}, "P1GUARD_LEEWAY"),
        ({**BASE, "P1GUARD_CHECK_REVOCATION": "maybe"}, "P1GUARD_CHECK_REVOCATION"),
        ({**BASE, "P1GUARD_AUDIENCE": " , "}, "P1GUARD_AUDIENCE"),
        ({**BASE, "P1GUARD_REALM": 7}, "P1GUARD_REALM"),
    ],
)
def test_errors_name_the_setting(settings: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        guard_from_settings(settings)
    assert info.value.field == key


def test_setting_flag_default() -> None:
    assert setting_flag({}, "X", default=True) is True
    assert setting_flag({"X": False}, "X", default=True) is False


LOGIN = {
    "P1GUARD_ISSUER": "https://login.example.com/as",
    "P1GUARD_LOGIN_CLIENT_ID": "app",
    "P1GUARD_LOGIN_CLIENT_SECRET": "s",
    "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback",
}


def test_login_settings() -> None:
    from p1guard._settings import web_login_from_settings
    from p1guard.rp import MemoryStore

    web = web_login_from_settings(
        {**LOGIN, "P1GUARD_LOGIN_SCOPES": "openid,profile"}, session_ttl=60
    )
    assert web.rp.scopes == ("openid", "profile")
    assert isinstance(web.store, MemoryStore)
    assert web.session_ttl == 60


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"P1GUARD_LOGIN_CLIENT_ID": ""}, "P1GUARD_LOGIN_CLIENT_ID"),
        ({"P1GUARD_LOGIN_REDIRECT_URI": ""}, "P1GUARD_LOGIN_REDIRECT_URI"),
        ({"P1GUARD_LOGIN_REDIRECT_URI": "http://app.example.com/cb"}, "P1GUARD_LOGIN_REDIRECT_URI"),
        ({"P1GUARD_LOGIN_SCOPES": 7}, "P1GUARD_LOGIN_SCOPES"),
        ({"P1GUARD_LOGIN_SCOPES": "profile"}, "P1GUARD_LOGIN_SCOPES"),
        ({"P1GUARD_LOGIN_STORE": "memcached://x"}, "P1GUARD_LOGIN_STORE"),
        ({"P1GUARD_ISSUER": "http://evil.example.com/as"}, "P1GUARD_ISSUER"),
    ],
)
def test_login_settings_errors_name_the_setting(extra: dict[str, object], key: str) -> None:
    from p1guard._settings import web_login_from_settings

    with pytest.raises(ConfigError) as info:
        web_login_from_settings({**LOGIN, **extra})
    assert info.value.field == key
