"""Step-up authentication (RFC 9470): acr_values / max_age on the Guard, against a live mock."""

from __future__ import annotations

import time

import pytest

from p1guard import AccessToken, ConfigError, Guard, InsufficientUserAuthentication
from p1guard._requirements import require_authentication
from p1guard.testing import MockPingOne

MFA = ["Multi_Factor"]


def test_mfa_token_accepted(pingone_mock: MockPingOne) -> None:
    raw = pingone_mock.issue_token(claims={"acr": "Multi_Factor", "auth_time": int(time.time())})
    token = pingone_mock.guard().verify(raw, scopes=["read"], acr_values=MFA, max_age=300)
    assert token.claims["acr"] == "Multi_Factor"


def test_acr_downgrade_refused(pingone_mock: MockPingOne) -> None:
    # A valid, correctly signed token from a weaker sign-in must not pass a route needing MFA,
    # even though the same token is already in the verified-token cache.
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token()  # acr="Single_Factor"
    assert guard.verify(raw).claims["acr"] == "Single_Factor"
    with pytest.raises(InsufficientUserAuthentication) as info:
        guard.verify(raw, acr_values=MFA)
    err = info.value
    assert err.status_code == 401
    assert err.reason == "acr_not_accepted"
    assert err.acr_values == ("Multi_Factor",)


def test_acr_values_any_one_of_them(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(claims={"acr": "Multi_Factor"})
    assert guard.verify(raw, acr_values="Passwordless Multi_Factor").subject == "user-1"
    with pytest.raises(InsufficientUserAuthentication):
        guard.verify(pingone_mock.issue_token(claims={"acr": None}), acr_values=MFA)


def test_auth_time_too_old_refused(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()  # leeway 30 s
    old = pingone_mock.issue_token(claims={"auth_time": int(time.time()) - 400})
    with pytest.raises(InsufficientUserAuthentication) as info:
        guard.verify(old, max_age=300)
    assert info.value.reason == "auth_too_old"
    assert info.value.max_age == 300
    within_leeway = pingone_mock.issue_token(claims={"auth_time": int(time.time()) - 310})
    assert guard.verify(within_leeway, max_age=300).subject == "user-1"
    assert guard.verify(pingone_mock.issue_token(), max_age=300).subject == "user-1"


def test_missing_auth_time_with_max_age_refused(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    for claims in ({"auth_time": None}, {"auth_time": "1700000000"}, {"auth_time": True}):
        with pytest.raises(InsufficientUserAuthentication) as info:
            guard.verify(pingone_mock.issue_token(claims=claims), max_age=300)
        assert info.value.reason == "no_auth_time"
    # Without max_age, auth_time is not required.
    assert guard.verify(pingone_mock.issue_token(claims={"auth_time": None})).subject == "user-1"


def test_client_credentials_token_cannot_step_up(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(sub=None)
    assert guard.verify(raw).subject is None
    with pytest.raises(InsufficientUserAuthentication):
        guard.verify(raw, acr_values=MFA)
    with pytest.raises(InsufficientUserAuthentication):
        guard.verify(raw, max_age=3600)


def test_challenge_header_exact_shape(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    with pytest.raises(InsufficientUserAuthentication) as info:
        guard.verify(pingone_mock.issue_token(), acr_values=MFA)
    assert info.value.headers == {
        "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        'acr_values="Multi_Factor"',
        "Cache-Control": "no-store",
    }
    assert info.value.body == {
        "error": "insufficient_user_authentication",
        "error_description": "A different authentication level is required",
    }
    old = pingone_mock.issue_token(claims={"acr": "Multi_Factor", "auth_time": 1})
    with pytest.raises(InsufficientUserAuthentication) as info:
        guard.verify(old, acr_values=["Multi_Factor", "Passwordless"], max_age=300)
    assert info.value.www_authenticate == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="More recent authentication is required", '
        'acr_values="Multi_Factor Passwordless", max_age="300"'
    )
    with pytest.raises(InsufficientUserAuthentication) as info:
        guard.verify(old, max_age=0)
    assert info.value.www_authenticate.endswith(
        'error_description="More recent authentication is required", max_age="0"'
    )


def test_guard_defaults_and_per_call_override(pingone_mock: MockPingOne) -> None:
    guard = Guard(pingone_mock.pingone(), audience=pingone_mock.audience, acr_values=MFA)
    weak = pingone_mock.issue_token()
    with pytest.raises(InsufficientUserAuthentication):
        guard.verify(weak)
    assert guard.verify(weak, acr_values=["Single_Factor"]).subject == "user-1"
    assert guard.verify(weak, acr_values=()).subject == "user-1"  # lifted for this call
    strong = pingone_mock.issue_token(claims={"acr": "Multi_Factor"})
    assert guard.verify(strong).subject == "user-1"
    guard.close()


def test_realm_is_in_the_challenge(pingone_mock: MockPingOne) -> None:
    guard = Guard(pingone_mock.pingone(), audience=pingone_mock.audience, realm="api")
    with pytest.raises(InsufficientUserAuthentication) as info:
        guard.verify(pingone_mock.issue_token(), acr_values=MFA)
    assert info.value.www_authenticate.startswith('Bearer realm="api", error=')
    guard.close()


async def test_averify_is_the_async_twin(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    strong = pingone_mock.issue_token(claims={"acr": "Multi_Factor"})
    assert (await guard.averify(strong, acr_values=MFA, max_age=60)).subject == "user-1"
    with pytest.raises(InsufficientUserAuthentication) as info:
        await guard.averify(pingone_mock.issue_token(), acr_values=MFA)
    assert info.value.reason == "acr_not_accepted"
    old = pingone_mock.issue_token(claims={"auth_time": int(time.time()) - 3600})
    with pytest.raises(InsufficientUserAuthentication):
        await guard.averify(old, max_age=300)
    await guard.aclose()


@pytest.mark.parametrize(
    ("acr_values", "max_age"),
    [(["Multi Factor"], None), ([""], None), ([1], None), (None, -1), (None, True), (None, 1.5)],
)
def test_bad_options_are_config_errors(
    pingone_mock: MockPingOne, acr_values: object, max_age: object
) -> None:
    with pytest.raises(ConfigError):
        Guard(
            pingone_mock.pingone(),
            audience=pingone_mock.audience,
            acr_values=acr_values,  # type: ignore[arg-type]
            max_age=max_age,  # type: ignore[arg-type]
        )


def test_pure_helper() -> None:
    token = AccessToken({"acr": "Multi_Factor", "auth_time": 1000}, token_id="ab12cd34")
    assert require_authentication(token) is token
    assert require_authentication(token, MFA, 300, now=1300) is token
    with pytest.raises(InsufficientUserAuthentication):
        require_authentication(token, MFA, 300, now=1301)
    assert require_authentication(token, MFA, 300, now=1310, leeway=10) is token
    nan = AccessToken({"auth_time": float("nan")}, token_id="ab12cd34")
    with pytest.raises(InsufficientUserAuthentication):
        require_authentication(nan, max_age=300, now=0)
