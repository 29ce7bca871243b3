"""pi.flow hrefs that leave the environment through path tricks, over real HTTP to MockPingOne.

PingOne's host serves every customer's environment (``/<envID>/…``). An href that starts with
our environment's path but climbs out of it — ``/<env>/../<other-env>/flows/x`` and its
encoded spellings — would carry the user's password to another environment: httpx removes
plain dot segments before sending, and a server may decode ``%2e``/``%2f``/``%5c`` and resolve
them. Every spelling is refused before any password leaves, when the flow is read and when a
stored flow is used.
"""

from __future__ import annotations

from typing import Any

import pytest

from p1guard.rp import LoginError, PiFlow, PiFlowClient, RelyingParty
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"
OTHER_ENV = "11111111-2222-3333-4444-555555555555"

SPELLINGS = {
    "dot-dot": "{base}/../" + OTHER_ENV + "/flows/{id}",
    "encoded dot-dot": "{base}/%2e%2e/" + OTHER_ENV + "/flows/{id}",
    "mixed dot-dot": "{base}/.%2E/" + OTHER_ENV + "/flows/{id}",
    "upper mixed dot-dot": "{base}/%2E%2e/" + OTHER_ENV + "/flows/{id}",
    "dot then dot-dot": "{base}/./../" + OTHER_ENV + "/flows/{id}",
    "double-encoded dot-dot": "{base}/%252e%252e/" + OTHER_ENV + "/flows/{id}",
    "encoded slash": "{base}/flows%2f..%2f..%2f" + OTHER_ENV + "%2Fflows%2F{id}",
    "encoded backslash": "{base}/flows%5c..%5c..%5c" + OTHER_ENV + "%5cflows%5c{id}",
    "backslash": "{base}/flows\\..\\..\\" + OTHER_ENV + "\\flows\\{id}",
}


def flows_for(op: MockPingOne) -> PiFlowClient:
    app: Any = op.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        op.pingone(),
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=CALLBACK,
    )
    return PiFlowClient(rp)


@pytest.mark.parametrize("template", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_piflow_href_dot_segments_cannot_reach_another_environment(
    pingone_mock: MockPingOne, template: str
) -> None:
    pingone_mock.flow_href = template
    flows = flows_for(pingone_mock)
    with pytest.raises(LoginError) as caught:
        flows.begin()
    assert caught.value.reason == "foreign_href"
    assert pingone_mock.calls["flows"] == 0


@pytest.mark.parametrize("template", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_stored_flow_with_a_climbing_href_sends_no_password(
    pingone_mock: MockPingOne, template: str
) -> None:
    """A flow coming back from a session store is checked again before the password goes."""
    flows = flows_for(pingone_mock)
    flow = flows.begin()
    stored = flow.to_dict()
    href = template.format(base=pingone_mock.issuer.removesuffix("/as"), id=flow.id)
    stored["links"] = dict.fromkeys(stored["links"], href)
    pingone_mock.reset_calls()
    with pytest.raises(LoginError) as caught:
        flows.check_password(PiFlow.from_dict(stored), "ada", pingone_mock.user_password)
    assert caught.value.reason == "foreign_href"
    assert sum(pingone_mock.calls.values()) == 0


def test_plain_href_still_signs_in(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.check_password(flows.begin(), "ada", pingone_mock.user_password)
    assert flows.complete(flow).subject == "user-1"
