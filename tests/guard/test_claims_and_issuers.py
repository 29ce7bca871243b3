"""Several issuers, per-route claim rules and refusal diagnostics, against a live MockPingOne."""

from __future__ import annotations

import logging
import re
import time

import pytest

from p1guard import (
    AccessToken,
    ConfigError,
    Contains,
    Equals,
    InsufficientClaims,
    InvalidToken,
    Predicate,
)
from p1guard._tokens.claims import claim_value, require_claims
from p1guard.testing import MockPingOne

CUSTOM_DOMAIN = "https://auth.example.com/as"


def _diagnostics(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "p1guard.guard"]


# -- several issuers -------------------------------------------------------------------------


def test_extra_issuer_is_accepted_with_the_same_keys(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(extra_issuers=[CUSTOM_DOMAIN])
    custom = pingone_mock.issue_token(["read"], claims={"iss": CUSTOM_DOMAIN})
    assert guard.verify(custom).issuer == CUSTOM_DOMAIN
    assert guard.verify(pingone_mock.issue_token(["read"])).issuer == pingone_mock.issuer
    assert guard.issuers == {pingone_mock.issuer, CUSTOM_DOMAIN}


async def test_extra_issuer_async(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(extra_issuers=CUSTOM_DOMAIN)
    custom = pingone_mock.issue_token(["read"], claims={"iss": CUSTOM_DOMAIN})
    assert (await guard.averify(custom)).issuer == CUSTOM_DOMAIN
    await guard.aclose()


def test_unknown_issuer_refused(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(extra_issuers=[CUSTOM_DOMAIN])
    forged = pingone_mock.issue_token(claims={"iss": "https://evil.example.net/as"})
    with pytest.raises(InvalidToken) as info:
        guard.verify(forged)
    assert info.value.reason == "wrong_issuer"
    assert info.value.detail["actual"] == "https://evil.example.net/as"
    assert info.value.detail["expected"] == sorted({pingone_mock.issuer, CUSTOM_DOMAIN})


def test_custom_domain_alone_is_refused_without_extra_issuers(pingone_mock: MockPingOne) -> None:
    with pytest.raises(InvalidToken, match="another issuer"):
        pingone_mock.guard().verify(pingone_mock.issue_token(claims={"iss": CUSTOM_DOMAIN}))


@pytest.mark.parametrize(
    "bad", ["http://auth.example.com/as", "auth.example.com", "", "https://u:p@x.example/as"]
)
def test_extra_issuer_must_be_https_url(pingone_mock: MockPingOne, bad: str) -> None:
    with pytest.raises(ConfigError, match="extra_issuers"):
        pingone_mock.guard(extra_issuers=[bad])


def test_extra_issuer_on_loopback_may_use_http(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(extra_issuers=["http://127.0.0.1:9/as"])
    assert "http://127.0.0.1:9/as" in guard.policy.issuers


# -- claim rules -----------------------------------------------------------------------------


def test_equals_rule(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(claims={"stage": "prod", "admin": True})
    assert guard.verify(raw, claims=[Equals("stage", "prod"), Equals("admin", True)]).subject
    with pytest.raises(InsufficientClaims) as info:
        guard.verify(raw, claims=[Equals("stage", "staging")])
    assert info.value.rule == "stage equals 'staging'"
    with pytest.raises(InsufficientClaims):
        guard.verify(raw, claims=[Equals("admin", 1)])  # True is not 1
    with pytest.raises(InsufficientClaims):
        guard.verify(raw, claims=[Equals("missing", None)])


def test_contains_rule_on_p1_permissions_literal_key(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(
        claims={"p1.permissions": ["orders:read", "orders:write"], "groups": "staff admins"}
    )
    rules = [Contains("p1.permissions", "orders:write"), Contains("groups", "admins")]
    assert guard.verify(raw, claims=rules).claims["p1.permissions"][1] == "orders:write"
    with pytest.raises(InsufficientClaims) as info:
        guard.verify(raw, claims=[Contains("p1.permissions", "orders:delete")])
    assert info.value.detail["actual"] == ["orders:read", "orders:write"]
    with pytest.raises(InsufficientClaims):
        guard.verify(raw, claims=[Contains("groups", "admin")])  # whole words only


def test_dotted_path_falls_back_to_nested_objects() -> None:
    claims = {"p1": {"permissions": ["nested"]}, "address": {"country": "DE"}}
    assert claim_value(claims, "p1.permissions") == ["nested"]
    token = AccessToken(claims, token_id="ab12cd34")
    assert require_claims(token, [Equals("address.country", "DE")]) is token
    literal = AccessToken({"p1.permissions": ["lit"], **claims}, token_id="ab12cd34")
    with pytest.raises(InsufficientClaims):
        require_claims(literal, [Contains("p1.permissions", "nested")])  # literal key wins


def test_predicate_rule(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(claims={"tenant": "acme"})
    acme = Predicate(lambda t: t.get("tenant") == "acme", "tenant is acme")
    assert guard.verify(raw, claims=[acme]).claims["tenant"] == "acme"
    other = Predicate(lambda t: t.get("tenant") == "globex", "tenant is globex")
    with pytest.raises(InsufficientClaims, match="tenant is globex"):
        guard.verify(raw, claims=[acme, other])


def test_raising_predicate_refuses_without_leaking(pingone_mock: MockPingOne) -> None:
    def boom(token: AccessToken) -> bool:
        raise RuntimeError("secret internals")

    with pytest.raises(InsufficientClaims) as info:
        pingone_mock.guard().verify(pingone_mock.issue_token(), claims=[Predicate(boom, "boom")])
    assert "secret" not in info.value.json_bytes().decode()


def test_claims_403_body_and_header(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(realm="api")
    raw = pingone_mock.issue_token(claims={"groups": ["staff"]})
    with pytest.raises(InsufficientClaims) as info:
        guard.verify(raw, scopes=["read"], claims=[Contains("groups", "admins")])
    err = info.value
    assert err.status_code == 403
    assert err.body == {
        "error": "access_denied",
        "error_description": "The access token does not satisfy: groups contains 'admins'",
    }
    assert err.www_authenticate == (
        'Bearer realm="api", error="access_denied", '
        "error_description=\"The access token does not satisfy: groups contains 'admins'\""
    )
    assert "staff" not in err.json_bytes().decode()  # the actual value stays in the logs


async def test_claims_on_averify(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(claims={"p1.permissions": ["a"]})
    assert (await guard.averify(raw, claims=[Contains("p1.permissions", "a")])).claims
    with pytest.raises(InsufficientClaims):
        await guard.averify(raw, claims=[Contains("p1.permissions", "b")])
    await guard.aclose()


def test_scopes_are_checked_before_claims(pingone_mock: MockPingOne) -> None:
    from p1guard import InsufficientScope

    with pytest.raises(InsufficientScope):
        pingone_mock.guard().verify(
            pingone_mock.issue_token(["read"]), scopes=["write"], claims=[Equals("x", 1)]
        )


def test_bad_rules_are_config_errors(pingone_mock: MockPingOne) -> None:
    with pytest.raises(ConfigError):
        Equals("", "x")
    with pytest.raises(ConfigError):
        Predicate("not callable", "x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        Predicate(lambda t: True, "")
    with pytest.raises(ConfigError):
        pingone_mock.guard().verify(pingone_mock.issue_token(), claims=[("stage", "prod")])  # type: ignore[list-item]


# -- diagnostics -----------------------------------------------------------------------------


def test_wrong_audience_is_logged_with_expected_and_actual(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "p1guard.guard")
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(audience="https://other.example.com")
    with pytest.raises(InvalidToken) as info:
        guard.verify(raw)
    (line,) = _diagnostics(caplog)
    assert "wrong_audience" in line
    assert f"expected=['{pingone_mock.audience}']" in line
    assert "actual='https://other.example.com'" in line
    assert raw not in line and raw.split(".")[2] not in line
    assert "other.example.com" not in info.value.json_bytes().decode()
    assert "expected" not in info.value.www_authenticate


@pytest.mark.parametrize(
    ("options", "token_kwargs", "reason", "fragment"),
    [
        ({}, {"claims": {"iss": "https://evil.example/as"}}, "wrong_issuer", r"evil\.example"),
        ({}, {"kid": "no-such-kid"}, "unknown_kid", r"expected=\['.+'\], actual='no-such-kid'"),
        ({"strict_typ": True}, {"typ": "JWT"}, "bad_typ", r"expected=\['.*at\+jwt.*actual='JWT'"),
        ({"leeway": 0}, {"expires_in": -120}, "expired", r"skew_seconds=-12[01], leeway=0"),
        ({"leeway": 0}, {"not_before": 600}, "not_yet_valid", r"skew_seconds=(59\d|600)"),
    ],
)
def test_each_check_names_itself_in_the_log(
    pingone_mock: MockPingOne,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, object],
    token_kwargs: dict[str, object],
    reason: str,
    fragment: str,
) -> None:
    caplog.set_level(logging.INFO, "p1guard.guard")
    guard = pingone_mock.guard(**options)
    if "not_before" in token_kwargs:
        token_kwargs = {"not_before": time.time() + 600}
    raw = pingone_mock.issue_token(**token_kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidToken) as info:
        guard.verify(raw)
    assert info.value.reason == reason
    (line,) = _diagnostics(caplog)
    assert f"({reason}, 401)" in line
    assert re.search(fragment, line), line
    assert raw not in line


def test_claims_refusal_is_logged_with_actual_value(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "p1guard.guard")
    raw = pingone_mock.issue_token(claims={"groups": ["staff"]})
    with pytest.raises(InsufficientClaims):
        pingone_mock.guard().verify(raw, claims=[Contains("groups", "admins")])
    (line,) = _diagnostics(caplog)
    assert "(insufficient_claims, 403)" in line
    assert "actual=['staff']" in line


def test_diagnostics_are_rate_limited_per_reason(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, "p1guard.guard")
    guard = pingone_mock.guard()
    wrong = pingone_mock.issue_token(audience="https://other.example.com")
    clock = [1000.0]
    monkeypatch.setattr("p1guard._guard_log.time.monotonic", lambda: clock[0])
    for _ in range(5):
        with pytest.raises(InvalidToken):
            guard.verify(wrong)
    with pytest.raises(InvalidToken):
        guard.verify(pingone_mock.issue_token(expires_in=-3600))  # another reason: logged
    lines = _diagnostics(caplog)
    assert len(lines) == 2
    assert "wrong_audience" in lines[0] and "expired" in lines[1]
    clock[0] += 11
    with pytest.raises(InvalidToken):
        guard.verify(wrong)
    lines = _diagnostics(caplog)
    assert len(lines) == 3
    assert "(4 similar refusals not logged)" in lines[2]


def test_no_diagnostics_below_info(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "p1guard.guard")
    with pytest.raises(InvalidToken):
        pingone_mock.guard().verify(pingone_mock.issue_token(audience="https://x.example"))
    assert _diagnostics(caplog) == []


def test_log_never_contains_the_token(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    guard = pingone_mock.guard()
    tokens = [
        pingone_mock.issue_token(audience="https://x.example"),
        pingone_mock.issue_token(kid="nope"),
        pingone_mock.issue_token(expires_in=-3600),
        pingone_mock.issue_token(claims={"groups": []}),
    ]
    for raw in tokens:
        with pytest.raises((InvalidToken, InsufficientClaims)):
            guard.verify(raw, claims=[Contains("groups", "x")])
    text = caplog.text
    assert text
    for raw in tokens:
        for part in raw.split("."):
            assert part not in text
