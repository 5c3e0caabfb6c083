"""Everything ``tensile-virtual-node extender`` runs, wired from its flags.

:class:`Settings` holds the flags and :func:`check` refuses those that cannot work before anything
starts. :class:`Extender` starts the summary board's two watches of the upper cluster, the HTTPS
server over the :class:`~provider.extender.decide.Decider`, the plain-HTTP metrics endpoint, and a
minute-by-minute re-read of the serving certificate files (cert-manager renews them in place).
It reads Nodes and fit-summary Leases and writes nothing, anywhere.
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
from provider.serving import tls

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0
TLS_FLAGS = {"cert": "--tls-cert-file", "key": "--tls-key-file", "ca": "--client-ca-file"}


@dataclass(frozen=True)
class Settings:
    """``tensile-virtual-node extender`` flags, checked by :func:`check`."""

    tls_cert_file: str
    tls_key_file: str
    client_ca_file: str
    """Only kube-scheduler, presenting a certificate this CA signed, may call."""
    listen_address: str = "0.0.0.0"
    port: int = 8443
    strategy: str = "bestFit"
    metrics_addr: str = ""


def check(settings: Settings) -> None:
    """Raise InputError (one line) for flags that cannot work, before anything starts."""
    missing = [flag for flag, value in zip(TLS_FLAGS.values(), _files(settings), strict=True) if not value]
    if missing:
        raise InputError(f"{', '.join(missing)} required: the extender serves HTTPS to clients with certificates only")
    tls.check_files(cert=settings.tls_cert_file, key=settings.tls_key_file, ca=settings.client_ca_file, flags=TLS_FLAGS)
    if settings.strategy not in judge.STRATEGIES:
        raise InputError(f"--strategy {settings.strategy!r}: choose from {', '.join(judge.STRATEGIES)}")


def _files(settings: Settings) -> tuple[str, str, str]:
    return settings.tls_cert_file, settings.tls_key_file, settings.client_ca_file


class Extender:
    """The running extender: board, decider, HTTPS server, metrics endpoint and certificate refresh."""

    def __init__(self, settings: Settings, upper: Kube) -> None:
        self.settings = settings
        self.metrics = ExtenderMetrics()
        self.watches = BoardWatches(upper)
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
            pair=self._load(),
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

    def _load(self) -> tls.CertPair:
        with open(self.settings.tls_cert_file, "rb") as cert, open(self.settings.tls_key_file, "rb") as key:
            return cert.read(), key.read()

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
                if self._server.use(self._load()):
                    logger.info("extender: serving a new certificate")
            except (TensileError, OSError) as exc:
                logger.warning("extender: cannot refresh the serving certificate: %s", exc)
