"""Serving certificates and contexts: self-signed pairs that TLS clients accept, the files the provider
serves with, and the one server context both HTTPS endpoints use."""

from __future__ import annotations

import datetime
import http.server
import shutil
import socket
import ssl
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from descheduler.errors import InputError
from provider.serving import tls


def _alt_names(cert_pem: bytes) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(ip) for ip in san.get_values_for_type(x509.IPAddress)], san.get_values_for_type(x509.DNSName)


def test_self_signed_names_the_subject_and_alt_names() -> None:
    cert_pem, _key = tls.self_signed("vnode", ip_addresses=["10.1.2.3", "::1"], dns_names=["vnode.example"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "vnode"
    assert cert.issuer == cert.subject
    assert _alt_names(cert_pem) == (["10.1.2.3", "::1"], ["vnode.example"])
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_self_signed_key_matches_the_certificate() -> None:
    cert_pem, key_pem = tls.self_signed("vnode", ip_addresses=[], dns_names=["vnode"])
    key = serialization.load_pem_private_key(key_pem, password=None)
    cert = x509.load_pem_x509_certificate(cert_pem)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.PEM
    assert cert.public_key().public_bytes(encoding, public) == key.public_key().public_bytes(encoding, public)


def test_self_signed_validity_spans_the_requested_days() -> None:
    cert_pem, _key = tls.self_signed("vnode", ip_addresses=[], dns_names=[], days=10)
    cert = x509.load_pem_x509_certificate(cert_pem)
    span = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert span == tls.CLOCK_SKEW + datetime.timedelta(days=10)


def test_self_signed_rejects_a_host_name_given_as_ip() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        tls.self_signed("vnode", ip_addresses=["vnode.example"], dns_names=[])


def test_a_tls_client_trusting_the_certificate_completes_a_verified_handshake(tmp_path: Path) -> None:
    cert_pem, key_pem = tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=["vnode"])
    (tmp_path / "tls.crt").write_bytes(cert_pem)
    (tmp_path / "tls.key").write_bytes(key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.handle_request, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))  # verifies chain and IP
    with (
        socket.create_connection(("127.0.0.1", httpd.server_address[1]), timeout=5) as raw,
        client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as secured,
    ):
        assert secured.getpeercert() is not None
        secured.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert secured.recv(12).startswith(b"HTTP/1.0 501")
    thread.join(5)
    httpd.server_close()


Generate = Callable[[str], tuple[Path, Path]]


@pytest.fixture
def generate() -> Iterator[Generate]:
    """ensure_tls_files without given files; the generated directories are removed afterwards."""
    made: list[Path] = []

    def run(ip: str) -> tuple[Path, Path]:
        cert_file, key_file = tls.ensure_tls_files(None, None, node_name="vnode", ip=ip)
        made.append(cert_file.parent)
        return cert_file, key_file

    yield run
    for directory in made:
        shutil.rmtree(directory)


def test_ensure_tls_files_generates_a_private_pair_naming_node_and_ip(generate: Generate) -> None:
    cert_file, key_file = generate("192.0.2.7")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert _alt_names(cert_file.read_bytes()) == (["192.0.2.7"], ["vnode"])


def test_ensure_tls_files_puts_a_host_name_into_the_dns_names(generate: Generate) -> None:
    cert_file, _key_file = generate("vnode.internal")
    ips, names = _alt_names(cert_file.read_bytes())
    assert ips == []
    assert names == ["vnode", "vnode.internal"]


def test_ensure_tls_files_returns_given_files_untouched(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("cert")
    (tmp_path / "k.pem").write_text("key")
    assert tls.ensure_tls_files(tmp_path / "c.pem", str(tmp_path / "k.pem"), node_name="n", ip="1.2.3.4") == (
        tmp_path / "c.pem",
        tmp_path / "k.pem",
    )
    assert (tmp_path / "c.pem").read_text() == "cert"


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        pytest.param("c.pem", None, "give both", id="certificate without key -> input error"),
        pytest.param(None, "k.pem", "give both", id="key without certificate -> input error"),
        pytest.param("c.pem", "missing.pem", "missing.pem: file not found", id="missing key file -> input error"),
    ],
)
def test_ensure_tls_files_rejects_incomplete_input(
    tmp_path: Path, cert: str | None, key: str | None, message: str
) -> None:
    (tmp_path / "c.pem").write_text("cert")
    (tmp_path / "k.pem").write_text("key")
    with pytest.raises(InputError, match=message):
        tls.ensure_tls_files(
            tmp_path / cert if cert else None, tmp_path / key if key else None, node_name="n", ip="1.2.3.4"
        )


def test_ensure_tls_files_accepts_an_ipv6_address(generate: Generate) -> None:
    cert_file, _key_file = generate("::1")
    assert _alt_names(cert_file.read_bytes()) == (["::1"], ["vnode"])


def test_a_matching_pair_and_a_ca_pass_the_checks(tmp_path: Path) -> None:
    cert_pem, key_pem = tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=[])
    (tmp_path / "tls.crt").write_bytes(cert_pem)
    (tmp_path / "tls.key").write_bytes(key_pem)
    tls.check_pair(tmp_path / "tls.crt", tmp_path / "tls.key")
    tls.check_ca(tmp_path / "tls.crt")


@pytest.mark.parametrize(
    ("problem", "role", "reason"),
    [
        ("encrypted key", "key", "the key is encrypted; give it unencrypted"),
        ("key is a directory", "key", "is a directory, not a file"),
        ("certificate missing", "cert", "file not found"),
        ("certificate is a key", "cert", "no PEM certificate in it"),
    ],
    ids=["encrypted key", "key is a directory", "certificate missing", "certificate is a key"],
)
def test_files_that_cannot_be_served_with_say_which_and_why(
    tmp_path: Path, problem: str, role: str, reason: str
) -> None:
    cert_pem, key_pem = tls.self_signed("vnode", ip_addresses=[], dns_names=["vnode"])
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    if problem == "encrypted key":
        loaded = serialization.load_pem_private_key(key_pem, password=None)
        key.write_bytes(
            loaded.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
    elif problem == "key is a directory":
        key.unlink()
        key.mkdir()
    elif problem == "certificate missing":
        cert.unlink()
    else:
        cert.write_bytes(key_pem)
    with pytest.raises(tls.TlsFileError) as caught:
        tls.check_pair(cert, key)
    assert (caught.value.role, caught.value.reason) == (role, reason)
    assert str(caught.value) == f"{cert if role == 'cert' else key}: {reason}"


# -- the server context both endpoints use ---------------------------------------------------


def _pair_files(directory: Path, pair: tls.CertPair) -> tls.CertFiles:
    files = tls.CertFiles(directory / "tls.crt", directory / "tls.key")
    files.cert.write_bytes(pair[0])
    files.key.write_bytes(pair[1])
    return files


def test_contexts_from_files_and_from_a_pair_refuse_tls_before_1_2(tmp_path: Path) -> None:
    pair = tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=[])
    for context in (tls.server_context(pair, what="w"), tls.server_context(_pair_files(tmp_path, pair), what="k")):
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2
        assert context.verify_mode == ssl.CERT_NONE


def test_a_client_ca_makes_client_certificates_required(tmp_path: Path) -> None:
    pair = tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=[])
    files = _pair_files(tmp_path, pair)
    context = tls.server_context(files, client_ca=files.cert, what="kubelet API")
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_a_pair_does_not_stay_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tls.server_context(tls.self_signed("hook", ip_addresses=[], dns_names=["hook"]), what="webhook")
    assert list(tmp_path.iterdir()) == []


def test_an_unusable_pair_is_an_input_error() -> None:
    cert, _key = tls.self_signed("hook", ip_addresses=[], dns_names=["hook"])
    _other, other_key = tls.self_signed("hook", ip_addresses=[], dns_names=["hook"])
    with pytest.raises(InputError, match="webhook serving certificate: cannot be loaded"):
        tls.server_context((cert, other_key), what="webhook")
    with pytest.raises(InputError):
        tls.server_context((b"junk", b"junk"), what="webhook")


def test_unloadable_files_are_an_input_error_naming_them(tmp_path: Path) -> None:
    (tmp_path / "bad.crt").write_text("not a certificate")
    files = tls.CertFiles(tmp_path / "bad.crt", tmp_path / "bad.crt")
    with pytest.raises(InputError, match=f"kubelet API TLS files {files.cert}, {files.cert}: cannot be loaded"):
        tls.server_context(files, what="kubelet API")
