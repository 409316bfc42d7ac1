"""The certificates laneway issues for the agents' door: its own CA, and a server certificate
signed by it, kept in the data directory.

An agent meets the control plane over TLS on `laneway up --agent-port`. It cannot know the CA
beforehand, so it is told its fingerprint with its join token (`--ca-cert-hash sha256:...`,
the SHA-256 of the CA's public key, as kubeadm pins a control plane): it fetches the CA from
the server, checks the fingerprint, keeps the CA and from then on verifies the server with
it. The agent authenticates itself with its credential; the server with its certificate.

The CA (ECDSA P-256, ten years) is made once and never changes, so fingerprints handed out
stay valid; the server certificate (one year) is issued again when the names it must carry
change or it nears its end. Private keys are written owner-only.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10
SERVER_DAYS = 365
RENEW_WITHIN = datetime.timedelta(days=30)


@dataclass(frozen=True)
class AgentTls:
    """Where the issued files are, and the CA's fingerprint to hand to agents."""

    ca_path: Path
    cert_path: Path
    key_path: Path
    ca_hash: str

    @property
    def ca_pem(self) -> str:
        return self.ca_path.read_text()


def ca_cert_hash(pem: bytes | str) -> str:
    """`sha256:<hex>` of a certificate's public key (SubjectPublicKeyInfo, DER)."""
    cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def pinned_ca(pem: str, pin: str) -> str:
    """The CA an agent may trust from `pem` as offered by a server: exactly one certificate whose
    public key has the fingerprint `pin`, returned re-encoded (only it, nothing that came beside
    it). The real CA is public, so a bundle of it with a CA of an impostor's would pass a check of
    its first certificate while the TLS context then trusted the impostor's too.

    Raises ValueError saying what was wrong with the offer."""
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValueError("offered no certificate") from None
    if len(certs) != 1:
        raise ValueError(f"offered {len(certs)} certificates where its CA is one certificate")
    offered = ca_cert_hash(certs[0].public_bytes(serialization.Encoding.PEM))
    if offered != pin:
        raise ValueError(f"offered the CA {offered}, not the --ca-cert-hash {pin} given")
    return certs[0].public_bytes(serialization.Encoding.PEM).decode()


def _write(path: Path, data: bytes, *, private: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _load_ca(directory: Path, now: datetime.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey), f"{key_path} is not laneway's ECDSA CA key"
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "laneway agents CA")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, key


def _alt_names(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in dict.fromkeys(names):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def _current(path: Path, names: list[str], ca: x509.Certificate, now: datetime.datetime) -> bool:
    """Whether the server certificate at `path` is the CA's, carries `names` and is not near its end."""
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.issuer != ca.subject or cert.not_valid_after_utc - now < RENEW_WITHIN:
        return False
    try:
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return set(have) == set(_alt_names(names))


def issue(directory: Path, names: list[str], *, now: datetime.datetime | None = None) -> AgentTls:
    """The CA and a server certificate for `names` (IP addresses or DNS names) under `directory`,
    made or renewed as needed."""
    when = now or datetime.datetime.now(datetime.UTC)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca, ca_key = _load_ca(directory, when)
    cert_path, key_path = directory / "agents-server.pem", directory / "agents-server.key"
    if not _current(cert_path, names, ca, when):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "laneway")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(when - datetime.timedelta(minutes=5)).not_valid_after(when + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write(key_path, _key_pem(key), private=True)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    ca_path = directory / "ca.pem"
    return AgentTls(ca_path=ca_path, cert_path=cert_path, key_path=key_path, ca_hash=ca_cert_hash(ca_path.read_bytes()))
