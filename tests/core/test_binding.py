"""Test vectors for the sender-constraint vocabulary (p1guard._sender.binding): RFC 7638, RFC 9449,
RFC 8705 thumbprints and hashes."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import (
    access_token_hash,
    b64url,
    certificate_thumbprint,
    jwk_thumbprint,
)
from p1guard._sender.dpop import DPoPPolicy, check_proof

# RFC 9449 §4.1 (Figure 4): a DPoP proof for a token request, and its key.
RFC9449_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0"
    "VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10"
    "NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoi"
    "UE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-"
    "GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC9449_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
# RFC 9449 §6.1: the jkt of that key, as it appears in cnf.
RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def test_rfc7638_rsa_example() -> None:
    # RFC 7638 §3.1
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ"
        "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
        "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
        "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    jwk = {"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rfc9449_jwk_thumbprint() -> None:
    assert jwk_thumbprint(RFC9449_JWK) == RFC9449_JKT
    # Member order and extra members never change the thumbprint.
    assert jwk_thumbprint({**dict(reversed(RFC9449_JWK.items())), "use": "sig"}) == RFC9449_JKT


def test_rfc9449_example_proof_verifies_at_its_time() -> None:
    checked = check_proof(
        RFC9449_PROOF,
        method="POST",
        url="https://server.example.com/token",
        access_token=None,
        policy=DPoPPolicy(),
        now=1562262616,
    )
    assert checked.jkt == RFC9449_JKT
    assert (checked.jti, checked.htm, checked.iat) == ("-BwC3ESc6acc2lTc", "POST", 1562262616)


def test_rfc9449_ath_example() -> None:
    # RFC 9449 §7.1: the access token of Figure 12 and the ath of its proof.
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_certificate_thumbprint_is_sha256_of_der() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    expected = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    assert certificate_thumbprint(cert.public_bytes(Encoding.DER)) == expected
    assert len(expected) == 43


def test_dpop_key_thumbprint_matches_its_public_jwk() -> None:
    key = DPoPKey.generate()
    assert key.thumbprint == jwk_thumbprint(key.public_jwk)


@pytest.mark.parametrize(
    "jwk",
    [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "EC", "crv": "P-256", "x": "a"}, {"kty": 1}],
)
def test_thumbprint_refuses_unusable_jwks(jwk: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="JWK"):
        jwk_thumbprint(jwk)


def test_b64url_has_no_padding() -> None:
    assert b64url(b"\x00") == "AA"
