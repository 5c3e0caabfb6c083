"""Where a server's certificate comes from: the admission webhook's and the scheduler extender's.

Three sources (:func:`choose` picks one from the flags): mounted files (cert-manager style), a
kubernetes.io/tls Secret shared by all replicas (created, or renewed before it expires, with
optimistic concurrency), or a per-process self-signed pair. Each caller makes its client trust what
is served (the webhook keeps a caBundle in step; the scheduler's tlsConfig names the Secret's
certificate).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from descheduler.errors import InputError, TensileError
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.serving import tls

logger = logging.getLogger(__name__)

Raw = dict[str, Any]

# A certificate is replaced this long before it expires, so no replica ever serves an expired one.
RENEW_BEFORE = datetime.timedelta(days=30)
CERT_VALIDITY_DAYS = 365
# Optimistic-concurrency attempts (409) for the Secret.
CONFLICT_ATTEMPTS = 5

# -- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectNames:
    """Who the serving certificate must name: the Service's DNS names plus --tls-san values."""

    common_name: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


def subject_names(service: str, namespace: str, extra: Sequence[str] = ()) -> SubjectNames:
    """``<service>.<namespace>.svc`` (what the apiserver dials) and its cluster.local form, plus ``extra``.

    Entries of ``extra`` that parse as IP addresses become IP subjectAltNames, the rest DNS names.
    """
    ips, names = tls.split_names(extra)
    dns = [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local", *names]
    return SubjectNames(dns[0], tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ips)))


def generate(names: SubjectNames) -> tls.CertPair:
    return tls.self_signed(
        names.common_name,
        ip_addresses=list(names.ip_addresses),
        dns_names=list(names.dns_names),
        days=CERT_VALIDITY_DAYS,
    )


def replacement_reason(pair: tls.CertPair, names: SubjectNames, *, now: datetime.datetime) -> str | None:
    """Why ``pair`` must be replaced (unreadable, mismatched, expiring, missing a name), or None to keep it."""
    try:
        cert = x509.load_pem_x509_certificate(pair[0])
        key = serialization.load_pem_private_key(pair[1], password=None)
    except (ValueError, TypeError) as exc:
        return f"unreadable certificate or key ({type(exc).__name__})"
    if not tls.same_key(cert, key):
        return "the key does not match the certificate"
    expires = cert.not_valid_after_utc
    if expires - now < RENEW_BEFORE:
        return f"it expires {expires:%Y-%m-%dT%H:%M:%SZ}, within {RENEW_BEFORE.days} days"
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns, ips = set(sans.get_values_for_type(x509.DNSName)), set(sans.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = set(), set()
    missing = [n for n in names.dns_names if n not in dns]
    missing += [ip for ip in names.ip_addresses if ipaddress.ip_address(ip) not in ips]
    if missing:
        return f"it does not name {', '.join(missing)}"
    return None


def pair_from_secret(secret: Mapping[str, Any]) -> tls.CertPair | None:
    """The tls.crt/tls.key of a Secret, or None when either is missing or not base64."""
    data = secret.get("data") or {}
    try:
        cert, key = base64.b64decode(data["tls.crt"], validate=True), base64.b64decode(data["tls.key"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        return None
    return (cert, key) if cert and key else None


@dataclass(frozen=True)
class SecretPlan:
    """What :func:`plan_secret` decided for the certificate Secret, and why (for the log line)."""

    action: Literal["keep", "create", "replace"]
    reason: str = ""


def plan_secret(secret: Mapping[str, Any] | None, names: SubjectNames, *, now: datetime.datetime) -> SecretPlan:
    """What to do with the shared certificate Secret as found (None: it does not exist)."""
    if secret is None:
        return SecretPlan("create", "it does not exist")
    pair = pair_from_secret(secret)
    if pair is None:
        return SecretPlan("replace", "it holds no tls.crt and tls.key")
    reason = replacement_reason(pair, names, now=now)
    return SecretPlan("keep") if reason is None else SecretPlan("replace", reason)


def secret_body(
    name: str, namespace: str, pair: tls.CertPair, *, app: str, existing: Mapping[str, Any] | None = None
) -> Raw:
    """The Secret to write: ``existing`` (labels, type, resourceVersion kept) with new data, or a new one
    labelled ``app.kubernetes.io/name: <app>``."""
    data = {"tls.crt": base64.b64encode(pair[0]).decode(), "tls.key": base64.b64encode(pair[1]).decode()}
    if existing is not None:
        return {**existing, "data": data}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": app}},
        "type": "kubernetes.io/tls",
        "data": data,
    }


class CertSource(Protocol):
    """Where the serving certificate comes from; ``load`` is called at start and every REFRESH_SECONDS."""

    def load(self) -> tls.CertPair: ...


class FileCerts:
    """Mounted files (e.g. a cert-manager Secret volume): read again each time, so rotations are picked up."""

    def __init__(self, cert_file: str | Path, key_file: str | Path) -> None:
        self._files = (Path(cert_file), Path(key_file))

    def load(self) -> tls.CertPair:
        try:
            return self._files[0].read_bytes(), self._files[1].read_bytes()
        except OSError as exc:
            raise InputError(f"TLS files {self._files[0]}, {self._files[1]}: {exc.strerror or exc}") from exc


class GeneratedCerts:
    """A self-signed pair kept in memory for this process only (each replica has its own)."""

    def __init__(self, names: SubjectNames, *, clock: Callable[[], datetime.datetime]) -> None:
        self._names = names
        self._clock = clock
        self._pair: tls.CertPair | None = None

    def load(self) -> tls.CertPair:
        if self._pair is None or replacement_reason(self._pair, self._names, now=self._clock()) is not None:
            self._pair = generate(self._names)
        return self._pair


class SecretConflictError(TensileError):
    """The certificate Secret kept changing under us; tried again at the next refresh."""


class SecretCerts:
    """A kubernetes.io/tls Secret shared by every replica and restart, created or renewed when needed.

    Replicas race only on create (409 AlreadyExists) and renew (409 Conflict on the resourceVersion);
    the loser reads the winner's certificate, so all replicas converge on one.
    """

    def __init__(
        self,
        kube: Kube,
        *,
        name: str,
        namespace: str,
        names: SubjectNames,
        app: str,
        clock: Callable[[], datetime.datetime],
    ) -> None:
        self._kube = kube
        self._app = app
        self._name = name
        self._namespace = namespace
        self._names = names
        self._clock = clock
        self._path = paths.resource(paths.CORE, "secrets", namespace=namespace, name=name)

    def load(self) -> tls.CertPair:
        for _attempt in range(CONFLICT_ATTEMPTS):
            secret = self._get()
            plan = plan_secret(secret, self._names, now=self._clock())
            if plan.action == "keep" and secret is not None:
                return cast(tls.CertPair, pair_from_secret(secret))
            pair = generate(self._names)
            try:
                self._write(secret, pair)
            except errors.ConflictError:
                logger.info("%s: Secret %s/%s was written by another replica; reading it", self._app, *self._where)
                continue
            logger.info("%s: Secret %s/%s: new certificate, because %s", self._app, *self._where, plan.reason)
            return pair
        raise SecretConflictError(f"Secret {'/'.join(self._where)}: kept conflicting; giving up for now")

    @property
    def _where(self) -> tuple[str, str]:
        return self._namespace, self._name

    def _get(self) -> Raw | None:
        try:
            return self._kube.get(self._path)
        except errors.NotFoundError:
            return None

    def _write(self, secret: Raw | None, pair: tls.CertPair) -> None:
        if secret is None:
            self._kube.post(
                self._path.rpartition("/")[0], secret_body(self._name, self._namespace, pair, app=self._app)
            )
        else:
            # The body keeps the resourceVersion we read: a concurrent renewal makes this a 409.
            self._kube.put(self._path, secret_body(self._name, self._namespace, pair, app=self._app, existing=secret))


@dataclass(frozen=True)
class CertFlags:
    """The certificate flags a server shares: files win over the Secret, the Secret over a generated pair."""

    cert_file: str | None
    key_file: str | None
    secret: str | None
    names: SubjectNames
    namespace: str
    """Where the Secret lives (the server's --service-namespace)."""
    app: str
    """The component, in log lines and on the Secret's app.kubernetes.io/name label."""


def choose(flags: CertFlags, kube: Kube) -> CertSource:
    """Files if given, else the shared Secret if named, else an in-memory self-signed pair."""
    if flags.cert_file and flags.key_file:
        if flags.secret:
            logger.warning("%s: --tls-cert-file given; --tls-secret %s is not used", flags.app, flags.secret)
        return FileCerts(flags.cert_file, flags.key_file)
    if flags.secret:
        return SecretCerts(
            kube, name=flags.secret, namespace=flags.namespace, names=flags.names, app=flags.app, clock=utc_now
        )
    return GeneratedCerts(flags.names, clock=utc_now)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
