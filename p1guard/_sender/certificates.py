"""Where a request's client certificate comes from, for certificate-bound tokens (RFC 8705).

A token bound with ``cnf["x5t#S256"]`` is only usable over a mutual-TLS connection on which the
client proved the certificate's private key. :class:`ClientCertificates` finds the DER bytes
of that certificate for one request (or ``None``); the guard hashes them with
:func:`p1guard.certificate_thumbprint` and compares. Sans-I/O: plain values in, bytes
or ``None`` out, never an exception on the request path.

Trust rules:

1. **The connection's own TLS.** When the server terminates TLS itself, the certificate it
   verified is used: the ASGI TLS extension (``scope["extensions"]["tls"]``, first entry of
   ``client_cert_chain``, only while ``client_cert_error`` is ``None``) or the WSGI
   ``SSL_CLIENT_CERT`` variable (Apache ``SSLOptions +ExportCertData``; only while
   ``SSL_CLIENT_VERIFY`` is ``SUCCESS`` if the server sets it). Only the server writes those.
2. **A header set by a TLS-terminating proxy** (``header=``) counts only when the *direct*
   peer (ASGI ``scope["client"]``, WSGI ``REMOTE_ADDR``) is inside ``trusted_proxies``. A
   header is only as trustworthy as the proxy that sets it: the proxy must remove the header
   from every client request and set it only from a certificate it verified itself.
   From any other peer (or with no peer address at all, e.g. a Unix socket) the header is
   ignored and a rate-limited WARNING names the header and the peer (never the value).
3. From a trusted proxy the header is authoritative: the TLS certificate of that hop is the
   proxy's own (a service mesh), never the client's, so it is not used. From any other peer
   only rule 1 applies.
4. Fail closed: a header sent twice, several certificates where one is expected, a value
   over ``max_length`` characters, or anything that does not parse as one X.509 certificate
   gives ``None`` (logged at DEBUG without the value). A bound token then gets a 401.

Header formats, chosen by the header's name (case-insensitive):

* ``Client-Cert`` — RFC 9440: a structured-field byte sequence ``:<base64 DER>:``.
* ``X-Forwarded-Client-Cert`` — Envoy XFCC: ``key=value;…`` pairs whose ``Cert`` is the
  URL-encoded PEM (a ``Hash``, when present, must match it). Elements are comma-separated, one
  per proxy hop; exactly one element is accepted because with several the original client's
  is ambiguous. Configure the edge Envoy with ``forward_client_cert_details: SANITIZE_SET``
  (``set_current_client_cert_details: {cert: true}``) and hops behind it with ``FORWARD_ONLY``.
* Any other name (``X-Client-Cert``, ``X-SSL-Client-Cert``, ``X-Amzn-Mtls-Clientcert`` …):
  URL-encoded PEM (nginx ``$ssl_client_escaped_cert``), plain PEM (also with spaces in place
  of newlines, as some proxies send it) or bare base64 DER.

The peer must be the *TCP* peer, and **uvicorn rewrites it by default**: proxy headers are on
and ``127.0.0.1,::1`` are trusted (``--forwarded-allow-ips``), so for a request from loopback
``scope["client"]`` is whatever ``X-Forwarded-For`` says. Anything reaching uvicorn from
loopback (a local proxy passing the header on, a sidecar, a local process) can claim to be a
trusted proxy and present another client's certificate header; with
``--forwarded-allow-ips="*"`` anyone can. uvicorn keeps no copy of the real peer, so p1guard
cannot detect it: run ``uvicorn --no-proxy-headers`` (``uvicorn.Config(proxy_headers=False)``)
or set ``--forwarded-allow-ips`` to exactly the proxy; under gunicorn with uvicorn workers,
gunicorn's ``forwarded_allow_ips`` setting (``--forwarded-allow-ips``) is passed to uvicorn
with proxy headers on — set it to exactly the proxy; a ``ProxyHeadersMiddleware`` you add
yourself needs ``trusted_hosts`` set to exactly the proxy. Hypercorn's ``ProxyFixMiddleware``:
the same rule. Werkzeug's ``ProxyFix`` keeps the original, which
:meth:`~ClientCertificates.from_wsgi` uses. WSGI servers
map ``X-Client-Cert`` and ``X_Client_Cert`` to the same ``HTTP_X_CLIENT_CERT`` key: let the
proxy drop header names with underscores (nginx does by default).

>>> source = ClientCertificates(header="X-Forwarded-Client-Cert", trusted_proxies=["10.0.0.0/8"])
>>> source.from_parts(peer="203.0.113.9", headers=[], tls_cert=None) is None
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from p1guard.errors import ConfigError

__all__ = ["ClientCertificates"]

log = logging.getLogger("p1guard.client_cert")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Format = Literal["rfc9440", "xfcc", "pem"]
_Headers = Iterable[tuple[str, str]] | Mapping[str, str]
_Parser = Callable[[str], "bytes | None"]

# RFC 9110 §5.1 field-name = token
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PEM = re.compile(r"-----BEGIN[ +]CERTIFICATE-----(.*?)-----END[ +]CERTIFICATE-----", re.DOTALL)
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_SF_BINARY = re.compile(r":([A-Za-z0-9+/]*={0,2}):")
_HEX64 = re.compile(r"[0-9A-Fa-f]{64}")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _parse_network(entry: object) -> _Network:
    if not isinstance(entry, str):
        raise ConfigError("trusted_proxies", f"expected IP addresses or networks, got {entry!r}")
    try:
        net: _Network = ipaddress.ip_network(entry.strip(), strict=True)
    except ValueError as exc:
        raise ConfigError(
            "trusted_proxies", f"{entry!r} is not an IP address or network ({exc})"
        ) from exc
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED):
        # ::ffff:10.0.0.0/104 means 10.0.0.0/8: compare IPv4 peers with IPv4 networks.
        base = ipaddress.IPv4Address(int(net.network_address) & 0xFFFFFFFF)
        net = ipaddress.IPv4Network((base, net.prefixlen - 96))
    if net.prefixlen == 0:
        raise ConfigError(
            "trusted_proxies",
            f"{entry!r} trusts every address; list the addresses of your TLS-terminating proxies",
        )
    return net


def _peer_address(peer: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not peer:
        return None
    try:
        addr = ipaddress.ip_address(peer.strip().strip("[]"))
    except ValueError:
        return None  # a Unix socket path, a hostname, garbage: not a proxy we can trust
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _format_of(header: str) -> _Format:
    if header == "client-cert":
        return "rfc9440"
    if header == "x-forwarded-client-cert":
        return "xfcc"
    return "pem"


def _load_der(der: bytes) -> bytes | None:
    try:
        cert = x509.load_der_x509_certificate(der)
        return cert.public_bytes(Encoding.DER)
    except ValueError:
        return None


def _b64decode(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; ``None`` for anything else."""
    body = "".join(text.split())
    if _B64.fullmatch(body):
        alphabet = None
    elif _B64URL.fullmatch(body):
        alphabet = b"-_"
    else:
        return None
    body = body.rstrip("=")
    body += "=" * (-len(body) % 4)
    try:
        return base64.b64decode(body, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        return None


def _from_pem(text: str) -> bytes | None:
    """The DER of the one certificate in PEM text (newlines or spaces), else ``None``."""
    blocks = _PEM.findall(text)
    if len(blocks) != 1 or text.count("-----BEGIN") != 1:
        return None  # no certificate, or a chain where one certificate is expected
    der = _b64decode(blocks[0])
    return None if der is None else _load_der(der)


def _from_pem_or_der(value: str) -> bytes | None:
    """URL-encoded PEM, PEM, or bare base64 DER."""
    if "%" in value:
        value = unquote(value, errors="strict")
    if "-----BEGIN" in value:
        return _from_pem(value)
    der = _b64decode(value)
    return None if der is None else _load_der(der)


def _from_rfc9440(value: str) -> bytes | None:
    match = _SF_BINARY.fullmatch(value.strip(" \t"))
    if match is None:
        return None  # not one bare byte sequence (a list, parameters, another type)
    der = _b64decode(match.group(1)) if match.group(1) else None
    return None if der is None else _load_der(der)


def _xfcc_split(text: str, sep: str) -> list[str] | None:
    """Split on ``sep`` outside double quotes (backslash escapes inside); ``None`` if unbalanced."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quoted or escaped:
        return None
    parts.append("".join(current))
    return parts


def _xfcc_value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1], flags=re.DOTALL)
    return raw


def _from_xfcc(value: str) -> bytes | None:
    elements = _xfcc_split(value, ",")
    if elements is None or len(elements) != 1:
        return None  # several hops: whose certificate is the client's is ambiguous
    pairs = _xfcc_split(elements[0], ";")
    if pairs is None:
        return None
    found: dict[str, list[str]] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq:
            return None
        found.setdefault(key.strip().lower(), []).append(_xfcc_value(raw))
    certs, hashes = found.get("cert", []), found.get("hash", [])
    if len(certs) != 1 or len(hashes) > 1:
        return None
    der = _from_pem(unquote(certs[0], errors="strict"))
    if der is None:
        return None
    if hashes and not (
        _HEX64.fullmatch(hashes[0]) and hashes[0].lower() == hashlib.sha256(der).hexdigest()
    ):
        return None  # Hash and Cert disagree: not what the proxy wrote
    return der


_PARSERS: dict[_Format, _Parser] = {
    "rfc9440": _from_rfc9440,
    "xfcc": _from_xfcc,
    "pem": _from_pem_or_der,
}


class ClientCertificates:
    """Find the client certificate a request proved: DER bytes, or ``None``.

    ``tls=True`` reads the certificate the server itself verified during the TLS handshake.
    ``header`` names a header a TLS-terminating proxy sets; it is read only from peers in
    ``trusted_proxies`` (IP addresses or CIDR networks, IPv4 or IPv6), which it then requires.
    The peer checked is ASGI ``scope["client"]`` or WSGI ``REMOTE_ADDR`` — under uvicorn's
    defaults (proxy headers on, ``127.0.0.1`` trusted) a loopback client sets it with
    ``X-Forwarded-For``: run ``uvicorn --no-proxy-headers`` or ``--forwarded-allow-ips`` set to
    exactly the proxy (gunicorn: its ``forwarded_allow_ips`` setting; see the module notes).
    ``max_length`` bounds a header value before any parsing. ``warn_every`` is the least
    number of seconds between two warnings about a header from an untrusted peer.

    Raises :class:`~p1guard.errors.ConfigError` for a header name that is not an HTTP token,
    a header without trusted proxies (that would trust anyone), an entry that is not an
    address or network (or is ``0.0.0.0/0``), trusted proxies without a header, or nothing
    to read at all.

    >>> import datetime
    >>> from cryptography import x509
    >>> from cryptography.hazmat.primitives.asymmetric import ed25519
    >>> from cryptography.hazmat.primitives.serialization import Encoding
    >>> from p1guard._sender.binding import certificate_thumbprint
    >>> key = ed25519.Ed25519PrivateKey.generate()
    >>> name = x509.Name.from_rfc4514_string("CN=client")
    >>> now = datetime.datetime.now(datetime.timezone.utc)
    >>> cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
    ...     .public_key(key.public_key()).serial_number(1).not_valid_before(now)
    ...     .not_valid_after(now + datetime.timedelta(days=1)).sign(key, None))
    >>> der = cert.public_bytes(Encoding.DER)
    >>> pem = cert.public_bytes(Encoding.PEM).decode()
    >>> source = ClientCertificates(header="X-Client-Cert", trusted_proxies=["10.0.0.0/8"])
    >>> source.from_parts(peer="10.1.2.3", headers=[("X-Client-Cert", pem)]) == der
    True
    >>> source.from_parts(peer="203.0.113.9", headers=[("X-Client-Cert", pem)]) is None
    True
    >>> certificate_thumbprint(source.from_parts(peer=None, tls_cert=pem)) == (
    ...     certificate_thumbprint(der))
    True
    >>> ClientCertificates(header="X-Client-Cert")
    Traceback (most recent call last):
    p1guard.errors.ConfigError: trusted_proxies: a header=... is only safe from known proxies; ...
    """

    def __init__(
        self,
        *,
        header: str | None = None,
        trusted_proxies: Iterable[str] | str = (),
        tls: bool = True,
        max_length: int = 16 * 1024,
        warn_every: float = 60.0,
    ) -> None:
        if isinstance(trusted_proxies, str):
            trusted_proxies = [trusted_proxies]
        networks = tuple(_parse_network(entry) for entry in trusted_proxies)
        if header is not None:
            if not isinstance(header, str) or not _TOKEN.fullmatch(header):
                raise ConfigError("header", f"{header!r} is not an HTTP header name")
            if not networks:
                raise ConfigError(
                    "trusted_proxies",
                    "a header=... is only safe from known proxies; list the addresses of the "
                    "TLS-terminating proxies that set it (and strip it from client requests)",
                )
        elif networks:
            raise ConfigError("trusted_proxies", "only used with header=...; name the header")
        if not tls and header is None:
            raise ConfigError("tls", "with tls=False and no header there is nothing to read")
        if max_length < 1:
            raise ConfigError("max_length", "must be a positive number of characters")
        self.header = header.lower() if header is not None else None
        self.trusted_proxies: tuple[_Network, ...] = networks
        self.tls = tls
        self.max_length = max_length
        self.warn_every = warn_every
        self._format: _Format = _format_of(self.header or "")
        self._environ_key = (
            "HTTP_" + self.header.upper().replace("-", "_") if self.header is not None else ""
        )
        self._lock = threading.Lock()
        self._next_warning = float("-inf")
        self._suppressed = 0

    def __repr__(self) -> str:
        proxies = [str(net) for net in self.trusted_proxies]
        return (
            f"ClientCertificates(header={self.header!r}, trusted_proxies={proxies!r}, "
            f"tls={self.tls!r})"
        )

    def is_trusted(self, peer: str | None) -> bool:
        """Whether ``peer`` (the direct peer's IP address) is one of the trusted proxies.

        >>> ClientCertificates(header="Client-Cert", trusted_proxies=["::1", "10.0.0.0/8"]
        ...     ).is_trusted("::ffff:10.9.8.7")
        True
        """
        addr = _peer_address(peer)
        return addr is not None and any(addr in net for net in self.trusted_proxies)

    def from_parts(
        self,
        *,
        peer: str | None,
        headers: _Headers = (),
        tls_cert: str | bytes | None = None,
    ) -> bytes | None:
        """The core shared by every adapter: DER of the request's client certificate, or ``None``.

        ``peer`` is the direct peer's IP address (``None`` when unknown); ``headers`` every
        request header as ``(name, value)`` pairs (or a mapping); ``tls_cert`` the certificate
        the server's TLS layer *verified* on this connection, as PEM text or DER bytes.

        >>> source = ClientCertificates(header="Client-Cert", trusted_proxies=["127.0.0.1"])
        >>> source.from_parts(peer="127.0.0.1", headers=[("client-cert", ":bm90IGEgY2VydA==:")])
        """
        if self.header is not None and self.is_trusted(peer):
            return self._from_header(headers, peer)
        if self.header is not None:
            self._check_untrusted(headers, peer)
        if not self.tls or tls_cert is None:
            return None
        if isinstance(tls_cert, bytes):
            return _load_der(tls_cert)
        return self._parse("TLS", tls_cert, _from_pem)

    def from_asgi(self, scope: Mapping[str, Any]) -> bytes | None:
        """DER of the client certificate of an ASGI ``http`` or ``websocket`` scope, or ``None``.

        >>> source = ClientCertificates()
        >>> source.from_asgi({"type": "http", "extensions": {"tls": {
        ...     "client_cert_chain": ["not PEM"], "client_cert_error": None}}}) is None
        True
        """
        client = scope.get("client")
        peer = client[0] if isinstance(client, (tuple, list)) and client else None
        headers: list[tuple[str, str]] = []
        if self.header is not None:
            for name, value in scope.get("headers") or ():
                if isinstance(name, bytes) and isinstance(value, bytes):
                    headers.append((name.decode("latin-1"), value.decode("latin-1")))
        return self.from_parts(
            peer=peer if isinstance(peer, str) else None,
            headers=headers,
            tls_cert=_asgi_tls_cert(scope) if self.tls else None,
        )

    def from_wsgi(self, environ: Mapping[str, Any]) -> bytes | None:
        """DER of the client certificate of a WSGI ``environ`` (also Django's ``request.META``).

        >>> source = ClientCertificates()
        >>> source.from_wsgi({"REMOTE_ADDR": "192.0.2.1", "SSL_CLIENT_VERIFY": "NONE"}) is None
        True
        """
        peer = environ.get("REMOTE_ADDR")
        original = environ.get("werkzeug.proxy_fix.orig")
        if isinstance(original, Mapping):
            peer = original.get("REMOTE_ADDR")  # the TCP peer, before ProxyFix applied X-F-F
        headers: list[tuple[str, str]] = []
        value = environ.get(self._environ_key) if self.header is not None else None
        if isinstance(value, str) and self.header is not None:
            headers.append((self.header, value))
        tls_cert = None
        if self.tls:
            pem = environ.get("SSL_CLIENT_CERT")
            verify = environ.get("SSL_CLIENT_VERIFY", "SUCCESS")
            # mod_ssl: NONE, SUCCESS, GENEROUS (optional_no_ca) or FAILED:reason.
            if isinstance(pem, str) and pem and verify == "SUCCESS":
                tls_cert = pem
        return self.from_parts(
            peer=peer if isinstance(peer, str) else None, headers=headers, tls_cert=tls_cert
        )

    # -- helpers -------------------------------------------------------------------------

    def _values(self, headers: _Headers) -> list[str]:
        items = headers.items() if isinstance(headers, Mapping) else headers
        return [value for name, value in items if name.lower() == self.header]

    def _from_header(self, headers: _Headers, peer: str | None) -> bytes | None:
        values = self._values(headers)
        if not values or (len(values) == 1 and not values[0].strip()):
            return None  # no certificate (nginx sends an empty value then, or no header)
        if len(values) > 1:
            log.debug(
                "ignored %d %s headers from %r: send exactly one", len(values), self.header, peer
            )
            return None
        return self._parse(self.header or "", values[0], _PARSERS[self._format])

    def _parse(self, source: str, value: str, parser: _Parser) -> bytes | None:
        if len(value) > self.max_length:
            log.debug(
                "ignored the %s client certificate: over %d characters", source, self.max_length
            )
            return None
        try:
            der: bytes | None = parser(value)
        except (ValueError, UnicodeError):
            der = None
        if der is None:
            log.debug("ignored the %s client certificate: not one well-formed certificate", source)
        return der

    def _check_untrusted(self, headers: _Headers, peer: str | None) -> None:
        if not any(value.strip() for value in self._values(headers)):
            return
        now = time.monotonic()
        with self._lock:
            if now < self._next_warning:
                self._suppressed += 1
                return
            suppressed, self._suppressed = self._suppressed, 0
            self._next_warning = now + self.warn_every
        log.warning(
            "ignored the %s header from %r, which is not in trusted_proxies (a client may be "
            "forging it; the proxy must strip it)%s",
            self.header,
            peer,
            f"; {suppressed} more since the last warning" if suppressed else "",
        )


def _asgi_tls_cert(scope: Mapping[str, Any]) -> str | None:
    """The first PEM of the ASGI TLS extension's ``client_cert_chain``, if it was verified."""
    extensions = scope.get("extensions")
    tls = extensions.get("tls") if isinstance(extensions, Mapping) else None
    if not isinstance(tls, Mapping) or tls.get("client_cert_error") is not None:
        return None  # not TLS, or the server let an unverified certificate through
    chain = tls.get("client_cert_chain")
    if chain is None or isinstance(chain, (str, bytes)):
        return None
    try:
        first = next(iter(chain), None)
    except TypeError:
        return None
    return first if isinstance(first, str) else None
