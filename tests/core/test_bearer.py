"""extract_bearer, query_tokens, PathMatcher and error_response: pure, no network."""

from __future__ import annotations

import json

import pytest

from p1guard._web.bearer import ErrorResponse, error_response
from p1guard._web.credentials import extract_bearer, query_tokens
from p1guard._web.paths import PathMatcher
from p1guard.errors import (
    ConfigError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    ProviderUnavailable,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl-_"


# --- extract_bearer: the happy paths ------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {JWT}",
        f"bearer {JWT}",
        f"BEARER {JWT}",
        f"BeArEr {JWT}",
        f"Bearer    {JWT}",  # one run of several spaces
        f"  Bearer {JWT}  ",  # optional whitespace around the field value
        f"Bearer {JWT}\t",
    ],
)
def test_bearer_token_is_extracted(header: str) -> None:
    assert extract_bearer([header]) == JWT


@pytest.mark.parametrize("token", ["abc", "a+b/c==", "A-Z.a_z~0+9/", "x=", "opaque-token_1"])
def test_b64token_alphabet_and_padding_accepted(token: str) -> None:
    assert extract_bearer([f"Bearer {token}"]) == token


# --- extract_bearer: no bearer credentials → 401 without error code -----------------------


@pytest.mark.parametrize(
    "headers",
    [[], [""], ["   "], ["Basic dXNlcjpwYXNz"], ['Digest username="u", realm="r"'], ["Token x"]],
)
def test_no_bearer_credentials_is_missing_token(headers: list[str]) -> None:
    with pytest.raises(MissingToken) as info:
        extract_bearer(headers)
    assert info.value.status_code == 401
    assert info.value.www_authenticate == "Bearer"


def test_realm_is_copied_into_the_challenge() -> None:
    with pytest.raises(MissingToken) as info:
        extract_bearer([], realm="orders-api")
    assert info.value.www_authenticate == 'Bearer realm="orders-api"'
    with pytest.raises(InvalidRequest) as bad:
        extract_bearer(["Bearer a b"], realm="orders-api")
    assert 'realm="orders-api"' in bad.value.www_authenticate


# --- extract_bearer: malformed credentials → 400 invalid_request --------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",  # empty token
        "Bearer ",
        "Bearer     ",
        "Bearer\tabc",  # tab instead of space
        "Bearer \tabc",
        "Bearer abc def",  # two tokens
        "Bearer abc\tdef",
        "Bearer =abc",  # padding first
        "Bearer ab=c",  # padding in the middle
        "Bearer abc;",
        'Bearer "abc"',
        "Bearer tökén",  # non-ASCII
        "Bearer abc\x00",
        "Bearer abc\r\nX-Injected: 1",
        "Bearer\x00 abc",
        "Bèarer abc",
    ],
)
def test_malformed_bearer_header_is_invalid_request(header: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        extract_bearer([header])
    assert info.value.status_code == 400
    assert info.value.error == "invalid_request"


def test_non_ascii_header_bytes_decoded_as_latin1_rejected() -> None:
    raw = "Bearer é-token".encode().decode("latin-1")  # what ASGI/WSGI hand over
    with pytest.raises(InvalidRequest):
        extract_bearer([raw])


def test_duplicate_authorization_headers_rejected() -> None:
    with pytest.raises(InvalidRequest) as info:
        extract_bearer([f"Bearer {JWT}", f"Bearer {JWT}"])
    assert info.value.reason == "duplicate_authorization"


def test_bearer_and_basic_headers_together_rejected() -> None:
    with pytest.raises(InvalidRequest):
        extract_bearer(["Basic dTpw", f"Bearer {JWT}"])


@pytest.mark.parametrize(
    "merged",
    [
        f"Bearer {JWT}, Bearer other",
        f"Bearer {JWT},Bearer other",
        f"Basic dTpw, Bearer {JWT}",
        f"Bearer {JWT}, Basic dTpw",
    ],
)
def test_wsgi_comma_merged_duplicates_rejected(merged: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        extract_bearer([merged])
    assert info.value.reason == "duplicate_authorization"


def test_huge_header_is_only_syntax_checked() -> None:
    big = "a" * 1_000_000
    assert extract_bearer([f"Bearer {big}"]) == big  # the Guard's size limit rejects it later
    with pytest.raises(InvalidRequest):
        extract_bearer([f"Bearer {big} {big}"])


def test_error_messages_never_echo_the_token() -> None:
    secret = "s3cr3t-tok\u00e9n"
    with pytest.raises(InvalidRequest) as info:
        extract_bearer([f"Bearer {secret}"])
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in info.value.www_authenticate


# --- tokens in the query string ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", []),
        (b"page=2&sort=asc", []),
        (b"access_token=abc", ["abc"]),
        (b"x=1&access_token=abc&access_token=def", ["abc", "def"]),
        (b"access%5Ftoken=abc", ["abc"]),  # percent-encoded name
        (b"access_token=", [""]),
        (b"my_access_token=abc", []),
        ("access_token=a%2Bb", ["a+b"]),
    ],
)
def test_query_tokens(query: bytes | str, expected: list[str]) -> None:
    assert query_tokens(query) == expected


def test_token_in_query_rejected_by_default() -> None:
    with pytest.raises(InvalidRequest) as info:
        extract_bearer([], query_tokens=["abc"])
    assert info.value.reason == "token_in_query"
    with pytest.raises(InvalidRequest):
        extract_bearer([f"Bearer {JWT}"], query_tokens=["abc"])


def test_token_in_query_allowed_when_opted_in() -> None:
    assert extract_bearer([], query_tokens=[JWT], allow_query=True) == JWT


@pytest.mark.parametrize(
    ("headers", "tokens"),
    [([f"Bearer {JWT}"], [JWT]), ([], [JWT, JWT]), ([], [""]), ([], ["a b"])],
)
def test_query_token_must_be_single_and_well_formed(headers: list[str], tokens: list[str]) -> None:
    with pytest.raises(InvalidRequest):
        extract_bearer(headers, query_tokens=tokens, allow_query=True)


# --- PathMatcher ------------------------------------------------------------------------


@pytest.fixture
def public() -> PathMatcher:
    return PathMatcher(["/health", "/docs/*", "/static/"])


@pytest.mark.parametrize(
    "path", ["/health", "/docs", "/docs/", "/docs/index.html", "/docs/a/b.json", "/static/"]
)
def test_public_paths_match(public: PathMatcher, path: str) -> None:
    assert public.matches(path)
    assert path in public


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/health/",
        "/healthz",
        "/HEALTH",
        "//health",
        "/health/x",
        "/docsx",
        "/static",
        "/static/x",  # "/static/" without * is exact
        "/api/health",
    ],
)
def test_other_paths_do_not_match(public: PathMatcher, path: str) -> None:
    assert not public.matches(path)


@pytest.mark.parametrize(
    "path",
    [
        "/docs/../admin",
        "/docs/..",
        "/docs/./../admin",
        "/docs/.",
        "/docs//admin",
        "/docs/..\\admin",
        "/docs\\..\\admin",
        "/docs/..;/admin",
        "/docs/%2e%2e/admin",  # double-encoded dot segment
        "/docs/%2F..%2Fadmin",
        "/docs/x\x00",
        "/docs/x\r\n",
    ],
)
def test_path_traversal_out_of_public_prefix_is_not_public(public: PathMatcher, path: str) -> None:
    assert not public.matches(path)


def test_dotfiles_under_a_public_prefix_stay_public(public: PathMatcher) -> None:
    assert public.matches("/docs/.well-known/openapi.json")
    assert public.matches("/docs/a..b")


def test_exact_path_does_not_allow_traversal_either() -> None:
    matcher = PathMatcher(["/health"])
    assert not matcher.matches("/health/../admin")
    assert not matcher.matches("/admin/../health")


def test_everything_public_with_root_wildcard() -> None:
    matcher = PathMatcher(["/*"])
    assert matcher.matches("/")
    assert matcher.matches("/a/b")
    assert not matcher.matches("/a/../b")


def test_empty_matcher_is_falsy_and_matches_nothing() -> None:
    matcher = PathMatcher([])
    assert not matcher
    assert not matcher.matches("/")
    assert PathMatcher(["/health"])


@pytest.mark.parametrize(
    "entry",
    [
        "health",
        "",
        "*",
        "/docs*",
        "/docs/*/x",
        "/a/*/*",
        "/docs/../admin",
        "//x",
        "/x?y=1",
        "/a%2F",
    ],
)
def test_unsafe_or_ambiguous_entries_rejected(entry: str) -> None:
    with pytest.raises(ConfigError) as info:
        PathMatcher([entry])
    assert info.value.field == "public_paths"


def test_single_string_rejected() -> None:
    with pytest.raises(ConfigError):
        PathMatcher("/health")


def test_repr_lists_entries() -> None:
    assert repr(PathMatcher(["/health", "/docs/*"])) == "PathMatcher(['/health', '/docs/*'])"


# --- error_response ---------------------------------------------------------------------


def test_error_response_missing_token() -> None:
    response = error_response(MissingToken(realm="api"))
    assert isinstance(response, ErrorResponse)
    status, headers, body = response
    assert status == 401
    assert response.status_line == "401 Unauthorized"
    names = dict(headers)
    assert names["Content-Type"] == "application/json"
    assert names["Content-Length"] == str(len(body))
    assert names["WWW-Authenticate"] == 'Bearer realm="api"'
    assert names["Cache-Control"] == "no-store"
    assert json.loads(body)["error_description"]


def test_error_response_statuses() -> None:
    assert error_response(InvalidToken()).status_line == "401 Unauthorized"
    forbidden = error_response(InsufficientScope(["read"]))
    assert forbidden.status_line == "403 Forbidden"
    assert 'scope="read"' in dict(forbidden.headers)["WWW-Authenticate"]
    unavailable = error_response(ProviderUnavailable(retry_after=2.5))
    assert unavailable.status_line == "503 Service Unavailable"
    assert dict(unavailable.headers)["Retry-After"] == "3"
    assert error_response(InvalidRequest()).status_line == "400 Bad Request"


def test_error_response_headers_are_latin1_safe() -> None:
    _status, headers, _ = error_response(
        InvalidToken("bad \u00e9 token \u2603", realm="r\u00e9alm")
    )
    for name, value in headers:
        name.encode("latin-1")
        value.encode("ascii")
