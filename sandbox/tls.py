"""The cluster's certificate authority and the serving certificate of its HTTPS endpoint.

GKE hands out a cluster's endpoint with the CA that signed it (masterAuth.clusterCaCertificate);
clients trust that CA alone. The sandbox does the same: a CA kept in `cluster-ca.pem` beside
the kubeconfig (so a restart keeps what clients cached), and a serving certificate made at each
start for the loopback names and the advertised host.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_or_create_ca(path: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    try:
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
        cert = x509.load_pem_x509_certificate(data)
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc > \
                dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
            return key, cert
    except (OSError, ValueError):
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("sandbox-cluster-ca"))
            .issuer_name(_name("sandbox-cluster-ca")).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def ca_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def server_context(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
                   hosts: list[str]) -> ssl.SSLContext:
    """An SSLContext serving a fresh certificate for `hosts` (names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for host in dict.fromkeys(["127.0.0.1", "::1", "localhost", *hosts]):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("sandbox-apiserver"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # load_cert_chain reads files only: write both to a private temporary file and drop it.
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as fh:
        fh.write(_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
        fh.flush()
        ctx.load_cert_chain(fh.name)
    return ctx
