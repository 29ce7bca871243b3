"""The case registry and the run context shared by every benchmark module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._report import Figure

if TYPE_CHECKING:
    from p1guard.testing._mock import MockPingOne

__all__ = ["CASES", "Case", "Context", "Group", "case", "select"]

Group = Literal["micro", "bounds", "macro"]
T = TypeVar("T")


@dataclass
class Context:
    """Options of one run plus resources shared between cases (closed by :meth:`close`)."""

    quick: bool = False
    wsgi_server: str | None = None
    loader: str = "auto"
    verbose: bool = False
    _stack: ExitStack = field(default_factory=ExitStack)
    _mock: MockPingOne | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    def pick(self, quick: T, full: T) -> T:
        """The quick-mode or the full-mode value of a size."""
        return quick if self.quick else full

    def mock(self) -> MockPingOne:
        """One mock PingOne for the whole run (RS256 and ES256 keys made before any fetch)."""
        if self._mock is None:
            from ._env import running_mock

            self._mock = self._stack.enter_context(running_mock())
        return self._mock

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """Build an expensive shared input (pre-minted tokens…) once per run."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def log(self, message: str) -> None:
        """Progress note on stderr when ``--verbose``."""
        if self.verbose:
            import sys

            print(f"  … {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the mock and anything else the cases opened."""
        self._stack.close()
        self._mock = None


@dataclass(frozen=True)
class Case:
    """A named benchmark that yields one or more figures."""

    name: str
    group: Group
    run: Callable[[Context], list[Figure]]
    in_quick: bool = True
    doc: str = ""


CASES: dict[str, Case] = {}


def case(
    name: str, group: Group, *, in_quick: bool = True
) -> Callable[[Callable[[Context], list[Figure]]], Callable[[Context], list[Figure]]]:
    """Register a case function under ``name`` (its docstring's first line is its summary)."""

    def register(func: Callable[[Context], list[Figure]]) -> Callable[[Context], list[Figure]]:
        summary = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        CASES[name] = Case(name, group, func, in_quick, summary)
        return func

    return register


def select(only: list[str], *, quick: bool) -> Iterator[Case]:
    """Cases matching ``only`` (case names, groups, or substrings of names); all when empty.

    Groups run in the order micro, bounds, macro; cases in registration order within a group.
    """
    order = {"micro": 0, "bounds": 1, "macro": 2}
    for item in sorted(CASES.values(), key=lambda c: order[c.group]):
        if quick and not item.in_quick:
            continue
        if not only or any(want in (item.name, item.group) or want in item.name for want in only):
            yield item
