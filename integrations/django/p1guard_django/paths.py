"""``P1GUARD["PROTECTED_PATHS"]``: which request paths the middleware refuses without a token.

Entries use the syntax of ``PUBLIC_PATHS`` (:class:`~p1guard.web.PathMatcher`), parsed by
the same :func:`~p1guard.web.parse_path_entry`:

* ``"/admin"`` — exactly ``/admin`` (not ``/admin/`` or ``/adminx``);
* ``"/api/*"`` — ``/api`` and everything under it (not ``/apix``);
* ``"/api/"`` — the same as ``"/api/*"`` (a trailing ``/`` is a prefix too); ``"/"`` or ``"/*"``
  protects every path.

Anything else — another ``*``, ``?``, ``#``, ``//``, ``\\``, ``;``, ``%``, dot segments, a
relative path — is refused (system check ``p1guard.E005``).

Matching fails closed, unlike ``PUBLIC_PATHS``: a request path is protected when it *or* a
normalised spelling of it (dot segments, repeated slashes, backslashes or percent-encoding
resolved, as a proxy or the application might) matches an entry.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from urllib.parse import unquote

from p1guard.errors import ConfigError
from p1guard.web import parse_path_entry

__all__ = ["HINT", "ProtectedPaths"]

_SLASHES = re.compile(r"/{2,}")

#: The system check hint for a bad entry.
HINT = (
    "Exact paths like '/admin', or prefixes like '/api/*' (or '/api/'); '/' protects every "
    "path. No other wildcards, '?' or '#'."
)


class ProtectedPaths:
    """The parsed ``PROTECTED_PATHS``; raises :class:`~p1guard.ConfigError` for a bad entry.

    >>> protected = ProtectedPaths(["/api/*", "/admin/", "/metrics"])
    >>> [protected.matches(p) for p in ("/api", "/api/x", "/admin", "/metrics", "/metrics/x")]
    [True, True, True, True, False]
    >>> protected.matches("/open/../api/x"), protected.matches("/apix")
    (True, False)
    """

    __slots__ = ("_entries", "_exact", "_prefixes")

    def __init__(self, entries: Iterable[str]) -> None:
        if isinstance(entries, str) or not isinstance(entries, Iterable):
            raise ConfigError("protected_paths", "expected a list of paths")
        self._entries = tuple(entries)
        exact: set[str] = set()
        prefixes: set[str] = set()
        for entry in self._entries:
            # "/api/*" and "/api/" → ("/api", True); PathMatcher's rules for the rest
            base, is_prefix = parse_path_entry(entry, field="protected_paths", slash_is_prefix=True)
            if is_prefix:
                prefixes.add(base + "/")
            else:
                exact.add(base)
        self._exact = frozenset(exact)
        self._prefixes = tuple(sorted(prefixes))

    def matches(self, path: str) -> bool:
        """Whether ``path`` (the decoded request path) or a normalised spelling of it is
        protected."""
        for variant in _spellings(path):
            if variant in self._exact or (variant + "/").startswith(self._prefixes):
                return True
        return False

    __contains__ = matches

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __repr__(self) -> str:
        return f"ProtectedPaths({list(self._entries)!r})"


def _spellings(path: str) -> Iterator[str]:
    """``path`` and what other layers might turn it into (fail closed)."""
    for spelling in (path, unquote(path)):
        slashed = spelling.replace("\\", "/")
        yield spelling
        yield slashed
        yield posixpath.normpath(_SLASHES.sub("/", slashed))
