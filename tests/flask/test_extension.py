"""P1Guard set-up: app.config, the app-factory pattern, error handlers and current_token."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Blueprint, Flask, g, request
from flask_helpers import AppFactory, bearer, body, mock_config

from p1guard import AuthError, ConfigError, Guard
from p1guard.testing import MockPingOne
from p1guard.wsgi import ENVIRON_KEY
from p1guard_flask import P1Guard, auth_error_response, current_token, get_token
from p1guard_flask.settings import WARNED_KEY, warn_unknown_keys

ENV_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture
def configured_app() -> Iterator[AppFactory]:
    """``configured_app(config)``: a Flask app set up from config; its Guard is closed after."""
    guards: list[Guard] = []

    def build(config: dict[str, Any], p1: P1Guard | None = None) -> Flask:
        app = Flask(__name__)
        app.config.update(config)
        (p1 or P1Guard()).init_app(app)
        guards.append(app.extensions["p1guard"].guard)
        return app

    yield build
    for built in guards:
        built.close()


@pytest.fixture
def guard(pingone_mock: MockPingOne) -> Guard:
    return pingone_mock.guard()


def _route(app: Flask, p1: P1Guard, *scopes: str) -> None:
    @app.get("/items")
    @p1.require_token(*scopes)
    def items() -> dict[str, Any]:
        return {"sub": current_token.subject, "source": current_token.source}


# -- config ----------------------------------------------------------------------------------


def test_config_builds_the_guard(configured_app: AppFactory, pingone_mock: MockPingOne) -> None:
    app = configured_app(mock_config(pingone_mock, P1GUARD_LEEWAY="5", P1GUARD_REALM="api"))
    guard = app.extensions["p1guard"].guard
    assert guard.pingone.issuer == pingone_mock.issuer
    assert guard.realm == "api"
    assert guard.policy.leeway == 5


def test_env_id_and_region_make_the_issuer(configured_app: AppFactory) -> None:
    config = {
        "P1GUARD_ENV_ID": ENV_ID,
        "P1GUARD_REGION": "eu",
        "P1GUARD_AUDIENCE": ["https://api.example.com", "https://b.example.com"],
        "P1GUARD_TIMEOUT": timedelta(seconds=2),
    }
    guard = configured_app(config).extensions["p1guard"].guard
    assert guard.pingone.issuer == f"https://auth.pingone.eu/{ENV_ID}/as"
    assert guard.pingone.timeout == 2


def _with(**settings: Any) -> dict[str, Any]:
    return {"P1GUARD_ENV_ID": ENV_ID, "P1GUARD_AUDIENCE": "a", **settings}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"P1GUARD_AUDIENCE": "https://api.example.com"}, "P1GUARD_ENV_ID"),
        (_with(P1GUARD_ENV_ID="not-a-uuid"), "P1GUARD_ENV_ID"),
        (_with(P1GUARD_REGION="XX"), "P1GUARD_REGION"),
        ({"P1GUARD_ISSUER": "http://evil.example/as", "P1GUARD_AUDIENCE": "a"}, "P1GUARD_ISSUER"),
        ({"P1GUARD_ENV_ID": ENV_ID}, "P1GUARD_AUDIENCE"),
        (_with(P1GUARD_AUDIENCE=42), "P1GUARD_AUDIENCE"),
        (_with(P1GUARD_AUDIENCE=[""]), "P1GUARD_AUDIENCE"),
        (_with(P1GUARD_MODE="trust"), "P1GUARD_MODE"),
        (_with(P1GUARD_MODE="introspect"), "P1GUARD_CLIENT_ID"),
        (_with(P1GUARD_CHECK_REVOCATION="sure"), "P1GUARD_CHECK_REVOCATION"),
        (_with(P1GUARD_LEEWAY="soon"), "P1GUARD_LEEWAY"),
        (_with(P1GUARD_LEEWAY=-1), "P1GUARD_LEEWAY"),
        (_with(P1GUARD_TIMEOUT=0), "P1GUARD_TIMEOUT"),
        (_with(P1GUARD_REALM=7), "P1GUARD_REALM"),
        (_with(P1GUARD_ALLOW_QUERY_TOKEN="maybe"), "P1GUARD_ALLOW_QUERY_TOKEN"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, Any], key: str) -> None:
    app = Flask(__name__)
    app.config.update(config)
    with pytest.raises(ConfigError) as info:
        P1Guard(app)
    assert info.value.field == key
    assert str(info.value).startswith(f"{key}: ")
    assert "p1guard" not in app.extensions


def test_client_secret_never_in_config_errors() -> None:
    app = Flask(__name__)
    app.config.update(_with(P1GUARD_CLIENT_SECRET="s3cr3t-value"))  # no P1GUARD_CLIENT_ID
    with pytest.raises(ConfigError) as info:
        P1Guard(app)
    assert info.value.field == "P1GUARD_CLIENT_ID"
    assert "s3cr3t-value" not in str(info.value)


def test_guard_settings_beside_a_guard_are_refused(guard: Guard) -> None:
    app = Flask(__name__)
    app.config["P1GUARD_CHECK_REVOCATION"] = True  # would be silently ignored otherwise
    with pytest.raises(ConfigError, match="P1GUARD_CHECK_REVOCATION"):
        P1Guard(app, guard=guard)


def test_second_init_on_one_app_is_refused(guard: Guard) -> None:
    app = Flask(__name__)
    P1Guard(app, guard=guard)
    with pytest.raises(RuntimeError, match="already"):
        P1Guard(app, guard=guard)


def test_state_keeps_its_extension(guard: Guard) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard)
    state = app.extensions["p1guard"]
    assert state.extension is p1
    with app.app_context():
        assert state.extension.guard is guard


def test_not_initialised_app_fails_closed(guard: Guard, pingone_mock: MockPingOne) -> None:
    app = Flask(__name__)
    _route(app, P1Guard(guard=guard))
    app.testing = True
    with pytest.raises(RuntimeError, match="init_app"):
        app.test_client().get("/items", headers=bearer(pingone_mock.issue_token()))


# -- modes through config --------------------------------------------------------------------


def test_introspection_mode_with_opaque_token(
    configured_app: AppFactory, pingone_mock: MockPingOne
) -> None:
    app = configured_app(mock_config(pingone_mock, P1GUARD_MODE="introspect"))
    p1 = app.extensions["p1guard"].extension
    _route(app, p1, "read")
    client = app.test_client()
    opaque = pingone_mock.issue_token(["read"], opaque=True)
    response = client.get("/items", headers=bearer(opaque))
    assert response.status_code == 200
    assert body(response) == {"sub": "user-1", "source": "introspection"}
    unknown = client.get("/items", headers=bearer("opaque-token-nobody-issued"))
    assert unknown.status_code == 401
    assert body(unknown)["error"] == "invalid_token"


def test_revoked_token_rejected_with_check_revocation(
    configured_app: AppFactory, pingone_mock: MockPingOne
) -> None:
    app = configured_app(mock_config(pingone_mock, P1GUARD_CHECK_REVOCATION="true"))
    _route(app, app.extensions["p1guard"].extension)
    token = pingone_mock.issue_token(["read"])
    pingone_mock.revoke(token)
    response = app.test_client().get("/items", headers=bearer(token))
    assert response.status_code == 401
    assert body(response)["error"] == "invalid_token"


# -- app factory -----------------------------------------------------------------------------


def test_one_extension_serves_several_apps(
    configured_app: AppFactory, pingone_mock: MockPingOne
) -> None:
    p1 = P1Guard()
    with MockPingOne(audience="https://other.example") as other:
        first = configured_app(mock_config(pingone_mock), p1)
        second = configured_app(mock_config(other), p1)
        for app in (first, second):
            _route(app, p1, "read")
        assert first.extensions["p1guard"].guard is not second.extensions["p1guard"].guard
        token_one, token_two = pingone_mock.issue_token(["read"]), other.issue_token(["read"])
        assert first.test_client().get("/items", headers=bearer(token_one)).status_code == 200
        assert second.test_client().get("/items", headers=bearer(token_two)).status_code == 200
        assert first.test_client().get("/items", headers=bearer(token_two)).status_code == 401
        with first.app_context():
            assert p1.guard is first.extensions["p1guard"].guard


def test_init_app_guard_overrides_the_shared_one(pingone_mock: MockPingOne) -> None:
    shared, own = pingone_mock.guard(), pingone_mock.guard(realm="own")
    p1 = P1Guard(guard=shared)
    app = Flask(__name__)
    p1.init_app(app, guard=own)
    assert app.extensions["p1guard"].guard is own
    assert p1.guard is shared  # outside an app context


# -- error handlers --------------------------------------------------------------------------


def test_custom_error_handler_decorator(guard: Guard) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard)
    _route(app, p1)

    @p1.error_handler
    def on_auth_error(err: AuthError) -> Any:
        return {"message": err.description, "status": err.status_code}, err.status_code, err.headers

    response = app.test_client().get("/items")
    assert response.status_code == 401
    assert body(response) == {"message": "An access token is required", "status": 401}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_custom_error_handler_argument_may_extend_the_default(
    guard: Guard, pingone_mock: MockPingOne
) -> None:
    def on_auth_error(err: AuthError) -> Any:
        response = auth_error_response(err)
        response.headers["X-Request-Id"] = g.get("request_id", "r-1")
        return response

    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard, error_handler=on_auth_error)
    _route(app, p1, "admin")
    response = app.test_client().get("/items", headers=bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 403
    assert response.headers["X-Request-Id"] == "r-1"
    assert body(response)["error"] == "insufficient_scope"


# -- current_token ---------------------------------------------------------------------------


def test_current_token_outside_a_request_raises_clearly() -> None:
    with pytest.raises(RuntimeError, match="outside of application context"):
        _ = current_token.subject
    with Flask(__name__).app_context(), pytest.raises(RuntimeError, match="outside of request"):
        _ = current_token.subject


def test_current_token_in_unprotected_view_raises_clearly(guard: Guard) -> None:
    app = Flask(__name__)
    P1Guard(app, guard=guard)
    app.testing = True

    @app.get("/unprotected")
    def unprotected() -> dict[str, Any]:
        assert get_token() is None
        return {"sub": current_token.subject}

    with pytest.raises(RuntimeError, match="require_token"):
        app.test_client().get("/unprotected")


def test_token_does_not_leak_into_a_later_request_in_one_app_context(
    guard: Guard, pingone_mock: MockPingOne
) -> None:
    # Flask reuses a pushed app context (and its `g`) for every request made inside it.
    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard)
    _route(app, p1)
    app.testing = True
    seen: list[object] = []

    @app.get("/unprotected")
    def unprotected() -> dict[str, Any]:
        seen.append(get_token())
        return {"sub": current_token.subject}

    client = app.test_client()
    with app.app_context():
        response = client.get("/items", headers=bearer(pingone_mock.issue_token()))
        assert body(response)["sub"] == "user-1"
        with pytest.raises(RuntimeError, match="no verified token"):
            client.get("/unprotected")
    assert seen == [None]


def test_token_is_in_the_wsgi_environ_like_the_core_middleware(
    guard: Guard, pingone_mock: MockPingOne
) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard)

    @app.get("/environ")
    @p1.require_token
    def environ() -> dict[str, Any]:
        return {"same": request.environ[ENVIRON_KEY] is get_token() is not None}

    response = app.test_client().get("/environ", headers=bearer(pingone_mock.issue_token()))
    assert body(response) == {"same": True}


def test_verify_request_in_a_hook(guard: Guard, pingone_mock: MockPingOne) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard)

    @app.get("/dynamic/<level>")
    def dynamic(level: str) -> dict[str, Any]:
        token = p1.verify_request(["admin"] if level == "high" else ["read"])
        return {"sub": token.subject, "same": token is get_token()}

    client = app.test_client()
    token = bearer(pingone_mock.issue_token(["read"]))
    assert body(client.get("/dynamic/low", headers=token)) == {"sub": "user-1", "same": True}
    assert client.get("/dynamic/high", headers=token).status_code == 403


def test_bad_decorator_arguments_are_refused(guard: Guard) -> None:
    p1 = P1Guard(guard=guard)
    with pytest.raises(ConfigError, match="match"):
        p1.require_token("read", match="most")  # type: ignore[call-overload]
    with pytest.raises(ConfigError, match="scopes"):
        p1.require_token("read", 3)  # type: ignore[call-overload]
    with pytest.raises(ConfigError, match="scopes"):
        p1.require_token(" ")


# -- check_revocation needs client credentials: refused at set-up, not a 500 per request ----


@pytest.fixture
def guard_without_credentials(pingone_mock: MockPingOne) -> Guard:
    return pingone_mock.guard(client_id=None, client_secret=None)


def _revocation_view(p1: P1Guard) -> Any:
    @p1.require_token("read", check_revocation=True)
    def revocation_checked() -> dict[str, Any]:
        return {"sub": current_token.subject}

    return revocation_checked


def test_check_revocation_without_credentials_refused_at_decoration(
    guard_without_credentials: Guard,
) -> None:
    p1 = P1Guard(Flask(__name__), guard=guard_without_credentials)
    with pytest.raises(ConfigError) as info:
        _revocation_view(p1)
    assert info.value.field == "check_revocation"
    assert "revocation_checked" in str(info.value)
    with pytest.raises(ConfigError, match=r"check_revocation: the blueprint 'api'"):
        p1.protect_blueprint(Blueprint("api", __name__), check_revocation=True)
    # Without revocation checks the same Guard is fine.
    p1.require_token("read", check_revocation=False)(lambda: None)
    p1.protect_blueprint(Blueprint("other", __name__))


def test_check_revocation_without_credentials_refused_by_a_config_built_guard(
    pingone_mock: MockPingOne,
) -> None:
    app = Flask(__name__)
    app.config.update(P1GUARD_ISSUER=pingone_mock.issuer, P1GUARD_AUDIENCE=pingone_mock.audience)
    p1 = P1Guard(app)
    with pytest.raises(ConfigError, match=r"check_revocation: the view .*revocation_checked"):
        _revocation_view(p1)


def test_check_revocation_without_credentials_refused_at_init_app(
    guard_without_credentials: Guard, pingone_mock: MockPingOne
) -> None:
    p1 = P1Guard()  # app factory: the views exist before any app is set up
    _revocation_view(p1)
    app = Flask(__name__)
    with pytest.raises(ConfigError) as info:
        p1.init_app(app, guard=guard_without_credentials)
    assert info.value.field == "check_revocation"
    assert "revocation_checked" in str(info.value)
    assert "p1guard" not in app.extensions
    config_app = Flask(__name__)
    config_app.config.update(
        P1GUARD_ISSUER=pingone_mock.issuer, P1GUARD_AUDIENCE=pingone_mock.audience
    )
    with pytest.raises(ConfigError, match=r"check_revocation: the view .*revocation_checked"):
        p1.init_app(config_app)
    assert "p1guard" not in config_app.extensions


def test_check_revocation_blueprint_without_credentials_refused_at_init_app(
    guard_without_credentials: Guard,
) -> None:
    p1 = P1Guard(guard=guard_without_credentials)
    p1.protect_blueprint(Blueprint("api", __name__), check_revocation=True)
    with pytest.raises(ConfigError, match=r"check_revocation: the blueprint 'api'"):
        p1.init_app(Flask(__name__))


def test_check_revocation_with_credentials_still_rejects_revoked_tokens(
    configured_app: AppFactory, pingone_mock: MockPingOne
) -> None:
    p1 = P1Guard()
    view = _revocation_view(p1)
    api = Blueprint("api", __name__)
    api.add_url_rule("/api/items", view_func=lambda: {"sub": current_token.subject})
    p1.protect_blueprint(api, check_revocation=True)
    app = configured_app(mock_config(pingone_mock), p1)
    app.add_url_rule("/items", view_func=view)
    app.register_blueprint(api)
    client = app.test_client()
    token, revoked = pingone_mock.issue_token(["read"]), pingone_mock.issue_token(["read"])
    pingone_mock.revoke(revoked)
    for path in ("/items", "/api/items"):
        assert client.get(path, headers=bearer(token)).status_code == 200
        assert body(client.get(path, headers=bearer(revoked)))["error"] == "invalid_token"


def test_check_revocation_config_without_credentials_refused() -> None:
    app = Flask(__name__)
    app.config.update(_with(P1GUARD_CHECK_REVOCATION="true"))
    with pytest.raises(ConfigError) as info:
        P1Guard(app)
    assert info.value.field == "P1GUARD_CLIENT_ID"
    assert "p1guard" not in app.extensions


@pytest.mark.parametrize("is_async", [False, True])
def test_verify_request_check_revocation_without_credentials_fails_on_every_request(
    guard_without_credentials: Guard, pingone_mock: MockPingOne, is_async: bool
) -> None:
    # Decided at run time, so it cannot fail at set-up; but it must not hide behind 401s
    # (no token) and fail only for valid tokens: a ConfigError before the token is read.
    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard_without_credentials)
    app.testing = True

    @app.get("/sync")
    def sync_view() -> dict[str, Any]:
        return {"sub": p1.verify_request(check_revocation=True).subject}

    @app.get("/async")
    async def async_view() -> dict[str, Any]:
        return {"sub": (await p1.averify_request(check_revocation=True)).subject}

    client = app.test_client()
    path = "/async" if is_async else "/sync"
    for headers in ({}, bearer(pingone_mock.issue_token())):
        with pytest.raises(ConfigError, match=r"check_revocation: the endpoint '.*_view'"):
            client.get(path, headers=headers)


def test_unknown_config_key_warns_once_with_a_suggestion(
    configured_app: AppFactory, pingone_mock: MockPingOne
) -> None:
    config = mock_config(pingone_mock, P1GUARD_LEWAY="5", P1GUARD_LOGIN_PREFIX="/account")
    with pytest.warns(UserWarning, match="Did you mean 'P1GUARD_LEEWAY'") as caught:
        app = configured_app(config)
    assert [str(w.message) for w in caught] == [
        "app.config['P1GUARD_LEWAY'] is not a p1guard setting (a typo?). "
        "Did you mean 'P1GUARD_LEEWAY'?"
    ]
    assert app.extensions["p1guard"].guard.policy.leeway == 30  # the typo is not read
    # init_login reads the same config: a key already warned about for this app stays quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_unknown_keys(app.config, app.extensions[WARNED_KEY])
