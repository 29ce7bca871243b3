"""Form sign-in through FastAPI: ``LoginRouter(form_login=True)`` serves ``/auth/form`` (the app's
own username/password form over PingOne's ``pi.flow``) with ``LoginRoutes``' handlers, against a
live MockPingOne over httpx's ASGI transport. Mirrors ``tests/asgi/test_asgi_form_login.py``.

No ``from __future__ import annotations``: FastAPI reads annotations at runtime.
"""

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError, MemoryStore, RelyingParty, SignedInUser, WebLogin
from p1guard.rp._form_login import NEW_FORM
from p1guard.rp._session import CSRF_KEY, FORM_KEY, FORM_START_KEY, SESSION_KEY
from p1guard.testing import MockPingOne
from p1guard_fastapi import LoginRouter

ORIGIN = "http://127.0.0.1:5000"
CALLBACK = f"{ORIGIN}/auth/callback"
SECRET = "test-session-secret-of-at-least-32-characters"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
WRONG = "hunter2-<b>not-it</b>"


def make_login(op: MockPingOne, *, store: MemoryStore | None = None, **options: Any) -> LoginRouter:
    client = op.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    return LoginRouter(WebLogin(rp, store=store), **options)


def make_app(login: LoginRouter) -> FastAPI:
    app = FastAPI()
    login.install(app, secret_key=SECRET)

    @app.get("/orders")
    async def orders(user: Annotated[SignedInUser, Depends(login.current_user)]) -> Any:
        return PlainTextResponse(f"Hello {user.name}")

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=HTML)


@pytest.fixture
def login(pingone_mock: MockPingOne) -> LoginRouter:
    return make_login(pingone_mock, form_login=True)


@pytest.fixture
async def app(login: LoginRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(make_app(login)) as client:
        yield client
    await login.aclose()


def session_of(client: httpx.AsyncClient) -> dict[str, Any]:
    cookie = client.cookies.get("session")
    if cookie is None:
        return {}
    data: dict[str, Any] = json.loads(base64.b64decode(cookie.rsplit(".", 2)[0]))
    return data


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


async def get_form(app: httpx.AsyncClient, url: str = "/auth/form") -> dict[str, str]:
    page = await app.get(url)
    assert page.status_code == 200, page.text
    return hidden(page.text)


async def post_form(app: httpx.AsyncClient, fields: dict[str, str], **more: str) -> httpx.Response:
    return await app.post("/auth/form", data={**fields, **more})


async def test_form_is_off_unless_asked_for(pingone_mock: MockPingOne) -> None:
    login = make_login(pingone_mock)
    async with _client(make_app(login)) as client:
        assert (await client.get("/auth/form")).status_code == 404
    await login.aclose()


async def test_form_routes_stay_out_of_openapi(app: httpx.AsyncClient) -> None:
    paths = (await app.get("/openapi.json")).json()["paths"]
    assert not any(path.startswith("/auth") for path in paths)


async def test_form_sign_in_end_to_end(app: httpx.AsyncClient, pingone_mock: MockPingOne) -> None:
    """``current_user`` sends the browser to PingOne's page; the form signs in instead."""
    assert (await app.get("/orders")).headers["location"] == "/auth/login?return_to=%2Forders"
    page = await app.get("/auth/form?return_to=/orders")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<input type="password" name="password" autocomplete="current-password"' in page.text
    fields = hidden(page.text)
    assert fields["csrf"] == session_of(app)[CSRF_KEY]
    assert fields["form_id"] == NEW_FORM
    assert session_of(app)[FORM_START_KEY]["return_to"] == "/orders"
    assert FORM_KEY not in session_of(app)
    assert 'href="/auth/login?return_to=%2Forders"' in page.text

    signed_in = await post_form(app, fields, username="ada", password=pingone_mock.user_password)

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/orders"
    assert signed_in.headers["cache-control"] == "no-store"
    assert "Accept" in signed_in.headers["vary"]
    session = session_of(app)
    assert set(session) == {SESSION_KEY, CSRF_KEY}
    assert session[CSRF_KEY] != fields["csrf"]  # rotated at sign-in
    assert (await app.get("/orders")).text == "Hello Ada Lovelace"


async def test_wrong_password_shows_the_form_again_escaped_without_the_password(
    app: httpx.AsyncClient, pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fields = await get_form(app)
    again = await post_form(app, fields, username="<ada>", password=WRONG)
    assert again.status_code == 400
    assert '<p role="alert">Wrong username or password. Try again.</p>' in again.text
    assert 'name="username" value="&lt;ada&gt;"' in again.text
    assert "<ada>" not in again.text
    assert "hunter2" not in again.text + caplog.text + str(app.cookies)
    retry = hidden(again.text)
    assert session_of(app)[FORM_KEY] == [retry["form_id"]]
    done = await post_form(app, retry, username="ada", password=pingone_mock.user_password)
    assert done.status_code == 303
    assert pingone_mock.user_password not in caplog.text


@pytest.mark.parametrize("csrf", [None, "", "forged"])
async def test_form_post_without_the_right_csrf_is_refused(
    app: httpx.AsyncClient, pingone_mock: MockPingOne, csrf: str | None
) -> None:
    """Login CSRF: a cross-site form cannot know the session's token."""
    fields = await get_form(app)
    if csrf is None:
        del fields["csrf"]
    else:
        fields["csrf"] = csrf
    calls = pingone_mock.calls["flows"], pingone_mock.calls["authorize"]
    refused = await post_form(app, fields, username="ada", password=pingone_mock.user_password)
    assert refused.status_code == 400
    assert "CSRF" in refused.text
    assert (pingone_mock.calls["flows"], pingone_mock.calls["authorize"]) == calls
    assert SESSION_KEY not in session_of(app)
    assert pingone_mock.user_password not in refused.text


@pytest.mark.parametrize(
    "shape", ["json", "csrf_twice", "too_many_fields", "too_large", "not_utf8", "bad_escape"]
)
async def test_form_bodies_the_one_parser_refuses(
    app: httpx.AsyncClient, pingone_mock: MockPingOne, shape: str
) -> None:
    """The one form reader (``LoginRoutes``' rule 7): URL-encoded only, at most 16 KiB and 20
    fields, strict UTF-8, each field once; anything else reads as an empty form."""
    fields = await get_form(app)
    good = f"csrf={fields['csrf']}&form_id={fields['form_id']}&username=ada"
    password = f"password={pingone_mock.user_password}"
    bodies = {
        "csrf_twice": f"{good}&{password}&csrf=other",
        "too_many_fields": "&".join([good, password, *(f"f{i}=x" for i in range(20))]),
        "too_large": f"{good}&{password}&pad={'x' * 16 * 1024}",
        "not_utf8": f"{good}&{password}".encode() + b"&name=\xff",
        "bad_escape": f"{good}&{password}&name=%ff",
    }
    if shape == "json":
        refused = await app.post("/auth/form", json=dict(fields, username="ada"))
    else:
        refused = await app.post("/auth/form", content=bodies[shape], headers=FORM)
    assert refused.status_code == 400
    assert "CSRF" in refused.text
    assert pingone_mock.calls["flows"] == 0
    assert SESSION_KEY not in session_of(app)
    # The same form, well formed (UTF-8 outside ASCII too), signs in.
    ok = await app.post("/auth/form", content=f"{good}&{password}&name=%C3%A9", headers=FORM)
    assert ok.status_code == 303


async def test_form_id_from_another_browser_is_refused(
    login: LoginRouter, pingone_mock: MockPingOne
) -> None:
    """Session riding: the victim's form id with the attacker's own session and CSRF token."""
    app = make_app(login)
    async with _client(app) as victim, _client(app) as attacker:
        victim_page = await post_form(victim, await get_form(victim), username="a", password=WRONG)
        victim_fields = hidden(victim_page.text)
        assert victim_fields["form_id"] != NEW_FORM
        forged = {**victim_fields, "csrf": (await get_form(attacker))["csrf"]}
        refused = await post_form(
            attacker, forged, username="ada", password=pingone_mock.user_password
        )
        assert refused.status_code == 400
        assert "does not belong to this browser" in refused.text
        assert SESSION_KEY not in session_of(attacker)
    await login.aclose()


async def test_replay_of_a_completed_form_is_refused(
    app: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    fields = await get_form(app)
    old_cookie = app.cookies.get("session")
    body = {**fields, "username": "ada", "password": pingone_mock.user_password}
    assert (await app.post("/auth/form", data=body)).status_code == 303
    app.cookies.clear()
    app.cookies.set("session", old_cookie or "", domain="127.0.0.1")
    replay = await app.post("/auth/form", data=body)
    assert replay.status_code == 400
    assert "expired or was already used" in replay.text
    assert SESSION_KEY not in session_of(app)
    assert pingone_mock.calls["token"] == 1


async def test_new_password_form(app: httpx.AsyncClient, pingone_mock: MockPingOne) -> None:
    pingone_mock.user_must_change_password = True
    old = pingone_mock.user_password
    step = await post_form(app, await get_form(app), username="ada", password=old)
    assert step.status_code == 200
    assert "Choose a new password" in step.text
    assert old not in step.text
    done = await post_form(app, hidden(step.text), password=old, new_password="a new horse")
    assert done.status_code == 303
    assert (await app.get("/orders")).text == "Hello Ada Lovelace"


async def test_login_hint_prefills_the_username_escaped(app: httpx.AsyncClient) -> None:
    page = await app.get("/auth/form", params={"login_hint": '"><script>x</script>'})
    assert page.status_code == 200
    assert "<script>x" not in page.text


async def test_bad_query_is_a_400(app: httpx.AsyncClient) -> None:
    page = await app.get("/auth/form?max_age=soon")
    assert page.status_code == 400
    assert "max_age" in page.text


async def test_pingone_down_is_a_503_through_the_error_template(
    pingone_mock: MockPingOne,
) -> None:
    """``error_template`` is a LoginRouter option too: it renders the form's refusals."""
    seen: list[str] = []

    def template(request: Request, err: LoginError | ProviderUnavailable) -> str:
        seen.append(err.reason)
        return f"<h1>ours: {err.status_code}</h1>"

    login = make_login(pingone_mock, form_login=True, error_template=template)
    async with _client(make_app(login)) as client:
        fields = await get_form(client)
        pingone_mock.stop()
        down = await post_form(client, fields, username="ada", password="x")
        assert down.status_code == 503
        assert "Retry-After" in down.headers
        assert down.text == "<h1>ours: 503</h1>"
        assert seen
    await login.aclose()


async def test_form_page_load_starts_no_pingone_flow(pingone_mock: MockPingOne) -> None:
    """Any site can make a browser load /auth/form: that costs PingOne and the store nothing."""
    store = MemoryStore()
    login = make_login(pingone_mock, store=store, form_login=True)
    async with _client(make_app(login)) as client:
        for _ in range(3):
            assert (await client.get("/auth/form?return_to=/orders")).status_code == 200
        assert pingone_mock.calls["flows"] == 0
        assert pingone_mock.calls["authorize"] == 0
        fields = await get_form(client)
        done = await post_form(client, fields, username="ada", password=pingone_mock.user_password)
        assert done.status_code == 303
    await login.aclose()
