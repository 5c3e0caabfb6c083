"""Ports for the servers the tests start: one allocator for clusters, providers and webhooks.

Ports come from below the kernel's ephemeral range (``ip_local_port_range``, 32768-60999 by
default). A port picked by binding port 0 lies inside that range, so between the pick and
the server's own bind any outgoing connection of the machine (kubectl, a provider, a
watch) may take it, and the server then fails to start or a client talks to the wrong one.
A port is never handed out twice in one test session; each session starts at a random
offset so that two sessions on one machine rarely meet.
"""

from __future__ import annotations

import random
import socket
import threading

LOW, HIGH = 20000, 32000
_given: set[int] = set()
_lock = threading.Lock()
_next = [random.randrange(LOW, HIGH)]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now and this session has not handed out."""
    with _lock:
        for _ in range(HIGH - LOW):
            port = _next[0]
            _next[0] = LOW + (port + 1 - LOW) % (HIGH - LOW)
            if port in _given or not _bindable(port):
                continue
            _given.add(port)
            return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH} on 127.0.0.1")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def global_address() -> str:
    """This machine's IPv4 address that is not loopback (the one its default route leaves from).

    Servers the API server must reach through its node proxy need one: it refuses loopback.
    Raises RuntimeError when the machine has none.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("198.51.100.1", 9))  # a UDP connect sends nothing; it only picks the route
            address = str(sock.getsockname()[0])
        except OSError as exc:
            raise RuntimeError(f"no non-loopback IPv4 address on this machine: {exc}") from exc
    if address.startswith("127.") or address == "0.0.0.0":
        raise RuntimeError(f"no non-loopback IPv4 address on this machine (the default route leaves from {address})")
    return address
