"""``rp.begin(response_mode="pi.flow")``: a redirectless sign-on started by the RelyingParty.

The flow's steps go through :class:`PiFlowClient`; the code is redeemed by
``rp.complete(params, flow.transaction)`` with every check of a redirect sign-in.
"""

from __future__ import annotations

from typing import Any

import pytest

from p1guard.rp import LoginError, LoginStart, PiFlow, PiFlowClient, RelyingParty
from p1guard.rp._piflow import PASSWORD_CHECK
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"
PASSWORD = "correct horse"


def rp_for(op: MockPingOne, **kwargs: Any) -> RelyingParty:
    client = op.register_client(redirect_uris=[CALLBACK], pkce="S256_required")
    return RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        **kwargs,
    )


def signed_in_flow(rp: RelyingParty) -> PiFlow:
    flow = rp.begin(response_mode="pi.flow")
    return PiFlowClient(rp).check_password(flow, "ada", PASSWORD)


@pytest.mark.parametrize("par", [True, False])
def test_rp_begin_pi_flow_returns_the_flow(pingone_mock: MockPingOne, par: bool) -> None:
    rp = rp_for(pingone_mock, par=par)
    flow = rp.begin(return_to="/orders", response_mode="pi.flow")
    assert isinstance(flow, PiFlow)
    assert flow.id and flow.status == "USERNAME_PASSWORD_REQUIRED"
    assert flow.actions == (PASSWORD_CHECK,)
    assert flow.resume_url == f"{pingone_mock.issuer}/resume?flowId={flow.id}"
    assert flow.transaction.return_to == "/orders"
    assert pingone_mock.calls["authorize"] == 1
    assert pingone_mock.calls["par"] == (1 if par else 0)


def test_rp_begin_pi_flow_sends_the_usual_request(pingone_mock: MockPingOne) -> None:
    rp = rp_for(pingone_mock, par=False)
    flow = rp.begin(response_mode="pi.flow")
    sent = pingone_mock.last_authorize_params
    assert sent["response_mode"] == "pi.flow" and sent["response_type"] == "code"
    assert sent["state"] == flow.transaction.state
    assert sent["nonce"] == flow.transaction.nonce
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"]


@pytest.mark.parametrize("par", [True, False])
def test_rp_complete_redeems_the_flow_like_a_redirect(pingone_mock: MockPingOne, par: bool) -> None:
    rp = rp_for(pingone_mock, par=par)
    flows = PiFlowClient(rp)
    flow = flows.check_password(rp.begin(response_mode="pi.flow"), "ada", PASSWORD)
    params = flows.resume(flow)
    assert params["state"] == flow.transaction.state
    assert params["iss"] == pingone_mock.issuer
    tokens = rp.complete(params, flow.transaction, userinfo=True)
    assert tokens.subject == "user-1"
    assert tokens.id_token and tokens.claims["email"] == "ada@example.com"


async def test_rp_abegin_and_acomplete(pingone_mock: MockPingOne) -> None:
    rp = rp_for(pingone_mock)
    flows = PiFlowClient(rp)
    flow = await rp.abegin(response_mode="pi.flow")
    assert isinstance(flow, PiFlow)
    flow = await flows.acheck_password(flow, "ada", PASSWORD)
    tokens = await rp.acomplete(await flows.aresume(flow), flow.transaction)
    assert tokens.subject == "user-1"


def test_rp_begin_without_pi_flow_still_redirects(pingone_mock: MockPingOne) -> None:
    rp = rp_for(pingone_mock)
    start = rp.begin()
    assert isinstance(start, LoginStart)
    assert start.url.startswith(pingone_mock.authorization_endpoint)
    assert pingone_mock.calls["authorize"] == 0  # nothing sent: the browser goes there


def test_code_injection_into_another_login_is_refused(pingone_mock: MockPingOne) -> None:
    """The victim's flow answer, replayed into the attacker's login, fails the state check."""
    rp = rp_for(pingone_mock)
    flows = PiFlowClient(rp)
    victim = signed_in_flow(rp)
    attacker = rp.begin(response_mode="pi.flow").transaction
    with pytest.raises(LoginError) as caught:
        rp.complete(flows.resume(victim), attacker)
    assert caught.value.reason == "state_mismatch"
    assert pingone_mock.calls["token"] == 0


def test_replayed_flow_answer_is_refused(pingone_mock: MockPingOne) -> None:
    """The code of a flow is redeemed once; a replay of the same answer fails at PingOne."""
    rp = rp_for(pingone_mock)
    flow = signed_in_flow(rp)
    params = PiFlowClient(rp).resume(flow)
    rp.complete(params, flow.transaction)
    with pytest.raises(LoginError) as caught:
        rp.complete(params, flow.transaction)
    assert caught.value.error == "invalid_grant"


def test_id_token_with_another_nonce_is_refused(pingone_mock: MockPingOne) -> None:
    """ID-token substitution: the flow's transaction nonce is checked as for a redirect."""
    rp = rp_for(pingone_mock)
    flow = signed_in_flow(rp)
    pingone_mock.tamper_next_id_token(nonce="another-login")
    with pytest.raises(LoginError) as caught:
        rp.complete(PiFlowClient(rp).resume(flow), flow.transaction)
    assert caught.value.reason == "nonce_mismatch"


def test_answer_naming_another_issuer_is_refused(pingone_mock: MockPingOne) -> None:
    """Mix-up: parameters that name another issuer fail like a redirect callback's."""
    rp = rp_for(pingone_mock)
    flow = signed_in_flow(rp)
    params = {**PiFlowClient(rp).resume(flow), "iss": "https://evil.example/as"}
    with pytest.raises(LoginError) as caught:
        rp.complete(params, flow.transaction)
    assert caught.value.reason == "iss_mismatch"
