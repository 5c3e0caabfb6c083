"""Certificates and TLS server contexts for the virtual node's HTTPS endpoints (kubelet API, webhook).

The only place that builds either. :func:`self_signed` makes a serving pair; :func:`ensure_tls_files`
gives the provider files to serve with (the operator's, or a generated pair: enough because the upper
kube-apiserver does not verify kubelet serving certificates unless it is started with
``--kubelet-certificate-authority``); :func:`check_pair` and :func:`check_ca` let both commands refuse
files they could not serve with before anything starts (which file, and why); :func:`server_context`
is the one server-side ``SSLContext`` both servers use, from files or from an in-memory pair.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal, NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import types as key_types
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from descheduler.errors import InputError

# Generated certificates start a little in the past so that a peer whose clock runs behind
# ours does not reject them as "not yet valid".
CLOCK_SKEW = datetime.timedelta(minutes=5)
# The oldest protocol either server accepts (the kube-apiserver speaks 1.2 and 1.3).
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2

StrPath = str | Path

CertPair = tuple[bytes, bytes]
"""(certificate PEM, private key PEM), held in memory."""


class CertFiles(NamedTuple):
    """A certificate (chain) file and the file of its key, as given or as :func:`ensure_tls_files` wrote them."""

    cert: Path
    key: Path


def self_signed(common_name: str, *, ip_addresses: list[str], dns_names: list[str], days: int = 365) -> CertPair:
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


def ensure_tls_files(cert_file: StrPath | None, key_file: StrPath | None, *, node_name: str, ip: str) -> CertFiles:
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
        return CertFiles(Path(cert_file), Path(key_file))
    if cert_file is not None or key_file is not None:
        raise InputError("TLS: give both a certificate file and a key file, or neither to generate them")
    ips, names = split_names([ip] if ip else [])
    cert_pem, key_pem = self_signed(node_name, ip_addresses=ips, dns_names=sorted({node_name, *names}))
    directory = Path(tempfile.mkdtemp(prefix="tensile-tls-"))  # mkdtemp creates it 0700
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert_pem)
    _write_private(key_path, key_pem)
    return CertFiles(cert_path, key_path)


def split_names(hosts: Iterable[str]) -> tuple[list[str], list[str]]:
    """(IP addresses, DNS names) of ``hosts``, for subjectAltNames: what parses as an IP address is one
    (written canonically), the rest are names."""
    ips: list[str] = []
    names: list[str] = []
    for host in hosts:
        try:
            ips.append(str(ipaddress.ip_address(host)))
        except ValueError:
            names.append(host)
    return ips, names


class TlsFileError(InputError):
    """A certificate, key or CA file cannot be served with; ``role`` says which, for the caller to name its flag."""

    def __init__(self, role: Literal["cert", "key", "ca"], path: StrPath, reason: str) -> None:
        self.role = role
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def check_pair(cert_file: StrPath, key_file: StrPath) -> None:
    """Raise TlsFileError unless the files hold a PEM certificate (chain) and the unencrypted key of its first one."""
    certificate = _load_certificates(cert_file, "cert")[0]
    key_pem = _read(key_file, "key")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TlsFileError("key", key_file, "the key is encrypted; give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsFileError("key", key_file, "no PEM private key in it") from None
    if not same_key(certificate, key):
        raise TlsFileError("key", key_file, f"is not the key of the certificate in {cert_file}")


def same_key(certificate: x509.Certificate, key: key_types.PrivateKeyTypes) -> bool:
    """Whether ``key`` is the private key of ``certificate`` (their public keys are equal)."""
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(key.public_key().public_bytes(*spki) == certificate.public_key().public_bytes(*spki))


def check_ca(ca_file: StrPath) -> None:
    """Raise TlsFileError unless the file holds at least one PEM certificate."""
    _load_certificates(ca_file, "ca")


def check_files(*, cert: str | None, key: str | None, ca: str | None = None, flags: Mapping[str, str]) -> None:
    """Check the TLS files a command was given; InputError naming the flag (``flags`` maps
    "cert", "key" and "ca" to the command's flag names)."""
    if (cert is None) != (key is None):
        raise InputError(f"{flags['cert']} and {flags['key']} go together")
    try:
        if cert is not None and key is not None:
            check_pair(cert, key)
        if ca is not None:
            check_ca(ca)
    except TlsFileError as exc:
        raise InputError(f"{flags[exc.role]} {exc}") from None


def _load_certificates(path: StrPath, role: Literal["cert", "ca"]) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(path, role))
    except ValueError:
        raise TlsFileError(role, path, "no PEM certificate in it") from None


def _read(path: StrPath, role: Literal["cert", "key", "ca"]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise TlsFileError(role, path, "file not found") from None
    except IsADirectoryError:
        raise TlsFileError(role, path, "is a directory, not a file") from None
    except OSError as exc:
        raise TlsFileError(role, path, f"cannot be read: {(exc.strerror or 'error').lower()}") from None


def _write_private(path: Path, data: bytes) -> None:
    # Created with 0600 from the start, so the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def server_context(
    certificate: CertPair | CertFiles,
    *,
    client_ca: StrPath | None = None,
    client_certificate_optional: bool = False,
    what: str,
) -> ssl.SSLContext:
    """The server-side context both HTTPS servers use: TLS 1.2 or later, serving ``certificate``.

    ``certificate`` is a pair of files or an in-memory :data:`CertPair`. With ``client_ca``, only
    clients presenting a certificate that CA signed complete the handshake; with
    ``client_certificate_optional`` too, clients presenting none do as well (the kubelet API's
    ``--authorize`` checks them by token), while a certificate the CA did not sign still fails.
    Anything that cannot be loaded raises InputError naming ``what`` (the server) and, for files,
    the files.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    try:
        if isinstance(certificate, CertFiles):
            context.load_cert_chain(certificate.cert, certificate.key)
        else:
            _load_pair(context, certificate)
        if client_ca is not None:
            context.load_verify_locations(cafile=client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL if client_certificate_optional else ssl.CERT_REQUIRED
    except (ssl.SSLError, OSError) as exc:
        if isinstance(certificate, CertFiles):
            files = ", ".join(str(f) for f in (*certificate, client_ca) if f is not None)
            raise InputError(f"{what} TLS files {files}: cannot be loaded: {exc}") from exc
        raise InputError(f"{what} serving certificate: cannot be loaded: {exc}") from exc
    return context


def _load_pair(context: ssl.SSLContext, pair: CertPair) -> None:
    # ssl loads only from files: they live in a private directory for the duration of the call,
    # so the key does not stay on disk.
    directory = Path(tempfile.mkdtemp(prefix="tensile-tls-pair-"))  # mkdtemp creates it 0700
    try:
        cert_path, key_path = directory / "tls.crt", directory / "tls.key"
        cert_path.write_bytes(pair[0])
        _write_private(key_path, pair[1])
        context.load_cert_chain(cert_path, key_path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
