"""Redirectless sign-on (pi.flow): PiFlowClient against MockPingOne, and its flows by hand.

``rp.begin(response_mode="pi.flow")`` itself is tested in ``test_piflow_rp.py``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from p1guard import ConfigError, PingOne, ProviderUnavailable
from p1guard._http.flow import Request, Response, drive
from p1guard._observe.metrics import PROVIDER_CALLS
from p1guard.rp import FlowError, LoginError, PiFlow, PiFlowClient, RelyingParty
from p1guard.rp._piflow import PASSWORD_CHECK, PASSWORD_RESET, media_type
from p1guard.rp._transaction import LoginTransaction
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"
PASSWORD = "correct horse"


def flows_for(op: MockPingOne, **kwargs: Any) -> PiFlowClient:
    client = op.register_client(redirect_uris=[CALLBACK], pkce="S256_required")
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        **kwargs,
    )
    return PiFlowClient(rp)


@pytest.mark.parametrize("par", [True, False])
def test_password_sign_on_end_to_end(pingone_mock: MockPingOne, par: bool) -> None:
    flows = flows_for(pingone_mock, par=par)
    flow = flows.begin(return_to="/orders")
    assert flow.status == "USERNAME_PASSWORD_REQUIRED"
    assert flow.actions == (PASSWORD_CHECK,)
    assert pingone_mock.calls["par"] == (1 if par else 0)
    assert flow.resume_url and flow.resume_url.startswith(pingone_mock.issuer + "/resume?flowId=")
    flow = flows.check_password(flow, "ada", PASSWORD)
    assert flow.completed and flow.actions == ()
    tokens = flows.complete(flow)
    assert tokens.subject == "user-1"
    assert tokens.claims["name"] == "Ada Lovelace"
    assert flow.transaction.return_to == "/orders"


async def test_async_twins(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = await flows.abegin()
    flow = await flows.acheck_password(flow, "ada@example.com", PASSWORD)
    tokens = await flows.acomplete(flow, userinfo=True)
    assert tokens.subject == "user-1"
    assert tokens.claims["email"] == "ada@example.com"


def test_wrong_password_is_a_flow_error_without_the_password(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.begin()
    with pytest.raises(FlowError) as caught:
        flows.check_password(flow, "ada", "hunter2-secret")
    err = caught.value
    assert isinstance(err, LoginError)
    assert (err.http_status, err.code, err.error) == (400, "INVALID_DATA", "invalid_data")
    assert err.details == (("INVALID_VALUE", "password"),)
    assert err.wrong_credentials
    assert "hunter2" not in str(err) + repr(err) + json.dumps(err.body)
    # The flow is still waiting: the right password completes it.
    assert flows.check_password(flow, "ada", PASSWORD).completed


def test_wrong_username_is_refused_like_a_wrong_password(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    with pytest.raises(FlowError) as caught:
        flows.check_password(flows.begin(), "mallory", PASSWORD)
    assert caught.value.wrong_credentials


def test_configurable_password(pingone_mock: MockPingOne) -> None:
    pingone_mock.user_password = "another one"
    flows = flows_for(pingone_mock)
    with pytest.raises(FlowError):
        flows.check_password(flows.begin(), "ada", PASSWORD)
    assert flows.check_password(flows.begin(), "ada", "another one").completed


def test_flow_repr_hides_cookies_links_and_raw(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.begin()
    assert flow.cookies  # PingOne's per-flow session cookie was kept
    text = repr(flow)
    assert flow.id in text and "USERNAME_PASSWORD_REQUIRED" in text
    for secret in (*flow.cookies.values(), flow.transaction.state, flow.transaction.code_verifier):
        assert secret not in text


def test_password_not_sent_when_the_flow_does_not_ask(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.check_password(flows.begin(), "ada", PASSWORD)
    calls = pingone_mock.calls["flows"]
    with pytest.raises(FlowError) as caught:
        flows.check_password(flow, "ada", PASSWORD)
    assert caught.value.reason == "action_not_available"
    assert pingone_mock.calls["flows"] == calls


def test_resume_before_completion_is_refused(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    with pytest.raises(FlowError) as caught:
        flows.resume(flows.begin())
    assert caught.value.reason == "not_completed"


def test_flow_resumes_once(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.check_password(flows.begin(), "ada", PASSWORD)
    answer = flows.resume(flow)
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == flow.transaction.state and answer["iss"] == pingone_mock.issuer
    with pytest.raises(FlowError) as caught:
        flows.resume(flow)
    assert (caught.value.http_status, caught.value.code) == (404, "NOT_FOUND")


def test_expired_flow_is_not_found(pingone_mock: MockPingOne) -> None:
    pingone_mock.flow_lifetime = 0
    flows = flows_for(pingone_mock)
    with pytest.raises(FlowError) as caught:
        flows.check_password(flows.begin(), "ada", PASSWORD)
    assert caught.value.code == "NOT_FOUND"


def test_unknown_action_is_refused_by_pingone(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.begin()
    with pytest.raises(FlowError) as caught:
        flows.submit(flow, "user.register", {"username": "eve"})
    assert (caught.value.http_status, caught.value.code) == (400, "INVALID_REQUEST")
    with pytest.raises(LoginError) as bad:
        flows.submit(flow, "not a name", {})
    assert bad.value.reason == "bad_action"


def test_flows_stay_apart_with_a_shared_http_client(pingone_mock: MockPingOne) -> None:
    """Each flow sends its own cookie: the shared client's jar never leaks another flow's."""
    flows = flows_for(pingone_mock)
    first, second = flows.begin(), flows.begin()
    assert first.cookies != second.cookies
    assert flows.check_password(first, "ada", PASSWORD).completed
    assert second.status == "USERNAME_PASSWORD_REQUIRED"
    assert flows.check_password(second, "ada", PASSWORD).completed


def test_flow_of_another_session_is_not_found(pingone_mock: MockPingOne) -> None:
    """Knowing a flow id is not enough: the flow's cookie is needed too."""
    flows = flows_for(pingone_mock)
    flow = flows.begin()
    stolen = PiFlow(
        flow.id, flow.status, flow.links, flow.resume_url, flow.transaction, flow.raw, {}
    )
    with pytest.raises(FlowError) as caught:
        flows.check_password(stolen, "ada", PASSWORD)
    assert caught.value.code == "NOT_FOUND"


def test_code_from_resume_keeps_the_state_check(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.check_password(flows.begin(), "ada", PASSWORD)
    other = flows.begin().transaction  # another login's state, nonce and verifier
    hijacked = PiFlow(flow.id, flow.status, flow.links, flow.resume_url, other, flow.raw,
                      flow.cookies)  # fmt: skip
    with pytest.raises(LoginError) as caught:
        flows.complete(hijacked)
    assert caught.value.error == "invalid_state"


def test_mock_authorize_pi_flow_shapes(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock, par=False)
    start = flows.pingone.transport.run(flows.rp.begin_flow(response_mode="pi.flow"))
    with httpx.Client() as http:
        answer = http.get(start.url)
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "USERNAME_PASSWORD_REQUIRED"
        base = pingone_mock.issuer.removesuffix("/as")
        assert body["_links"]["self"]["href"] == f"{base}/flows/{body['id']}"
        assert body["_links"]["usernamePassword.check"]["href"] == f"{base}/flows/{body['id']}"
        assert body["resumeUrl"] == f"{pingone_mock.issuer}/resume?flowId={body['id']}"
        wrong = http.post(
            f"{base}/flows/{body['id']}",
            content=json.dumps({"username": "ada", "password": "nope"}),
            headers={"Content-Type": media_type(PASSWORD_CHECK)},
        )
        assert wrong.status_code == 400
        error = wrong.json()
        assert error["code"] == "INVALID_DATA" and error["message"]
        assert error["details"][0]["code"] == "INVALID_VALUE"
        assert error["details"][0]["target"] == "password"
        assert "nope" not in wrong.text
        assert http.get(f"{base}/flows/no-such-flow").status_code == 404
        bad = http.get(f"{pingone_mock.authorization_endpoint}?response_mode=pi.flow&client_id=x")
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


class _Recorder:
    """A minimal Metrics: counts by name and labels."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = (name, frozenset(labels.items()))
        self.counts[key] = self.counts.get(key, 0.0) + value

    def observe(self, name: str, value: float, **labels: str) -> None:
        pass

    def get(self, name: str, **labels: str) -> float:
        return self.counts.get((name, frozenset(labels.items())), 0.0)


def test_must_change_password_is_a_second_step(pingone_mock: MockPingOne) -> None:
    pingone_mock.user_must_change_password = True
    flows = flows_for(pingone_mock)
    flow = flows.check_password(flows.begin(), "ada", PASSWORD)
    assert flow.status == "MUST_CHANGE_PASSWORD"
    assert flow.actions == (PASSWORD_RESET,)
    with pytest.raises(FlowError) as early:
        flows.resume(flow)
    assert early.value.reason == "not_completed"
    with pytest.raises(FlowError) as wrong:
        flows.change_password(flow, "not-the-password", "a new horse")
    assert wrong.value.details == (("INVALID_VALUE", "currentPassword"),)
    assert wrong.value.wrong_credentials
    assert "not-the-password" not in str(wrong.value) + repr(wrong.value)
    with pytest.raises(FlowError) as same:
        flows.change_password(flow, PASSWORD, PASSWORD)
    assert same.value.details == (("INVALID_VALUE", "newPassword"),)
    assert not same.value.wrong_credentials
    flow = flows.change_password(flow, PASSWORD, "a new horse")
    assert flow.completed
    assert flows.complete(flow).subject == "user-1"
    # PingOne keeps the new password and asks no more.
    assert pingone_mock.user_password == "a new horse"
    assert flows.check_password(flows.begin(), "ada", "a new horse").completed


async def test_password_change_through_the_generic_async_step(pingone_mock: MockPingOne) -> None:
    pingone_mock.user_must_change_password = True
    flows = flows_for(pingone_mock)
    flow = await flows.acheck_password(await flows.abegin(), "ada", PASSWORD)
    body = {"currentPassword": PASSWORD, "newPassword": "a new horse"}
    flow = await flows.asubmit(flow, PASSWORD_RESET, body)
    tokens = await flows.acomplete(flow)
    assert tokens.subject == "user-1"


def test_new_password_not_sent_when_the_flow_does_not_ask(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.begin()
    with pytest.raises(FlowError) as caught:
        flows.change_password(flow, PASSWORD, "a new horse")
    assert caught.value.reason == "action_not_available"
    assert pingone_mock.calls["flows"] == 0


def test_steps_are_measured_like_any_call(pingone_mock: MockPingOne) -> None:
    recorder = _Recorder()
    client = pingone_mock.register_client(redirect_uris=[CALLBACK], pkce="S256_required")
    rp = RelyingParty(
        pingone_mock.pingone(metrics=recorder),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        par=False,
    )
    flows = PiFlowClient(rp)
    flow = flows.begin()
    with pytest.raises(FlowError):
        flows.check_password(flow, "ada", "wrong")
    flows.complete(flows.check_password(flow, "ada", PASSWORD))
    assert recorder.get(PROVIDER_CALLS, endpoint="authorize", status="200") == 1
    assert recorder.get(PROVIDER_CALLS, endpoint="flows", status="400") == 1
    assert recorder.get(PROVIDER_CALLS, endpoint="flows", status="200") == 1
    assert recorder.get(PROVIDER_CALLS, endpoint="resume", status="200") == 1


def test_failing_flows_api_opens_the_breaker_without_retrying_posts(
    pingone_mock: MockPingOne,
) -> None:
    flows = flows_for(pingone_mock)
    flow = flows.begin()
    pingone_mock.fail("flows", "error")
    for attempt in range(1, 4):
        with pytest.raises(ProviderUnavailable) as caught:
            flows.check_password(flow, "ada", PASSWORD)
        assert caught.value.reason == "flows_http_500"
        assert pingone_mock.calls["flows"] == attempt  # one call per step: a POST is not retried
    with pytest.raises(ProviderUnavailable) as fast:
        flows.check_password(flow, "ada", PASSWORD)
    assert fast.value.reason == "flows_circuit_open"
    assert pingone_mock.calls["flows"] == 3


def test_flow_survives_a_session_store_round_trip(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)

    def stored(flow: PiFlow) -> PiFlow:
        return PiFlow.from_dict(json.loads(json.dumps(flow.to_dict())))

    flow = stored(flows.begin(return_to="/orders"))
    flow = stored(flows.check_password(flow, "ada", PASSWORD))
    assert flow.completed and flow.transaction.return_to == "/orders"
    assert flows.complete(flow).subject == "user-1"


@pytest.mark.parametrize(
    "data",
    [{}, {"id": "f1"}, {"id": 1, "status": "X", "links": {}, "transaction": {}}, {"links": []}],
)
def test_malformed_stored_flow_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"not a pi\.flow"):
        PiFlow.from_dict(data)


def test_tampered_stored_flow_cannot_send_the_password_elsewhere(
    pingone_mock: MockPingOne,
) -> None:
    """Session-store tampering: hrefs are checked again when used, before the password leaves."""
    flows = flows_for(pingone_mock)
    data = flows.begin().to_dict()
    data["links"][PASSWORD_CHECK] = "https://evil.example/steal"
    with pytest.raises(LoginError) as caught:
        flows.check_password(PiFlow.from_dict(data), "ada", PASSWORD)
    assert caught.value.reason == "foreign_href"
    assert pingone_mock.calls["flows"] == 0


def test_begin_can_post_the_authorization_request(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock, par=False)
    flow = flows.begin(method="POST")
    assert flow.status == "USERNAME_PASSWORD_REQUIRED"
    assert flows.complete(flows.check_password(flow, "ada", PASSWORD)).subject == "user-1"


def test_begin_refuses_another_response_mode(pingone_mock: MockPingOne) -> None:
    flows = flows_for(pingone_mock)
    with pytest.raises(ConfigError) as caught:
        flows.begin(response_mode="query")
    assert caught.value.field == "response_mode"
    assert pingone_mock.calls["authorize"] == 0


# -- by hand, no network ---------------------------------------------------------------------


def _json(status: int, body: Any, **headers: str) -> Response:
    return Response(status, headers, json.dumps(body).encode())


def _flow(href: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "f1",
        "status": "USERNAME_PASSWORD_REQUIRED",
        "_links": {"self": {"href": href}, PASSWORD_CHECK: {"href": href}},
        "resumeUrl": "https://auth.pingone.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as/resume?flowId=f1",
        **extra,
    }


ENV = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
HOST = "https://auth.pingone.com"


def _client() -> PiFlowClient:
    rp = RelyingParty(
        PingOne(env_id=ENV), client_id="app", client_secret="s", redirect_uri="https://app/cb"
    )
    return PiFlowClient(rp)


def _transaction() -> LoginTransaction:
    return LoginTransaction("st", "no", "v" * 43, "https://app/cb")


def _read(flows: PiFlowClient, response: Response) -> PiFlow:
    return flows._read(response, _transaction(), {})


def test_step_is_json_with_the_vendor_media_type_to_pingones_href() -> None:
    flows = _client()
    flow = _read(
        flows, _json(200, _flow(f"{HOST}/{ENV}/flows/f1"), **{"set-cookie": "ST=abc; Path=/"})
    )
    gen = flows.check_password_flow(flow, "ada", "pw-123")
    step = next(gen)
    assert isinstance(step, Request)  # an ordinary request: breaker, metrics, no retry
    assert (step.method, step.purpose, step.url) == ("POST", "flows", f"{HOST}/{ENV}/flows/f1")
    assert step.headers["Content-Type"] == (
        "application/vnd.pingidentity.usernamePassword.check+json"
    )
    assert step.headers["Cookie"] == "ST=abc"
    assert step.form is None and step.content is not None
    assert json.loads(step.content) == {"username": "ada", "password": "pw-123"}
    assert step.flight_key is None and not step.retry
    assert "pw-123" not in repr(step)
    with pytest.raises(StopIteration) as done:
        gen.send(_json(200, {**_flow(f"{HOST}/{ENV}/flows/f1"), "status": "COMPLETED"}))
    assert done.value.value.completed
    assert done.value.value.cookies == {"ST": "abc"}


@pytest.mark.parametrize(
    "href",
    [
        f"https://evil.example/{ENV}/flows/f1",
        f"http://auth.pingone.com/{ENV}/flows/f1",
        f"https://auth.pingone.com:8443/{ENV}/flows/f1",
        # Review findings: another environment on PingOne's shared host, user info (httpx
        # sends it as Basic auth), and a tab that URL parsers and httpx read differently.
        "https://auth.pingone.com/11111111-2222-3333-4444-555555555555/flows/f1",
        f"https://user:pw@auth.pingone.com/{ENV}/flows/f1",
        f"https://evil.example\t@auth.pingone.com/{ENV}/flows/f1",
    ],
)
def test_foreign_flow_href_rejected(href: str) -> None:
    with pytest.raises(LoginError) as caught:
        _read(_client(), _json(200, _flow(href)))
    assert caught.value.reason == "foreign_href"


def test_foreign_resume_url_rejected() -> None:
    body = _flow(f"{HOST}/{ENV}/flows/f1", resumeUrl="https://evil.example/resume?flowId=f1")
    with pytest.raises(LoginError) as caught:
        _read(_client(), _json(200, body))
    assert caught.value.reason == "foreign_href"


def test_flow_url_built_from_env_when_pingone_gives_no_href() -> None:
    flows = _client()
    body = {"id": "f-1", "status": "USERNAME_PASSWORD_REQUIRED", "_links": {}}
    flow = _read(flows, _json(200, body))
    step = next(flows.submit_flow(flow, "usernamePassword.check", {}))
    assert isinstance(step, Request)
    assert step.url == f"{HOST}/{ENV}/flows/f-1"
    assert step.headers["Cookie"] == ""  # explicit: never the shared client's jar


@pytest.mark.parametrize("flow_id", ["f/1", "..", "..%2F..%2Fother"])
def test_flow_url_built_from_a_hostile_flow_id_is_checked_too(flow_id: str) -> None:
    """The built URL passes rule 2 like an href: an id with a slash (sent as %2F) or a dot
    segment could lead a server elsewhere."""
    flows = _client()
    body = {"id": flow_id, "status": "USERNAME_PASSWORD_REQUIRED", "_links": {}}
    flow = _read(flows, _json(200, body))
    with pytest.raises(LoginError) as caught:
        next(flows.submit_flow(flow, "usernamePassword.check", {}))
    assert caught.value.reason == "foreign_href"


def test_server_errors_are_provider_unavailable() -> None:
    with pytest.raises(ProviderUnavailable):
        _read(_client(), _json(503, {"code": "SERVICE_UNAVAILABLE"}))
    with pytest.raises(ProviderUnavailable):
        _read(_client(), Response(200, {}, b"<html>"))
    with pytest.raises(ProviderUnavailable):
        _read(_client(), _json(200, {"status": "COMPLETED"}))


def test_resume_error_answer_becomes_login_error() -> None:
    flows = _client()
    flow = _read(flows, _json(200, {**_flow(f"{HOST}/{ENV}/flows/f1"), "status": "COMPLETED"}))
    gen = flows.complete_flow(flow)
    request = next(gen)
    assert isinstance(request, Request) and request.url.endswith("/as/resume?flowId=f1")
    answer = {"authorizeResponse": {"state": "st", "error": "access_denied"}}
    # complete_flow asks for discovery next, then fails on the callback's error
    item = gen.send(_json(200, answer))
    assert isinstance(item, Request) and "openid-configuration" in item.url
    with pytest.raises(LoginError) as caught:
        gen.send(_json(200, _discovery()))
    assert caught.value.error == "access_denied"


def _discovery() -> dict[str, Any]:
    issuer = f"{HOST}/{ENV}/as"
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def _drive_no_network(flow: Any) -> Any:
    def respond(request: Request) -> Response:
        raise AssertionError(f"unexpected call to {request.url}")

    return drive(flow, respond)


def test_authorize_response_embedded_in_the_completed_flow_needs_no_resume() -> None:
    flows = _client()
    body = {
        **_flow(f"{HOST}/{ENV}/flows/f1"),
        "status": "COMPLETED",
        "authorizeResponse": {"code": "c-1", "state": "st"},
    }
    flow = _read(flows, _json(200, body))
    params = _drive_no_network(flows.resume_flow(flow))
    assert params == {"code": "c-1", "state": "st", "iss": f"{HOST}/{ENV}/as"}


def test_resume_answer_naming_another_issuer_is_refused() -> None:
    """Mix-up: an ``iss`` PingOne sends is checked like a redirect callback's."""
    flows = _client()
    flow = _read(flows, _json(200, {**_flow(f"{HOST}/{ENV}/flows/f1"), "status": "COMPLETED"}))
    gen = flows.complete_flow(flow)
    next(gen)
    answer = {"authorizeResponse": {"code": "c", "state": "st", "iss": "https://evil.example/as"}}
    gen.send(_json(200, answer))
    with pytest.raises(LoginError) as caught:
        gen.send(_json(200, _discovery()))
    assert caught.value.reason == "iss_mismatch"


def test_flow_repr_and_dict_keep_the_authorization_code_out_of_repr() -> None:
    flows = _client()
    body = {
        **_flow(f"{HOST}/{ENV}/flows/f1"),
        "status": "COMPLETED",
        "authorizeResponse": {"code": "secret-code", "state": "st"},
    }
    flow = _read(flows, _json(200, body))
    assert "secret-code" not in repr(flow)
    assert PiFlow.from_dict(flow.to_dict()) == flow
