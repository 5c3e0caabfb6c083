"""``tensile-virtual-node``: present one lower cluster as a node of the upper cluster.

Flag names follow virtual-kubelet/tensile-kube where it has them (``--kubeconfig`` for the
upper cluster, ``--client-kubeconfig`` for the lower one, ``--nodename``). SIGTERM and
SIGINT stop the loops and the kubelet server cleanly.

``tensile-virtual-node webhook`` runs the pod admission webhook (:mod:`provider.webhook`)
instead; any other first argument goes to the provider, so existing command lines keep working.
"""

from __future__ import annotations

import errno
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Literal, TypeVar, cast

import click

from descheduler import errors, keys, logsetup
from descheduler.errors import InputError, TensileError
from descheduler.kube.client import Kube
from descheduler.serving import MetricsServer
from provider import config, flags, kubelet, webhook
from provider.app import Clusters, VirtualNode, connections_needed
from provider.config import ProviderConfig
from provider.kube.reachability import TrackedKube
from provider.metrics import ProviderMetrics
from provider.serving import tls

logger = logging.getLogger("provider")
T = TypeVar("T")

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
VERSION = {"package_name": "tensile", "prog_name": "tensile", "message": "%(prog)s %(version)s"}


class _ProviderCommand(flags.OneLineErrors):
    """The provider's help also lists the subcommands that :class:`_Commands` routes to."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_usage(ctx, formatter)
        formatter.write_usage(ctx.command_path, "COMMAND [OPTIONS]", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        with formatter.section("Commands"):
            formatter.write_dl(
                [(name, command.get_short_help_str(limit=200)) for name, command in main.commands.items()]
            )


@click.command(
    "tensile-virtual-node",
    cls=_ProviderCommand,
    context_settings=CONTEXT_SETTINGS,
    epilog="The admission webhook is a subcommand: tensile-virtual-node webhook --help.",
)
@click.version_option(**VERSION)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Upper cluster kubeconfig (default: in-cluster).")
@click.option("--client-kubeconfig", required=True, type=click.Path(dir_okay=False), help="Lower cluster kubeconfig.")
@click.option("--nodename", default="tensile-virtual-node", show_default=True, help="Name of the virtual node.")
@click.option(
    "--upper-cluster-id", default="upper", show_default=True, help="Names the upper cluster in ownership labels."
)
@click.option("--lower-cluster-name", default="", help="Lower cluster name for the node label (default: nodename).")
@click.option("--taint/--no-taint", default=True, show_default=True, help="Taint the node virtual-kubelet.io/provider.")
@click.option(
    "--kubelet-address",
    default="127.0.0.1",
    show_default=True,
    callback=flags.host_option,
    help="IP address advertised for the kubelet API (a host name is resolved once, at start).",
)
@click.option(
    "--listen-address",
    default="",
    callback=flags.host_option,
    help="Address the kubelet API binds (default: --kubelet-address).",
)
@click.option(
    "--kubelet-port",
    type=flags.Integers(1, 65535),
    default=10250,
    show_default=True,
    help="Kubelet API (HTTPS) port (1-65535).",
)
@click.option("--tls-cert-file", type=click.Path(dir_okay=False), help="Serving certificate (default: self-signed).")
@click.option("--tls-key-file", type=click.Path(dir_okay=False), help="Key of --tls-cert-file.")
@click.option("--client-ca-file", type=click.Path(dir_okay=False), help="Require client certs signed by this CA.")
@click.option(
    "--resync-seconds",
    type=flags.Seconds(*config.RESYNC_SECONDS),
    default=60.0,
    show_default=True,
    help="Full resync period, from 1 to 86400 seconds.",
)
@click.option(
    "--workers",
    type=flags.Integers(*config.WORKERS),
    default=16,
    show_default=True,
    help="Parallel reconcile workers (1-256).",
)
@click.option(
    "--metrics-addr",
    default="",
    callback=flags.listen_address_option,
    help="HOST:PORT, [IPv6]:PORT or :PORT serving /metrics and /healthz over plain HTTP (e.g. :10255); empty disables.",
)
# The descheduler's spelling, so one habit works for both commands.
@click.option("--metrics-address", default="", callback=flags.listen_address_option, hidden=True)
@click.option(
    "--logging-format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Log format."
)
@click.option("-v", "--verbose", count=True, help="More logging (-v debug).")
def provider_command(
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
    metrics_addr: str,
    metrics_address: str,
    logging_format: str,
    verbose: int,
) -> None:
    """Mirror pods bound to the virtual node into the lower cluster and report their status back."""
    _configure_logging(logging_format, verbose)
    try:
        metrics_flag, metrics_at = flags.metrics_flag(metrics_addr, metrics_address)
        flags.check_tls_files(cert=tls_cert_file, key=tls_key_file, ca=client_ca_file, flags=flags.PROVIDER_TLS_FLAGS)
        cfg = flags.provider_config(
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
        connections = connections_needed(workers)
        clusters = Clusters(
            upper=flags.named("--kubeconfig", TrackedKube.for_cluster, kubeconfig, role="upper", name=cfg.upper_cluster,
                           connections=connections),
            lower=flags.named("--client-kubeconfig", TrackedKube.for_cluster, client_kubeconfig, role="lower",
                           name=cfg.lower_cluster, connections=connections),
        )  # fmt: skip
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(errors.EXIT_INPUT)
    run(
        cfg,
        clusters,
        listen_address=listen_address or kubelet_address,
        client_ca_file=client_ca_file,
        metrics_addr=metrics_at,
        metrics_flag=metrics_flag,
    )


def _configure_logging(logging_format: str, verbose: int) -> None:
    logsetup.configure(logging_format, logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        # urllib3 warns about each of its own quick retries of a connection; the provider's
        # trackers say once what is wrong with a cluster instead (provider.kube.reachability).
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def _listen(what: str, bind: Callable[[], T]) -> T:
    """Bind a server; a port that is taken exits 1 (a restart may help), an address not on this machine 2."""
    try:
        return bind()
    except OSError as exc:
        click.echo(f"error: {what}: cannot listen: {exc.strerror or exc}", err=True)
        sys.exit(2 if exc.errno == errno.EADDRNOTAVAIL else 1)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: both commands drain and exit 0."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def run(
    cfg: ProviderConfig,
    clusters: Clusters,
    *,
    listen_address: str,
    client_ca_file: str | None,
    metrics_addr: str = "",
    metrics_flag: str = "--metrics-addr",
) -> None:
    stop = _stop_on_signals()
    metrics = ProviderMetrics()
    try:
        cert_file, key_file = tls.ensure_tls_files(
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
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(errors.EXIT_INPUT)
    _listen(f"--listen-address {listen_address} --kubelet-port {cfg.kubelet_port}", server.start)
    metrics_server = None
    if metrics_addr:
        metrics_server = _listen(f"{metrics_flag} {metrics_addr}", lambda: MetricsServer(metrics, metrics_addr))
    if metrics_server is not None:
        metrics_server.start()
    provider = VirtualNode(cfg, clusters, metrics)
    provider.start()
    logger.info("virtual node %s serving the kubelet API on %s:%d", cfg.node_name, listen_address, server.port)
    stop.wait()
    provider.stop()
    server.stop()
    if metrics_server is not None:
        metrics_server.stop()
    logger.info("stopped")


@click.command(
    "webhook",
    cls=flags.OneLineErrors,
    context_settings=CONTEXT_SETTINGS,
    short_help="The pod admission webhook: keeps pods off virtual nodes their owner must avoid.",
)
@click.version_option(**VERSION)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Upper cluster kubeconfig (default: in-cluster).")
@click.option(
    "--listen-address", default="0.0.0.0", show_default=True, callback=flags.host_option, help="Address to bind."
)
@click.option("--port", type=flags.Integers(1, 65535), default=9443, show_default=True, help="HTTPS port (1-65535).")
@click.option(
    "--tls-cert-file",
    type=click.Path(dir_okay=False),
    help="Serving certificate, e.g. a cert-manager Secret mount; re-read every minute. Wins over --tls-secret.",
)
@click.option("--tls-key-file", type=click.Path(dir_okay=False), help="Key of --tls-cert-file.")
@click.option(
    "--tls-secret",
    callback=flags.secret_name_option,
    help="kubernetes.io/tls Secret in --service-namespace holding a self-signed certificate shared by all"
    " replicas; created, or renewed 30 days before expiry. Without it and without files: a per-process one.",
)
@click.option(
    "--tls-san",
    "tls_sans",
    multiple=True,
    callback=flags.subject_alt_names_option,
    help="Extra subjectAltName (DNS name or IP) for generated certificates.",
)
@click.option(
    "--service-name",
    default="tensile-webhook",
    show_default=True,
    callback=flags.service_name_option,
    help="Service in front of the webhook (cert names).",
)
@click.option(
    "--service-namespace",
    default="tensile-system",
    show_default=True,
    callback=flags.namespace_option,
    help="Namespace of the Service and Secret.",
)
@click.option(
    "--webhook-config-name",
    callback=flags.object_name_option,
    help="MutatingWebhookConfiguration whose webhooks' caBundle is kept equal to the serving certificate.",
)
@click.option(
    "--virtual-node-selector",
    default=f"{keys.VIRTUAL_NODE_TYPE_LABEL}={keys.VIRTUAL_NODE_TYPE_VALUE}",
    show_default=True,
    help="Label selector of the virtual nodes (an avoidance never excludes all of them).",
)
@click.option(
    "--stash-lower-constraints/--no-stash-lower-constraints",
    default=False,
    show_default=True,
    help="Move node constraints no virtual node satisfies into an annotation the provider restores on the mirror.",
)
@click.option(
    "--logging-format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Log format."
)
@click.option("-v", "--verbose", count=True, help="More logging (-v debug).")
def webhook_command(
    kubeconfig: str | None,
    listen_address: str,
    port: int,
    tls_cert_file: str | None,
    tls_key_file: str | None,
    tls_secret: str | None,
    tls_sans: tuple[str, ...],
    service_name: str,
    service_namespace: str,
    webhook_config_name: str | None,
    virtual_node_selector: str,
    stash_lower_constraints: bool,
    logging_format: str,
    verbose: int,
) -> None:
    """Admission webhook: on Pod CREATE, keep pods off virtual nodes their owner must avoid (POST /mutate-pods)."""
    _configure_logging(logging_format, verbose)
    settings = webhook.Settings(
        listen_address=listen_address,
        port=port,
        tls_cert_file=tls_cert_file,
        tls_key_file=tls_key_file,
        tls_secret=tls_secret or None,
        tls_sans=tls_sans,
        service_name=service_name,
        service_namespace=service_namespace,
        webhook_config_name=webhook_config_name or None,
        virtual_node_selector=virtual_node_selector,
        stash_lower_constraints=stash_lower_constraints,
    )
    try:
        webhook.check(settings)
        server = webhook.Webhook(settings, flags.named("--kubeconfig", Kube.from_kubeconfig, kubeconfig))
        stop = _stop_on_signals()
        server.start()
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(errors.EXIT_INPUT)
    except (TensileError, OSError) as exc:
        # The API is unreachable or the port is taken: nothing to serve with; let the Deployment restart us.
        click.echo(f"error: {exc}", err=True)
        sys.exit(errors.EXIT_RUNTIME)
    stop.wait()
    server.stop()
    logger.info("stopped")


class _Commands(click.Group):
    """``tensile-virtual-node [FLAGS]`` is the provider, as it always was; ``webhook`` is a subcommand.

    Routing on the first argument (instead of a group with the provider as its callback) keeps the
    provider's flags, ``--help`` and errors exactly as they were before the subcommand existed.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if argv and argv[0] in self.commands:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        return provider_command.main(argv, prog_name, complete_var, standalone_mode, **extra)


main = _Commands(name="tensile-virtual-node", commands=[webhook_command], context_settings=CONTEXT_SETTINGS)
