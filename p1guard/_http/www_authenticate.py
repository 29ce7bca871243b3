"""A parser for ``WWW-Authenticate`` header values (RFC 9110 §11.6.1), for reading refusals.

Rules:

1. The grammar is RFC 9110's: ``#challenge``, each ``auth-scheme [ 1*SP ( token68 /
   #auth-param ) ]``, with ``auth-param = token BWS "=" BWS ( token / quoted-string )`` and
   empty list elements allowed. It is parsed character by character, never by regex search,
   so a quoted ``,`` or ``=`` or an ``error=`` inside another parameter's value is data.
2. Scheme and parameter names are case-insensitive: they come back lower-cased. Values keep
   their case; a quoted-string is unescaped (``\\x`` → ``x``).
3. Anything malformed — an unterminated quote, a repeated parameter in one challenge, a
   control character, a value longer than :data:`MAX_HEADER` — raises ``ValueError``: the
   caller treats the header as saying nothing rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["MAX_HEADER", "Challenge", "parse_challenges"]

#: Longest header value parsed (longer ones are refused by rule 3).
MAX_HEADER = 8192

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN68 = frozenset("-._~+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WS = " \t"


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge: lower-cased ``scheme``, its ``params`` (lower-cased names) or ``token68``.

    >>> parse_challenges('Bearer realm="PingOne", error="invalid_token"')[0].params["error"]
    'invalid_token'
    """

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None


class _Reader:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> bool:
        start = self.pos
        while self.peek() and self.peek() in _WS:
            self.pos += 1
        return self.pos > start

    def token(self) -> str:
        start = self.pos
        while self.peek() and self.peek() in _TCHAR:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        # At the opening quote (RFC 9110 §5.6.4).
        self.pos += 1
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise ValueError("unterminated quoted-string")
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                char = self.peek()
                if not char:
                    raise ValueError("unterminated quoted-pair")
                self.pos += 1
            out.append(char)

    def at_param(self) -> bool:
        """Whether a ``token BWS "="`` (not a token68's ``=`` padding) starts here."""
        save = self.pos
        try:
            if not self.token():
                return False
            self.skip_ws()
            if self.peek() != "=":
                return False
            self.pos += 1
            self.skip_ws()
            # token68 padding: "abc==" followed by "," or the end is not a parameter.
            return bool(self.peek()) and self.peek() not in ",="
        finally:
            self.pos = save

    def skip_commas(self) -> None:
        while True:
            self.skip_ws()
            if self.peek() != ",":
                return
            self.pos += 1


def _check_chars(value: str) -> None:
    for char in value:
        code = ord(char)
        if (code < 0x20 and char != "\t") or code == 0x7F:
            raise ValueError("control character in header")


def parse_challenges(value: str) -> list[Challenge]:
    """The challenges of one ``WWW-Authenticate`` value, in order (rules 1–3).

    >>> [c.scheme for c in parse_challenges('Bearer error="a, b=c", DPoP algs="ES256"')]
    ['bearer', 'dpop']
    >>> parse_challenges('Basic dXNlcjpwdw==, Bearer')[0].token68
    'dXNlcjpwdw=='
    >>> parse_challenges('Bearer error="x", error="y"')
    Traceback (most recent call last):
    ValueError: repeated parameter 'error'
    """
    if len(value) > MAX_HEADER:
        raise ValueError("header too long")
    _check_chars(value)
    reader = _Reader(value)
    challenges: list[Challenge] = []
    reader.skip_commas()
    while reader.peek():
        scheme = reader.token()
        if not scheme:
            raise ValueError(f"expected an auth-scheme at {reader.pos}")
        params: dict[str, str] = {}
        token68: str | None = None
        spaced = reader.skip_ws()
        if spaced and reader.peek() and reader.peek() != ",":
            if reader.at_param():
                _read_params(reader, params)
            else:
                start = reader.pos
                while reader.peek() and reader.peek() in _TOKEN68:
                    reader.pos += 1
                while reader.peek() == "=":
                    reader.pos += 1
                token68 = reader.text[start : reader.pos]
                if not token68:
                    raise ValueError(f"expected a token68 or auth-param at {reader.pos}")
                reader.skip_ws()
        if reader.peek() and reader.peek() != ",":
            raise ValueError(f"unexpected {reader.peek()!r} at {reader.pos}")
        challenges.append(Challenge(scheme.lower(), params, token68))
        reader.skip_commas()
    return challenges


def _read_params(reader: _Reader, params: dict[str, str]) -> None:
    """``#auth-param`` until the next challenge or the end (the reader is at a parameter)."""
    while True:
        name = reader.token().lower()
        reader.skip_ws()
        reader.pos += 1  # the "=" at_param saw
        reader.skip_ws()
        if reader.peek() == '"':
            text = reader.quoted()
        else:
            text = reader.token()
            if not text:
                raise ValueError(f"expected a value for {name!r}")
        if name in params:
            raise ValueError(f"repeated parameter {name!r}")
        params[name] = text
        reader.skip_ws()
        if reader.peek() != ",":
            return
        # After commas: another parameter of this challenge, or the next challenge.
        save = reader.pos
        reader.skip_commas()
        if not reader.peek() or not reader.at_param():
            reader.pos = save
            return
