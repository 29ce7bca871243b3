"""Validation of ``settings.P1GUARD``, shared by the system checks and :func:`~.conf.get_options`.

Every problem has a stable id (``p1guard.E001`` …) so it can be silenced or searched for:

==============  ==============================================================================
id              problem
==============  ==============================================================================
p1guard.E001    ``AUDIENCE`` is missing (needed for bearer tokens; a ``LOGIN``-only app has none)
p1guard.E002    neither ``ENV_ID`` nor ``ISSUER`` is set
p1guard.E003    ``MODE`` is not ``"jwt"``, ``"introspect"`` or ``"auto"``
p1guard.E004    introspection (``MODE`` or ``CHECK_REVOCATION``) without ``CLIENT_ID``/``SECRET``
p1guard.E005    ``PROTECTED_PATHS`` / ``PUBLIC_PATHS`` hold an unsupported entry
p1guard.E006    ``USER_MAPPING`` / ``USER_FIELD`` are unusable
p1guard.E007    a value has the wrong type (``LEEWAY``, ``REALM``, booleans, ``*_OPTIONS``)
p1guard.E008    ``P1GUARD`` is missing or not a dict
p1guard.E009    p1guard itself refuses the values (bad region, ``http://`` issuer, …)
p1guard.E010    ``GUARD`` is unusable, or combined with the keys it replaces
p1guard.E011    ``LOGIN`` is unusable: not a dict, a required key missing, a wrong value
p1guard.E012    sign-in needs sessions, ``AuthenticationMiddleware`` and ``PingOneBackend``
p1guard.E013    the session cookie is unfit for sign-in (``HttpOnly``, ``SameSite``, ``Secure``)
p1guard.W001    an unknown key (probably a typo)
p1guard.W002    the middleware is placed before ``AuthenticationMiddleware``
p1guard.W003    ``settings.LOGIN_URL`` is not the sign-in route (``"p1guard:login"``)
p1guard.W004    the sign-in routes are not mounted, or not where ``REDIRECT_URI`` points
p1guard.W005    signed-cookie sessions: a copied cookie outlives sign-out
p1guard.W006    a ``PROTECTED_PATHS`` entry without ``/*`` protects one exact path only
==============  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from django.utils.module_loading import import_string

from p1guard import AccessToken, ClientCertificates, Guard
from p1guard.errors import ConfigError
from p1guard.web import (
    GUARD_SETTINGS,
    SETTINGS_SCHEMA,
    PathMatcher,
    SettingProblem,
    check_origin,
    unknown_settings,
)
from p1guard.web import read_settings as read_schema
from p1guard_django.paths import HINT as PROTECTED_HINT
from p1guard_django.paths import ProtectedPaths

__all__ = [
    "DEFAULTS",
    "DJANGO_DEFAULTS",
    "GUARD_KEYS",
    "Problem",
    "UserMapping",
    "from_schema",
    "read_settings",
    "try_build",
]

T = TypeVar("T")

#: ``None`` (a :class:`~p1guard_django.users.TokenUser`), ``"get"``, ``"create"`` or a callable.
UserMapping = Literal["get", "create"] | Callable[[AccessToken], Any] | None

#: The keys of ``settings.P1GUARD`` that are Django's own, with their defaults.
DJANGO_DEFAULTS: Mapping[str, Any] = {
    "PROTECTED_PATHS": [],
    "PUBLIC_PATHS": [],
    "USER_MAPPING": None,
    "USER_FIELD": None,
    "GUARD": None,
    "GUARD_OPTIONS": {},
    "PINGONE_OPTIONS": {},
    "LOGIN": None,
    "CLIENT_CERTIFICATES": None,
    "PUBLIC_URL": None,
}

#: The top-level feeds of p1guard's settings schema (``LOGIN_*`` settings live in ``LOGIN``).
FEEDS = ("pingone", "guard", "web")

#: Every key of ``settings.P1GUARD`` with its default: p1guard's settings (from the schema,
#: by their names without the ``P1GUARD_`` prefix), then Django's own.
DEFAULTS: Mapping[str, Any] = {
    **{setting.name: setting.default for setting in SETTINGS_SCHEMA if setting.feeds in FEEDS},
    **DJANGO_DEFAULTS,
}

#: Keys that ``GUARD`` replaces: setting both is an error.
GUARD_KEYS = (*GUARD_SETTINGS, "GUARD_OPTIONS", "PINGONE_OPTIONS")

#: The problem id of a schema problem, by setting (default ``p1guard.E007``, a wrong value).
_SCHEMA_IDS = {"MODE": "p1guard.E003"}


@dataclass(frozen=True)
class Problem:
    """One finding about ``settings.P1GUARD``; :mod:`~p1guard_django.checks` reports it.

    >>> Problem("p1guard.E001", "P1GUARD['AUDIENCE'] is required").is_error
    True
    """

    id: str
    msg: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        """Whether this is an error (``.E``) rather than a warning (``.W``)."""
        return ".E" in self.id


def read_settings(
    raw: object,
) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]], list[Problem]]:
    """Merge ``raw`` over :data:`DEFAULTS`, normalise it and list every problem; p1guard's own
    settings are read by its schema, which also gives their keyword arguments per object.

    Normalised: ``GUARD`` and ``USER_MAPPING`` dotted paths become the objects they name.

    >>> values, parsed, problems = read_settings({"ISSUER": "https://login.example.com/as"})
    >>> parsed["pingone"], [p.id for p in problems]
    ({'issuer': 'https://login.example.com/as'}, ['p1guard.E001'])
    """
    if raw is None:
        return None, {}, [Problem("p1guard.E008", "settings.P1GUARD is missing", _HINT_SETTING)]
    if not isinstance(raw, Mapping):
        return None, {}, [Problem("p1guard.E008", "settings.P1GUARD must be a dict", _HINT_SETTING)]
    unknown = unknown_settings(raw, prefix="", feeds=FEEDS, known=DJANGO_DEFAULTS)
    problems = [
        Problem("p1guard.W001", f"P1GUARD has an unknown key {p.key!r}", p.hint) for p in unknown
    ]
    values = {**DEFAULTS, **{k: v for k, v in raw.items() if k in DEFAULTS}}
    parsed, found = read_schema(raw, prefix="", feeds=FEEDS, strings=False)
    if values["GUARD"] is not None:
        problems += _check_guard(raw, values)
        found = [p for p in found if p.setting is not None and p.setting.feeds == "web"]
    else:
        problems += _check_connection(values, parsed)
    problems += from_schema(found, lambda key: f"P1GUARD['{key}']", login=values["LOGIN"])
    problems += _check_paths(values)
    problems += _check_users(values)
    problems += _check_certificates(values)
    problems += _check_public_url(values)
    return values, parsed, problems


_HINT_SETTING = (
    'Add P1GUARD = {"ENV_ID": "…", "REGION": "NA", "AUDIENCE": "https://api.example.com"} '
    "to your settings."
)

_MISSING = {
    "AUDIENCE": Problem(
        "p1guard.E001",
        "P1GUARD['AUDIENCE'] is required",
        "Use your custom resource's audience (PingOne console: Applications > "
        "Resources > your API), e.g. 'https://api.example.com'.",
    ),
    "ENV_ID": Problem(
        "p1guard.E002",
        "P1GUARD needs 'ENV_ID' (with 'REGION') or 'ISSUER'",
        "ENV_ID is the environment's UUID; ISSUER the full issuer URL of a custom domain.",
    ),
}


def from_schema(
    found: list[SettingProblem],
    name: Callable[[str], str],
    *,
    login: object = None,
    missing: Mapping[str, Problem] = _MISSING,
    error: str = "p1guard.E007",
) -> list[Problem]:
    """The schema's problems as Django problems: ``missing`` ones by setting, the others
    ``name(key) + message`` under ``error`` (``MODE``: ``p1guard.E003``). Sign-in alone
    (``login`` set) needs no ``AUDIENCE``.

    >>> found = read_schema({"LEEWAY": "5"}, prefix="", feeds=["guard"], strings=False)[1]
    >>> [p.msg for p in from_schema(found, lambda key: key, login={})]
    ['LEEWAY expected seconds (a number) or a timedelta, got str']
    """
    problems = []
    for problem in found:
        if problem.missing:
            if problem.key != "AUDIENCE" or login is None:
                problems.append(missing[problem.key])
        else:
            kind = _SCHEMA_IDS.get(problem.key, error)
            problems.append(Problem(kind, f"{name(problem.key)} {problem.message}"))
    return problems


def _wrong_type(key: str, expected: str) -> Problem:
    return Problem("p1guard.E007", f"P1GUARD['{key}'] must be {expected}")


def _check_guard(raw: Mapping[str, Any], values: dict[str, Any]) -> list[Problem]:
    clash = [key for key in GUARD_KEYS if key in raw and raw[key] != DEFAULTS[key]]
    if clash:
        return [
            Problem(
                "p1guard.E010",
                f"P1GUARD['GUARD'] replaces {', '.join(clash)}; set one or the other",
            )
        ]
    guard = values["GUARD"]
    if isinstance(guard, str):
        try:
            guard = values["GUARD"] = import_string(guard)
        except ImportError:
            return [Problem("p1guard.E010", "P1GUARD['GUARD'] names nothing importable")]
    if not isinstance(guard, Guard) and not callable(guard):
        return [
            Problem(
                "p1guard.E010",
                "P1GUARD['GUARD'] must be a p1guard.Guard, a factory returning one, "
                "or the dotted path of either",
            )
        ]
    return []


def _check_connection(values: Mapping[str, Any], parsed: Mapping[str, Any]) -> list[Problem]:
    problems = []
    guard = parsed["guard"]
    if (guard.get("mode", "jwt") != "jwt" or guard.get("check_revocation")) and not (
        guard.get("client_id") and guard.get("client_secret")
    ):
        problems.append(
            Problem(
                "p1guard.E004",
                "P1GUARD['CLIENT_ID'] and P1GUARD['CLIENT_SECRET'] are required for "
                "introspection (MODE 'introspect'/'auto' or CHECK_REVOCATION)",
                "Use the custom resource's ID and secret (Applications > Resources > your API).",
            )
        )
    for key in ("GUARD_OPTIONS", "PINGONE_OPTIONS"):
        if not isinstance(values[key], Mapping) or not all(isinstance(k, str) for k in values[key]):
            problems.append(_wrong_type(key, "a dict of keyword arguments"))
    return problems


def _check_paths(values: Mapping[str, Any]) -> list[Problem]:
    problems = []
    protected = values["PROTECTED_PATHS"]
    if not isinstance(protected, list | tuple):
        problems.append(
            Problem(
                "p1guard.E005",
                "P1GUARD['PROTECTED_PATHS'] must be a list of paths",
                "For example ['/api/*']; '/' protects every path.",
            )
        )
    else:
        try:
            ProtectedPaths(protected)
        except ConfigError as exc:
            problems.append(
                Problem(
                    "p1guard.E005",
                    f"P1GUARD['PROTECTED_PATHS'] is invalid: {exc.message}",
                    PROTECTED_HINT,
                )
            )
            protected = ()
        for entry in protected:
            if isinstance(entry, str) and entry not in ("", "/") and not entry.endswith(("/", "*")):
                problems.append(
                    Problem(
                        "p1guard.W006",
                        f"P1GUARD['PROTECTED_PATHS'] entry {entry!r} protects that exact path only",
                        f"To protect everything below it, write {entry + '/*'!r}.",
                    )
                )
    try:
        PathMatcher(values["PUBLIC_PATHS"])
    except (ConfigError, TypeError) as exc:
        detail = exc.message if isinstance(exc, ConfigError) else "expected a list of paths"
        problems.append(
            Problem(
                "p1guard.E005",
                f"P1GUARD['PUBLIC_PATHS'] is invalid: {detail}",
                "Exact paths like '/health' or prefixes like '/static/*'.",
            )
        )
    return problems


def _check_users(values: dict[str, Any]) -> list[Problem]:
    mapping = values["USER_MAPPING"]
    field = values["USER_FIELD"]
    problems = []
    if field is not None and (not isinstance(field, str) or not field):
        problems.append(Problem("p1guard.E006", "P1GUARD['USER_FIELD'] must be a field name"))
    if mapping is None or mapping in ("get", "create") or callable(mapping):
        return problems
    hint = "Use None, 'get', 'create' or the dotted path of a callable(token) -> user."
    if not isinstance(mapping, str) or "." not in mapping:
        problems.append(Problem("p1guard.E006", "P1GUARD['USER_MAPPING'] is invalid", hint))
        return problems
    try:
        target = import_string(mapping)
    except ImportError:
        target = None
    if not callable(target):
        problems.append(
            Problem("p1guard.E006", f"P1GUARD['USER_MAPPING'] {mapping!r} is not callable", hint)
        )
    else:
        values["USER_MAPPING"] = target
    return problems


_CERT_HINT = (
    'For example {"HEADER": "X-Client-Cert", "TRUSTED_PROXIES": ["10.0.0.0/8"]} (the proxies '
    "that verify client certificates and set that header), or {} for the server's own TLS."
)
_CERT_KEYS = {"HEADER": "header", "TRUSTED_PROXIES": "trusted_proxies", "TLS": "tls"}


def _check_certificates(values: dict[str, Any]) -> list[Problem]:
    """``CLIENT_CERTIFICATES`` (RFC 8705): ``None``, a ``ClientCertificates`` or a dict of
    ``HEADER``/``TRUSTED_PROXIES``/``TLS``, normalised to a ``ClientCertificates``."""
    given = values["CLIENT_CERTIFICATES"]
    if given is None or isinstance(given, ClientCertificates):
        return []
    if not isinstance(given, Mapping):
        return [_certificate_problem("must be a dict or a ClientCertificates")]
    unknown = [key for key in given if key not in _CERT_KEYS]
    if unknown:
        return [_certificate_problem(f"has an unknown key {unknown[0]!r}")]
    try:
        values["CLIENT_CERTIFICATES"] = ClientCertificates(
            **{_CERT_KEYS[key]: value for key, value in given.items()}
        )
    except ConfigError as exc:
        return [_certificate_problem(f"is invalid: {exc.field.upper()}: {exc.message}")]
    except (TypeError, ValueError) as exc:
        return [_certificate_problem(f"is invalid: {exc}")]
    return []


def _check_public_url(values: dict[str, Any]) -> list[Problem]:
    """``PUBLIC_URL``: ``None`` or the API's external origin (``https://api.example.com``),
    which replaces the request's scheme and host in DPoP ``htu`` checks behind a proxy."""
    given = values["PUBLIC_URL"]
    if given is None:
        return []
    try:
        check_origin("PUBLIC_URL", given)
    except ConfigError as exc:
        return [Problem("p1guard.E015", f"P1GUARD['PUBLIC_URL'] {exc.message}", _PUBLIC_URL_HINT)]
    return []


_PUBLIC_URL_HINT = (
    "Give the origin clients use, without a path: the proxy's mount prefix comes from "
    "SCRIPT_NAME (FORCE_SCRIPT_NAME)."
)


def _certificate_problem(message: str) -> Problem:
    return Problem("p1guard.E014", f"P1GUARD['CLIENT_CERTIFICATES'] {message}", _CERT_HINT)


def try_build(
    build: Callable[[], T],
    where: str = "P1GUARD",
    keys: Collection[str] = DEFAULTS,
    options: str = "['GUARD_OPTIONS'/'PINGONE_OPTIONS']",
) -> tuple[T | None, list[Problem]]:
    """Call ``build`` and turn p1guard's own refusal into a ``p1guard.E009`` problem naming the
    key of ``where`` (one of ``keys``) behind it, or the ``options`` dict (a ``TypeError``).

    Building a Guard, a PingOne or a RelyingParty does no network I/O; p1guard validates
    region, issuer, mode… itself.

    >>> guard, problems = try_build(get_options().build_guard)   # doctest: +SKIP
    """
    try:
        return build(), []
    except ConfigError as exc:
        key = exc.field.upper()
        at = f"{where}['{key}']" if key in keys else f"{where} ({exc.field})"
        return None, [Problem("p1guard.E009", f"{at} is invalid: {exc.message}")]
    except TypeError as exc:  # an unknown keyword in the options dict
        return None, [Problem("p1guard.E009", f"{where}{options}: {exc}")]
