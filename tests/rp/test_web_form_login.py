"""WebLogin's form sign-in (``pi.flow``, rule 6) against MockPingOne: the app renders the form.

Every step goes over real HTTP to the mock's authorize, flows, resume and token endpoints.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError, MemoryStore, RedisStore, RelyingParty, WebLogin
from p1guard.rp._form_login import MAX_FORM_ATTEMPTS, NEW_FORM, FormStep
from p1guard.rp._session import (
    CSRF_KEY,
    FORM_KEY,
    FORM_START_KEY,
    LOGIN_KEY,
    MAX_PENDING_LOGINS,
    SESSION_KEY,
)
from p1guard.rp._transaction import TRANSACTION_TTL
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"
WRONG = "hunter2-not-it"


def make_web(op: MockPingOne, **kwargs: Any) -> WebLogin:
    client = op.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    return WebLogin(rp, **kwargs)


def submit(
    web: WebLogin, session: dict[str, Any], step: FormStep, password: str, **fields: Any
) -> FormStep:
    fields.setdefault("username", "ada")
    fields.setdefault("csrf", web.csrf_token(session))
    return web.form_submit(session, step.form_id, password=password, **fields)


def flows_started(op: MockPingOne) -> tuple[int, int]:
    """PingOne's (PAR, authorize) requests so far: the authorize request starts a flow."""
    return op.calls["par"], op.calls["authorize"]


class TrackingStore(MemoryStore):
    """A MemoryStore that also tells which keys were written and which are still there."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.live: set[str] = set()

    def set(self, key: str, value: dict[str, Any], ttl: float) -> None:
        self.writes.append(key)
        self.live.add(key)
        super().set(key, value, ttl)

    def claim(self, key: str, ttl: float) -> bool:
        self.writes.append(key)
        self.live.add(key)
        return super().claim(key, ttl)

    def pop(self, key: str) -> dict[str, Any] | None:
        self.live.discard(key)
        return super().pop(key)

    def delete(self, key: str) -> None:
        self.live.discard(key)
        super().delete(key)


def started_form(web: WebLogin, session: dict[str, Any], **params: Any) -> FormStep:
    """A form whose PingOne flow has started: the page, then one wrong password."""
    step = submit(web, session, web.form_login(session, **params), WRONG)
    assert step.error == "wrong_credentials" and step.form_id != NEW_FORM
    return step


def test_form_sign_in_signs_the_user_in_like_the_callback(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {"stale": "value from before login"}
    step = web.form_login(session, return_to="/orders")
    assert step.status == "password_required" and not step.signed_in
    assert step.error is None and step.message == ""
    assert step.form_id == NEW_FORM and step.return_to == "/orders"
    assert FORM_KEY not in session and session[FORM_START_KEY]["return_to"] == "/orders"
    csrf_before = web.csrf_token(session)

    done = submit(web, session, step, pingone_mock.user_password)

    assert done.signed_in and done.return_to == "/orders"
    assert set(session) == {SESSION_KEY, CSRF_KEY}  # cleared and rotated (fixation)
    assert session[CSRF_KEY] != csrf_before
    user = web.user(session)
    assert user is not None
    assert (user.subject, user.name) == ("user-1", "Ada Lovelace")
    assert user.tokens.id_token  # redeemed with the ID-token checks of a redirect sign-in
    assert pingone_mock.calls["token"] == 1


def test_the_flow_stays_server_side(pingone_mock: MockPingOne) -> None:
    """The session cookie holds a random form id only: no flow id, PingOne cookie or PKCE."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = started_form(web, session)
    assert session[FORM_KEY] == [step.form_id]
    record = web.store.get(f"form:{step.form_id}")
    assert record is not None
    flow = record["flow"]
    cookie_text = json.dumps(session)
    for secret in (
        flow["id"],
        flow["transaction"]["state"],
        flow["transaction"]["code_verifier"],
        *flow["cookies"].values(),
    ):
        assert secret not in cookie_text
    assert step.form_id not in repr(step)


def test_wrong_password_shows_the_form_again_without_the_password(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    first = web.form_login(session, return_to="/orders")

    again = submit(web, session, first, WRONG)

    assert again.status == "password_required"
    assert again.error == "wrong_credentials"
    assert again.message == "Wrong username or password. Try again."
    assert first.form_id == NEW_FORM and again.form_id != NEW_FORM  # every step gets a new id
    assert session[FORM_KEY] == [again.form_id]
    assert WRONG not in repr(again) + json.dumps(session) + caplog.text
    assert WRONG not in json.dumps(web.store.get(f"form:{again.form_id}"))
    # The used page (its first POST started the flow) is gone; the new id signs in, keeping
    # return_to; a used random form id is gone too.
    with pytest.raises(LoginError) as used:
        submit(web, session, first, pingone_mock.user_password)
    assert used.value.reason == "form_login_expired"
    assert session[FORM_KEY] == [again.form_id]  # the refusal left the browser's form alone
    done = submit(web, session, again, pingone_mock.user_password)
    assert done.signed_in and done.return_to == "/orders"
    with pytest.raises(LoginError) as used_again:
        submit(web, dict(session, **{FORM_KEY: [again.form_id]}), again, WRONG)
    assert used_again.value.reason == "form_login_expired"
    assert pingone_mock.user_password not in caplog.text


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_form_post_without_the_right_csrf_token_is_refused(
    pingone_mock: MockPingOne, csrf: str | None
) -> None:
    """Login CSRF: a form posted from elsewhere does not carry this session's token."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    web.csrf_token(session)
    flows_calls, started = pingone_mock.calls["flows"], flows_started(pingone_mock)
    with pytest.raises(LoginError) as caught:
        submit(web, session, step, pingone_mock.user_password, csrf=csrf)
    assert caught.value.reason == "csrf"
    assert pingone_mock.calls["flows"] == flows_calls  # the password went nowhere
    assert flows_started(pingone_mock) == started  # and no PingOne flow was started
    assert SESSION_KEY not in session
    # The real form still works.
    assert submit(web, session, step, pingone_mock.user_password).signed_in


def test_form_id_of_another_browser_is_refused(pingone_mock: MockPingOne) -> None:
    """Session riding: the victim's form id posted with the attacker's session."""
    web = make_web(pingone_mock)
    victim: dict[str, Any] = {}
    attacker: dict[str, Any] = {}
    victim_step = started_form(web, victim)
    own = started_form(web, attacker)
    flows_calls = pingone_mock.calls["flows"]
    with pytest.raises(LoginError) as caught:
        submit(web, attacker, victim_step, pingone_mock.user_password)
    assert caught.value.reason == "form_not_in_session"
    assert pingone_mock.calls["flows"] == flows_calls
    assert attacker[FORM_KEY] == [own.form_id]  # the attacker's own sign-in is untouched
    assert submit(web, victim, victim_step, pingone_mock.user_password).signed_in


def test_replayed_completed_form_is_refused(pingone_mock: MockPingOne) -> None:
    """Replay: the session cookie and form of a finished sign-in, sent again."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    old_cookie = dict(session, **{CSRF_KEY: web.csrf_token(session)})
    assert submit(web, session, step, pingone_mock.user_password).signed_in
    replayed = dict(old_cookie)
    with pytest.raises(LoginError) as caught:
        submit(web, replayed, step, pingone_mock.user_password, csrf=old_cookie[CSRF_KEY])
    assert caught.value.reason == "form_login_expired"
    assert SESSION_KEY not in replayed
    assert pingone_mock.calls["token"] == 1


def test_replayed_first_post_starts_no_pingone_flow(pingone_mock: MockPingOne) -> None:
    """The page's first POST is claimed before PingOne is asked: replaying it (same cookie)
    cannot make the app start PingOne flows over and over."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    old_cookie = dict(session, **{CSRF_KEY: web.csrf_token(session)})
    assert submit(web, session, step, pingone_mock.user_password).signed_in
    started = flows_started(pingone_mock)
    for _ in range(3):
        replayed = dict(old_cookie)
        with pytest.raises(LoginError) as caught:
            submit(web, replayed, step, pingone_mock.user_password, csrf=old_cookie[CSRF_KEY])
        assert caught.value.reason == "form_login_expired"
    assert flows_started(pingone_mock) == started


def test_first_post_may_try_again_after_pingone_was_down(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    pingone_mock.fail("par", "down")
    pingone_mock.fail("authorize", "down")
    with pytest.raises(ProviderUnavailable):
        submit(web, session, step, pingone_mock.user_password)
    pingone_mock.clear_faults()
    assert submit(web, session, step, pingone_mock.user_password).signed_in


def test_concurrent_double_submit_uses_the_flow_once(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    twin = dict(session, **{CSRF_KEY: web.csrf_token(session)})
    twin_before = json.dumps(twin)
    assert submit(web, session, step, pingone_mock.user_password).signed_in
    with pytest.raises(LoginError) as caught:
        submit(web, twin, step, pingone_mock.user_password, csrf=twin[CSRF_KEY])
    assert caught.value.reason == "form_login_expired"
    assert json.dumps(twin) == twin_before  # the loser changed nothing (no new cookie)
    assert pingone_mock.calls["token"] == 1


def test_concurrent_double_submit_of_a_later_step_uses_the_flow_once(
    pingone_mock: MockPingOne,
) -> None:
    """The same, for a step after a wrong password (a stored flow under a random form id)."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = started_form(web, session)
    twin = dict(session, **{CSRF_KEY: web.csrf_token(session)})
    twin_before = json.dumps(twin)
    flows_calls = pingone_mock.calls["flows"]
    assert submit(web, session, step, pingone_mock.user_password).signed_in
    with pytest.raises(LoginError) as caught:
        submit(web, twin, step, pingone_mock.user_password, csrf=twin[CSRF_KEY])
    assert caught.value.reason == "form_login_expired"
    assert json.dumps(twin) == twin_before
    assert pingone_mock.calls["flows"] == flows_calls + 1  # the password went to PingOne once
    assert pingone_mock.calls["token"] == 1


def test_flow_expired_at_pingone_means_starting_over(pingone_mock: MockPingOne) -> None:
    pingone_mock.flow_lifetime = 0
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    with pytest.raises(LoginError) as caught:
        submit(web, session, step, pingone_mock.user_password)
    assert caught.value.reason == "form_login_expired"
    assert caught.value.error == "invalid_state"
    assert "start again" in caught.value.description
    assert FORM_KEY not in session or session[FORM_KEY] == []


def test_too_many_wrong_passwords_end_the_form_sign_in(pingone_mock: MockPingOne) -> None:
    """Password guessing: one form sign-in takes MAX_FORM_ATTEMPTS tries, then starts over."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    for _ in range(MAX_FORM_ATTEMPTS - 1):
        step = submit(web, session, step, WRONG)
        assert step.error == "wrong_credentials"
    with pytest.raises(LoginError) as caught:
        submit(web, session, step, WRONG)
    assert caught.value.reason == "too_many_attempts"
    assert session.get(FORM_KEY) == []
    assert web.store.get(f"form:{step.form_id}") is None


def test_missing_fields_ask_again_without_calling_pingone(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    flows_calls = pingone_mock.calls["flows"]
    again = submit(web, session, step, "")
    assert (again.status, again.error) == ("password_required", "missing_fields")
    assert pingone_mock.calls["flows"] == flows_calls
    assert submit(web, session, again, pingone_mock.user_password).signed_in


def test_must_change_password_is_a_second_form(pingone_mock: MockPingOne) -> None:
    pingone_mock.user_must_change_password = True
    old_password = pingone_mock.user_password
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = submit(web, session, web.form_login(session), old_password)
    assert step.status == "new_password_required" and step.error is None

    wrong = submit(web, session, step, WRONG, new_password="a new horse")
    assert (wrong.status, wrong.error) == ("new_password_required", "wrong_credentials")
    assert wrong.message == "Wrong current password. Try again."
    same = submit(web, session, wrong, old_password, new_password=old_password)
    assert (same.status, same.error) == ("new_password_required", "invalid_new_password")
    missing = submit(web, session, same, old_password)
    assert missing.error == "missing_fields"

    done = submit(web, session, missing, old_password, new_password="a new horse")
    assert done.signed_in
    assert pingone_mock.user_password == "a new horse"
    assert web.user(session) is not None


def test_other_tabs_sign_ins_survive_the_rotation(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    redirect_tab = web.login(session)
    other_tab = started_form(web, session, return_to="/other")
    this_tab = web.form_login(session)
    assert submit(web, session, this_tab, pingone_mock.user_password).signed_in
    assert session[FORM_KEY] == [other_tab.form_id]
    assert len(session[LOGIN_KEY]) == 1
    assert redirect_tab.transaction.return_to == "/"
    done = submit(web, session, other_tab, pingone_mock.user_password)
    assert done.signed_in and done.return_to == "/other"


def test_a_form_page_in_another_tab_survives_a_sign_in(pingone_mock: MockPingOne) -> None:
    """A form page loaded (no flow yet) while another tab signs in still posts afterwards."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    this_tab = started_form(web, session, return_to="/this")
    other_tab = web.form_login(session, return_to="/other")
    assert submit(web, session, this_tab, pingone_mock.user_password).signed_in
    assert session[FORM_START_KEY]["return_to"] == "/other"
    done = submit(web, session, other_tab, pingone_mock.user_password)
    assert done.signed_in and done.return_to == "/other"
    assert FORM_START_KEY not in session


def test_form_login_starts_no_pingone_flow_and_stores_nothing(pingone_mock: MockPingOne) -> None:
    """Anyone can make a browser load a form page: it costs no PingOne call and no store write."""
    store = TrackingStore()
    web = make_web(pingone_mock, store=store)
    started = flows_started(pingone_mock)
    session: dict[str, Any] = {}
    for _ in range(3):
        assert web.form_login(session, return_to="/orders", login_hint="ada").form_id == NEW_FORM
    assert flows_started(pingone_mock) == started
    assert pingone_mock.calls["flows"] == 0
    assert store.writes == []  # nothing written, not even a transaction
    assert set(session) == {FORM_START_KEY}
    # The first CSRF-checked POST starts the flow with what the page asked for.
    done = submit(web, session, web.form_login(session, return_to="/orders"), WRONG)
    assert flows_started(pingone_mock)[1] == started[1] + 1 and done.return_to == "/orders"
    assert len(store.live) == 2  # the page's single-use mark and the waiting flow


def test_form_page_older_than_a_transaction_means_starting_over(pingone_mock: MockPingOne) -> None:
    """A form page left open past TRANSACTION_TTL starts no flow (its single-use mark is gone)."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session)
    session[FORM_START_KEY]["created_at"] -= TRANSACTION_TTL + 1
    started = flows_started(pingone_mock)
    with pytest.raises(LoginError) as caught:
        submit(web, session, step, pingone_mock.user_password)
    assert caught.value.reason == "form_login_expired"
    assert flows_started(pingone_mock) == started
    assert SESSION_KEY not in session


def test_form_page_parameters_must_be_text(pingone_mock: MockPingOne) -> None:
    """What the page asked for goes into the cookie: only plain text values are taken."""
    web = make_web(pingone_mock)
    with pytest.raises(TypeError, match="login_hint"):
        web.form_login({}, login_hint=object())


def test_trimmed_form_ids_leave_no_records_behind(pingone_mock: MockPingOne) -> None:
    """The session keeps MAX_PENDING_LOGINS form ids; the flows of dropped ones are deleted."""
    store = TrackingStore()
    web = make_web(pingone_mock, store=store)
    session: dict[str, Any] = {}
    steps = [started_form(web, session) for _ in range(MAX_PENDING_LOGINS + 2)]
    dropped, kept = steps[:2], steps[2:]
    assert session[FORM_KEY] == [step.form_id for step in kept]
    for step in dropped:
        assert web.store.get(f"form:{step.form_id}") is None  # no orphan flow in the store
        with pytest.raises(LoginError) as caught:
            submit(web, session, step, pingone_mock.user_password)
        assert caught.value.reason == "form_not_in_session"
    for step in kept:
        assert web.store.get(f"form:{step.form_id}") is not None
    flows_left = {key for key in store.live if key.startswith("form:")}
    assert flows_left == {f"form:{step.form_id}" for step in kept}
    assert submit(web, session, kept[0], pingone_mock.user_password).signed_in


def test_form_sign_in_again_ends_the_old_session(pingone_mock: MockPingOne) -> None:
    """Signing in again (e.g. step-up) goes through the callback's code: the old session ends."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    assert submit(web, session, web.form_login(session), pingone_mock.user_password).signed_in
    old_id = session[SESSION_KEY]
    old_user = web.user(session)
    assert old_user is not None
    assert submit(web, session, web.form_login(session), pingone_mock.user_password).signed_in
    assert session[SESSION_KEY] != old_id
    assert web.store.get(f"session:{old_id}") is None
    assert not pingone_mock.introspect(old_user.access_token)["active"]


def test_return_to_elsewhere_is_replaced_by_root(pingone_mock: MockPingOne) -> None:
    """Open redirect: the form sign-in keeps the same-origin return_to rule."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = web.form_login(session, return_to="https://evil.example/steal")
    assert step.return_to == "/"
    assert submit(web, session, step, pingone_mock.user_password).return_to == "/"


async def test_async_twins(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    step = await web.aform_login(session, return_to="/a")
    again = await web.aform_submit(
        session, step.form_id, csrf=web.csrf_token(session), username="ada", password=WRONG
    )
    assert again.error == "wrong_credentials"
    done = await web.aform_submit(
        session,
        again.form_id,
        csrf=web.csrf_token(session),
        username="ada@example.com",
        password=pingone_mock.user_password,
    )
    assert done.signed_in and done.return_to == "/a"
    user = await web.auser(session)
    assert user is not None and user.subject == "user-1"
    await web.rp.pingone.aclose()


def test_form_sign_in_across_workers_through_redis(
    pingone_mock: MockPingOne, redis_server: str
) -> None:
    client = pingone_mock.register_client(redirect_uris=[CALLBACK])

    def worker() -> WebLogin:
        rp = RelyingParty(
            pingone_mock.pingone(),
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=CALLBACK,
        )
        return WebLogin(rp, store=RedisStore(redis_server, prefix="web-form-test:"))

    first, second = worker(), worker()
    session: dict[str, Any] = {}
    step = first.form_login(session)  # the form is rendered by one worker...
    again = submit(second, session, step, WRONG)  # ...posted to another...
    done = submit(first, session, again, pingone_mock.user_password)  # ...and a third time
    assert done.signed_in
    user = second.user(session)
    assert user is not None and user.subject == "user-1"
    with pytest.raises(LoginError):  # single use across workers too
        submit(second, dict(session, **{FORM_KEY: [again.form_id]}), again, WRONG)
    first.store.close()
    second.store.close()


def test_redirect_sign_in_still_works_next_to_forms(pingone_mock: MockPingOne) -> None:
    """The callback and the form share the session-creation code; the callback is unchanged."""
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    started = started_form(web, session)
    web.form_login(session, return_to="/fresh")
    start = web.login(session, return_to="/x")
    with httpx.Client(follow_redirects=False) as browser:
        location = browser.get(start.url).headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert web.callback(session, query) == "/x"
    assert session[FORM_KEY] == [started.form_id]  # the forms in the other tabs survive
    assert session[FORM_START_KEY]["return_to"] == "/fresh"
    assert web.user(session) is not None
