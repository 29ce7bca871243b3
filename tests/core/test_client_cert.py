"""Where a request's client certificate comes from (p1guard._sender.certificates), with real
certificates."""

from __future__ import annotations

import base64
import datetime
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from p1guard._sender.binding import certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard.errors import ConfigError

LOGGER = "p1guard.client_cert"
XFCC = "X-Forwarded-Client-Cert"


def _self_signed(key: Any, cn: str, *, issuer: tuple[Any, str] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name.from_rfc4514_string(f"CN={cn}")
    signer_key, issuer_cn = issuer if issuer else (key, cn)
    algorithm = None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name.from_rfc4514_string(f"CN={issuer_cn}"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(f"{cn}.example.com")]), critical=False
        )
        .sign(signer_key, algorithm)
    )


_CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA = _self_signed(_CA_KEY, "Test CA")
CERTS = {
    "rsa": _self_signed(rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa"),
    "ec": _self_signed(ec.generate_private_key(ec.SECP384R1()), "ec"),
    "ed25519": _self_signed(ed25519.Ed25519PrivateKey.generate(), "ed25519"),
    "ca-issued": _self_signed(
        ec.generate_private_key(ec.SECP256R1()), "leaf", issuer=(_CA_KEY, "Test CA")
    ),
}


def der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def pem_of(cert: x509.Certificate) -> str:
    return cert.public_bytes(Encoding.PEM).decode("ascii")


RSA_DER, RSA_PEM = der_of(CERTS["rsa"]), pem_of(CERTS["rsa"])
EC_DER, EC_PEM = der_of(CERTS["ec"]), pem_of(CERTS["ec"])


# -- the encodings proxies use --------------------------------------------------------------


def nginx_escaped(cert: x509.Certificate) -> str:  # $ssl_client_escaped_cert
    return quote(pem_of(cert), safe="")


def apache_escaped(cert: x509.Certificate) -> str:  # RequestHeader … %{escape:…}
    return quote(pem_of(cert), safe="/+=")


def query_escaped(cert: x509.Certificate) -> str:  # Go url.QueryEscape: spaces become '+'
    return quote_plus(pem_of(cert))


def plain_pem_spaces(cert: x509.Certificate) -> str:  # some proxies fold newlines to spaces
    return pem_of(cert).replace("\n", " ").strip()


def base64_der(cert: x509.Certificate) -> str:  # Azure ARR, Traefik (unescaped)
    return base64.b64encode(der_of(cert)).decode()


def base64url_der(cert: x509.Certificate) -> str:
    return base64.urlsafe_b64encode(der_of(cert)).decode().rstrip("=")


def traefik_escaped(cert: x509.Certificate) -> str:  # X-Forwarded-Tls-Client-Cert
    return quote(base64_der(cert), safe="")


def rfc9440(cert: x509.Certificate) -> str:
    return ":" + base64.b64encode(der_of(cert)).decode() + ":"


def xfcc_quoted(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(der_of(cert)).hexdigest()
    return (
        f'By=spiffe://cluster.local/ns/edge/sa/envoy;Hash={digest};Cert="{nginx_escaped(cert)}";'
        'Subject="CN=a\\"b, O=x;y=z";URI=spiffe://client;DNS=a.example.com;DNS=b.example.com'
    )


def xfcc_bare(cert: x509.Certificate) -> str:
    return f"Cert={nginx_escaped(cert)}"


FORMATS: list[tuple[str, Callable[[x509.Certificate], str]]] = [
    ("X-Client-Cert", nginx_escaped),
    ("X-SSL-Client-Cert", nginx_escaped),
    ("X-SSL-Client-Cert", apache_escaped),
    ("X-SSL-Client-Cert", query_escaped),
    ("X-Client-Cert", pem_of),
    ("X-Client-Cert", plain_pem_spaces),
    ("X-ARR-ClientCert", base64_der),
    ("X-Client-Cert", base64url_der),
    ("X-Forwarded-Tls-Client-Cert", traefik_escaped),
    ("Client-Cert", rfc9440),
    (XFCC, xfcc_quoted),
    (XFCC, xfcc_bare),
]


def source_for(header: str, *proxies: str, **kwargs: Any) -> ClientCertificates:
    return ClientCertificates(header=header, trusted_proxies=proxies or ("127.0.0.1",), **kwargs)


def asgi_scope(
    headers: Iterable[tuple[str, str]] = (),
    *,
    client: Any = ("127.0.0.1", 51000),
    tls: dict[str, Any] | None = None,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "client": client,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
    }
    if tls is not None:
        scope["extensions"] = {"tls": tls}
    return scope


def tls_ext(*chain: str, error: str | None = None) -> dict[str, Any]:
    return {
        "server_cert": None,
        "client_cert_chain": list(chain),
        "client_cert_name": None,
        "client_cert_error": error,
        "tls_version": 0x0304,
        "cipher_suite": 0x1301,
    }


def wsgi_environ(
    header: str | None = None, value: str | None = None, **extra: str
) -> dict[str, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "REMOTE_ADDR": "127.0.0.1", **extra}
    if header is not None and value is not None:
        environ["HTTP_" + header.upper().replace("-", "_")] = value
    return environ


# -- every format round-trips ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CERTS))
@pytest.mark.parametrize(("header", "encode"), FORMATS, ids=lambda v: getattr(v, "__name__", v))
def test_each_header_format_round_trips_to_the_same_der(
    header: str, encode: Callable[[x509.Certificate], str], kind: str
) -> None:
    cert = CERTS[kind]
    source = source_for(header)
    value = encode(cert)
    asgi = source.from_asgi(asgi_scope([(header, value)]))
    wsgi = source.from_wsgi(wsgi_environ(header, value))
    assert asgi == wsgi == der_of(cert)
    assert certificate_thumbprint(asgi) == certificate_thumbprint(der_of(cert))


def test_header_name_is_case_insensitive_and_mappings_work() -> None:
    source = source_for("x-client-cert")
    assert source.from_parts(peer="127.0.0.1", headers={"X-CLIENT-CERT": RSA_PEM}) == RSA_DER
    assert source.header == "x-client-cert"


def test_thumbprint_matches_what_the_client_computes_from_its_own_certificate() -> None:
    # RFC 8705 §3.1: x5t#S256 is base64url(SHA-256(DER)) of the certificate the client holds.
    expected = base64.urlsafe_b64encode(hashlib.sha256(EC_DER).digest()).rstrip(b"=").decode()
    der = source_for(XFCC).from_wsgi(wsgi_environ(XFCC, xfcc_quoted(CERTS["ec"])))
    assert der is not None
    assert certificate_thumbprint(der) == expected


# -- the server's own TLS --------------------------------------------------------------------


def test_asgi_tls_extension_verified_certificate_is_used() -> None:
    source = ClientCertificates()
    chain = (pem_of(CERTS["ca-issued"]), pem_of(CA))
    assert source.from_asgi(asgi_scope(tls=tls_ext(*chain))) == der_of(CERTS["ca-issued"])


def test_asgi_tls_certificate_with_verification_error_is_ignored() -> None:
    source = ClientCertificates()
    scope = asgi_scope(tls=tls_ext(RSA_PEM, error="unable to get local issuer certificate"))
    assert source.from_asgi(scope) is None


@pytest.mark.parametrize(
    "scope",
    [
        asgi_scope(),  # plain HTTP: no TLS extension
        asgi_scope(tls=tls_ext()),  # TLS without a client certificate
        {"type": "http", "extensions": {"tls": {"client_cert_chain": RSA_PEM}}},  # not a list
        {"type": "http", "extensions": {"tls": {"client_cert_chain": [b"bytes"]}}},
        {"type": "http", "extensions": {"tls": None}},
        {"type": "http", "extensions": None},
        {"type": "http", "extensions": {"tls": {"client_cert_chain": [RSA_PEM + EC_PEM]}}},
    ],
)
def test_asgi_without_a_usable_tls_certificate_gives_none(scope: dict[str, Any]) -> None:
    assert ClientCertificates().from_asgi(scope) is None


def test_asgi_tls_chain_may_be_any_iterable() -> None:
    scope = {"type": "http", "extensions": {"tls": {"client_cert_chain": iter([EC_PEM])}}}
    assert ClientCertificates().from_asgi(scope) == EC_DER


def test_tls_false_ignores_the_connection_certificate() -> None:
    source = ClientCertificates(tls=False, header="Client-Cert", trusted_proxies=["10.0.0.1"])
    assert source.from_asgi(asgi_scope(tls=tls_ext(RSA_PEM))) is None
    assert source.from_wsgi(wsgi_environ(SSL_CLIENT_CERT=RSA_PEM)) is None


@pytest.mark.parametrize(
    ("verify", "expected"),
    [
        (None, RSA_DER),  # only SSLOptions +ExportCertData: the variable alone
        ("SUCCESS", RSA_DER),
        ("GENEROUS", None),  # SSLVerifyClient optional_no_ca: not verified
        ("FAILED:certificate has expired", None),
        ("NONE", None),
    ],
)
def test_wsgi_ssl_client_cert_needs_a_successful_verification(
    verify: str | None, expected: bytes | None
) -> None:
    extra = {"SSL_CLIENT_CERT": RSA_PEM}
    if verify is not None:
        extra["SSL_CLIENT_VERIFY"] = verify
    assert ClientCertificates().from_wsgi(wsgi_environ(**extra)) == expected


def test_wsgi_empty_ssl_client_cert_gives_none() -> None:
    environ = wsgi_environ(SSL_CLIENT_CERT="", SSL_CLIENT_VERIFY="SUCCESS")
    assert ClientCertificates().from_wsgi(environ) is None


def test_from_parts_accepts_der_bytes_from_the_tls_layer() -> None:
    assert ClientCertificates().from_parts(peer=None, tls_cert=EC_DER) == EC_DER
    assert ClientCertificates().from_parts(peer=None, tls_cert=b"\x30\x03junk") is None


# -- trust in the proxy ---------------------------------------------------------------------


def test_spoofed_client_cert_header_from_untrusted_peer_is_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Attack: a client reaches the app directly (bypassing the proxy) and forges the header
    # with the certificate a stolen bound token names, hoping to pass the cnf check.
    source = source_for(XFCC, "10.0.0.0/8")
    forged = xfcc_quoted(CERTS["rsa"])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        asgi = source.from_asgi(asgi_scope([(XFCC, forged)], client=("203.0.113.7", 4444)))
        wsgi = source.from_wsgi(wsgi_environ(XFCC, forged, REMOTE_ADDR="203.0.113.7"))
    assert asgi is None
    assert wsgi is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # rate-limited
    assert "x-forwarded-client-cert" in warnings[0].getMessage()
    assert "203.0.113.7" in warnings[0].getMessage()
    assert nginx_escaped(CERTS["rsa"])[40:80] not in caplog.text  # never the value


def test_spoofed_header_from_untrusted_peer_does_not_replace_its_tls_certificate() -> None:
    source = source_for("X-Client-Cert", "10.0.0.0/8")
    scope = asgi_scope(
        [("X-Client-Cert", RSA_PEM)], client=("198.51.100.1", 1), tls=tls_ext(EC_PEM)
    )
    assert source.from_asgi(scope) == EC_DER  # the certificate it proved, not the one it claims


def test_from_a_trusted_proxy_the_header_wins_over_the_hop_certificate() -> None:
    # Service mesh: the sidecar connects with its own certificate and forwards the client's.
    source = source_for("Client-Cert", "10.0.0.0/8")
    proxy_tls = tls_ext(pem_of(CERTS["ed25519"]))
    with_header = asgi_scope(
        [("Client-Cert", rfc9440(CERTS["rsa"]))], client=("10.1.1.1", 1), tls=proxy_tls
    )
    assert source.from_asgi(with_header) == RSA_DER
    assert source.from_asgi(asgi_scope(client=("10.1.1.1", 1), tls=proxy_tls)) is None


def test_untrusted_peer_warning_is_rate_limited_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = source_for("X-Client-Cert", "10.0.0.1", warn_every=0.05)
    environ = wsgi_environ("X-Client-Cert", RSA_PEM, REMOTE_ADDR="192.0.2.8")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            assert source.from_wsgi(environ) is None
        time.sleep(0.06)
        assert source.from_wsgi(environ) is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "2 more since the last warning" in messages[1]


def test_no_warning_without_the_header(caplog: pytest.LogCaptureFixture) -> None:
    source = source_for("X-Client-Cert", "10.0.0.1")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert source.from_wsgi(wsgi_environ(REMOTE_ADDR="192.0.2.8")) is None
        assert (
            source.from_wsgi(wsgi_environ("X-Client-Cert", "  ", REMOTE_ADDR="192.0.2.8")) is None
        )
    assert caplog.records == []


@pytest.mark.parametrize(
    ("proxies", "peer", "trusted"),
    [
        (["10.0.0.0/8"], "10.255.0.1", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.0.0.0/8"], "::ffff:10.2.3.4", True),  # IPv4-mapped peer (dual-stack socket)
        (["::ffff:192.0.2.1"], "192.0.2.1", True),  # mapped entry, plain peer
        (["::ffff:10.0.0.0/104"], "10.9.9.9", True),  # mapped network
        (["192.0.2.1"], "192.0.2.1", True),
        (["192.0.2.1"], "192.0.2.2", False),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["2001:db8::/32"], "2001:db9::5", False),
        (["::1"], "::1", True),
        (["::1"], "[::1]", True),
        (["::1"], "127.0.0.1", False),
        (["fe80::/10"], "fe80::1%eth0", True),
        (["127.0.0.1"], None, False),  # no peer address at all
        (["127.0.0.1"], "", False),
        (["127.0.0.1"], "/run/app.sock", False),  # Unix socket
        (["127.0.0.1"], "localhost", False),  # names are never trusted
        (["127.0.0.1", "2001:db8::1"], "2001:db8::1", True),
    ],
)
def test_trusted_proxies_match_addresses_and_networks(
    proxies: list[str], peer: str | None, trusted: bool
) -> None:
    source = ClientCertificates(header="X-Client-Cert", trusted_proxies=proxies)
    assert source.is_trusted(peer) is trusted
    expected = RSA_DER if trusted else None
    assert source.from_parts(peer=peer, headers=[("X-Client-Cert", RSA_PEM)]) == expected


def test_trusted_ipv6_proxy_over_asgi() -> None:
    source = source_for("Client-Cert", "2001:db8::/48")
    scope = asgi_scope([("Client-Cert", rfc9440(CERTS["ec"]))], client=("2001:db8::7", 443))
    assert source.from_asgi(scope) == EC_DER


@pytest.mark.parametrize("client", [None, [], ("/tmp/app.sock", None), ["unix:/sock", 0]])
def test_header_without_a_peer_address_is_ignored(client: Any) -> None:
    source = source_for("X-Client-Cert", "127.0.0.1")
    assert source.from_asgi(asgi_scope([("X-Client-Cert", RSA_PEM)], client=client)) is None


def test_header_without_remote_addr_is_ignored() -> None:
    environ = wsgi_environ("X-Client-Cert", RSA_PEM)
    del environ["REMOTE_ADDR"]
    assert source_for("X-Client-Cert").from_wsgi(environ) is None


def test_werkzeug_proxy_fix_rewritten_remote_addr_does_not_make_a_peer_trusted() -> None:
    # Attack: the app runs behind ProxyFix, which copies X-Forwarded-For into REMOTE_ADDR; a
    # client connecting directly claims to be the proxy by forging X-Forwarded-For.
    from werkzeug.middleware.proxy_fix import ProxyFix

    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["der"] = source_for("X-Client-Cert", "10.0.0.0/8").from_wsgi(environ)
        seen["remote_addr"] = environ["REMOTE_ADDR"]
        start_response("200 OK", [])
        return []

    environ = wsgi_environ(
        "X-Client-Cert", RSA_PEM, REMOTE_ADDR="203.0.113.50", HTTP_X_FORWARDED_FOR="10.0.0.5"
    )
    ProxyFix(app, x_for=1)(environ, lambda *args: None)
    assert seen["remote_addr"] == "10.0.0.5"  # rewritten ...
    assert seen["der"] is None  # ... but the TCP peer decides


def test_trusted_proxies_may_be_one_string() -> None:
    source = ClientCertificates(header="X-Client-Cert", trusted_proxies="10.0.0.0/8")
    assert source.is_trusted("10.1.1.1")
    assert "10.0.0.0/8" in repr(source)


# -- fail closed ----------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "encode"), FORMATS, ids=lambda v: getattr(v, "__name__", v))
def test_duplicate_headers_are_ignored(
    header: str, encode: Callable[[x509.Certificate], str]
) -> None:
    # Attack: a client adds its own copy next to the proxy's, hoping the app picks the first.
    source = source_for(header)
    twice = [(header, encode(CERTS["rsa"])), (header, encode(CERTS["ec"]))]
    assert source.from_asgi(asgi_scope(twice)) is None
    same = [(header, encode(CERTS["rsa"]))] * 2
    assert source.from_asgi(asgi_scope(same)) is None
    # WSGI servers merge duplicates with a comma; that must not parse either.
    merged = ", ".join(value for _, value in twice)
    assert source.from_wsgi(wsgi_environ(header, merged)) is None


GARBAGE = [
    "",
    "garbage",
    "%",
    "%ff%fe",
    "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----",
    "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----",
    "-----BEGIN CERTIFICATE-----",
    ":" + base64.b64encode(b"not a certificate").decode() + ":",
    "::",
    ":bm90IGEgY2VydA==",
    base64.b64encode(RSA_DER + b"\x00").decode(),  # trailing junk after the DER
    base64.b64encode(RSA_DER[:-10]).decode(),  # truncated
    "Cert=",
    'Cert="unterminated',
    "Cert",
    "\x00" * 10,
    "é" * 100,
]


@pytest.mark.parametrize("value", GARBAGE)
@pytest.mark.parametrize("header", ["X-Client-Cert", "Client-Cert", XFCC])
def test_garbage_values_give_none_without_raising(
    header: str, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = source_for(header)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.from_parts(peer="127.0.0.1", headers=[(header, value)]) is None
        assert source.from_wsgi(wsgi_environ(header, value)) is None
    assert all(r.levelno == logging.DEBUG for r in caplog.records)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Client-Cert", RSA_PEM + EC_PEM),  # a chain where one certificate is expected
        ("Client-Cert", rfc9440(CERTS["rsa"]) + ", " + rfc9440(CERTS["ec"])),  # a list
        ("Client-Cert", rfc9440(CERTS["rsa"]) + ";a=1"),  # parameters: not accepted
        ("Client-Cert", base64_der(CERTS["rsa"])),  # not a byte sequence
        ("Client-Cert", ":" + base64url_der(CERTS["rsa"]) + ":"),  # wrong alphabet
        ("X-Client-Cert", rfc9440(CERTS["rsa"])),  # RFC 9440 needs its own header name
    ],
)
def test_ambiguous_or_mislabelled_values_give_none(header: str, value: str) -> None:
    assert source_for(header).from_parts(peer="127.0.0.1", headers=[(header, value)]) is None


def test_oversized_values_are_rejected_before_parsing() -> None:
    padded = RSA_PEM.replace("\n", "\n" + " " * 1000)
    assert len(padded) > 16 * 1024
    default = source_for("X-Client-Cert")
    assert default.from_parts(peer="127.0.0.1", headers=[("X-Client-Cert", padded)]) is None
    small = source_for("X-Client-Cert", max_length=len(RSA_PEM) - 1)
    assert small.from_parts(peer="127.0.0.1", headers=[("X-Client-Cert", RSA_PEM)]) is None
    exact = source_for("X-Client-Cert", max_length=len(RSA_PEM))
    assert exact.from_parts(peer="127.0.0.1", headers=[("X-Client-Cert", RSA_PEM)]) == RSA_DER


def test_oversized_value_is_fast_even_when_huge() -> None:
    huge = "A" * 10_000_000
    started = time.perf_counter()
    assert (
        source_for("X-Client-Cert").from_parts(peer="127.0.0.1", headers=[("X-Client-Cert", huge)])
        is None
    )
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "value",
    [
        xfcc_bare(CERTS["rsa"]) + "," + xfcc_bare(CERTS["ec"]),  # two hops: whose is it?
        "By=spiffe://edge," + xfcc_bare(CERTS["rsa"]),
        xfcc_bare(CERTS["rsa"]) + ";" + xfcc_bare(CERTS["ec"]),  # two Cert keys
        xfcc_bare(CERTS["rsa"]) + ";Hash=" + "0" * 64,  # Hash disagrees with Cert
        xfcc_bare(CERTS["rsa"]) + ";Hash=abc",
        xfcc_bare(CERTS["rsa"]) + f";Hash={'0' * 64};Hash={'1' * 64}",
        "Chain=" + nginx_escaped(CERTS["rsa"]),  # only the chain: not the client's own
        "Hash=" + hashlib.sha256(RSA_DER).hexdigest(),  # no certificate at all
        xfcc_bare(CERTS["rsa"]) + ';Subject="CN=x',  # unbalanced quote
        "Cert=" + quote(RSA_PEM + EC_PEM, safe=""),  # a chain in Cert
    ],
)
def test_xfcc_that_is_ambiguous_or_inconsistent_gives_none(value: str) -> None:
    assert source_for(XFCC).from_parts(peer="127.0.0.1", headers=[(XFCC, value)]) is None


def test_xfcc_hash_matching_cert_is_accepted_in_any_case() -> None:
    digest = hashlib.sha256(EC_DER).hexdigest().upper()
    value = f"hash={digest};cert={nginx_escaped(CERTS['ec'])}"
    assert source_for(XFCC).from_parts(peer="127.0.0.1", headers=[(XFCC, value)]) == EC_DER


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"header": "X-Client-Cert"}, "trusted_proxies"),  # would trust anyone
        ({"header": "X-Client-Cert", "trusted_proxies": []}, "trusted_proxies"),
        ({"header": "X-Client-Cert", "trusted_proxies": ["10.0.0.300"]}, "trusted_proxies"),
        ({"header": "X-Client-Cert", "trusted_proxies": ["10.0.0.1/8"]}, "trusted_proxies"),
        ({"header": "X-Client-Cert", "trusted_proxies": ["proxy.internal"]}, "trusted_proxies"),
        ({"header": "X-Client-Cert", "trusted_proxies": ["0.0.0.0/0"]}, "trusted_proxies"),
        ({"header": "X-Client-Cert", "trusted_proxies": ["::/0"]}, "trusted_proxies"),
        ({"header": "X-Client-Cert", "trusted_proxies": [10]}, "trusted_proxies"),
        ({"trusted_proxies": ["10.0.0.1"]}, "trusted_proxies"),  # no header to read
        ({"header": "X Client Cert", "trusted_proxies": ["10.0.0.1"]}, "header"),
        ({"header": "", "trusted_proxies": ["10.0.0.1"]}, "header"),
        ({"tls": False}, "tls"),  # nothing to read
        ({"max_length": 0}, "max_length"),
    ],
)
def test_unsafe_or_useless_configuration_is_a_config_error(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ClientCertificates(**kwargs)
    assert info.value.field == field


# -- over real HTTP -------------------------------------------------------------------------


@pytest.fixture
def wsgi_server() -> Iterator[Callable[[ClientCertificates], str]]:
    from werkzeug.serving import make_server

    servers: list[Any] = []

    def start(source: ClientCertificates) -> str:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            der = source.from_wsgi(environ)
            body = certificate_thumbprint(der) if der else "none"
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body.encode()]

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(5)
        server.server_close()


def test_forwarded_certificate_over_real_http_honours_only_trusted_peers(
    wsgi_server: Callable[[ClientCertificates], str], caplog: pytest.LogCaptureFixture
) -> None:
    trusted = wsgi_server(ClientCertificates(header=XFCC, trusted_proxies=["127.0.0.1"]))
    untrusted = wsgi_server(ClientCertificates(header=XFCC, trusted_proxies=["10.0.0.0/8"]))
    headers = {XFCC: xfcc_quoted(CERTS["rsa"])}
    with httpx.Client(timeout=5) as client, caplog.at_level(logging.WARNING, logger=LOGGER):
        assert client.get(trusted, headers=headers).text == certificate_thumbprint(RSA_DER)
        assert client.get(untrusted, headers=headers).text == "none"
        assert client.get(trusted).text == "none"  # no header, no TLS: no certificate
    assert "127.0.0.1" in caplog.text
