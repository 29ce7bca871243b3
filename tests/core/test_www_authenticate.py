"""The WWW-Authenticate parser (RFC 9110 §11.6.1) that reads PingOne's refusals."""

from __future__ import annotations

import pytest

from p1guard._http.www_authenticate import MAX_HEADER, parse_challenges


def test_pingone_style_dpop_refusal() -> None:
    (challenge,) = parse_challenges(
        'DPoP realm="PingOne", algs="ES256 PS256", error="invalid_token", '
        "error_description=\"the proof's key is not the token's\""
    )
    assert challenge.scheme == "dpop"
    assert challenge.params == {
        "realm": "PingOne",
        "algs": "ES256 PS256",
        "error": "invalid_token",
        "error_description": "the proof's key is not the token's",
    }


def test_several_challenges_token68_and_empty_elements() -> None:
    parsed = parse_challenges(
        ', Basic dXNlcjpwdw==, , Bearer realm="a,b", ERROR = invalid_token ,DPoP algs="ES256",'
    )
    assert [(c.scheme, c.token68) for c in parsed] == [
        ("basic", "dXNlcjpwdw=="),
        ("bearer", None),
        ("dpop", None),
    ]
    assert parsed[1].params == {"realm": "a,b", "error": "invalid_token"}


def test_quoted_pairs_are_data() -> None:
    (challenge,) = parse_challenges(r'Bearer error_description="say \"error=x\", ok\\"')
    assert challenge.params == {"error_description": 'say "error=x", ok\\'}


@pytest.mark.parametrize(
    "value",
    [
        'Bearer error="open',
        'Bearer error="a", error="b"',
        'Bearer error="a"\r\nX: y',
        'Bearer error="a", =b',
        "=x",
        'Bearer error="a" junk',
        "Bearer " + "a" * MAX_HEADER,
    ],
)
def test_malformed_headers_raise(value: str) -> None:
    with pytest.raises(ValueError):
        parse_challenges(value)


def test_bare_scheme() -> None:
    assert [c.scheme for c in parse_challenges("Bearer")] == ["bearer"]
