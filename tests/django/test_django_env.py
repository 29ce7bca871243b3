"""settings_from_env: the P1GUARD_* names of p1guard._settings, mapped 1:1 into P1GUARD."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.test import override_settings

from p1guard import ConfigError
from p1guard._settings import GUARD_SETTINGS, LOGIN_SETTINGS, web_login_from_settings
from p1guard_django import settings_from_env

ENV_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_settings_from_env_uses_the_core_login_names() -> None:
    env = {
        "P1GUARD_ENV_ID": ENV_ID,
        "P1GUARD_REGION": "EU",
        "P1GUARD_LOGIN_CLIENT_ID": "web-app",
        "P1GUARD_LOGIN_CLIENT_SECRET": "s3cr3t",
        "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback",
        "P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI": "https://app.example.com/",
        "P1GUARD_LOGIN_SCOPES": "openid,profile",
        "P1GUARD_LOGIN_STORE": "redis://cache:6379/0",
        "P1GUARD_TIMEOUT": "3",
    }
    assert settings_from_env(env) == {
        "ENV_ID": ENV_ID,
        "REGION": "EU",
        "PINGONE_OPTIONS": {"timeout": 3.0},
        "LOGIN": {
            "CLIENT_ID": "web-app",
            "CLIENT_SECRET": "s3cr3t",
            "REDIRECT_URI": "https://app.example.com/auth/callback",
            "POST_LOGOUT_REDIRECT_URI": "https://app.example.com/",
            "SCOPES": "openid,profile",
            "STORE": "redis://cache:6379/0",
        },
    }


def test_settings_from_env_keeps_resource_and_login_credentials_apart() -> None:
    env = {
        "P1GUARD_ENV_ID": ENV_ID,
        "P1GUARD_AUDIENCE": "https://a.example.com, https://b.example.com",
        "P1GUARD_MODE": "introspect",
        "P1GUARD_CLIENT_ID": "resource",
        "P1GUARD_CLIENT_SECRET": "resource-secret",
        "P1GUARD_LOGIN_CLIENT_ID": "web-app",
        "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback",
    }
    assert settings_from_env(env) == {
        "ENV_ID": ENV_ID,
        "AUDIENCE": ["https://a.example.com", "https://b.example.com"],
        "MODE": "introspect",
        "CLIENT_ID": "resource",
        "CLIENT_SECRET": "resource-secret",
        "LOGIN": {
            "CLIENT_ID": "web-app",
            "REDIRECT_URI": "https://app.example.com/auth/callback",
        },
    }


def test_settings_from_env_reads_flags_and_seconds_like_the_core() -> None:
    env = {
        "P1GUARD_ENV_ID": ENV_ID,
        "P1GUARD_AUDIENCE": "https://api.example.com",
        "P1GUARD_CHECK_REVOCATION": "Yes",
        "P1GUARD_STRICT_TYP": "on",
        "P1GUARD_LEEWAY": "10",
        "P1GUARD_REALM": "items",
        "P1GUARD_ALLOW_QUERY_TOKEN": "true",
    }
    assert settings_from_env(env) == {
        "ENV_ID": ENV_ID,
        "AUDIENCE": "https://api.example.com",
        "CHECK_REVOCATION": True,
        "LEEWAY": 10.0,
        "REALM": "items",
        "GUARD_OPTIONS": {"strict_typ": True},
        "ALLOW_QUERY_TOKEN": True,
    }


def test_settings_from_env_honours_allow_query_token() -> None:
    assert settings_from_env({"P1GUARD_ALLOW_QUERY_TOKEN": "0"}) == {"ALLOW_QUERY_TOKEN": False}
    with pytest.raises(ConfigError) as refused:
        settings_from_env({"P1GUARD_ALLOW_QUERY_TOKEN": "maybe"})
    assert refused.value.field == "P1GUARD_ALLOW_QUERY_TOKEN"


def test_settings_from_env_maps_every_core_setting() -> None:
    env = {f"P1GUARD_{name}": "1" for name in (*GUARD_SETTINGS, *LOGIN_SETTINGS)}
    env.update(P1GUARD_MODE="auto", P1GUARD_DPOP="required", P1GUARD_MTLS="required")
    env["P1GUARD_DPOP_NONCE_SECRET"] = "a-nonce-secret-of-32-characters!"
    found = settings_from_env(env)
    login = found.pop("LOGIN")
    nested = {**found.pop("GUARD_OPTIONS"), **found.pop("PINGONE_OPTIONS")}
    mapped = {*found, *nested, *(f"LOGIN_{key}" for key in login)}
    assert mapped == {
        *(
            name
            for name in GUARD_SETTINGS
            if name not in ("TIMEOUT", "STRICT_TYP", "DPOP", "MTLS", "DPOP_NONCE_SECRET")
        ),
        "timeout",
        "strict_typ",
        "dpop",
        "mtls",
        "dpop_nonces",
        *LOGIN_SETTINGS,
    }


def test_settings_from_env_result_passes_the_system_checks() -> None:
    env = {
        "P1GUARD_ENV_ID": ENV_ID,
        "P1GUARD_AUDIENCE": "https://api.example.com",
        "P1GUARD_CHECK_REVOCATION": "false",
        "P1GUARD_LEEWAY": "5",
        "P1GUARD_TIMEOUT": "2.5",
        "P1GUARD_STRICT_TYP": "true",
        "P1GUARD_ALLOW_QUERY_TOKEN": "false",
        "P1GUARD_DPOP": "Required",
        "P1GUARD_MTLS": "allowed",
        "P1GUARD_DPOP_NONCE_SECRET": "a-nonce-secret-of-32-characters!",
    }
    found = settings_from_env(env)
    assert found["GUARD_OPTIONS"]["dpop"] == "required"
    with override_settings(P1GUARD=found):
        assert checks.run_checks(tags=["p1guard"]) == []


def test_settings_from_env_login_matches_what_the_core_builds() -> None:
    env = {
        "P1GUARD_ISSUER": "https://login.example.com/as",
        "P1GUARD_LOGIN_CLIENT_ID": "web-app",
        "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback",
        "P1GUARD_LOGIN_SCOPES": "openid,email",
    }
    core = web_login_from_settings(env)
    login: dict[str, Any] = settings_from_env(env)["LOGIN"]
    assert (login["CLIENT_ID"], login["REDIRECT_URI"]) == (
        core.rp.client_id,
        core.rp.redirect_uri,
    )
    assert login["SCOPES"].replace(",", " ").split() == list(core.rp.scopes)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("P1GUARD_REDIRECT_URI", "P1GUARD_LOGIN_REDIRECT_URI"),
        ("P1GUARD_POST_LOGOUT_REDIRECT_URI", "P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI"),
        ("P1GUARD_SCOPES", "P1GUARD_LOGIN_SCOPES"),
        ("P1GUARD_SESSION_REDIS_URL", "P1GUARD_LOGIN_STORE"),
    ],
)
def test_settings_from_env_refuses_the_old_sign_in_names(old: str, new: str) -> None:
    with pytest.raises(ConfigError, match=new) as refused:
        settings_from_env({old: "x"})
    assert refused.value.field == old


@pytest.mark.parametrize(
    "name",
    ["P1GUARD_LEEWAY", "P1GUARD_TIMEOUT", "P1GUARD_STRICT_TYP", "P1GUARD_MODE", "P1GUARD_DPOP"],
)
def test_settings_from_env_names_the_malformed_variable(name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from_env({name: "soon"})
    assert refused.value.field == name


def test_settings_from_env_skips_empty_variables() -> None:
    assert settings_from_env({"P1GUARD_ENV_ID": " ", "P1GUARD_LOGIN_CLIENT_ID": ""}) == {}
