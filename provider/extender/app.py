"""Everything ``tensile-virtual-node extender`` runs, wired from its flags.

:class:`Settings` holds the flags and :func:`check` refuses those that cannot work before anything
starts. :class:`Extender` starts the summary board's two watches of the upper cluster, the HTTPS
server over the :class:`~provider.extender.decide.Decider`, the plain-HTTP metrics endpoint, and a
minute-by-minute re-read of the serving certificate (:mod:`provider.serving.certs`: mounted files,
which cert-manager renews in place, or a Secret shared by the replicas and renewed before it expires).
It reads Nodes and fit-summary Leases; the certificate Secret is the only object it may write.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from descheduler.errors import InputError, TensileError
from descheduler.kube.client import Kube
from descheduler.serving import MetricsServer
from provider.extender.board import BoardWatches
from provider.extender.decide import Decider
from provider.extender.server import ExtenderServer
from provider.fit import judge
from provider.metrics import ExtenderMetrics
from provider.serving import certs, tls

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0
TLS_FLAGS = {"cert": "--tls-cert-file", "key": "--tls-key-file", "ca": "--client-ca-file"}


@dataclass(frozen=True)
class Settings:
    """``tensile-virtual-node extender`` flags, checked by :func:`check`."""

    client_ca_file: str
    """Only kube-scheduler, presenting a certificate this CA signed, may call."""
    tls_cert_file: str = ""
    """With tls_key_file: serve these files (cert-manager style); they win over tls_secret."""
    tls_key_file: str = ""
    tls_secret: str = ""
    """A kubernetes.io/tls Secret in service_namespace shared by replicas; created or renewed as needed.
    Its tls.crt is what kube-scheduler's tlsConfig.caFile trusts."""
    tls_sans: tuple[str, ...] = ()
    """Extra subjectAltNames (DNS names or IPs) for the certificate in tls_secret."""
    service_name: str = "tensile-extender"
    service_namespace: str = "tensile-system"
    listen_address: str = "0.0.0.0"
    port: int = 8443
    strategy: str = "bestFit"
    metrics_addr: str = ""


def check(settings: Settings) -> None:
    """Raise InputError (one line) for flags that cannot work, before anything starts."""
    if not settings.client_ca_file:
        raise InputError("--client-ca-file required: only kube-scheduler, with a client certificate, may call")
    if not settings.tls_secret and not (settings.tls_cert_file or settings.tls_key_file):
        raise InputError(
            "--tls-secret or --tls-cert-file/--tls-key-file required: kube-scheduler must trust the serving "
            "certificate (tlsConfig.caFile), so it cannot be a per-process one"
        )
    tls.check_files(
        cert=settings.tls_cert_file or None,
        key=settings.tls_key_file or None,
        ca=settings.client_ca_file,
        flags=TLS_FLAGS,
    )
    if any(not san.strip() for san in settings.tls_sans):
        raise InputError("--tls-san: empty value")
    if not settings.service_name or not settings.service_namespace:
        raise InputError("--service-name and --service-namespace must not be empty")
    if settings.strategy not in judge.STRATEGIES:
        raise InputError(f"--strategy {settings.strategy!r}: choose from {', '.join(judge.STRATEGIES)}")


def cert_source(settings: Settings, kube: Kube) -> certs.CertSource:
    """The mounted files if given, else the shared Secret (:func:`check` refuses neither)."""
    return certs.choose(
        certs.CertFlags(
            cert_file=settings.tls_cert_file or None,
            key_file=settings.tls_key_file or None,
            secret=settings.tls_secret or None,
            names=certs.subject_names(settings.service_name, settings.service_namespace, settings.tls_sans),
            namespace=settings.service_namespace,
            app="tensile-extender",
        ),
        kube,
    )


class Extender:
    """The running extender: board, decider, HTTPS server, metrics endpoint and certificate refresh."""

    def __init__(self, settings: Settings, upper: Kube) -> None:
        self.settings = settings
        self.metrics = ExtenderMetrics()
        self.watches = BoardWatches(upper)
        self._source = cert_source(settings, upper)
        self._decider = Decider(self.watches.board, strategy=settings.strategy, metrics=self.metrics)
        self._stop = threading.Event()
        self._server: ExtenderServer | None = None
        self._metrics_server: MetricsServer | None = None
        self._refresher: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else self.settings.port

    def start(self) -> None:
        self._server = ExtenderServer(
            address=self.settings.listen_address,
            port=self.settings.port,
            pair=self._source.load(),
            client_ca=self.settings.client_ca_file,
            decider=self._decider,
            metrics=self.metrics,
            ready=self.watches.synced,
        )
        self._server.start()
        for informer in self.watches.informers():
            informer.start(self._stop)
        if self.settings.metrics_addr:
            self._metrics_server = MetricsServer(self.metrics, self.settings.metrics_addr)
            self._metrics_server.start()
        logger.info("extender: serving on %s:%d", self.settings.listen_address, self.port)
        self._refresher = threading.Thread(target=self._refresh_loop, name="extender-refresh", daemon=True)
        self._refresher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop()
        if self._metrics_server is not None:
            self._metrics_server.stop()
        if self._refresher is not None:
            self._refresher.join(timeout=5.0)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            assert self._server is not None
            try:
                if self._server.use(self._source.load()):
                    logger.info("extender: serving a new certificate")
            except (TensileError, OSError) as exc:
                logger.warning("extender: cannot refresh the serving certificate: %s", exc)
