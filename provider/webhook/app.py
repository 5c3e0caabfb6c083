"""Everything ``tensile-virtual-node webhook`` runs, wired from its flags.

:class:`Settings` holds the flags and :func:`check` refuses those that cannot work before anything
starts; :func:`cert_source` picks where the serving certificate comes from
(:mod:`provider.serving.certs`); :class:`Webhook` starts the virtual-node informer, the HTTPS
server (:mod:`provider.webhook.server`) over the :class:`~provider.webhook.admission.Admitter`,
and the refresh of the certificate and the MutatingWebhookConfiguration's caBundle.
``provider.cli`` builds and stops it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from descheduler import keys, matching
from descheduler.errors import InputError, TensileError
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.kube import informer as watching
from provider.serving import certs, tls
from provider.webhook import admission, ca_bundle, server

logger = logging.getLogger(__name__)

# How often the certificate source is read again and the caBundle compared.
REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class Settings:
    """``tensile-virtual-node webhook`` flags, checked by :func:`check`."""

    listen_address: str = "0.0.0.0"
    port: int = 9443
    tls_cert_file: str | None = None
    """With tls_key_file: serve these files (cert-manager style); they win over tls_secret."""
    tls_key_file: str | None = None
    tls_secret: str | None = None
    """A kubernetes.io/tls Secret in service_namespace shared by replicas; created or renewed as needed."""
    tls_sans: tuple[str, ...] = ()
    """Extra subjectAltNames (DNS names or IPs) for generated certificates."""
    service_name: str = "tensile-webhook"
    service_namespace: str = "tensile-system"
    webhook_config_name: str | None = None
    """The MutatingWebhookConfiguration whose caBundle is kept equal to the serving certificate."""
    virtual_node_selector: str = f"{keys.VIRTUAL_NODE_TYPE_LABEL}={keys.VIRTUAL_NODE_TYPE_VALUE}"
    stash_lower_constraints: bool = False


TLS_FLAGS = {"cert": "--tls-cert-file", "key": "--tls-key-file"}
"""The webhook's TLS flags, to name them in errors."""


def check(settings: Settings) -> None:
    """Raise InputError (one line) for flags that cannot work, before anything starts."""
    tls.check_files(cert=settings.tls_cert_file, key=settings.tls_key_file, flags=TLS_FLAGS)
    try:
        matching.parse_selector_string(settings.virtual_node_selector)
    except ValueError as exc:
        raise InputError(f"--virtual-node-selector {settings.virtual_node_selector!r}: {exc}") from None
    if any(not san.strip() for san in settings.tls_sans):
        raise InputError("--tls-san: empty value")
    if not settings.service_name or not settings.service_namespace:
        raise InputError("--service-name and --service-namespace must not be empty")


def cert_source(settings: Settings, kube: Kube) -> certs.CertSource:
    """Files if given, else the shared Secret if named, else an in-memory self-signed pair."""
    names = certs.subject_names(settings.service_name, settings.service_namespace, settings.tls_sans)
    return certs.choose(
        certs.CertFlags(
            cert_file=settings.tls_cert_file,
            key_file=settings.tls_key_file,
            secret=settings.tls_secret,
            names=names,
            namespace=settings.service_namespace,
            app="tensile-webhook",
        ),
        kube,
    )


class Webhook:
    """Everything ``tensile-virtual-node webhook`` runs: node informer, HTTPS server, certificate refresh.

    It watches the upper cluster's virtual nodes (by ``virtual_node_selector``), reads controlling
    owners per request, and writes only the certificate Secret (with ``tls_secret``) and the caBundle
    of ``webhook_config_name``; it never changes a pod beyond the patch it answers with.
    """

    def __init__(self, settings: Settings, kube: Kube) -> None:
        self.settings = settings
        self._source = cert_source(settings, kube)
        self._ca_sync = (
            ca_bundle.CaBundleSync(kube, settings.webhook_config_name) if settings.webhook_config_name else None
        )
        self._stop = threading.Event()
        self._nodes = watching.Informer(
            kube, paths.node(), "virtual-nodes", query={"labelSelector": settings.virtual_node_selector}
        )
        self._admitter = admission.Admitter(
            fetch=admission.short_fetch(kube),
            virtual_nodes=admission.virtual_nodes_of(self._nodes),
            stash_lower_constraints=settings.stash_lower_constraints,
        )
        self._server: server.AdmissionServer | None = None
        self._refresher: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else self.settings.port

    def start(self) -> None:
        """Load the certificate (failure is fatal: nothing to serve with), then serve and refresh."""
        pair = self._source.load()
        self._server = server.AdmissionServer(
            address=self.settings.listen_address,
            port=self.settings.port,
            pair=pair,
            admitter=self._admitter,
            ready=self._nodes.synced.is_set,
        )
        self._server.start()
        self._nodes.start(self._stop)
        logger.info("admission: serving %s on %s:%d", server.MUTATE_PATH, self.settings.listen_address, self.port)
        self._sync_ca_bundle(pair[0])
        self._refresher = threading.Thread(target=self._refresh_loop, name="admission-refresh", daemon=True)
        self._refresher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop()
        if self._refresher is not None:
            # A refresh in flight may be waiting for the API; it is a daemon thread, so do not wait long.
            self._refresher.join(timeout=5.0)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            self.refresh()

    def refresh(self) -> None:
        """Pick up a rotated certificate and re-assert the caBundle; failures wait for the next round."""
        assert self._server is not None
        try:
            pair = self._source.load()
            if self._server.use(pair):
                logger.info("admission: serving a new certificate")
        except (TensileError, OSError) as exc:
            logger.warning("admission: cannot refresh the serving certificate: %s", exc)
        self._sync_ca_bundle(self._server.cert_pem)

    def _sync_ca_bundle(self, cert_pem: bytes) -> None:
        if self._ca_sync is None:
            return
        try:
            self._ca_sync.sync(cert_pem)
        except errors.ApiError as exc:
            logger.warning(
                "admission: cannot update the caBundle of MutatingWebhookConfiguration %s: %s; retrying in %.0fs",
                self._ca_sync.name,
                exc,
                REFRESH_SECONDS,
            )
