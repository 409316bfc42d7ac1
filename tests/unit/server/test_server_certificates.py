"""The certificates laneway issues for the agents' TLS door: one lasting CA, a server
certificate signed by it for the names asked, keys kept owner-only."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509

from laneway.server.certificates import ca_cert_hash, issue


def _names(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in alt}


def test_the_server_certificate_is_the_cas_and_carries_the_names(tmp_path: Path) -> None:
    tls = issue(tmp_path, ["10.0.0.5", "laneway.example.com", "127.0.0.1"])
    ca = x509.load_pem_x509_certificate(tls.ca_path.read_bytes())
    server = x509.load_pem_x509_certificate(tls.cert_path.read_bytes())
    server.verify_directly_issued_by(ca)
    assert _names(tls.cert_path) == {"10.0.0.5", "laneway.example.com", "127.0.0.1"}
    alt = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.0.0.5") in alt.get_values_for_type(x509.IPAddress)
    assert tls.ca_hash == ca_cert_hash(tls.ca_path.read_bytes()) and tls.ca_hash.startswith("sha256:") and len(tls.ca_hash) == 71
    for key in (tls.key_path, tmp_path / "ca.key"):
        assert key.stat().st_mode & 0o077 == 0, f"{key.name} is readable by others"


def test_the_ca_lasts_and_the_server_certificate_follows_the_names(tmp_path: Path) -> None:
    first = issue(tmp_path, ["127.0.0.1"])
    before = first.cert_path.read_bytes()
    again = issue(tmp_path, ["127.0.0.1"])
    assert again.ca_hash == first.ca_hash and again.cert_path.read_bytes() == before, "nothing to renew"
    renamed = issue(tmp_path, ["127.0.0.1", "rack.internal"])
    assert renamed.ca_hash == first.ca_hash, "fingerprints handed out stay valid"
    assert _names(renamed.cert_path) == {"127.0.0.1", "rack.internal"}


def test_a_server_certificate_near_its_end_is_issued_again(tmp_path: Path) -> None:
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=350)
    old = issue(tmp_path, ["127.0.0.1"], now=long_ago)
    stale = old.cert_path.read_bytes()
    fresh = issue(tmp_path, ["127.0.0.1"])
    assert fresh.cert_path.read_bytes() != stale and fresh.ca_hash == old.ca_hash
