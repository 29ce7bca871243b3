"""Step-up (RFC 9470) and claim rules on p1guard.wsgi.BearerTokenMiddleware, against a live
MockPingOne with Werkzeug's test client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from p1guard import ConfigError, Contains
from p1guard._tokens.claims import Predicate
from p1guard.testing import MockPingOne
from p1guard.wsgi import ENVIRON_KEY, BearerTokenMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class App:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.calls += 1
        token = environ[ENVIRON_KEY]
        body = {"acr": token.claims.get("acr") if token else None}
        return Response(json.dumps(body), content_type="application/json")(environ, start_response)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_wsgi_step_up_and_claims(pingone_mock: MockPingOne) -> None:
    app = App()
    middleware = BearerTokenMiddleware(
        app,
        guard=pingone_mock.guard(),
        public_paths=["/health"],
        acr_values="Multi_Factor Passwordless",
        max_age=600,
        claims=[Contains("groups", "tellers")],
    )
    client = Client(middleware)
    now = int(time.time())

    weak = client.get("/transfer", headers=bearer(pingone_mock.issue_token()))
    assert weak.status == "401 Unauthorized"
    assert weak.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        'acr_values="Multi_Factor Passwordless", max_age="600"'
    )
    assert weak.headers["Cache-Control"] == "no-store"
    assert json.loads(weak.get_data())["error"] == "insufficient_user_authentication"

    no_auth_time = pingone_mock.issue_token(claims={"acr": "Passwordless", "auth_time": None})
    refused = client.get("/transfer", headers=bearer(no_auth_time))
    assert refused.status_code == 401
    assert 'error="insufficient_user_authentication"' in refused.headers["WWW-Authenticate"]

    not_a_teller = pingone_mock.issue_token(
        claims={"acr": "Passwordless", "auth_time": now, "groups": ["staff"]}
    )
    refused = client.get("/transfer", headers=bearer(not_a_teller))
    assert refused.status == "403 Forbidden"
    assert json.loads(refused.get_data())["error"] == "access_denied"
    assert app.calls == 0

    teller = pingone_mock.issue_token(
        claims={"acr": "Passwordless", "auth_time": now, "groups": ["staff", "tellers"]}
    )
    ok = client.get("/transfer", headers=bearer(teller))
    assert ok.status_code == 200
    assert json.loads(ok.get_data()) == {"acr": "Passwordless"}
    assert client.get("/health").status_code == 200
    assert app.calls == 2


def test_wsgi_faulty_predicate_refuses(pingone_mock: MockPingOne) -> None:
    """A claim predicate that raises fails closed (403), and its text is not sent."""

    def broken(token: Any) -> bool:
        raise RuntimeError("secret internals")

    app = App()
    client = Client(
        BearerTokenMiddleware(
            app, guard=pingone_mock.guard(), claims=[Predicate(broken, "tenant is acme")]
        )
    )
    refused = client.get("/x", headers=bearer(pingone_mock.issue_token()))
    assert refused.status_code == 403
    assert b"secret internals" not in refused.get_data()
    assert b"tenant is acme" in refused.get_data()
    assert app.calls == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"acr_values": ("ok", "two words")}, "acr_values"),
        ({"max_age": "300"}, "max_age"),
        ({"claims": [{"stage": "prod"}]}, "claims"),
    ],
)
def test_wsgi_bad_step_up_options_fail_at_startup(
    pingone_mock: MockPingOne, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        BearerTokenMiddleware(App(), guard=pingone_mock.guard(), **options)
    assert caught.value.field == field
