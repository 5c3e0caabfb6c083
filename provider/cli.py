"""``tensile-virtual-node``: present one lower cluster as a node of the upper cluster.

Flag names follow virtual-kubelet/tensile-kube where it has them (``--kubeconfig`` for the
upper cluster, ``--client-kubeconfig`` for the lower one, ``--nodename``). SIGTERM and
SIGINT stop the loops and the kubelet server cleanly.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from typing import Literal, cast

import click

from descheduler import logsetup
from descheduler.errors import InputError
from descheduler.kube.client import Kube
from provider import certs, kubelet
from provider.config import ProviderConfig
from provider.reconcile import Clusters, Provider

logger = logging.getLogger("provider")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Upper cluster kubeconfig (default: in-cluster).")
@click.option("--client-kubeconfig", required=True, type=click.Path(dir_okay=False), help="Lower cluster kubeconfig.")
@click.option("--nodename", default="tensile-virtual-node", show_default=True, help="Name of the virtual node.")
@click.option(
    "--upper-cluster-id", default="upper", show_default=True, help="Names the upper cluster in ownership labels."
)
@click.option("--lower-cluster-name", default="", help="Lower cluster name for the node label (default: nodename).")
@click.option("--taint/--no-taint", default=True, show_default=True, help="Taint the node virtual-kubelet.io/provider.")
@click.option(
    "--kubelet-address", default="127.0.0.1", show_default=True, help="Address advertised for the kubelet API."
)
@click.option("--listen-address", default="", help="Address the kubelet API binds (default: --kubelet-address).")
@click.option("--kubelet-port", type=int, default=10250, show_default=True, help="Port of the kubelet API (HTTPS).")
@click.option("--tls-cert-file", type=click.Path(dir_okay=False), help="Serving certificate (default: self-signed).")
@click.option("--tls-key-file", type=click.Path(dir_okay=False), help="Key of --tls-cert-file.")
@click.option("--client-ca-file", type=click.Path(dir_okay=False), help="Require client certs signed by this CA.")
@click.option("--resync-seconds", type=float, default=60.0, show_default=True, help="Full resync period.")
@click.option("--workers", type=int, default=16, show_default=True, help="Parallel reconcile workers.")
@click.option("--logging-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-v", "--verbose", count=True, help="More logging (-v debug).")
def main(
    kubeconfig: str | None,
    client_kubeconfig: str,
    nodename: str,
    upper_cluster_id: str,
    lower_cluster_name: str,
    taint: bool,
    kubelet_address: str,
    listen_address: str,
    kubelet_port: int,
    tls_cert_file: str | None,
    tls_key_file: str | None,
    client_ca_file: str | None,
    resync_seconds: float,
    workers: int,
    logging_format: str,
    verbose: int,
) -> None:
    """Mirror pods bound to the virtual node into the lower cluster and report their status back."""
    logsetup.configure(logging_format, logging.DEBUG if verbose else logging.INFO)
    try:
        cfg = ProviderConfig(
            upper_kubeconfig=kubeconfig,
            lower_kubeconfig=client_kubeconfig,
            node_name=nodename,
            upper_cluster=upper_cluster_id,
            lower_cluster=lower_cluster_name or nodename,
            taint_enabled=taint,
            kubelet_address=kubelet_address,
            kubelet_port=kubelet_port,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            resync_interval=resync_seconds,
            workers=workers,
            log_format=cast(Literal["text", "json"], logging_format),
        )
        clusters = Clusters(upper=Kube.from_kubeconfig(kubeconfig), lower=Kube.from_kubeconfig(client_kubeconfig))
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    run(cfg, clusters, listen_address=listen_address or kubelet_address, client_ca_file=client_ca_file)


def run(cfg: ProviderConfig, clusters: Clusters, *, listen_address: str, client_ca_file: str | None) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cert_file, key_file = certs.ensure_tls_files(
        cfg.tls_cert_file, cfg.tls_key_file, node_name=cfg.node_name, ip=cfg.kubelet_address
    )
    server = kubelet.KubeletServer(
        address=listen_address,
        port=cfg.kubelet_port,
        cert_file=str(cert_file),
        key_file=str(key_file),
        logs=kubelet.LowerLogs(clusters.lower),
        client_ca_file=client_ca_file,
    )
    provider = Provider(cfg, clusters)
    server.start()
    provider.start()
    logger.info("virtual node %s serving the kubelet API on %s:%d", cfg.node_name, listen_address, server.port)
    stop.wait()
    provider.stop()
    server.stop()
    logger.info("stopped")
