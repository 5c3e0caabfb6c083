"""What the flag values of both ``tensile-virtual-node`` commands must be, checked as click parses them.

:mod:`provider.cli` declares the flags with these types and callbacks, so a bad value fails before
anything starts, as one line naming the flag as the user typed it (exit status 2): numbers finite
and in range, addresses that are IP addresses or names that resolve, Kubernetes names by their
rules, TLS files that hold what they should.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from descheduler import addresses, errors
from descheduler.errors import InputError
from provider import config

logger = logging.getLogger("provider")

T = TypeVar("T")

# Kubernetes name rules (apimachinery validation): a DNS-1123 label, a DNS-1123 subdomain (dot-separated
# labels, at most 253), and a DNS-1035 label (a label that starts with a letter: Service names).
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_MAX_SUBDOMAIN = 253


class OneLineErrors(click.Command):
    """Flag errors as one ``error: ...`` line and exit 2, like every other bad input of the command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(errors.EXIT_INPUT)


class Seconds(click.ParamType[float, Any]):
    """A finite number of seconds from ``low`` to ``high``; ``nan`` and ``inf`` are refused too."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not self.low <= seconds <= self.high:
            self.fail(f"{value} is not a number of seconds from {self.low:g} to {self.high:g}", param, ctx)
        return seconds


class Integers(click.ParamType[int, Any]):
    """A whole number from ``low`` to ``high``, said in those words (click's IntRange says "integer range")."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if not (text.lstrip("+-").isascii() and text.lstrip("+-").isdigit()) or not self.low <= int(text) <= self.high:
            self.fail(f"{value!r} is not a whole number from {self.low} to {self.high}", param, ctx)
        return int(text)


def host(value: str) -> str:
    """An IP address (IPv6 bare or in brackets) or a DNS name that resolves; returns the address.

    A name is resolved once, here: the node advertises an IP address (InternalIP, pods' hostIP),
    and a name that does not resolve now would only fail later, when binding.
    """
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if bare != value or not _is_dns_name(value):
        raise click.BadParameter(f"{value!r} is neither an IP address nor a DNS name")
    return _resolve(value)


def _is_dns_name(value: str) -> bool:
    try:
        found, _port = addresses.parse_address(f"{value}:0")  # the shared rule for host names
    except ValueError:
        return False
    return found == value


def _resolve(name: str) -> str:
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid name"
        raise click.BadParameter(f"{name!r} does not resolve ({reason})") from None
    return str(infos[0][4][0])


def host_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Callback of address flags: empty stays empty (the flag's documented fallback applies)."""
    return host(value) if value else value


def check_kubelet_api_access(
    listen_address: str,
    *,
    client_ca_file: str | None,
    insecure: bool,
    authorize: bool = False,
    flag: str = "--listen-address",
) -> None:
    """Refuse to serve the kubelet API beyond this machine to unchecked callers; warn if told to.

    The kubelet API streams every mirrored pod's logs and runs commands in them: on an address
    others can reach, callers must show a client certificate (``--client-ca-file``: the upper API
    server) or, with ``--authorize``, a token the upper cluster allows. ``flag`` is the flag that
    chose the address (``--kubelet-address`` when ``--listen-address`` was not given).
    """
    if client_ca_file is not None or authorize or _is_loopback(listen_address):
        return
    if not insecure:
        raise InputError(
            f"{flag} {listen_address} without --client-ca-file: anyone who can reach the kubelet API"
            " could read every mirrored pod's logs; give --client-ca-file (the upper cluster's kubelet-client CA),"
            " --authorize (tokens checked by the upper cluster) or, on a trusted network, --kubelet-api-insecure"
        )
    logger.warning(
        "--kubelet-api-insecure: the kubelet API on %s accepts any client; every mirrored pod's logs are open"
        " to whoever reaches it",
        listen_address,
    )


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def listen_address_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Callback of ``HOST:PORT`` flags (``--metrics-addr``): the shared parser, then the host resolves."""
    if not value:
        return value
    try:
        name, _port = addresses.parse_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if name:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            _resolve(name)
    return value


def _dns_subdomain(value: str) -> bool:
    return len(value) <= _MAX_SUBDOMAIN and all(_DNS1123_LABEL.match(label) for label in value.split("."))


def secret_name_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--tls-secret``: the name of a Secret in ``--service-namespace`` (a DNS-1123 subdomain)."""
    if value is None:
        return None
    if "/" in value:
        raise click.BadParameter(f"{value!r}: give the Secret's name only; it lives in --service-namespace")
    if not _dns_subdomain(value):
        raise click.BadParameter(f"{value!r} is not a Secret name (lower-case alphanumerics, '-' and '.', at most 253)")
    return value


def object_name_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A cluster-scoped object's name, e.g. ``--webhook-config-name`` (a DNS-1123 subdomain)."""
    if value is not None and not _dns_subdomain(value):
        raise click.BadParameter(
            f"{value!r} is not an object name (lower-case alphanumerics, '-' and '.', at most 253)"
        )
    return value


def namespace_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A namespace name: a DNS-1123 label."""
    if not _DNS1123_LABEL.match(value):
        raise click.BadParameter(f"{value!r} is not a namespace name (lower-case alphanumerics and '-', at most 63)")
    return value


def service_name_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A Service name: a DNS-1035 label (it starts with a letter)."""
    if not _DNS1035_LABEL.match(value):
        raise click.BadParameter(
            f"{value!r} is not a Service name (a lower-case letter, then alphanumerics and '-', at most 63)"
        )
    return value


def subject_alt_names_option(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """``--tls-san``: each an IP address or a DNS name (a leading ``*.`` for a wildcard)."""
    for value in values:
        try:
            ipaddress.ip_address(value)
            continue
        except ValueError:
            pass
        if not _dns_subdomain(value.removeprefix("*.")):
            raise click.BadParameter(
                f"{value!r} is neither an IP address nor a DNS name (lower-case, as in webhook.example.com)",
            )
    return values


# -- provider settings and kubeconfigs --------------------------------------------------------

FLAG_OF_SETTING = {
    "lower_kubeconfig": "--client-kubeconfig",
    "upper_kubeconfig": "--kubeconfig",
    "node_name": "--nodename",
    "upper_cluster": "--upper-cluster-id",
    "lower_cluster": "--lower-cluster-name",
    "kubelet_address": "--kubelet-address",
    "kubelet_port": "--kubelet-port",
    "resync_interval": "--resync-seconds",
    "workers": "--workers",
    "tls_cert_file": "--tls-cert-file",
    "tls_key_file": "--tls-key-file",
    "log_format": "--logging-format",
    "reflect": "--reflect",
}
"""The flag that sets each ProviderConfig field, to name it in the settings' own problems."""
PROVIDER_TLS_FLAGS = {"cert": "--tls-cert-file", "key": "--tls-key-file", "ca": "--client-ca-file"}


def provider_config(**settings: Any) -> config.ProviderConfig:
    """ProviderConfig, its problems (InputError, one line) named by the flags that set them."""
    try:
        return config.ProviderConfig(**settings)
    except config.ConfigError as exc:
        raise InputError(
            "; ".join(f"{FLAG_OF_SETTING.get(p.path, p.path)}: {p.message}" for p in exc.problems)
        ) from None


def named(flag: str, make: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``make(*args, **kwargs)``, its InputError (a kubeconfig that cannot be used) prefixed with ``flag``."""
    try:
        return make(*args, **kwargs)
    except InputError as exc:
        raise InputError(f"{flag}: {exc}") from None


def metrics_flag(metrics_addr: str, metrics_address: str) -> tuple[str, str]:
    """(the spelling used, its value): --metrics-addr, or the descheduler's --metrics-address."""
    if metrics_addr and metrics_address and metrics_addr != metrics_address:
        raise InputError("--metrics-addr and --metrics-address are one flag; give it once")
    return ("--metrics-address", metrics_address) if metrics_address else ("--metrics-addr", metrics_addr)


def reflect_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--reflect KIND`` and ``--no-reflect KIND`` (each repeatable), turned into one ``reflect`` set."""
    kinds = click.Choice(config.REFLECTABLE)
    command = click.option(
        "--no-reflect", "no_reflect", type=kinds, multiple=True, help="Stop reflecting KIND (repeatable)."
    )(command)
    return click.option(
        "--reflect",
        "reflect",
        type=kinds,
        multiple=True,
        help="Also reflect KIND (repeatable): services (default on: the Services of namespaces with mirrored"
        " pods, with their EndpointSlices), endpoints (their legacy Endpoints too; off by default).",
    )(command)


def reflected(reflect: tuple[str, ...], no_reflect: tuple[str, ...]) -> frozenset[str]:
    """The default set, plus ``--reflect``, minus ``--no-reflect``; a kind named by both is a mistake."""
    both = sorted(set(reflect) & set(no_reflect))
    if both:
        raise InputError(f"--reflect and --no-reflect both name {', '.join(both)}; give one")
    return (config.DEFAULT_REFLECT | set(reflect)) - set(no_reflect)


def serving_certificate_options(*, service: str, without_secret: str) -> Callable[[Callable[..., Any]], Any]:
    """The serving-certificate flags the webhook and the extender share (:mod:`provider.serving.certs`):
    ``--tls-cert-file``/``--tls-key-file``, ``--tls-secret``, ``--tls-san``, ``--service-name`` (default
    ``service``) and ``--service-namespace``. ``without_secret`` says what happens with neither files nor Secret."""
    options = [
        click.option(
            "--tls-cert-file",
            type=click.Path(dir_okay=False),
            help="Serving certificate, e.g. a cert-manager Secret mount; re-read every minute. Wins over --tls-secret.",
        ),
        click.option("--tls-key-file", type=click.Path(dir_okay=False), help="Key of --tls-cert-file."),
        click.option(
            "--tls-secret",
            callback=secret_name_option,
            help="kubernetes.io/tls Secret in --service-namespace holding a self-signed certificate shared by all"
            f" replicas; created, or renewed 30 days before expiry. {without_secret}",
        ),
        click.option(
            "--tls-san",
            "tls_sans",
            multiple=True,
            callback=subject_alt_names_option,
            help="Extra subjectAltName (DNS name or IP) for generated certificates.",
        ),
        click.option(
            "--service-name",
            default=service,
            show_default=True,
            callback=service_name_option,
            help="Service in front of this server (certificate names).",
        ),
        click.option(
            "--service-namespace",
            default="tensile-system",
            show_default=True,
            callback=namespace_option,
            help="Namespace of the Service and the Secret.",
        ),
    ]

    def apply(command: Callable[..., Any]) -> Any:
        for option in reversed(options):
            command = option(command)
        return command

    return apply
