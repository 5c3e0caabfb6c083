"""The click layer of ``tensile-virtual-node extender`` (registered by :mod:`provider.cli`)."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import click

from descheduler import errors, logsetup
from descheduler.errors import InputError, TensileError
from descheduler.kube.client import Kube
from provider import app, extender, flags
from provider.fit import judge

logger = logging.getLogger("provider")


@click.command(
    "extender",
    cls=flags.OneLineErrors,
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="A kube-scheduler extender: virtual nodes only where one lower node can run the pod.",
)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Upper cluster kubeconfig (default: in-cluster).")
@click.option(
    "--listen-address", default="0.0.0.0", show_default=True, callback=flags.host_option, help="Address to bind."
)
@click.option("--port", type=flags.Integers(1, 65535), default=8443, show_default=True, help="HTTPS port (1-65535).")
@flags.serving_certificate_options(
    service="tensile-extender", without_secret="Its tls.crt is kube-scheduler's tlsConfig.caFile."
)
@click.option(
    "--client-ca-file", default="", help="CA of the client certificate kube-scheduler presents (tlsConfig.certFile)."
)
@click.option(
    "--strategy",
    type=click.Choice(list(judge.STRATEGIES)),
    default="bestFit",
    show_default=True,
    help="prioritize: the virtual node whose best lower node is left fullest (bestFit) or emptiest.",
)
@click.option(
    "--metrics-addr",
    default="",
    callback=flags.listen_address_option,
    help="HOST:PORT or :PORT serving /metrics over plain HTTP; empty disables.",
)
@click.option(
    "--logging-format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Log format."
)
@click.option("-v", "--verbose", count=True, help="More logging (-v debug).")
def extender_command(
    kubeconfig: str | None,
    listen_address: str,
    port: int,
    tls_cert_file: str | None,
    tls_key_file: str | None,
    tls_secret: str | None,
    tls_sans: tuple[str, ...],
    service_name: str,
    service_namespace: str,
    client_ca_file: str,
    strategy: str,
    metrics_addr: str,
    logging_format: str,
    verbose: int,
) -> None:
    """Scheduler extender: filter strikes out virtual nodes where no single lower node fits the pod;
    prioritize ranks the rest (POST /filter, /prioritize)."""
    logsetup.configure(logging_format, logging.DEBUG if verbose else logging.INFO)
    settings = extender.Settings(
        tls_cert_file=tls_cert_file or "",
        tls_key_file=tls_key_file or "",
        tls_secret=tls_secret or "",
        tls_sans=tls_sans,
        service_name=service_name,
        service_namespace=service_namespace,
        client_ca_file=client_ca_file,
        listen_address=listen_address,
        port=port,
        strategy=strategy,
        metrics_addr=metrics_addr,
    )
    try:
        extender.check(settings)
        running = extender.Extender(settings, flags.named("--kubeconfig", Kube.from_kubeconfig, kubeconfig))
        stop = app.stop_on_signals()
        running.start()
    except InputError as exc:
        _fail(exc, errors.EXIT_INPUT)
    except (TensileError, OSError) as exc:
        _fail(exc, errors.EXIT_RUNTIME)
    stop.wait()
    running.stop()
    logger.info("stopped")


def _fail(exc: Exception | str, status: int) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(status)
