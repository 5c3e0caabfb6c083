"""Choosing the streaming protocol of an upgrade request: first supported offer wins, else 400 or 403."""

from __future__ import annotations

from provider.kubelet import channels, upgrade

TRANSLATOR_OFFERS = [
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
]


def choose(kind: str, *, spdy: list[str] | None = None, websocket: list[str] | None = None) -> upgrade.Choice:
    return upgrade.choose(
        upgrade=kind,
        spdy_offers=spdy or [],
        websocket_offers=websocket or [],
        spdy_supported=channels.SPDY_PROTOCOLS,
        websocket_supported=channels.WEBSOCKET_PROTOCOLS,
    )


def test_the_api_servers_translator_gets_v4_over_spdy() -> None:
    assert choose("SPDY/3.1", spdy=TRANSLATOR_OFFERS) == upgrade.Choice("spdy", "v4.channel.k8s.io")


def test_a_passed_through_kubectl_websocket_gets_v5() -> None:
    offers = upgrade.offered(["v5.channel.k8s.io, v4.channel.k8s.io"])
    assert choose("websocket", websocket=offers) == upgrade.Choice("websocket", "v5.channel.k8s.io")


def test_no_offer_is_a_400_naming_the_header() -> None:
    refused = choose("SPDY/3.1")
    assert (refused.transport, refused.status) == (None, 400)
    assert "X-Stream-Protocol-Version is missing" in refused.reason


def test_nothing_supported_is_a_403_naming_what_we_speak() -> None:
    refused = choose("websocket", websocket=["base64.channel.k8s.io"])
    assert (refused.transport, refused.status) == (None, 403)
    assert refused.reason == (
        "protocols base64.channel.k8s.io not supported; this kubelet speaks v5.channel.k8s.io, v4.channel.k8s.io"
    )


def test_another_upgrade_is_a_400() -> None:
    assert choose("h2c", spdy=TRANSLATOR_OFFERS).status == 400


def test_offers_are_split_and_trimmed() -> None:
    assert upgrade.offered(["a, b", " c ", ""]) == ["a", "b", "c"]
