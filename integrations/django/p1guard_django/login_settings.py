"""``settings.P1GUARD["LOGIN"]``: the sign-in routes' settings, validated.

>>> P1GUARD = {                                                   # in settings.py
...     "ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "REGION": "EU",
...     "LOGIN": {
...         "CLIENT_ID": "web-app-client-id",
...         "CLIENT_SECRET": "…",
...         "REDIRECT_URI": "https://app.example.com/auth/callback",
...     },
... }

The keys live in their own dict because the top-level ``CLIENT_ID``/``CLIENT_SECRET`` are the
*custom resource's* credentials (for introspection); these are the *web application's*.

=============================  ================================================================
key                            meaning
=============================  ================================================================
``CLIENT_ID``                  required: the PingOne web application's client id
``CLIENT_SECRET``              its secret (``None``: a public client, PKCE only)
``REDIRECT_URI``               required: this app's callback URL, ``https://…/auth/callback``
``POST_LOGOUT_REDIRECT_URI``   where PingOne sends the browser after sign-out
``SCOPES``                     default ``openid profile email`` (a list, or spaces/commas)
``STORE``                      ``"memory"`` (default, one process), ``"redis://…"`` (every
                               worker), or a :class:`~p1guard.rp.SessionStore`
``LOGIN_REDIRECT_URL``         where to go after sign-in without ``return_to`` (default ``/``;
                               a path or a URL name)
``SESSION_TTL``                seconds (or ``timedelta``) a sign-in lasts (default 8 hours)
``USER_MAPPING``               ``"create"`` (default), ``"get"``, or ``callable(signed_in_user)
                               -> user | None`` (or its dotted path)
``RP_OPTIONS``                 more :class:`~p1guard.rp.RelyingParty` keyword arguments
                               (``par``, ``require_par``, ``auth_method``, ``leeway``, …)
=============================  ================================================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from django.utils.module_loading import import_string

from p1guard import PingOne
from p1guard.rp import MemoryStore, RedisStore, RelyingParty, SessionStore, SignedInUser
from p1guard.web import SETTINGS_SCHEMA, unknown_settings
from p1guard.web import read_settings as read_schema
from p1guard_django.validation import Problem, from_schema, try_build

__all__ = [
    "DJANGO_LOGIN_DEFAULTS",
    "LOGIN_DEFAULTS",
    "LoginSettings",
    "LoginUserMapping",
    "read_login",
    "try_login",
]

#: ``"create"``, ``"get"`` or ``callable(signed_in_user) -> user | None``.
LoginUserMapping = Literal["get", "create"] | Callable[[SignedInUser], Any]

#: The keys of ``settings.P1GUARD["LOGIN"]`` that are Django's own, with their defaults.
DJANGO_LOGIN_DEFAULTS: Mapping[str, Any] = {
    "LOGIN_REDIRECT_URL": "/",
    "SESSION_TTL": 8 * 3600,
    "USER_MAPPING": "create",
    "RP_OPTIONS": {},
}

#: Every key of ``settings.P1GUARD["LOGIN"]`` with its default: p1guard's ``LOGIN_*`` settings
#: (from the schema, without ``LOGIN_``), then Django's own.
LOGIN_DEFAULTS: Mapping[str, Any] = {
    **{s.name.removeprefix("LOGIN_"): s.default for s in SETTINGS_SCHEMA if s.feeds == "login"},
    **DJANGO_LOGIN_DEFAULTS,
}

_MISSING = {
    "LOGIN_CLIENT_ID": Problem(
        "p1guard.E011",
        "P1GUARD['LOGIN']['CLIENT_ID'] is required",
        "The client id of your PingOne web application (Applications > your app); "
        "not the custom resource's, which is P1GUARD['CLIENT_ID'].",
    ),
    "LOGIN_REDIRECT_URI": Problem(
        "p1guard.E011",
        "P1GUARD['LOGIN']['REDIRECT_URI'] is required",
        "This app's callback URL, registered in PingOne (Applications > your app "
        "> Redirect URIs), e.g. 'https://app.example.com/auth/callback'.",
    ),
}


@dataclass(frozen=True)
class LoginSettings:
    """The validated ``P1GUARD["LOGIN"]``; :func:`~p1guard_django.conf.get_web_login` builds the
    :class:`~p1guard.rp.WebLogin` from it.

    >>> login = get_options().login                              # doctest: +SKIP
    >>> login.redirect_uri, login.scopes                         # doctest: +SKIP
    ('https://app.example.com/auth/callback', ('openid', 'profile', 'email'))
    """

    client_id: str
    redirect_uri: str
    client_secret: str | None = field(default=None, repr=False)
    post_logout_redirect_uri: str | None = None
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    store: str | SessionStore = "memory"
    login_redirect_url: str = "/"
    session_ttl: float = 8 * 3600
    user_mapping: LoginUserMapping = "create"
    rp_options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def build_rp(self, pingone: PingOne) -> RelyingParty:
        """The :class:`~p1guard.rp.RelyingParty` (no network I/O; raises ``ConfigError``)."""
        return RelyingParty(
            pingone,
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=self.redirect_uri,
            post_logout_redirect_uri=self.post_logout_redirect_uri,
            scopes=self.scopes,
            **self.rp_options,
        )

    def build_store(self) -> tuple[SessionStore, bool]:
        """The session store and whether it was built here (and so may be closed here)."""
        if isinstance(self.store, str):
            if self.store == "memory":
                return MemoryStore(), True
            return RedisStore(self.store), True
        return self.store, False


def _name(key: str) -> str:
    return f"P1GUARD['LOGIN']['{key}']"


def _bad(key: str, expected: str, hint: str | None = None) -> Problem:
    return Problem("p1guard.E011", f"{_name(key)} must be {expected}", hint)


def read_login(values: Mapping[str, Any]) -> tuple[LoginSettings | None, list[Problem]]:
    """Validate ``values["LOGIN"]`` (the merged ``P1GUARD``): settings (``None`` if unset or
    in error) and every problem.

    >>> settings, problems = read_login({"LOGIN": {"CLIENT_ID": "app"}})
    >>> settings, [p.id for p in problems]
    (None, ['p1guard.E011'])
    """
    raw = values.get("LOGIN")
    if raw is None:
        return None, []
    if not isinstance(raw, Mapping):
        return None, [
            Problem(
                "p1guard.E011",
                "P1GUARD['LOGIN'] must be a dict",
                'For example {"CLIENT_ID": "…", "CLIENT_SECRET": "…", '
                '"REDIRECT_URI": "https://app.example.com/auth/callback"}.',
            )
        ]
    unknown = unknown_settings(raw, prefix="", feeds=(), known=LOGIN_DEFAULTS)
    problems = [
        Problem("p1guard.W001", f"P1GUARD['LOGIN'] has an unknown key {p.key!r}", p.hint)
        for p in unknown
    ]
    prefixed = {f"LOGIN_{key}": value for key, value in raw.items() if isinstance(key, str)}
    parsed, found = read_schema(prefixed, prefix="", feeds=("login",), strings=False)
    login = parsed["login"]
    name = _name_of_schema_key
    problems += from_schema(found, name, missing=_MISSING, error="p1guard.E011")
    v = {k: _blank_is_none(raw.get(k, d)) for k, d in DJANGO_LOGIN_DEFAULTS.items()}
    if not isinstance(v["LOGIN_REDIRECT_URL"], str) or not v["LOGIN_REDIRECT_URL"]:
        problems.append(_bad("LOGIN_REDIRECT_URL", "a path such as '/' or a URL name"))
    ttl = _seconds(v["SESSION_TTL"])
    if ttl is None:
        problems.append(_bad("SESSION_TTL", "positive seconds or a timedelta"))
    mapping, mapping_problems = _user_mapping(v["USER_MAPPING"])
    problems += mapping_problems
    rp_options = v["RP_OPTIONS"]
    if not isinstance(rp_options, Mapping) or not all(isinstance(k, str) for k in rp_options):
        problems.append(_bad("RP_OPTIONS", "a dict of RelyingParty keyword arguments"))
    if any(p.is_error for p in problems) or ttl is None or mapping is None:
        return None, problems
    return (
        LoginSettings(
            **login,
            login_redirect_url=v["LOGIN_REDIRECT_URL"],
            session_ttl=ttl,
            user_mapping=mapping,
            rp_options=dict(rp_options),
        ),
        problems,
    )


def _name_of_schema_key(key: str) -> str:
    return _name(key.removeprefix("LOGIN_"))


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _seconds(value: object) -> float | None:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def _user_mapping(mapping: object) -> tuple[LoginUserMapping | None, list[Problem]]:
    hint = "Use 'create', 'get', or the dotted path of a callable(signed_in_user) -> user."
    if mapping in ("get", "create"):
        return mapping, []
    if callable(mapping):
        return mapping, []
    if isinstance(mapping, str) and "." in mapping:
        try:
            target = import_string(mapping)
        except ImportError:
            target = None
        if callable(target):
            return target, []
        return None, [Problem("p1guard.E011", f"{_name('USER_MAPPING')} is not callable", hint)]
    return None, [Problem("p1guard.E011", f"{_name('USER_MAPPING')} is invalid", hint)]


def try_login(login: LoginSettings, pingone: PingOne) -> tuple[RelyingParty | None, list[Problem]]:
    """Build the login's RelyingParty (offline) and turn p1guard's refusal into ``p1guard.E009``.

    >>> rp, problems = try_login(get_options().login, pingone)   # doctest: +SKIP
    """
    build = functools.partial(login.build_rp, pingone)
    return try_build(build, "P1GUARD['LOGIN']", LOGIN_DEFAULTS, "['RP_OPTIONS']")
