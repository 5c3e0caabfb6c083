"""Network addresses as flags give them: ``HOST:PORT``, ``:PORT`` or ``[IPv6]:PORT``, with the
host checked for form (an IPv4 or IPv6 address or a DNS name). Shared by the descheduler's
and the provider's listeners and by the descheduler's Pushgateway URL check."""

from __future__ import annotations

import ipaddress
import re


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` (all interfaces); HOST is an IPv4 address, an IPv6 address in
    brackets (``[::1]:10255``) or a DNS name. Returns the host without brackets and the port.

    Raises ValueError naming the problem. Only the form is checked: whether a name resolves, or
    an address is this machine's, is for the caller that binds it to find out.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise ValueError(f"{address!r} is not HOST:PORT or :PORT (port 0-65535)")
    if host.startswith("[") or host.endswith("]"):
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else ""
        if not _is_ip(inner, ipaddress.IPv6Address):
            raise ValueError(f"{address!r}: {host} is not an IPv6 address in brackets")
        return inner, int(port)
    if ":" in host:
        raise ValueError(f"{address!r}: an IPv6 address goes in brackets, as in [::1]:{port}")
    if host and not valid_host(host):
        raise ValueError(f"{address!r}: {host!r} is neither an IPv4 address nor a DNS name")
    return host, int(port)


_DNS_LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$")


def _is_ip(text: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def valid_host(host: str) -> bool:
    """An IPv4 or IPv6 address, or a DNS name (RFC 1123) not ending in an all-digit label (999.1.1.1)."""
    if ":" in host:
        return _is_ip(host, ipaddress.IPv6Address)
    labels = host.removesuffix(".").split(".")
    if labels[-1].isdigit():
        return _is_ip(host, ipaddress.IPv4Address)
    return len(host) <= 253 and all(_DNS_LABEL.match(label) for label in labels)
