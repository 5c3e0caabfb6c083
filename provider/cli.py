"""``tensile-virtual-node``: the click layer of the provider's commands, and nothing else.

- ``run`` (the default command: ``tensile-virtual-node --kubeconfig ... --client-kubeconfig ...``
  runs it, as the seed's ``virtual-node`` invocation did): present one lower cluster as a node
  of the upper cluster (:func:`provider.app.run_virtual_node`);
- ``webhook``: the pod admission webhook (:mod:`provider.webhook`);
- ``extender``: the kube-scheduler extender (:mod:`provider.extender`, flags in :mod:`provider.extender_cli`).

Flags become settings through :mod:`provider.flags`; bad input is one ``error:`` line naming
the flag and exit status 2 before anything starts; an unknown command fails as click says.
Flag names follow virtual-kubelet/tensile-kube where it has them (``--kubeconfig`` for the
upper cluster, ``--client-kubeconfig`` for the lower one, ``--nodename``).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, NoReturn, cast

import click

from descheduler import errors, keys, logsetup
from descheduler.errors import InputError, TensileError
from descheduler.kube.client import Kube
from provider import app, config, extender_cli, flags, webhook
from provider.kube.reachability import TrackedKube
from provider.serving import tls

logger = logging.getLogger("provider")

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
VERSION = {"package_name": "tensile", "prog_name": "tensile", "message": "%(prog)s %(version)s"}


@click.command(
    "run",
    cls=flags.OneLineErrors,
    context_settings=CONTEXT_SETTINGS,
    short_help="The virtual node (the default command): mirror its pods into the lower cluster.",
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
@click.option(
    "--client-ca-file",
    type=click.Path(dir_okay=False),
    help="Accept only clients with a certificate signed by this CA: the upper cluster's kubelet-client CA"
    " (kubeadm: the cluster CA, also in every namespace's kube-root-ca.crt ConfigMap).",
)
@click.option(
    "--authorize",
    is_flag=True,
    help="Also admit kubelet API callers without a --client-ca-file certificate if they bring a bearer token,"
    " checked as a kubelet does (TokenReview, then a SubjectAccessReview on nodes/proxy, nodes/metrics..."
    " on the upper cluster); certificate callers are authorized by their subject too.",
)
@click.option(
    "--kubelet-api-insecure",
    is_flag=True,
    help="Serve the kubelet API on a non-loopback address without --client-ca-file: anyone who reaches"
    " the port can read every mirrored pod's logs. For trusted test networks only; warned at every start.",
)
@click.option(
    "--streaming",
    type=click.Choice(["auto", "websocket", "spdy"]),
    default="auto",
    show_default=True,
    help="How exec/attach/port-forward arrive: auto = declare ExtendWebSocketsToKubelet on the node (1.36+"
    " API servers pass kubectl's WebSocket through) and serve SPDY too; websocket = declare it and refuse"
    " exec/attach over SPDY; spdy = do not declare it (the API server translates to SPDY).",
)
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
@flags.reflect_options
@click.option(
    "--fit-summary/--no-fit-summary",
    default=True,
    show_default=True,
    help="Publish which pods one lower node could run (a Lease renewed every second) for the scheduler extender.",
)
@click.option("-v", "--verbose", count=True, help="More logging (-v debug).")
def run_command(
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
    authorize: bool,
    kubelet_api_insecure: bool,
    streaming: str,
    resync_seconds: float,
    workers: int,
    metrics_addr: str,
    metrics_address: str,
    logging_format: str,
    reflect: tuple[str, ...],
    no_reflect: tuple[str, ...],
    fit_summary: bool,
    verbose: int,
) -> None:
    """Mirror pods bound to the virtual node into the lower cluster and report their status back."""
    _configure_logging(logging_format, verbose)
    try:
        metrics_flag, metrics_at = flags.metrics_flag(metrics_addr, metrics_address)
        tls.check_files(cert=tls_cert_file, key=tls_key_file, ca=client_ca_file, flags=flags.PROVIDER_TLS_FLAGS)
        flags.check_kubelet_api_access(
            listen_address or kubelet_address,
            client_ca_file=client_ca_file,
            insecure=kubelet_api_insecure,
            authorize=authorize,
            flag="--listen-address" if listen_address else "--kubelet-address",
        )
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
            streaming=cast(Literal["auto", "websocket", "spdy"], streaming),
            reflect=flags.reflected(reflect, no_reflect),
            fit_summary=fit_summary,
        )
        connections = app.connections_needed(workers)
        clusters = app.Clusters(
            upper=flags.named("--kubeconfig", TrackedKube.for_cluster, kubeconfig, role="upper", name=cfg.upper_cluster,
                           connections=connections),
            lower=flags.named("--client-kubeconfig", TrackedKube.for_cluster, client_kubeconfig, role="lower",
                           name=cfg.lower_cluster, connections=connections),
        )  # fmt: skip
        serving = app.Serving(
            listen_address=listen_address or kubelet_address,
            client_ca_file=client_ca_file,
            authorize=authorize,
            metrics_addr=metrics_at,
            metrics_flag=metrics_flag,
        )
    except InputError as exc:
        _fail(exc, errors.EXIT_INPUT)
    try:
        app.run_virtual_node(cfg, clusters, serving, app.stop_on_signals())
    except InputError as exc:
        _fail(exc, errors.EXIT_INPUT)
    except app.ListenError as exc:
        _fail(exc, errors.EXIT_INPUT if exc.address_not_here else errors.EXIT_RUNTIME)


def _configure_logging(logging_format: str, verbose: int) -> None:
    logsetup.configure(logging_format, logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        # urllib3 warns about each of its own quick retries of a connection; the provider's
        # trackers say once what is wrong with a cluster instead (provider.kube.reachability).
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def _fail(exc: Exception | str, status: int) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(status)


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
@flags.serving_certificate_options(
    service="tensile-webhook", without_secret="Without it and without files: a per-process one."
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
        stop = app.stop_on_signals()
        server.start()
    except InputError as exc:
        _fail(exc, errors.EXIT_INPUT)
    except (TensileError, OSError) as exc:
        # The API is unreachable or the port is taken: nothing to serve with; let the Deployment restart us.
        _fail(exc, errors.EXIT_RUNTIME)
    stop.wait()
    server.stop()
    logger.info("stopped")


class _Commands(click.Group):
    """The provider's command group; arguments that start with a flag (or none) go to ``run``.

    So ``tensile-virtual-node --kubeconfig ... --client-kubeconfig ...`` keeps working, while a
    first word that is no command (``tensile-virtual-node hook``) fails as click says. The
    group's ``--help`` shows ``run``'s flags too, since they are what a bare invocation takes.
    """

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        own = {*(ctx.help_option_names or ()), "--version"}
        if not args or (args[0].startswith("-") and args[0] not in own):
            args = [self.default_command, *args]
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _fail(exc.format_message(), errors.EXIT_INPUT)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            _fail(exc.format_message(), errors.EXIT_INPUT)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # as added: the default command first

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS]")
        formatter.write_usage(ctx.command_path, "COMMAND [OPTIONS]", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The default command's flags, then the commands (click's own section).
        run_command.format_options(click.Context(run_command, info_name=ctx.info_name, parent=ctx), formatter)
        self.format_commands(ctx, formatter)


@click.group(
    "tensile-virtual-node",
    cls=_Commands,
    context_settings=CONTEXT_SETTINGS,
    epilog="Without a command, runs 'run'. Each command's flags: tensile-virtual-node COMMAND --help.",
)
@click.version_option(**VERSION)
def main() -> None:
    """Present a lower cluster as a node of the upper cluster (run), or serve its admission webhook (webhook)."""


main.add_command(run_command)
main.add_command(webhook_command)
main.add_command(extender_cli.extender_command)
