"""The webhook's caBundle on plain data: when the MutatingWebhookConfiguration is written, and what.

The MutatingWebhookConfiguration on a real API server: tests/e2e/test_webhook.py.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from provider.webhook import ca_bundle


def config(*bundles: str | None) -> dict[str, Any]:
    hooks = []
    for i, bundle in enumerate(bundles):
        client: dict[str, Any] = {"url": "https://127.0.0.1:9443/mutate-pods"}
        if bundle is not None:
            client["caBundle"] = bundle
        hooks.append({"name": f"h{i}.tensile.io", "clientConfig": client})
    return {"metadata": {"name": "cfg", "resourceVersion": "7"}, "webhooks": hooks}


def test_ca_bundle_is_the_base64_certificate() -> None:
    assert base64.b64decode(ca_bundle.ca_bundle(b"PEM")) == b"PEM"


@pytest.mark.parametrize(
    ("bundles", "changes"),
    [
        (("NEW", "NEW"), False),
        ((None,), True),
        (("OLD",), True),
        (("NEW", "OLD"), True),
        ((), False),
    ],
    ids=["all equal → no write", "missing → write", "different → write", "one of two differs → write", "no hooks"],
)
def test_with_ca_bundle_writes_only_when_a_webhook_differs(bundles: tuple[str | None, ...], changes: bool) -> None:
    before = config(*bundles)
    updated = ca_bundle.with_ca_bundle(before, "NEW")
    assert (updated is not None) is changes
    if updated is not None:
        assert [h["clientConfig"]["caBundle"] for h in updated["webhooks"]] == ["NEW"] * len(bundles)
        assert updated["metadata"]["resourceVersion"] == "7", "the PUT is conditional on what was read"
        assert updated["webhooks"][0]["clientConfig"]["url"] == "https://127.0.0.1:9443/mutate-pods"
    assert before == config(*bundles), "the input is not changed"
