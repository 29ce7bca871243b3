"""PingOne configuration (p1guard._pingone)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from p1guard import ConfigError, PingOne
from p1guard._pingone import issuer_for

ENV = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("NA", "auth.pingone.com"),
        ("na", "auth.pingone.com"),
        ("CA", "auth.pingone.ca"),
        ("EU", "auth.pingone.eu"),
        ("AU", "auth.pingone.com.au"),
        ("com.au", "auth.pingone.com.au"),
        ("AP", "auth.pingone.asia"),
        ("SG", "auth.pingone.sg"),
    ],
)
def test_region_to_issuer(region: str, host: str) -> None:
    assert PingOne(env_id=ENV, region=region).issuer == f"https://{host}/{ENV}/as"


def test_env_id_is_lowercased() -> None:
    assert issuer_for(ENV.upper()).endswith(f"/{ENV}/as")


@pytest.mark.parametrize("env_id", ["", "abc", "../../evil", ENV + "x", f"{ENV}/as"])
def test_bad_env_id_named(env_id: str) -> None:
    with pytest.raises(ConfigError) as info:
        PingOne(env_id=env_id)
    assert info.value.field == "env_id"


def test_unknown_region_named() -> None:
    with pytest.raises(ConfigError, match="region: unknown region 'XX'"):
        PingOne(env_id=ENV, region="XX")


def test_custom_domain_issuer() -> None:
    assert PingOne(issuer="https://login.example.com/as/").issuer == "https://login.example.com/as"


@pytest.mark.parametrize(
    "issuer",
    [
        "http://login.example.com/as",
        "ftp://login.example.com/as",
        "login.example.com/as",
        "https://login.example.com/as?x=1",
        "https://user:pw@login.example.com/as",
        "",
    ],
)
def test_unsafe_issuers_rejected(issuer: str) -> None:
    with pytest.raises(ConfigError) as info:
        PingOne(issuer=issuer)
    assert info.value.field == "issuer"


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:9000", "[::1]:8000"])
def test_http_allowed_on_loopback(host: str) -> None:
    assert PingOne(issuer=f"http://{host}/env/as").issuer.startswith("http://")


def test_http_opt_out_is_loud() -> None:
    assert PingOne(issuer="http://p1.test/as", allow_insecure_http=True).issuer


def test_nothing_given() -> None:
    with pytest.raises(ConfigError, match="env_id"):
        PingOne()


def test_from_env() -> None:
    pingone = PingOne.from_env({"P1GUARD_ENV_ID": ENV, "P1GUARD_REGION": "EU"})
    assert pingone.issuer == f"https://auth.pingone.eu/{ENV}/as"
    assert PingOne.from_env({"P1GUARD_ISSUER": "https://id.example.com/as"}).issuer == (
        "https://id.example.com/as"
    )
    with pytest.raises(ConfigError, match="P1GUARD_ENV_ID"):
        PingOne.from_env({})


def test_durations_accept_timedelta_and_reject_nonsense() -> None:
    assert PingOne(env_id=ENV, timeout=timedelta(seconds=2)).timeout == 2.0
    with pytest.raises(ConfigError, match="timeout"):
        PingOne(env_id=ENV, timeout=-1)
    with pytest.raises(ConfigError, match="jwks_cooldown"):
        PingOne(env_id=ENV, jwks_cooldown="60")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeout"):
        PingOne(env_id=ENV, timeout=float("nan"))
