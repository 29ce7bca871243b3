"""The Starlette form sign-in route (``LoginRoutes(form_login=True)``, ``/auth/form``) against a
live MockPingOne: the app's own username/password form over PingOne's ``pi.flow``."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from p1guard.asgi._login import LoginRoutes
from p1guard.rp import MemoryStore, RelyingParty, WebLogin
from p1guard.rp._form_login import NEW_FORM
from p1guard.rp._session import CSRF_KEY, FORM_KEY, FORM_START_KEY, SESSION_KEY
from p1guard.testing import MockPingOne

ORIGIN = "http://127.0.0.1:5000"
CALLBACK = f"{ORIGIN}/auth/callback"
SECRET = "test-session-secret-0123456789abcdef"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
WRONG = "hunter2-<b>not-it</b>"


class WriteLog(MemoryStore):
    """A MemoryStore that also lists the keys written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def set(self, key: str, value: dict[str, Any], ttl: float) -> None:
        self.writes.append(key)
        super().set(key, value, ttl)

    def claim(self, key: str, ttl: float) -> bool:
        self.writes.append(key)
        return super().claim(key, ttl)


def make_auth(op: MockPingOne, *, store: MemoryStore | None = None, **kwargs: Any) -> LoginRoutes:
    client = op.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    return LoginRoutes(WebLogin(rp, store=store), **kwargs)


def make_app(auth: LoginRoutes) -> Starlette:
    async def home(request: Request) -> Response:
        user = await auth.current_user(request)
        return PlainTextResponse(f"Hello {user.name}" if user else "anonymous")

    routes = [*auth.routes, Route("/", home), Route("/orders", home)]
    return Starlette(routes=routes, middleware=[auth.session_middleware(SECRET)])


def _client(app: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=HTML)


@pytest.fixture
def auth(pingone_mock: MockPingOne) -> LoginRoutes:
    return make_auth(pingone_mock, form_login=True)


@pytest.fixture
async def app(auth: LoginRoutes) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(make_app(auth)) as client:
        yield client
    await auth.web.rp.pingone.aclose()


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
    auth = make_auth(pingone_mock)
    async with _client(make_app(auth)) as client:
        assert (await client.get("/auth/form")).status_code == 404
    assert not any(getattr(r, "path", "") == "/auth/form" for r in auth.routes)


async def test_form_sign_in_end_to_end(app: httpx.AsyncClient, pingone_mock: MockPingOne) -> None:
    page = await app.get("/auth/form?return_to=/orders")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<input type="password" name="password" autocomplete="current-password"' in page.text
    fields = hidden(page.text)
    assert fields["csrf"] == session_of(app)[CSRF_KEY]
    assert fields["form_id"] == NEW_FORM  # PingOne's flow starts with the first POST
    assert session_of(app)[FORM_START_KEY]["return_to"] == "/orders"
    assert FORM_KEY not in session_of(app)
    assert 'href="/auth/login?return_to=%2Forders"' in page.text  # PingOne's page instead

    signed_in = await post_form(app, fields, username="ada", password=pingone_mock.user_password)

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/orders"
    assert signed_in.headers["cache-control"] == "no-store"
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
    assert again.headers["cache-control"] == "no-store"
    assert '<p role="alert">Wrong username or password. Try again.</p>' in again.text
    assert 'name="username" value="&lt;ada&gt;"' in again.text  # escaped, never raw
    assert "<ada>" not in again.text
    assert "hunter2" not in again.text + caplog.text + str(app.cookies)
    retry = hidden(again.text)
    assert retry["form_id"] != fields["form_id"]
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
    calls = pingone_mock.calls["flows"], pingone_mock.calls["par"], pingone_mock.calls["authorize"]
    refused = await post_form(app, fields, username="ada", password=pingone_mock.user_password)
    assert refused.status_code == 400
    assert "CSRF" in refused.text
    # The password went nowhere and no PingOne flow was started.
    assert (pingone_mock.calls["flows"], pingone_mock.calls["par"]) == calls[:2]
    assert pingone_mock.calls["authorize"] == calls[2]
    assert SESSION_KEY not in session_of(app)
    assert pingone_mock.user_password not in refused.text


async def test_form_post_that_is_not_a_form_is_refused(
    app: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    fields = await get_form(app)
    body = {**fields, "username": "ada", "password": pingone_mock.user_password}
    refused = await app.post("/auth/form", json=body)
    assert refused.status_code == 400
    assert SESSION_KEY not in session_of(app)


async def test_form_id_from_another_browser_is_refused(
    auth: LoginRoutes, pingone_mock: MockPingOne
) -> None:
    """Session riding: the victim's form id with the attacker's own session and CSRF token."""
    app = make_app(auth)
    async with _client(app) as victim, _client(app) as attacker:
        victim_fields = await get_form(victim)
        victim_page = await post_form(victim, victim_fields, username="ada", password=WRONG)
        victim_fields = hidden(victim_page.text)  # a started flow, under a random form id
        assert victim_fields["form_id"] != NEW_FORM
        attacker_fields = await get_form(attacker)
        forged = {**victim_fields, "csrf": attacker_fields["csrf"]}
        flows = pingone_mock.calls["flows"]
        refused = await post_form(
            attacker, forged, username="ada", password=pingone_mock.user_password
        )
        assert refused.status_code == 400
        assert "does not belong to this browser" in refused.text
        assert SESSION_KEY not in session_of(attacker)
        assert pingone_mock.calls["flows"] == flows
        ok = await post_form(
            victim, victim_fields, username="ada", password=pingone_mock.user_password
        )
        assert ok.status_code == 303
    await auth.web.rp.pingone.aclose()


async def test_replay_of_a_completed_form_is_refused(
    app: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    """Replay: the old session cookie and the same form, posted again after signing in."""
    fields = await get_form(app)
    old_cookie = app.cookies.get("session")
    body = {**fields, "username": "ada", "password": pingone_mock.user_password}
    assert (await app.post("/auth/form", data=body)).status_code == 303
    app.cookies.clear()
    app.cookies.set("session", old_cookie or "", domain="127.0.0.1")
    replay = await app.post("/auth/form", data=body)
    assert replay.status_code == 400
    assert "expired or was already used" in replay.text
    assert 'href="/auth/form"' in replay.text  # start over
    assert SESSION_KEY not in session_of(app)
    assert pingone_mock.calls["token"] == 1


async def test_expired_flow_starts_over(app: httpx.AsyncClient, pingone_mock: MockPingOne) -> None:
    pingone_mock.flow_lifetime = 0
    fields = await get_form(app)
    expired = await post_form(app, fields, username="ada", password=pingone_mock.user_password)
    assert expired.status_code == 400
    assert "please start again" in expired.text
    assert 'href="/auth/form"' in expired.text
    pingone_mock.flow_lifetime = 600
    fresh = await get_form(app)
    ok = await post_form(app, fresh, username="ada", password=pingone_mock.user_password)
    assert ok.status_code == 303


async def test_new_password_form(app: httpx.AsyncClient, pingone_mock: MockPingOne) -> None:
    pingone_mock.user_must_change_password = True
    old = pingone_mock.user_password
    fields = await get_form(app)
    step = await post_form(app, fields, username="ada", password=old)
    assert step.status_code == 200
    assert "Choose a new password" in step.text
    assert 'name="new_password" autocomplete="new-password"' in step.text
    assert old not in step.text
    done = await post_form(app, hidden(step.text), password=old, new_password="a new horse")
    assert done.status_code == 303
    assert (await app.get("/")).text == "Hello Ada Lovelace"


async def test_login_hint_prefills_the_username_escaped(app: httpx.AsyncClient) -> None:
    page = await app.get("/auth/form", params={"login_hint": '"><script>x</script>'})
    assert page.status_code == 200
    assert "<script>x" not in page.text
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in page.text


async def test_bad_query_is_a_400(app: httpx.AsyncClient) -> None:
    page = await app.get("/auth/form?max_age=soon")
    assert page.status_code == 400
    assert "max_age" in page.text


async def test_pingone_down_is_a_503(pingone_mock: MockPingOne) -> None:
    auth = make_auth(pingone_mock, form_login=True)
    async with _client(make_app(auth)) as client:
        fields = await get_form(client)
        pingone_mock.stop()
        down = await post_form(client, fields, username="ada", password="x")
        assert down.status_code == 503
        assert "Retry-After" in down.headers
    await auth.web.rp.pingone.aclose()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_form_page_load_starts_no_pingone_flow_and_stores_nothing(
    pingone_mock: MockPingOne, method: str
) -> None:
    """Any site can make a browser load /auth/form (a link, an <img>): that costs PingOne and
    the store nothing; the flow starts at the first CSRF-checked POST."""
    store = WriteLog()
    auth = make_auth(pingone_mock, store=store, form_login=True)
    async with _client(make_app(auth)) as client:
        before = pingone_mock.calls["par"], pingone_mock.calls["authorize"]
        for _ in range(3):
            page = await client.request(method, "/auth/form?return_to=/orders&login_hint=ada")
            assert page.status_code == 200
        assert (pingone_mock.calls["par"], pingone_mock.calls["authorize"]) == before
        assert pingone_mock.calls["flows"] == 0
        assert store.writes == []  # the store stays empty
        assert session_of(client)[FORM_START_KEY]["return_to"] == "/orders"
        # The page's first POST starts the flow and signs in.
        fields = await get_form(client)
        done = await post_form(client, fields, username="ada", password=pingone_mock.user_password)
        assert done.status_code == 303 and pingone_mock.calls["authorize"] == before[1] + 1
    await auth.web.rp.pingone.aclose()


@pytest.mark.parametrize("step", ["first", "after_a_wrong_password"])
async def test_double_submit_loser_leaves_the_winners_cookie_alone(
    auth: LoginRoutes, pingone_mock: MockPingOne, step: str
) -> None:
    """Double submit: two POSTs of one form with the same cookie. The winner signs in; the
    loser is refused without a Set-Cookie, so the browser keeps the winner's session."""
    app = make_app(auth)
    async with _client(app) as browser, _client(app) as twin:
        fields = await get_form(browser)
        if step != "first":
            page = await post_form(browser, fields, username="ada", password=WRONG)
            fields = hidden(page.text)
        twin.cookies.set("session", browser.cookies["session"], domain="127.0.0.1")
        body = {**fields, "username": "ada", "password": pingone_mock.user_password}
        winner = await browser.post("/auth/form", data=body)
        loser = await twin.post("/auth/form", data=body)
        assert winner.status_code == 303 and "set-cookie" in winner.headers
        assert loser.status_code == 400
        assert "expired or was already used" in loser.text
        assert "set-cookie" not in loser.headers  # the winner's signed-in cookie stays
        assert (await browser.get("/orders")).text == "Hello Ada Lovelace"
        assert pingone_mock.calls["token"] == 1
    await auth.web.rp.pingone.aclose()
