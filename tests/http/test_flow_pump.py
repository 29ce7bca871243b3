"""The hand pump (`drive`) behaves like the transport's: provider failures are thrown into
the flow, which may fall back — so sans-I/O flows can be tested with no socket."""

from __future__ import annotations

import pytest

from p1guard import ProviderUnavailable
from p1guard._http.flow import Flow, Request, Response, drive
from p1guard._tokens.discovery import Discovery


def test_provider_failure_is_thrown_into_the_flow() -> None:
    seen: list[str] = []

    def flow() -> Flow[str]:
        try:
            yield Request("GET", "https://auth.example.test/as/jwks", purpose="jwks")
        except ProviderUnavailable as exc:
            seen.append(exc.reason)
            return "cached keys"
        return "fresh keys"

    def down(request: Request) -> Response:
        raise ProviderUnavailable("refused", reason="unreachable")

    assert drive(flow(), down) == "cached keys"
    assert seen == ["unreachable"]


def test_a_flow_that_does_not_catch_lets_the_failure_out() -> None:
    discovery = Discovery("https://auth.example.test/as")

    def down(request: Request) -> Response:
        raise ProviderUnavailable("refused", reason="unreachable")

    with pytest.raises(ProviderUnavailable) as info:
        drive(discovery.flow(), down)
    assert info.value.reason == "unreachable"
