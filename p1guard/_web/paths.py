"""Path rules, framework-free: which request paths are public (:class:`PathMatcher`), and the
one parser of path-list entries (:func:`parse_path_entry`) that adapters' own lists share.
Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from p1guard.errors import ConfigError

__all__ = ["PathMatcher", "parse_path_entry"]


def _is_plain(path: str) -> bool:
    """Whether ``path`` is free of tricks another layer might resolve differently."""
    if not path.startswith("/") or "//" in path or not path.isprintable():
        return False
    if "\\" in path or ";" in path or "%" in path:
        return False
    return "/." not in path or not any(seg in (".", "..") for seg in path.split("/"))


def parse_path_entry(
    entry: object, *, field: str = "public_paths", slash_is_prefix: bool = False
) -> tuple[str, bool]:
    """One path-list entry as ``(base, is_prefix)``, or :class:`~p1guard.errors.ConfigError`
    naming ``field``; shared by :class:`PathMatcher` and adapters' own path lists.

    ``"/health"`` is exact; ``"/docs/*"`` a prefix (``"/*"``: every path, base ``""``). With
    ``slash_is_prefix`` a trailing ``/`` marks a prefix too (``"/api/"``, ``"/"``), and a base
    ending in ``/`` (``"//"``, ``"/api//*"``) is refused. The base must be a plain absolute
    path: no other ``*``, ``?``, ``#``, ``//``, ``\\``, ``;``, ``%``, dot segments or
    control characters. Only parsing: each caller keeps its own matching rule.

    >>> parse_path_entry("/docs/*"), parse_path_entry("/api/", slash_is_prefix=True)
    (('/docs', True), ('/api', True))
    >>> parse_path_entry("/docs/../admin")
    Traceback (most recent call last):
    p1guard.errors.ConfigError: public_paths: '/docs/../admin' is not a plain absolute path like '/health' or '/static/*'
    """  # noqa: E501
    if not isinstance(entry, str):
        base, is_prefix = "", False
    elif entry.endswith("/*"):
        base, is_prefix = entry[:-2], True
    elif slash_is_prefix and entry.endswith("/"):
        base, is_prefix = entry[:-1], True
    else:
        base, is_prefix = entry, False
    if not (is_prefix and base == "") and (
        "*" in base
        or "?" in base
        or "#" in base
        or not _is_plain(base)
        or (slash_is_prefix and base.endswith("/"))
    ):
        examples = (
            "'/health', '/static/*' or '/static/'"
            if slash_is_prefix
            else ("'/health' or '/static/*'")
        )
        raise ConfigError(field, f"{entry!r} is not a plain absolute path like {examples}")
    return base, is_prefix


class PathMatcher:
    """Which request paths are public (served without a token).

    The rule, case-sensitive and without any normalisation:

    * ``"/health"`` matches exactly ``/health`` — not ``/health/``, ``//health``, ``/HEALTH``.
    * ``"/docs/*"`` matches ``/docs``, ``/docs/`` and everything under it — not ``/docsx``.
    * A path that would reach a public prefix only after some layer normalised it is *not*
      public: dot segments (``/docs/../admin``), empty segments (``/docs//x``), backslashes,
      ``;``, ``%`` (double encoding) or control characters. It then needs a token as usual.

    Entries must start with ``/``; ``*`` is allowed only as a final ``/*``. Anything else
    raises :class:`~p1guard.errors.ConfigError`.

    >>> public = PathMatcher(["/health", "/docs/*"])
    >>> [public.matches(p) for p in ("/health", "/docs/api.json", "/docs/../admin", "/docsx")]
    [True, True, False, False]
    """

    __slots__ = ("_entries", "_exact", "_prefixes")

    def __init__(self, public_paths: Iterable[str]) -> None:
        if isinstance(public_paths, str):
            raise ConfigError("public_paths", "expected a list of paths, got a single string")
        self._entries = tuple(public_paths)
        exact: set[str] = set()
        prefixes: set[str] = set()
        for entry in self._entries:
            base, is_prefix = parse_path_entry(entry)
            if is_prefix:
                exact.add(base or "/")
                prefixes.add(base + "/")
            else:
                exact.add(base)
        self._exact = frozenset(exact)
        self._prefixes = tuple(sorted(prefixes))

    def matches(self, path: str) -> bool:
        """Whether ``path`` (the decoded request path, no query string) is public."""
        if path in self._exact:
            return True
        return bool(self._prefixes) and path.startswith(self._prefixes) and _is_plain(path)

    __contains__ = matches

    def __bool__(self) -> bool:
        return bool(self._exact)

    def __repr__(self) -> str:
        return f"PathMatcher({list(self._entries)!r})"
