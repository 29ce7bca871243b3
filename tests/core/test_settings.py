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


def test_pingone_from_env_reads_every_pingone_setting() -> None:
    from p1guard import PingOne

    pingone = PingOne.from_env(
        {"P1GUARD_ENV_ID": ENV, "P1GUARD_REGION": "EU", "P1GUARD_TIMEOUT": "2"}
    )
    assert pingone.issuer == f"https://auth.pingone.eu/{ENV}/as"
    assert pingone.timeout == 2.0
    assert PingOne.from_env({"P1GUARD_ENV_ID": ENV}, timeout=1).timeout == 1.0
    assert PingOne.from_env({}, issuer="https://login.example.com/as").env_id is None
    with pytest.raises(ConfigError) as info:
        PingOne.from_env({"P1GUARD_ENV_ID": ENV, "P1GUARD_REGION": "MARS"})
    assert info.value.field == "P1GUARD_REGION"
    with pytest.raises(ConfigError) as info:
        PingOne.from_env({"P1GUARD_ENV_ID": ENV, "P1GUARD_TIMEOUT": "0"})
    assert info.value.field == "P1GUARD_TIMEOUT"


def test_the_schema_lists_every_problem_at_once() -> None:
    from p1guard._schema import read, unknown_keys

    settings = {"P1GUARD_LEEWAY": "soon", "P1GUARD_MODE": "magic", "P1GUARD_CLIENT_SECRET": 5}
    _, problems = read(settings, feeds=("pingone", "guard"))
    assert [p.key for p in problems] == [
        "P1GUARD_ENV_ID",
        "P1GUARD_AUDIENCE",
        "P1GUARD_MODE",
        "P1GUARD_CLIENT_SECRET",
        "P1GUARD_LEEWAY",
    ]
    assert problems[3].message == "expected a string, got int"
    [typo] = unknown_keys({"P1GUARD_LEEWAY": 1, "P1GUARD_LEWAY": 1, "SECRET_KEY": "x"})
    assert (typo.key, typo.hint) == ("P1GUARD_LEWAY", "Did you mean 'P1GUARD_LEEWAY'?")


def test_python_values_only_when_strings_are_not_settings() -> None:
    from p1guard._schema import read

    settings = {"CHECK_REVOCATION": "yes", "LEEWAY": -1, "AUDIENCE": "a,b", "ISSUER": "x"}
    values, problems = read(settings, prefix="", feeds=("pingone", "guard"), strings=False)
    assert values["guard"] == {"audience": "a,b"}
    assert [(p.key, p.message) for p in problems] == [
        ("CHECK_REVOCATION", "expected True or False, got str"),
        ("LEEWAY", "expected 0 or more seconds, at most 366 days, got int"),
    ]
