"""Fakes and helpers shared by the kubelet API tests: a LogSource in plain Python, an HTTPS client and
client certificates."""

from __future__ import annotations

import datetime
import http.client
import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from descheduler.kube import errors
from provider.kubelet import server
from provider.kubelet.access import User

END = b"<end>"


class FakeStream:
    """Yields the given chunks, then (when ``live``) whatever the test feeds until ended or closed."""

    def __init__(self, chunks: list[bytes], *, live: bool, fail_after: errors.ApiError | None) -> None:
        self.fed: queue.Queue[bytes] = queue.Queue()
        for chunk in chunks:
            self.fed.put(chunk)
        if not live:
            self.fed.put(END)
        self.fail_after = fail_after
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.fed.get()
            if chunk is END or self.closed.is_set():
                break
            yield chunk
        if self.fail_after is not None and not self.closed.is_set():
            raise self.fail_after

    def close(self) -> None:
        self.closed.set()
        self.fed.put(END)  # wakes a blocked reader, like shutting a socket down


@dataclass
class FakeLogs:
    """A LogSource that records each call and answers with ``chunks``, or raises ``error``."""

    chunks: list[bytes] = field(default_factory=lambda: [b"line 1\n", b"line 2\n"])
    error: errors.ApiError | None = None
    live: bool = False
    fail_after: errors.ApiError | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    streams: queue.Queue[FakeStream] = field(default_factory=queue.Queue)

    def stream(self, namespace: str, pod: str, **options: Any) -> FakeStream:
        self.calls.append({"namespace": namespace, "pod": pod, **options})
        if self.error is not None:
            raise self.error
        stream = FakeStream(list(self.chunks), live=self.live, fail_after=self.fail_after)
        self.streams.put(stream)
        return stream


@dataclass(frozen=True)
class Tls:
    """The server's certificate and key files; clients trust the certificate."""

    cert: Path
    key: Path


def connect(
    srv: server.KubeletServer, tls: Tls, client_cert: tuple[Path, Path] | None = None
) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(tls.cert))
    if client_cert is not None:
        context.load_cert_chain(*client_cert)
    return http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=10)


def get(srv: server.KubeletServer, tls: Tls, path: str) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = connect(srv, tls)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, response


Issued = tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path, Path]
"""(certificate, key, certificate file, key file)."""


def issue(directory: Path, name: str, *, ca: Issued | None, groups: tuple[str, ...] = ()) -> Issued:
    """A CA (``ca`` None) or a client certificate for CN ``name``, O ``groups``, signed by ``ca``; written to
    ``directory``/``name``.crt and .key."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    subject = x509.Name([*names, x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0].subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(ca[1] if ca else key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key, cert_path, key_path


@dataclass
class FakeReviews:
    """The upper cluster's answers: ``tokens`` maps a token to its user; ``allowed`` holds (user, verb, sub)."""

    tokens: dict[str, User] = field(default_factory=dict)
    allowed: set[tuple[str, str, str]] = field(default_factory=set)
    error: errors.ApiError | None = None
    token_calls: list[str] = field(default_factory=list)
    access_calls: list[tuple[User, str, str, str]] = field(default_factory=list)

    def review_token(self, token: str) -> User | None:
        self.token_calls.append(token)
        if self.error is not None:
            raise self.error
        return self.tokens.get(token)

    def review_access(self, user: User, verb: str, subresource: str, node_name: str) -> bool:
        self.access_calls.append((user, verb, subresource, node_name))
        if self.error is not None:
            raise self.error
        return (user.name, verb, subresource) in self.allowed
