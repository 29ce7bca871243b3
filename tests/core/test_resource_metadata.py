"""RFC 9728 Protected Resource Metadata (p1guard._web.resource_metadata) and its 401 challenges."""

from __future__ import annotations

import doctest
import json

import pytest

import p1guard._web.resource_metadata as resource_metadata_module
from p1guard import (
    ConfigError,
    Guard,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    PingOne,
    ProviderUnavailable,
)
from p1guard._web.bearer import BearerRules
from p1guard._web.resource_metadata import WELL_KNOWN_PREFIX, ResourceMetadata

ISSUER = "https://auth.pingone.eu/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as"
URL = "https://api.example.com/.well-known/oauth-protected-resource"


def pingone() -> PingOne:
    return PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", region="EU")


def test_document_shape() -> None:
    md = ResourceMetadata(
        "https://api.example.com",
        ISSUER,
        scopes_supported=["read", "write"],
        resource_name="Orders API",
    )
    assert md.document() == {
        "resource": "https://api.example.com",
        "authorization_servers": [ISSUER],
        "scopes_supported": ["read", "write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Orders API",
    }
    assert json.loads(md.json_bytes()) == md.document()
    assert md.well_known_path == WELL_KNOWN_PREFIX
    assert md.metadata_url == URL


def test_optional_members_are_left_out() -> None:
    doc = ResourceMetadata("https://api.example.com/", ISSUER).document()
    assert doc == {
        "resource": "https://api.example.com/",
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
    }


@pytest.mark.parametrize(
    ("resource", "path", "url"),
    [
        ("https://api.example.com/", WELL_KNOWN_PREFIX, URL),
        ("https://api.example.com/v1", f"{WELL_KNOWN_PREFIX}/v1", f"{URL}/v1"),
        ("https://api.example.com/v1/", f"{WELL_KNOWN_PREFIX}/v1", f"{URL}/v1"),
        (
            "http://127.0.0.1:8000/a/b",
            f"{WELL_KNOWN_PREFIX}/a/b",
            f"http://127.0.0.1:8000{WELL_KNOWN_PREFIX}/a/b",
        ),
    ],
)
def test_well_known_location_inserts_the_path(resource: str, path: str, url: str) -> None:
    md = ResourceMetadata(resource, ISSUER)
    assert (md.well_known_path, md.metadata_url) == (path, url)


def test_explicit_metadata_url_wins() -> None:
    explicit = "https://gw.example.com/orders/.well-known/oauth-protected-resource"
    md = ResourceMetadata("https://api.example.com", ISSUER, metadata_url=explicit)
    assert md.metadata_url == explicit
    assert md.well_known_path == WELL_KNOWN_PREFIX


@pytest.mark.parametrize(
    "resource",
    [
        "api.example.com",
        "/orders",
        "ftp://api.example.com",
        "http://api.example.com",
        "https://",
        "https://api.example.com/#frag",
        "https://api.example.com/?tenant=1",
        "https://user:pw@api.example.com",
        "https://api.example.com:99999",
        "https://api.example.com/a b",
        "",
        None,
    ],
)
def test_bad_resource_is_config_error(resource: object) -> None:
    with pytest.raises(ConfigError) as info:
        ResourceMetadata(resource, ISSUER)  # type: ignore[arg-type]
    assert info.value.field == "resource"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_http_is_allowed_on_loopback(host: str) -> None:
    assert ResourceMetadata(f"http://{host}:8000", ISSUER).resource == f"http://{host}:8000"


def test_http_on_a_name_under_localhost_is_refused() -> None:
    # One loopback rule for every URL (p1guard._values.is_loopback): only names that cannot
    # leave the machine; a resolver may send app.localhost to DNS.
    with pytest.raises(ConfigError):
        ResourceMetadata("http://app.localhost:8000", ISSUER)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"scopes_supported": "read write"}, "scopes_supported"),
        ({"scopes_supported": ["read", ""]}, "scopes_supported"),
        ({"resource_name": ""}, "resource_name"),
        ({"bearer_methods_supported": ["cookie"]}, "bearer_methods_supported"),
        ({"metadata_url": "http://example.com/md"}, "metadata_url"),
        ({"extra": {"resource": "https://evil.example"}}, "extra"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ResourceMetadata("https://api.example.com", ISSUER, **options)  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_issuer_is_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        ResourceMetadata("https://api.example.com", "http://auth.example.com/as")
    assert info.value.field == "issuer"


def test_for_guard_uses_audience_and_issuer() -> None:
    guard = Guard(pingone(), audience="https://api.example.com")
    md = ResourceMetadata.for_guard(guard, scopes_supported=["read"])
    assert md.document()["resource"] == "https://api.example.com"
    assert md.document()["authorization_servers"] == [guard.pingone.issuer]
    several = Guard(pingone(), audience=["https://a.example.com", "https://b.example.com"])
    with pytest.raises(ConfigError):
        ResourceMetadata.for_guard(several)
    assert ResourceMetadata.for_guard(several, resource="https://a.example.com").resource == (
        "https://a.example.com"
    )
    with pytest.raises(ConfigError):
        ResourceMetadata.for_guard(Guard(pingone(), audience="orders-api"))


def test_challenges_unchanged_without_metadata() -> None:
    assert MissingToken().www_authenticate == "Bearer"
    assert InvalidToken("x").www_authenticate == (
        'Bearer error="invalid_token", error_description="x"'
    )


def test_401_challenges_carry_resource_metadata() -> None:
    missing = MissingToken(realm="api")
    missing.resource_metadata = URL
    assert missing.www_authenticate == f'Bearer realm="api", resource_metadata="{URL}"'
    invalid = InvalidToken("x")
    invalid.resource_metadata = URL
    assert invalid.www_authenticate == (
        f'Bearer error="invalid_token", error_description="x", resource_metadata="{URL}"'
    )


@pytest.mark.parametrize(
    "err",
    [InsufficientScope(["admin"]), InvalidRequest("bad"), ProviderUnavailable()],
)
def test_other_statuses_do_not_carry_resource_metadata(err: Exception) -> None:
    err.resource_metadata = URL  # type: ignore[attr-defined]
    assert "resource_metadata" not in err.www_authenticate  # type: ignore[attr-defined]


def test_guard_stamps_resource_metadata_url() -> None:
    guard = Guard(pingone(), audience="https://api.example.com", resource_metadata_url=URL)
    with pytest.raises(MissingToken) as info:
        guard.verify(None)
    assert f'resource_metadata="{URL}"' in info.value.www_authenticate
    with pytest.raises(InvalidToken) as bad:
        guard.verify("not-a-jwt")
    assert f'resource_metadata="{URL}"' in bad.value.www_authenticate


def test_guard_rejects_bad_resource_metadata_url() -> None:
    with pytest.raises(ConfigError) as info:
        Guard(pingone(), audience="https://api.example.com", resource_metadata_url="/md")
    assert info.value.field == "resource_metadata_url"


def test_bearer_rules_serve_and_stamp() -> None:
    guard = Guard(pingone(), audience="https://api.example.com")
    md = ResourceMetadata.for_guard(guard)
    rules = BearerRules(guard, resource_metadata=md)
    assert rules.metadata_response("/other", "GET") is None
    served = rules.metadata_response(WELL_KNOWN_PREFIX, "GET")
    assert served is not None
    assert served.status == 200 and json.loads(served.body) == md.document()
    assert dict(served.headers)["Cache-Control"] == "max-age=3600"
    head = rules.metadata_response(WELL_KNOWN_PREFIX, "HEAD")
    assert head is not None and head.body == b""
    assert dict(head.headers)["Content-Length"] == str(len(served.body))
    post = rules.metadata_response(WELL_KNOWN_PREFIX, "POST")
    assert post is not None and post.status == 405
    assert rules.challenge(MissingToken()).resource_metadata == md.metadata_url
    plain = BearerRules(guard)
    assert plain.metadata_response(WELL_KNOWN_PREFIX, "GET") is None
    assert plain.challenge(MissingToken()).resource_metadata is None


def test_doctests() -> None:
    assert doctest.testmod(resource_metadata_module).failed == 0
