"""Client certificates for tests of certificate-bound tokens (RFC 8705), without a CA.

>>> cert = client_certificate("orders-service")
>>> cert.thumbprint == certificate_thumbprint(cert.der)
True
>>> cert.escaped_pem.startswith("-----BEGIN%20CERTIFICATE-----")
True

Mint a token bound to it with ``op.issue_token(x5t_s256=cert.thumbprint)`` and send the
certificate the way your proxy does (``X-Client-Cert: {cert.escaped_pem}`` for nginx's
``$ssl_client_escaped_cert``), or put ``cert.der`` in a
:class:`~p1guard.Presentation`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from p1guard._sender.binding import certificate_thumbprint

__all__ = ["ClientCertificate", "client_certificate"]


@dataclass(frozen=True)
class ClientCertificate:
    """A self-signed client certificate: DER, PEM and its ``x5t#S256`` thumbprint."""

    common_name: str
    der: bytes = field(repr=False)
    pem: str = field(repr=False)

    @property
    def thumbprint(self) -> str:
        """``cnf["x5t#S256"]`` of tokens bound to this certificate."""
        return certificate_thumbprint(self.der)

    @property
    def escaped_pem(self) -> str:
        """The PEM URL-encoded, as nginx forwards it (``$ssl_client_escaped_cert``)."""
        return quote(self.pem, safe="")


def client_certificate(common_name: str = "client", *, days: int = 1) -> ClientCertificate:
    """A fresh self-signed P-256 certificate for ``common_name``, valid for ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return ClientCertificate(
        common_name, cert.public_bytes(Encoding.DER), cert.public_bytes(Encoding.PEM).decode()
    )
