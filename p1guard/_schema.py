"""The settings schema: every ``P1GUARD_*`` setting, declared once, for every source.

A source is any mapping read with a prefix: environment variables and Flask's ``app.config``
(``P1GUARD_`` keys; values may be Python objects or the strings environment variables give:
``"true"``, ``"30"``, ``"https://a,https://b"``) and Django's ``P1GUARD`` dict (no prefix; Python
values only, ``strings=False``). Each :class:`Setting` names the object it feeds (``pingone``,
``guard``, ``login``, or ``web`` for the adapters' own switches) and the keyword it becomes.

:func:`read` returns those keywords per object together with *every* problem at once; each
:class:`Problem` names the key as written, the bad value's type (never the value: it may be a
secret) and the fix. :func:`unknown_keys` reports keys the schema does not know, with "did you
mean" for typos. :func:`construct` builds an object and renames p1guard's own refusals
(``ConfigError("leeway", …)``) after the setting behind the keyword (``P1GUARD_LEEWAY``).

>>> values, problems = read({"P1GUARD_ISSUER": "https://login.example.com/as",
...     "P1GUARD_TIMEOUT": "2.5"}, feeds=("pingone",))
>>> values["pingone"], problems
({'issuer': 'https://login.example.com/as', 'timeout': 2.5}, [])
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

from p1guard._values import to_seconds
from p1guard.errors import ConfigError

__all__ = [
    "SETTINGS",
    "Feed",
    "Problem",
    "Setting",
    "construct",
    "given",
    "names",
    "read",
    "read_or_raise",
    "unknown_keys",
]

T = TypeVar("T")

#: The object a setting feeds.
Feed = Literal["pingone", "guard", "login", "web"]

#: ``parse(value, strings)`` → the keyword's value; raises :class:`Invalid`. ``strings``: whether
#: text stands for other types (``"true"``, ``"30"``), as in environment variables.
Parser = Callable[[Any, bool], Any]


class Invalid(Exception):
    """A value a parser refuses; ``expected`` says what it takes (the fix)."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


@dataclass(frozen=True)
class Setting:
    """One setting: its name after the prefix, what it feeds, its keyword and its parser."""

    name: str
    feeds: Feed
    keyword: str
    parse: Parser
    #: The default the built object applies when the setting is unset (documentation).
    default: Any = None
    required: str | None = None  # the fix when it is missing


@dataclass(frozen=True)
class Problem:
    """One problem of a source: the ``key`` as written, the message, and maybe a hint.

    >>> Problem("P1GUARD_LEEWAY", "expected seconds, got str").error()
    ConfigError('P1GUARD_LEEWAY: expected seconds, got str')
    """

    key: str
    message: str
    hint: str | None = None
    setting: Setting | None = None
    #: Whether the setting is missing (rather than wrong).
    missing: bool = False

    def error(self) -> ConfigError:
        """This problem as the :class:`~p1guard.ConfigError` a builder raises."""
        return ConfigError(self.key, self.message)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_STORE_METHODS = ("get", "set", "pop", "delete", "close")


def text(value: Any, strings: bool) -> str:
    """A string."""
    if not isinstance(value, str):
        raise Invalid("a string")
    return value


def flag(value: Any, strings: bool) -> bool:
    """``True``/``False`` (and, from text, ``1/true/yes/on`` or ``0/false/no/off``)."""
    if isinstance(value, bool):
        return value
    if strings and isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise Invalid("true or false (1/0, yes/no, on/off)" if strings else "True or False")


def seconds(minimum: float) -> Parser:
    """Seconds (a number, or text of one) or a ``timedelta``, at least ``minimum``."""

    def parse(value: Any, strings: bool) -> float:
        if strings and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
            raise Invalid("seconds (a number) or a timedelta")
        try:
            return to_seconds("", value, minimum=minimum)
        except ConfigError:
            raise Invalid(f"{minimum:g} or more seconds, at most 366 days") from None

    return parse


def choice(*options: str) -> Parser:
    """One of ``options`` (any case)."""

    def parse(value: Any, strings: bool) -> str:
        if isinstance(value, str) and value.lower() in options:
            return value.lower()
        raise Invalid(f"one of {', '.join(options)}")

    return parse


def audience(value: Any, strings: bool) -> str | list[str]:
    """One audience, a list, or (from text) a comma-separated string."""
    if isinstance(value, str) and strings:
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(a, str) and a for a in value):
        return value[0] if len(value) == 1 else list(value)
    raise Invalid("one audience, a list" + (", or a comma-separated string" if strings else ""))


def scopes(value: Any, strings: bool) -> tuple[str, ...]:
    """Scope names: a list, or a string separated by spaces or commas."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if isinstance(value, list | tuple) and value and all(isinstance(s, str) and s for s in value):
        return tuple(value)
    raise Invalid("scope names: a list, or 'openid profile email'")


def secret_bytes(value: Any, strings: bool) -> bytes:
    """A secret as text or bytes."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise Invalid("a string")


def store(value: Any, strings: bool) -> Any:
    """``memory``, a ``redis://``/``rediss://``/``unix://`` URL, or a session store object."""
    if isinstance(value, str):
        if value != "memory" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise Invalid("'memory' or a redis://, rediss:// or unix:// URL")
        if value != "memory" and importlib.util.find_spec("redis") is None:
            raise Invalid("a Redis URL with the redis package: pip install 'p1guard[redis]'")
        return value
    if all(callable(getattr(value, name, None)) for name in _STORE_METHODS):
        return value
    raise Invalid("'memory', a redis:// URL, or a p1guard.rp.SessionStore")


_AUDIENCE_FIX = (
    "set it to your custom resource's audience, e.g. 'https://api.example.com' "
    "(PingOne console: Applications > Resources > your API)"
)
_SIGN_IN = "is required to sign users in"

#: Every setting, in the order of the documentation tables.
SETTINGS: tuple[Setting, ...] = (
    Setting("ENV_ID", "pingone", "env_id", text),
    Setting("REGION", "pingone", "region", text, "NA"),
    Setting("ISSUER", "pingone", "issuer", text),
    Setting("AUDIENCE", "guard", "audience", audience, required=_AUDIENCE_FIX),
    Setting("MODE", "guard", "mode", choice("jwt", "introspect", "auto"), "jwt"),
    Setting("CLIENT_ID", "guard", "client_id", text),
    Setting("CLIENT_SECRET", "guard", "client_secret", text),
    Setting("CHECK_REVOCATION", "guard", "check_revocation", flag, False),
    Setting("LEEWAY", "guard", "leeway", seconds(0), 30),
    Setting("REALM", "guard", "realm", text),
    Setting("TIMEOUT", "pingone", "timeout", seconds(0.001), 5),
    Setting("STRICT_TYP", "guard", "strict_typ", flag, False),
    Setting("DPOP", "guard", "dpop", choice("allowed", "required", "disabled"), "allowed"),
    Setting("DPOP_NONCE_SECRET", "guard", "dpop_nonces", secret_bytes),
    Setting("MTLS", "guard", "mtls", choice("allowed", "required"), "allowed"),
    Setting("ALLOW_QUERY_TOKEN", "web", "allow_query_token", flag, False),
    Setting("LOGIN_CLIENT_ID", "login", "client_id", text, required=_SIGN_IN),
    Setting("LOGIN_CLIENT_SECRET", "login", "client_secret", text),
    Setting("LOGIN_REDIRECT_URI", "login", "redirect_uri", text, required=_SIGN_IN),
    Setting("LOGIN_POST_LOGOUT_REDIRECT_URI", "login", "post_logout_redirect_uri", text),
    Setting("LOGIN_SCOPES", "login", "scopes", scopes, ("openid", "profile", "email")),
    Setting("LOGIN_STORE", "login", "store", store, "memory"),
)

_ALL: tuple[Feed, ...] = ("pingone", "guard", "login", "web")


def names(*feeds: str) -> tuple[str, ...]:
    """The names (without prefix) of the settings that feed ``feeds``.

    >>> names("pingone")
    ('ENV_ID', 'REGION', 'ISSUER', 'TIMEOUT')
    """
    return tuple(s.name for s in SETTINGS if s.feeds in feeds)


def read(
    source: Mapping[str, Any],
    *,
    prefix: str = "P1GUARD_",
    feeds: Collection[str] = _ALL,
    strings: bool = True,
) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The keyword arguments ``source`` gives each of ``feeds``, and every problem.

    Unset, ``None`` and blank values are left out (the built object's default applies).

    >>> values, problems = read({"LEEWAY": "soon", "MODE": "JWT"}, prefix="", feeds=("guard",))
    >>> values["guard"], [(p.key, p.message) for p in problems]
    ({'mode': 'jwt'}, [('AUDIENCE', "set it to your custom resource's audience, \
e.g. 'https://api.example.com' (PingOne console: Applications > Resources > your API)"), \
('LEEWAY', 'expected seconds (a number) or a timedelta, got str')])
    """
    values: dict[str, dict[str, Any]] = {feed: {} for feed in feeds}
    problems: list[Problem] = []
    for setting in SETTINGS:
        if setting.feeds not in feeds:
            continue
        key = prefix + setting.name
        value = source.get(key)
        if _blank(value):
            if setting.required:
                problems.append(Problem(key, setting.required, None, setting, True))
            continue
        if isinstance(value, str):
            value = value.strip()
        try:
            values[setting.feeds][setting.keyword] = setting.parse(value, strings)
        except Invalid as bad:
            message = f"expected {bad.expected}, got {type(value).__name__}"
            problems.append(Problem(key, message, setting=setting))
    pingone = values.get("pingone")
    where = (prefix + "ENV_ID", prefix + "ISSUER")
    located = pingone is None or {"env_id", "issuer"} & {*pingone}
    if not located and not any(p.key in where for p in problems):
        message = f"set {prefix}ENV_ID (and {prefix}REGION) or {prefix}ISSUER"
        problems.insert(0, Problem(prefix + "ENV_ID", message, None, SETTINGS[0], True))
    return values, problems


def given(
    source: Mapping[str, Any], *, prefix: str = "P1GUARD_", feeds: Collection[str] = _ALL
) -> list[str]:
    """The keys of the settings of ``feeds`` that ``source`` sets (to something not blank).

    >>> given({"P1GUARD_REALM": "api", "P1GUARD_LEEWAY": " "}, feeds=("guard",))
    ['P1GUARD_REALM']
    """
    keys = [prefix + s.name for s in SETTINGS if s.feeds in feeds]
    return [key for key in keys if not _blank(source.get(key))]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_or_raise(
    source: Mapping[str, Any],
    *,
    prefix: str = "P1GUARD_",
    feeds: Collection[str] = _ALL,
    given: Collection[str] = (),
) -> dict[str, dict[str, Any]]:
    """:func:`read`, raising the first problem as a :class:`~p1guard.ConfigError`; problems of
    keywords in ``given`` (passed by the caller, which win) are not raised."""
    values, problems = read(source, prefix=prefix, feeds=feeds)
    skipped = {*given, *(("env_id",) if "issuer" in given else ())}  # an issuer locates too
    for problem in problems:
        if problem.setting is None or problem.setting.keyword not in skipped:
            raise problem.error()
    return values


def construct(
    factory: Callable[..., T],
    *args: Any,
    feed: Feed,
    prefix: str = "P1GUARD_",
    given: Collection[str] = (),
    **kwargs: Any,
) -> T:
    """``factory(*args, **kwargs)``, its :class:`~p1guard.ConfigError` naming the setting behind
    the keyword (unless the caller passed that keyword itself, in ``given``)."""
    try:
        return factory(*args, **kwargs)
    except ConfigError as exc:
        for setting in SETTINGS:
            if setting.feeds == feed and setting.keyword == exc.field and exc.field not in given:
                raise ConfigError(prefix + setting.name, exc.message) from None
        raise


def unknown_keys(
    source: Iterable[Any],
    *,
    prefix: str = "P1GUARD_",
    feeds: Collection[str] = _ALL,
    known: Iterable[str] = (),
) -> list[Problem]:
    """A problem per key of ``source`` with the prefix that is neither a setting of ``feeds``
    nor ``known`` (names without prefix), with "Did you mean 'X'?" when one is close.

    >>> [(p.key, p.hint) for p in unknown_keys({"P1GUARD_AUDEINCE": "x", "DEBUG": True})]
    [('P1GUARD_AUDEINCE', "Did you mean 'P1GUARD_AUDIENCE'?")]
    """
    everything = [prefix + name for name in (*names(*feeds), *known)]
    problems = []
    for key in source:
        if not isinstance(key, str) or not key.startswith(prefix) or key in everything:
            continue
        close = difflib.get_close_matches(key, everything, n=1)
        hint = f"Did you mean '{close[0]}'?" if close else f"Known keys: {', '.join(everything)}."
        problems.append(Problem(key, "is not a p1guard setting (a typo?)", hint))
    return problems
