"""Serving certificates for the virtual node's HTTPS endpoints (kubelet API, webhook).

``provider.cli`` calls :func:`ensure_tls_files` at start-up: operators may pass their own
certificate and key; otherwise a self-signed pair is generated, which is enough because the
upper kube-apiserver does not verify kubelet serving certificates unless it is started with
``--kubelet-certificate-authority``. :func:`check_pair` and :func:`check_ca` let both commands
refuse files they could not serve with before anything starts (which file, and why).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from descheduler.errors import InputError

# Generated certificates start a little in the past so that a peer whose clock runs behind
# ours does not reject them as "not yet valid".
CLOCK_SKEW = datetime.timedelta(minutes=5)


def self_signed(
    common_name: str, *, ip_addresses: list[str], dns_names: list[str], days: int = 365
) -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-256 serving certificate: returns (PEM certificate, PEM private key).

    ``ip_addresses`` and ``dns_names`` become the subjectAltName entries; an entry of
    ``ip_addresses`` that is not an IP address raises ValueError.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    alt_names += [x509.DNSName(dns) for dns in dns_names]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_server_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # Key identifiers: strict verifiers (Python >= 3.13 defaults) want them even on a self-signed leaf.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _server_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def ensure_tls_files(
    cert_file: str | Path | None, key_file: str | Path | None, *, node_name: str, ip: str
) -> tuple[Path, Path]:
    """The (certificate, key) files to serve with: the given ones, or a generated self-signed pair.

    Both or neither file must be given (InputError otherwise, as for a missing file). A
    generated pair is written into a fresh private directory (0700) with the key 0600; it
    names ``node_name`` and ``ip`` (an IP address, or a host name) as subjectAltNames. The
    directory is left for the caller to remove: the key must outlive this call.
    """
    if cert_file is not None and key_file is not None:
        for path in (cert_file, key_file):
            if not Path(path).is_file():
                raise InputError(f"TLS file {path}: file not found")
        return Path(cert_file), Path(key_file)
    if cert_file is not None or key_file is not None:
        raise InputError("TLS: give both a certificate file and a key file, or neither to generate them")
    ips, names = _split_host(ip)
    cert_pem, key_pem = self_signed(node_name, ip_addresses=ips, dns_names=sorted({node_name, *names}))
    directory = Path(tempfile.mkdtemp(prefix="tensile-tls-"))  # mkdtemp creates it 0700
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert_pem)
    _write_private(key_path, key_pem)
    return cert_path, key_path


class TlsFileError(InputError):
    """A certificate, key or CA file cannot be served with; ``role`` says which, for the caller to name its flag."""

    def __init__(self, role: Literal["cert", "key", "ca"], path: str | Path, reason: str) -> None:
        self.role = role
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def check_pair(cert_file: str | Path, key_file: str | Path) -> None:
    """Raise TlsFileError unless the files hold a PEM certificate (chain) and the unencrypted key of its first one."""
    certificate = _load_certificates(cert_file, "cert")[0]
    key_pem = _read(key_file, "key")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TlsFileError("key", key_file, "the key is encrypted; give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsFileError("key", key_file, "no PEM private key in it") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise TlsFileError("key", key_file, f"is not the key of the certificate in {cert_file}")


def check_ca(ca_file: str | Path) -> None:
    """Raise TlsFileError unless the file holds at least one PEM certificate."""
    _load_certificates(ca_file, "ca")


def _load_certificates(path: str | Path, role: Literal["cert", "ca"]) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(path, role))
    except ValueError:
        raise TlsFileError(role, path, "no PEM certificate in it") from None


def _read(path: str | Path, role: Literal["cert", "key", "ca"]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise TlsFileError(role, path, "file not found") from None
    except IsADirectoryError:
        raise TlsFileError(role, path, "is a directory, not a file") from None
    except OSError as exc:
        raise TlsFileError(role, path, f"cannot be read: {(exc.strerror or 'error').lower()}") from None


def _split_host(host: str) -> tuple[list[str], list[str]]:
    if not host:
        return [], []
    try:
        return [str(ipaddress.ip_address(host))], []
    except ValueError:
        return [], [host]


def _write_private(path: Path, data: bytes) -> None:
    # Created with 0600 from the start, so the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
