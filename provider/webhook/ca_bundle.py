"""The caBundle that makes the API server trust the webhook's serving certificate.

:class:`CaBundleSync` keeps one MutatingWebhookConfiguration's caBundle equal to what is served; it
touches no other object. The certificate itself comes from :mod:`provider.serving.certs`.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any, cast

from descheduler.kube import errors, paths
from descheduler.kube.client import Kube

logger = logging.getLogger(__name__)

Raw = dict[str, Any]

# Optimistic-concurrency attempts (409) for the webhook configuration.
CONFLICT_ATTEMPTS = 5
WEBHOOK_CONFIGS = "mutatingwebhookconfigurations"


def ca_bundle(cert_pem: bytes) -> str:
    """The caBundle that trusts a self-signed serving certificate: the certificate itself, base64."""
    return base64.b64encode(cert_pem).decode()


def with_ca_bundle(config: Mapping[str, Any], bundle: str) -> Raw | None:
    """``config`` with every webhook's ``clientConfig.caBundle`` set to ``bundle``, or None if all already are."""
    hooks = config.get("webhooks") or []
    if all((hook.get("clientConfig") or {}).get("caBundle") == bundle for hook in hooks):
        return None
    updated = json.loads(json.dumps(config))
    for hook in updated["webhooks"]:
        hook.setdefault("clientConfig", {})["caBundle"] = bundle
    return cast(Raw, updated)


class CaBundleSync:
    """Keeps one MutatingWebhookConfiguration's caBundle equal to the serving certificate; touches nothing else."""

    def __init__(self, kube: Kube, name: str) -> None:
        self._kube = kube
        self.name = name
        self._path = paths.resource(paths.ADMISSION, WEBHOOK_CONFIGS, name=name)

    def sync(self, cert_pem: bytes) -> bool:
        """True when the configuration was updated. A 409 (someone else wrote it) means read and compare again."""
        bundle = ca_bundle(cert_pem)
        for _attempt in range(CONFLICT_ATTEMPTS):
            updated = with_ca_bundle(self._kube.get(self._path), bundle)
            if updated is None:
                return False
            try:
                self._kube.put(self._path, updated)
            except errors.ConflictError:
                logger.debug("admission: %s changed while updating its caBundle; reading it again", self.name)
                continue
            logger.info("admission: MutatingWebhookConfiguration %s: caBundle updated", self.name)
            return True
        raise errors.ConflictError(409, "Conflict", f"{self.name}: caBundle update kept conflicting")
