"""The framework-free pages of the login routes (``p1guard.rp._pages``): no framework, no I/O."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError
from p1guard.rp._pages import (
    PAGE_HEADERS,
    error_answer,
    error_page,
    html_answer,
    login_params,
    login_required_answer,
    login_required_body,
    logout_page,
    negotiate,
    page,
    prefers_json,
    unavailable_page,
    wants_html,
    with_custom_html,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HOSTILE = '<script>alert("x")</script>\'&'

# -- negotiation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (BROWSER, "html"),
        ("text/html", "html"),
        ("application/xhtml+xml", "html"),
        ("TEXT/HTML", "html"),
        ("text/html, application/json", "html"),  # a tie goes to HTML
        ("text/html;q=0.9, application/json;q=0.8", "html"),
        ("application/json", "json"),
        ("application/json, text/html;q=0.9", "json"),
        ("text/html;q=0.5, application/*", "json"),  # application/* gives JSON q=1
        ("text/html;q=0.5, */*", "json"),  # */* gives JSON q=1
        ("", "json"),  # no Accept: not a browser
        ("*/*", "json"),
        ("text/*", "json"),  # HTML must be named
        ("text/html;q=0", "json"),  # q=0 means "not acceptable"
        ("text/html;q=0.000", "json"),
        ("application/xhtml+xml;q=0, text/html;q=0", "json"),
    ],
)
def test_negotiate(accept: str, expected: str) -> None:
    assert negotiate(accept) == expected


def test_q_zero_refuses_html_even_with_wildcard() -> None:
    assert not wants_html("text/html;q=0, */*")
    assert prefers_json("text/html;q=0, */*")  # the specific entry beats */*


def test_specific_entry_beats_wildcards() -> None:
    assert not prefers_json("application/json;q=0.1, */*, text/html;q=0.5")
    assert prefers_json("text/html;q=0.2, application/*;q=0.3")
    assert not prefers_json("*/*")  # a tie


@pytest.mark.parametrize("bad_q", ["q=abc", "q=", "q=1.5", "q=-1", "q=nan", "q=inf", "q=0.1234"])
def test_malformed_q_counts_as_zero(bad_q: str) -> None:
    assert not wants_html(f"text/html;{bad_q}")
    assert prefers_json(f"text/html;{bad_q}, application/json;q=0.1")


def test_accept_with_empty_items_and_spaces() -> None:
    assert wants_html(" , text/html ; q = 0.5 ,,")
    assert negotiate(",,;") == "json"


# -- headers -----------------------------------------------------------------------------------


def test_page_headers_forbid_caching_framing_referrer_and_sniffing() -> None:
    assert PAGE_HEADERS["Cache-Control"] == "no-store"
    csp = PAGE_HEADERS["Content-Security-Policy"]
    assert csp.startswith("default-src 'none';")
    assert csp.endswith("frame-ancestors 'none'")
    assert "unsafe-inline" not in csp
    assert "form-action" not in csp  # the sign-out POST is redirected to PingOne
    assert PAGE_HEADERS["Referrer-Policy"] == "no-referrer"
    assert PAGE_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert PAGE_HEADERS["X-Frame-Options"] == "DENY"
    assert PAGE_HEADERS["Vary"] == "Accept"


def test_page_headers_are_read_only() -> None:
    with pytest.raises(TypeError):
        PAGE_HEADERS["Cache-Control"] = "public"  # type: ignore[index]


def test_csp_pins_the_inline_style_by_hash() -> None:
    style = re.search(r"<style>(.*?)</style>", page("t", ""))
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in PAGE_HEADERS["Content-Security-Policy"]


def test_html_answer_carries_the_page_headers() -> None:
    answer = html_answer("<p>x</p>", 418)
    assert answer.status == 418
    assert answer.is_html
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert {**answer.headers, **PAGE_HEADERS} == dict(answer.headers)


def test_custom_html_may_load_its_assets_but_not_be_framed() -> None:
    custom = with_custom_html(html_answer("<p>ours</p>", 400), "<link rel=stylesheet href=/s.css>")
    assert custom.status == 400
    assert custom.body == "<link rel=stylesheet href=/s.css>"
    assert custom.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert custom.headers["Cache-Control"] == "no-store"


# -- pages -------------------------------------------------------------------------------------


def test_page_escapes_its_title() -> None:
    html = page(HOSTILE, "<p>body</p>")
    assert "<script>" not in html
    assert html.startswith("<!doctype html>")
    assert "<p>body</p>" in html


def test_error_page_escapes_hostile_error_text() -> None:
    err = LoginError(HOSTILE, HOSTILE)
    html = error_page(err, retry_url='/auth/login?x="><script>')
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;&amp;" in html
    assert 'href="/auth/login?x=&quot;&gt;&lt;script&gt;"' in html
    assert "Try again" in html


def test_error_page_shows_only_error_and_description() -> None:
    err = LoginError("invalid_state", "The login state does not match", reason="secret-reason")
    html = error_page(err, retry_url="/auth/login", title="Sign-out failed")
    assert "<h1>Sign-out failed</h1>" in html
    assert "<code>invalid_state</code>" in html
    assert "The login state does not match" in html
    assert "secret-reason" not in html


def test_error_page_without_retry_link() -> None:
    assert "<a " not in error_page(LoginError("access_denied"), retry_url=None)


def test_unavailable_page_is_fixed_text() -> None:
    html = unavailable_page(retry_url="/auth/login")
    assert "unavailable" in html
    assert '<a href="/auth/login">Try again</a>' in html
    assert "<a " not in unavailable_page()


def test_logout_page_posts_the_csrf_token() -> None:
    html = logout_page("/auth/logout", "tok-123")
    assert '<form method="post" action="/auth/logout">' in html
    assert '<input type="hidden" name="csrf" value="tok-123">' in html
    assert '<button type="submit">Sign out</button>' in html


def test_logout_page_adds_extra_fields_escaped() -> None:
    html = logout_page(
        '/auth/logout?"x', 'a"b', extra_fields={"csrfmiddlewaretoken": "<dj>", 'n"': "v"}
    )
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="&lt;dj&gt;">' in html
    assert '<input type="hidden" name="csrf" value="a&quot;b">' in html
    assert 'name="n&quot;"' in html
    assert 'action="/auth/logout?&quot;x"' in html
    fields = re.findall(r'<input type="hidden" name="([^"]+)"', html)
    assert fields == ["csrfmiddlewaretoken", "n&quot;", "csrf"]


# -- answers -----------------------------------------------------------------------------------


def test_login_error_answers_html_to_browsers() -> None:
    answer = error_answer(LoginError("invalid_state"), BROWSER, retry_url="/auth/login")
    assert answer.status == 400
    assert answer.is_html
    assert "invalid_state" in answer.body
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_login_error_answers_json_to_api_clients() -> None:
    err = LoginError("invalid_state", "The login state does not match")
    answer = error_answer(err, "application/json", retry_url="/auth/login")
    assert answer.status == 400
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert json.loads(answer.body) == err.body


def test_error_answer_keeps_the_errors_status() -> None:
    class Refused(LoginError):
        status_code = 403

    assert error_answer(Refused("access_denied"), BROWSER, retry_url=None).status == 403


@pytest.mark.parametrize("accept", [BROWSER, "application/json", ""])
def test_provider_down_is_503_with_retry_after(accept: str) -> None:
    err = ProviderUnavailable("internal detail: token endpoint said 500", retry_after=7.2)
    answer = error_answer(err, accept, retry_url="/auth/login")
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in answer.headers  # not a bearer-token route
    if answer.is_html:
        assert "internal detail" not in answer.body  # a fixed text
        assert "unavailable" in answer.body
    else:
        assert json.loads(answer.body)["error"] == "temporarily_unavailable"


def test_login_required_redirects_browsers() -> None:
    answer = login_required_answer(BROWSER, "/auth/login?return_to=%2Forders")
    assert answer.status == 302
    assert answer.headers["Location"] == "/auth/login?return_to=%2Forders"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Vary"] == "Accept"
    assert not answer.is_html


@pytest.mark.parametrize("accept", ["", "*/*", "application/json", "text/html;q=0"])
def test_login_required_answers_401_json_to_others(accept: str) -> None:
    answer = login_required_answer(accept, "/auth/login?return_to=%2Forders")
    assert answer.status == 401
    assert json.loads(answer.body) == {
        "error": "login_required",
        "error_description": "Sign in first: GET /auth/login",
    }


def test_login_required_body_drops_the_query() -> None:
    assert login_required_body("/app/auth/login?return_to=%2Fsecret") == {
        "error": "login_required",
        "error_description": "Sign in first: GET /app/auth/login",
    }


# -- /login's query ----------------------------------------------------------------------------


def test_login_params_pass_through() -> None:
    query = {
        "acr_values": "Single_Factor  MFA",
        "max_age": "300",
        "prompt": "login",
        "login_hint": "ada@example.com",
        "return_to": "/orders?page=2",
        "other": "ignored",
    }
    assert login_params(query) == {
        "acr_values": ["Single_Factor", "MFA"],
        "max_age": 300,
        "prompt": "login",
        "login_hint": "ada@example.com",
        "return_to": "/orders?page=2",
    }


def test_login_params_accept_lists_of_one_value() -> None:
    query = {"max_age": ["0"], "prompt": ["none"], "return_to": ["/a"]}
    assert login_params(query) == {"max_age": 0, "prompt": "none", "return_to": "/a"}


@pytest.mark.parametrize("empty", ["", "  ", []])
def test_empty_login_params_are_ignored(empty: Any) -> None:
    names = ("acr_values", "max_age", "prompt", "login_hint", "return_to")
    assert login_params(dict.fromkeys(names, empty)) == {}


@pytest.mark.parametrize(
    "bad", ["soon", "-1", "+1", "1.5", "1e3", "²", "١٢", "0x10", "1 2", "1234567890"]
)
def test_malformed_max_age_is_invalid_request(bad: str) -> None:
    with pytest.raises(LoginError, match="max_age must be a whole number") as caught:
        login_params({"max_age": bad})
    assert caught.value.status_code == 400
    assert caught.value.error == "invalid_request"


def test_max_age_of_nine_digits_is_accepted() -> None:
    assert login_params({"max_age": "999999999"}) == {"max_age": 999_999_999}


@pytest.mark.parametrize("name", ["acr_values", "prompt", "login_hint"])
@pytest.mark.parametrize("value", ["a\x00b", "a\nb", "x" * 1025])
def test_control_characters_and_oversized_params_rejected(name: str, value: str) -> None:
    with pytest.raises(LoginError) as caught:
        login_params({name: value})
    assert caught.value.error == "invalid_request"
    assert name in caught.value.description
    assert value not in caught.value.description  # never echoed


@pytest.mark.parametrize("name", ["acr_values", "max_age", "prompt", "login_hint", "return_to"])
def test_repeated_login_params_rejected(name: str) -> None:
    with pytest.raises(LoginError, match="repeated") as caught:
        login_params({name: ["1", "2"]})
    assert caught.value.error == "invalid_request"


def test_return_to_aliases_take_the_first_non_empty() -> None:
    names = ("return_to", "next")
    assert login_params({"next": "/n"}, return_to_names=names) == {"return_to": "/n"}
    assert login_params({"return_to": "/r", "next": "/n"}, return_to_names=names) == {
        "return_to": "/r"
    }
    assert login_params({"return_to": "", "next": "/n"}, return_to_names=names) == {
        "return_to": "/n"
    }
    assert login_params({"next": "/n"}) == {}  # only return_to by default
