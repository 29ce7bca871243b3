"""System checks of settings.P1GUARD, and the lazily built, settings-driven Guard."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django_support import TEST_SETTINGS, Use

import p1guard_django
from p1guard import Guard
from p1guard.testing import MockPingOne
from p1guard_django.conf import get_guard, get_options
from p1guard_django.middleware import is_protected

GOOD: dict[str, Any] = {
    "ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "REGION": "EU",
    "AUDIENCE": "https://api.example.com",
}


def run(p1guard: object = GOOD, **other: Any) -> list[tuple[str, str]]:
    with override_settings(P1GUARD=p1guard, **other):
        found = checks.run_checks(tags=["p1guard"])
    return [(message.id or "", message.msg) for message in found]


def ids(p1guard: object = GOOD, **other: Any) -> list[str]:
    return [found for found, _ in run(p1guard, **other)]


def test_good_settings_pass() -> None:
    assert run() == []


def test_missing_audience_is_e001() -> None:
    assert run({"ENV_ID": GOOD["ENV_ID"]}) == [("p1guard.E001", "P1GUARD['AUDIENCE'] is required")]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"AUDIENCE": "https://api.example.com"}, "p1guard.E002"),
        ({**GOOD, "MODE": "magic"}, "p1guard.E003"),
        ({**GOOD, "MODE": "introspect"}, "p1guard.E004"),
        ({**GOOD, "CHECK_REVOCATION": True, "CLIENT_ID": "x"}, "p1guard.E004"),
        ({**GOOD, "PROTECTED_PATHS": "/api/"}, "p1guard.E005"),
        ({**GOOD, "PROTECTED_PATHS": ["api/"]}, "p1guard.E005"),
        ({**GOOD, "PUBLIC_PATHS": ["/docs*"]}, "p1guard.E005"),
        ({**GOOD, "USER_MAPPING": "make"}, "p1guard.E006"),
        ({**GOOD, "USER_MAPPING": "os.path.nothing_here"}, "p1guard.E006"),
        ({**GOOD, "LEEWAY": -1}, "p1guard.E007"),
        ({**GOOD, "ALLOW_QUERY_TOKEN": "yes"}, "p1guard.E007"),
        ({**GOOD, "GUARD_OPTIONS": ["strict_typ"]}, "p1guard.E007"),
        ("https://api.example.com", "p1guard.E008"),
        (None, "p1guard.E008"),
        ({**GOOD, "REGION": "MARS"}, "p1guard.E009"),
        ({"ISSUER": "http://login.example.com/as", "AUDIENCE": "a"}, "p1guard.E009"),
        ({**GOOD, "GUARD_OPTIONS": {"no_such_option": 1}}, "p1guard.E009"),
        ({"GUARD": "no.such.factory"}, "p1guard.E010"),
        ({"GUARD": 42}, "p1guard.E010"),
    ],
)
def test_bad_settings_reported(settings: object, expected: str) -> None:
    assert expected in ids(settings)


def test_guard_with_connection_keys_is_e010(pingone_mock: MockPingOne) -> None:
    assert ids({"GUARD": pingone_mock.guard(), "AUDIENCE": "x"}) == ["p1guard.E010"]


def test_issuer_error_names_the_setting() -> None:
    [(_, message)] = run({"ISSUER": "http://login.example.com/as", "AUDIENCE": "a"})
    assert message.startswith("P1GUARD['ISSUER'] is invalid: http is only accepted")


def test_unknown_key_warns_with_suggestion() -> None:
    with override_settings(P1GUARD={**GOOD, "AUDEINCE": "x"}):
        [warning] = checks.run_checks(tags=["p1guard"])
    assert warning.id == "p1guard.W001"
    assert warning.hint == "Did you mean 'AUDIENCE'?"


def test_secret_never_in_check_messages() -> None:
    secret = "s3cr3t-value-1234"
    found = run({**GOOD, "MODE": "nope", "CLIENT_SECRET": secret, "CLIENT_ID": 5})
    assert found
    assert all(secret not in message for _, message in found)


def test_middleware_before_authentication_middleware_warns() -> None:
    middleware = [
        "p1guard_django.middleware.BearerTokenMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    assert ids(MIDDLEWARE=middleware) == ["p1guard.W002"]
    assert ids(MIDDLEWARE=middleware[::-1]) == []


def test_user_mapping_needs_contrib_auth() -> None:
    apps = [a for a in TEST_SETTINGS["INSTALLED_APPS"] if a != "django.contrib.auth"]
    apps.remove("django.contrib.contenttypes")
    with override_settings(INSTALLED_APPS=apps, P1GUARD={**GOOD, "USER_MAPPING": "get"}):
        found = checks.run_checks(tags=["p1guard"])
    assert [message.id for message in found] == ["p1guard.E006"]


# -- conf: one Guard per settings ------------------------------------------------------------


def test_guard_is_built_once_and_rebuilt_when_settings_change(p1guard: Use) -> None:
    first = get_guard()
    assert get_guard() is first
    p1guard(LEEWAY=5)
    second = get_guard()
    assert second is not first
    assert second.policy.leeway == 5


def test_bad_settings_raise_improperly_configured_at_use() -> None:
    with (
        override_settings(P1GUARD={"ENV_ID": GOOD["ENV_ID"]}),
        pytest.raises(ImproperlyConfigured, match=r"p1guard\.E001"),
    ):
        get_guard()
    with (
        override_settings(P1GUARD={**GOOD, "REGION": "MARS"}),
        pytest.raises(ImproperlyConfigured, match=r"p1guard\.E009"),
    ):
        get_guard()


def test_guard_setting_accepts_instance_factory_and_dotted_path(
    pingone_mock: MockPingOne,
) -> None:
    guard = pingone_mock.guard()
    with override_settings(P1GUARD={"GUARD": guard}):
        assert get_guard() is guard
    with override_settings(P1GUARD={"GUARD": lambda: guard}):
        assert get_guard() is guard
    with override_settings(P1GUARD={"GUARD": "test_django_checks.make_guard"}):
        assert isinstance(get_guard(), Guard)
    with (
        override_settings(P1GUARD={"GUARD": lambda: "not a guard"}),
        pytest.raises(ImproperlyConfigured, match="must return"),
    ):
        get_guard()


def make_guard() -> Guard:
    from p1guard import PingOne

    return Guard(PingOne(env_id=GOOD["ENV_ID"]), audience="https://api.example.com")


def test_protected_paths_match_prefixes_and_skip_public_ones() -> None:
    settings = {**GOOD, "PROTECTED_PATHS": ["/api/"], "PUBLIC_PATHS": ["/api/health"]}
    with override_settings(P1GUARD=settings):
        options = get_options()
        assert is_protected("/api/items", options)
        assert is_protected("/api", options)
        assert not is_protected("/api/health", options)
        assert is_protected("/api/health/../admin", options)
        assert not is_protected("/apix", options)
        assert not is_protected("/static/app.js", options)


def test_exports_match_all() -> None:
    public = {
        name
        for name, value in vars(p1guard_django).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public == set(p1guard_django.__all__) - {"__version__"}


# -- PROTECTED_PATHS: the PUBLIC_PATHS entry syntax; anything else is E005 ------------------


def test_protected_paths_star_entry_is_a_prefix() -> None:
    settings = {**GOOD, "PROTECTED_PATHS": ["/api/*"], "PUBLIC_PATHS": ["/api/health"]}
    assert run(settings) == []
    with override_settings(P1GUARD=settings):
        options = get_options()
        assert is_protected("/api", options)
        assert is_protected("/api/", options)
        assert is_protected("/api/items/1", options)
        assert not is_protected("/api/health", options)
        assert is_protected("/api/health/../admin", options)
        assert is_protected("/x/..//api/items", options)
        assert is_protected("//api//items", options)
        assert is_protected("/x/%2e%2e/api/items", options)
        assert not is_protected("/apix", options)
        assert not is_protected("/", options)


def test_protected_paths_exact_entry_matches_only_that_path() -> None:
    with override_settings(P1GUARD={**GOOD, "PROTECTED_PATHS": ["/metrics"]}):
        options = get_options()
        assert is_protected("/metrics", options)
        assert is_protected("/x/../metrics", options)
        assert not is_protected("/metrics/x", options)
        assert not is_protected("/metricsx", options)


@pytest.mark.parametrize("everything", [["/"], ["/*"]])
def test_protected_paths_root_protects_every_path(everything: list[str]) -> None:
    with override_settings(P1GUARD={**GOOD, "PROTECTED_PATHS": everything}):
        options = get_options()
        assert all(is_protected(p, options) for p in ("/", "/a", "/api/items"))


@pytest.mark.parametrize(
    "entry",
    ["/api*", "/api/*/items", "/*/items", "/api/**", "/api?x=1", "/api#top", "/ap?", "//",
     "/api//", "/api/../admin", "/api/./x", "/a;b", "/a%2Fb", "/a\\b", "*", "api/*", "", 7],
)  # fmt: skip
def test_protected_paths_unsupported_entry_is_e005(entry: object) -> None:
    found = run({**GOOD, "PROTECTED_PATHS": ["/ok/*", entry]})
    assert [found_id for found_id, _ in found] == ["p1guard.E005"]
    assert found[0][1].startswith("P1GUARD['PROTECTED_PATHS'] is invalid: ")
    assert repr(entry) in found[0][1]


def test_protected_paths_unsupported_entry_fails_at_use() -> None:
    with (
        override_settings(P1GUARD={**GOOD, "PROTECTED_PATHS": ["/api*"]}),
        pytest.raises(ImproperlyConfigured, match=r"p1guard\.E005"),
    ):
        get_options()


# -- USER_FIELD must be a unique field of the user model -------------------------------------


@pytest.mark.parametrize("mapping", ["get", "create"])
def test_user_field_missing_from_user_model_is_e006(mapping: str) -> None:
    found = run({**GOOD, "USER_MAPPING": mapping, "USER_FIELD": "pingone_sub"})
    assert found == [
        ("p1guard.E006", "P1GUARD['USER_FIELD'] = 'pingone_sub': auth.User has no such field")
    ]


def test_user_field_not_unique_is_e006() -> None:
    [(found_id, message)] = run({**GOOD, "USER_MAPPING": "get", "USER_FIELD": "email"})
    assert found_id == "p1guard.E006"
    assert message.startswith("P1GUARD['USER_FIELD'] = 'email' is not unique on auth.User")


def test_user_field_that_is_a_relation_is_e006() -> None:
    assert ids({**GOOD, "USER_MAPPING": "get", "USER_FIELD": "groups"}) == ["p1guard.E006"]


@pytest.mark.parametrize("field", [None, "username", "id"])
def test_unique_user_field_passes(field: str | None) -> None:
    assert run({**GOOD, "USER_MAPPING": "create", "USER_FIELD": field}) == []


def test_user_field_is_checked_for_sign_in_too() -> None:
    login = {"CLIENT_ID": "web-app", "REDIRECT_URI": "https://app.example.com/auth/callback"}
    assert "p1guard.E006" in ids({**GOOD, "LOGIN": login, "USER_FIELD": "email"})


def test_protected_exact_path_entry_warns_that_it_protects_one_path_only() -> None:
    found = ids({**GOOD, "PROTECTED_PATHS": ["/admin", "/api/*", "/"]})
    assert found.count("p1guard.W006") == 1


def test_every_core_setting_is_a_top_level_key() -> None:
    settings = {**GOOD, "TIMEOUT": 2, "STRICT_TYP": True, "DPOP": "required", "MTLS": "allowed"}
    assert run(settings) == []
    with override_settings(P1GUARD=settings):
        guard = get_guard()
        assert guard.pingone.timeout == 2.0
        assert guard.policy.strict_typ


def test_checks_report_every_problem_at_once() -> None:
    found = run({**GOOD, "LEEWAY": "soon", "TIMEOUT": -1, "DPOP": "maybe", "REALM": 7})
    assert found == [
        ("p1guard.E007", "P1GUARD['LEEWAY'] expected seconds (a number) or a timedelta, got str"),
        ("p1guard.E007", "P1GUARD['REALM'] expected a string, got int"),
        (
            "p1guard.E007",
            "P1GUARD['TIMEOUT'] expected 0.001 or more seconds, at most 366 days, got int",
        ),
        ("p1guard.E007", "P1GUARD['DPOP'] expected one of allowed, required, disabled, got str"),
    ]


def test_a_short_dpop_nonce_secret_names_the_setting() -> None:
    [(check, message)] = run({**GOOD, "DPOP_NONCE_SECRET": "short"})
    assert check == "p1guard.E009"
    assert message.startswith("P1GUARD['DPOP_NONCE_SECRET'] is invalid")
