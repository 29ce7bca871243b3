"""Requirements: one frozen value of what a route requires, validated once, checked in one order
(scopes → step-up → claim rules) by the Guard and every adapter."""

from __future__ import annotations

import dataclasses
import time

import pytest

from p1guard import (
    AccessToken,
    ConfigError,
    Contains,
    Equals,
    InsufficientClaims,
    InsufficientScope,
    InsufficientUserAuthentication,
    Requirements,
)
from p1guard.testing import MockPingOne
from p1guard.web import BearerRules


def test_loose_input_is_normalised_once() -> None:
    needs = Requirements(
        "read write read", acr_values="Multi_Factor", max_age=300, claims=Equals("a", "b")
    )
    assert needs.scopes == ("read", "write")
    assert needs.acr_values == ("Multi_Factor",)
    assert needs.max_age == 300
    assert needs.claims == (Equals("a", "b"),)
    assert Requirements(["read", "write"]) == Requirements("read write")
    assert Requirements().scopes is None and Requirements([]).scopes == ()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scopes": [" "]}, "scopes"),
        ({"scopes": [""]}, "scopes"),
        ({"scopes": [3]}, "scopes"),
        ({"match": "some"}, "match"),
        ({"check_revocation": "yes"}, "check_revocation"),
        ({"acr_values": [""]}, "acr_values"),
        ({"max_age": -1}, "max_age"),
        ({"max_age": True}, "max_age"),
        ({"claims": ["department=finance"]}, "claims"),
    ],
)
def test_bad_values_raise_config_error_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Requirements(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_frozen_and_with_scopes() -> None:
    needs = Requirements(match="any", claims=[Contains("groups", "staff")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        needs.match = "all"  # type: ignore[misc]
    routed = needs.with_scopes(["read", "admin"])
    assert routed.scopes == ("read", "admin")
    assert (routed.match, routed.claims) == ("any", needs.claims)
    assert routed.with_scopes("read admin") is routed
    with pytest.raises(ConfigError, match="scopes"):
        needs.with_scopes([""])


def test_authorize_checks_scopes_then_step_up_then_claims() -> None:
    token = AccessToken({"scope": "read", "acr": "Single_Factor"}, token_id="ab12cd34")
    everything = Requirements("write", acr_values="Multi_Factor", claims=[Equals("x", 1)])
    with pytest.raises(InsufficientScope):
        everything.authorize(token)
    with pytest.raises(InsufficientUserAuthentication):
        everything.with_scopes("read").authorize(token)
    with pytest.raises(InsufficientClaims):
        Requirements("read", acr_values="Single_Factor", claims=[Equals("x", 1)]).authorize(token)


def test_authorize_falls_back_to_the_callers_step_up_values() -> None:
    token = AccessToken({"acr": "Single_Factor"}, token_id="ab12cd34")
    with pytest.raises(InsufficientUserAuthentication):
        Requirements().authorize(token, acr_values=("Multi_Factor",))
    # acr_values=() lifts the fallback's acr requirement
    assert Requirements(acr_values=()).authorize(token, acr_values=("Multi_Factor",)) is token


def test_guard_takes_requirements_whole(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(
        ["read"], claims={"acr": "Multi_Factor", "auth_time": int(time.time())}
    )
    needs = Requirements("read", acr_values="Multi_Factor", max_age=300)
    assert guard.verify(raw, needs).scopes == {"read"}
    with pytest.raises(InsufficientScope):
        guard.verify(raw, needs.with_scopes("write"))
    with pytest.raises(InsufficientScope):
        guard.verify(raw, scopes="write")  # the keywords still build one


async def test_averify_takes_requirements_whole(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(["read"])
    assert (await guard.averify(raw, Requirements("read"))).scopes == {"read"}
    with pytest.raises(InsufficientClaims):
        await guard.averify(raw, Requirements(claims=[Equals("department", "finance")]))
    await guard.aclose()


def test_requirements_and_keywords_together_is_a_config_error(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(["read"])
    with pytest.raises(ConfigError) as info:
        guard.verify(raw, Requirements("read"), scopes=["read"])
    assert info.value.field == "requirements"


def test_guard_step_up_still_applies_to_requirements_without_it(
    pingone_mock: MockPingOne,
) -> None:
    guard = pingone_mock.guard(acr_values="Multi_Factor")
    raw = pingone_mock.issue_token(["read"])  # acr="Single_Factor"
    with pytest.raises(InsufficientUserAuthentication):
        guard.verify(raw, Requirements("read"))
    with pytest.raises(InsufficientUserAuthentication):
        guard.verify(raw)
    assert guard.verify(raw, Requirements(acr_values=())).subject == "user-1"


# -- the pipeline: BearerRules takes requirements whole, and per call ---------------------------


def test_bearer_rules_take_requirements_and_a_per_call_override(pingone_mock: MockPingOne) -> None:
    rules = BearerRules(pingone_mock.guard(), requirements=Requirements("read"))
    header = [f"Bearer {pingone_mock.issue_token(['read'])}"]
    assert rules.authenticate(header, b"").scopes == {"read"}
    with pytest.raises(InsufficientScope) as info:
        rules.authenticate(header, b"", requirements=rules.requirements.with_scopes("write"))
    assert "insufficient_scope" in info.value.www_authenticate
    assert BearerRules(pingone_mock.guard(), scopes=["read"]).requirements == rules.requirements


def test_bearer_rules_authorize_a_verified_token_with_the_challenge(
    pingone_mock: MockPingOne,
) -> None:
    rules = BearerRules(pingone_mock.guard(dpop_challenge=True, realm="api"))
    token = rules.authenticate([f"Bearer {pingone_mock.issue_token(['read'])}"], b"")
    with pytest.raises(InsufficientClaims) as info:
        rules.authorize(token, Requirements(claims=[Equals("stage", "prod")]), "Bearer")
    assert info.value.realm == "api"
    assert rules.authorize(token, Requirements("read")) is token


def test_bearer_rules_refuse_requirements_with_keywords_and_revocation_without_client(
    pingone_mock: MockPingOne,
) -> None:
    with pytest.raises(ConfigError) as info:
        BearerRules(pingone_mock.guard(), requirements=Requirements(), scopes=["read"])
    assert info.value.field == "requirements"
    with pytest.raises(ConfigError) as info:
        BearerRules(pingone_mock.guard(client_id=None, client_secret=None), check_revocation=True)
    assert info.value.field == "check_revocation"


def test_keyword_calls_reuse_one_requirements_per_spelling() -> None:
    """``guard.verify(raw, scopes=[…])`` builds its Requirements once per distinct spelling; bad
    values are still refused on every call, never cached."""
    loose = (["read"], "any", None, None, None, None)
    first = Requirements.resolve(None, loose)
    assert Requirements.resolve(None, (["read"], "any", None, None, None, None)) is first
    assert first == Requirements("read", match="any")
    for bad in (
        (["read"], "most", None, None, None, None),
        ([["read"]], "all", None, None, None, None),
    ):
        with pytest.raises(ConfigError):
            Requirements.resolve(None, bad)  # type: ignore[arg-type]
