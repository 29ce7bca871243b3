"""PROTECTED_PATHS and PUBLIC_PATHS share one entry parser (p1guard._web.paths.parse_path_entry):
the same entries are accepted and refused, each list keeping its own matching rule."""

from __future__ import annotations

import pytest

from p1guard import ConfigError
from p1guard._web.paths import PathMatcher, parse_path_entry
from p1guard_django.paths import ProtectedPaths

REFUSED = [
    "api/*",
    "",
    "/docs*",
    "/a/*/*",  # a second wildcard hidden in the base
    "/a/*/",
    "/api?x=1",
    "/api#top",
    "/a//b",
    "/a/../b",
    "/a\\b",
    "/a;x",
    "/a%2e",
    "/a\nb",
    None,
]


@pytest.mark.parametrize("entry", REFUSED)
def test_wildcard_smuggling_and_tricky_entries_refused_by_both(entry: object) -> None:
    with pytest.raises(ConfigError) as public:
        PathMatcher([entry])  # type: ignore[list-item]
    assert public.value.field == "public_paths"
    with pytest.raises(ConfigError) as protected:
        ProtectedPaths([entry])  # type: ignore[list-item]
    assert protected.value.field == "protected_paths"


@pytest.mark.parametrize("entry", ["//", "/api//", "/api//*"])
def test_empty_segment_prefixes_refused_for_protected_paths(entry: str) -> None:
    with pytest.raises(ConfigError):
        ProtectedPaths([entry])


def test_trailing_slash_is_a_prefix_only_for_protected_paths() -> None:
    assert parse_path_entry("/api/") == ("/api/", False)
    assert parse_path_entry("/api/", slash_is_prefix=True) == ("/api", True)
    assert parse_path_entry("/", slash_is_prefix=True) == ("", True)
    assert parse_path_entry("/*") == ("", True)
    public, protected = PathMatcher(["/api/"]), ProtectedPaths(["/api/"])
    assert (public.matches("/api/x"), protected.matches("/api/x")) == (False, True)


def test_protected_matching_still_fails_closed() -> None:
    protected = ProtectedPaths(["/admin/*"])
    for path in ("/admin", "/x/../admin/users", "//admin/users", "/%61dmin/x", "\\admin\\x"):
        assert protected.matches(path), path
    assert not protected.matches("/administrator")
    public = PathMatcher(["/admin/*"])
    assert not public.matches("/admin/../secret")
