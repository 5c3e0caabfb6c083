"""Choosing the streaming protocol of an upgrade request, as a kubelet does (pure).

exec/attach/port-forward requests arrive as HTTP upgrades: ``Upgrade: SPDY/3.1`` with one
``X-Stream-Protocol-Version`` per protocol the client offers (the API server's stream
translator offers ``v5..v1.channel.k8s.io``, port-forward offers ``portforward.k8s.io``), or
``Upgrade: websocket`` with ``Sec-WebSocket-Protocol`` (passed through unchanged by an API
server when the node declares ``ExtendWebSocketsToKubelet``). :func:`choose` answers the way
the Go server does (``httpstream.Handshake``): the first offered protocol we support wins; none
offered is a 400; none supported is a 403 naming what we accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Transport = Literal["spdy", "websocket"]


@dataclass(frozen=True)
class Choice:
    """The answer to an upgrade request: the transport and protocol, or the refusal to send."""

    transport: Transport | None
    protocol: str = ""
    status: int = 101
    reason: str = ""
    """For a refusal: what the client is told (kubectl shows it after ``unable to upgrade connection:``)."""


def offered(values: Iterable[str]) -> list[str]:
    """Protocols from header values; a header may also list several, comma separated."""
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def choose(
    *,
    upgrade: str,
    spdy_offers: Sequence[str],
    websocket_offers: Sequence[str],
    spdy_supported: Sequence[str],
    websocket_supported: Sequence[str],
) -> Choice:
    """Pick the protocol of an upgrade request (header values as received, already split by :func:`offered`)."""
    kind = upgrade.strip().lower()
    if kind == "spdy/3.1":
        transport: Transport = "spdy"
        offers, supported = spdy_offers, spdy_supported
    elif kind == "websocket":
        transport, offers, supported = "websocket", websocket_offers, websocket_supported
    else:
        return Choice(None, status=400, reason=f"unsupported upgrade {upgrade!r}: expected SPDY/3.1 or websocket")
    if not offers:
        header = "X-Stream-Protocol-Version" if transport == "spdy" else "Sec-WebSocket-Protocol"
        return Choice(None, status=400, reason=f"no protocol requested: {header} is missing")
    for protocol in offers:
        if protocol in supported:
            return Choice(transport, protocol)
    return Choice(
        None,
        status=403,
        reason=f"protocols {', '.join(offers)} not supported; this kubelet speaks {', '.join(supported)}",
    )
