"""No token, code or secret ever reaches a log line, an exception message or a repr."""

from __future__ import annotations

import logging

import pytest

from p1guard import AuthError
from p1guard.testing import MockPingOne


def test_logs_errors_and_reprs_carry_no_secrets(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [pingone_mock.resource_secret, pingone_mock.client_secret]
    texts: list[str] = []

    jwt_guard = pingone_mock.guard(check_revocation=True)
    intro_guard = pingone_mock.guard(mode="introspect")
    good = pingone_mock.issue_token(["read"])
    opaque = pingone_mock.issue_token(["read"], opaque=True)
    expired = pingone_mock.issue_token(expires_in=-300)
    foreign = pingone_mock.issue_token(audience="https://other")
    secrets += [good, opaque, expired, foreign]

    texts.append(repr(jwt_guard.verify(good, scopes=["read"])))
    texts.append(repr(intro_guard.verify(opaque)))
    texts += [repr(jwt_guard), repr(jwt_guard.pingone), repr(intro_guard)]
    attempts = [
        (jwt_guard, expired, None),
        (jwt_guard, foreign, None),
        (jwt_guard, good, ["admin"]),
        (intro_guard, good + "x", None),
    ]
    pingone_mock.revoke(good)
    jwt_guard.forget(good)
    attempts.append((jwt_guard, good, None))
    for guard, token, scopes in attempts:
        with pytest.raises(AuthError) as info:
            guard.verify(token, scopes=scopes)
        texts += [
            str(info.value),
            repr(info.value),
            info.value.www_authenticate,
            info.value.json_bytes().decode(),
        ]
    pingone_mock.fail("*", "error")
    fresh = pingone_mock.issue_token(opaque=True)
    secrets.append(fresh)
    with pytest.raises(AuthError) as info:
        intro_guard.verify(fresh)
    texts += [str(info.value), repr(info.value)]

    texts += [record.getMessage() for record in caplog.records]
    assert any("p1guard" in record.name for record in caplog.records)
    for text in texts:
        for secret in secrets:
            assert secret not in text
            assert secret[-40:] not in text  # not even the tail of a JWT (its signature)
