"""The admission webhook process (``tensile-virtual-node webhook``): on Pod CREATE, keep pods off the
virtual nodes their controlling owner must avoid, and optionally stash constraints meant for lower nodes.

- ``review``: the pure decision, an AdmissionReview request plus what was looked up -> the response
  with its JSONPatch (no I/O);
- ``certs``: the serving certificate's names and sources (files, a shared Secret, in memory) and
  the MutatingWebhookConfiguration's caBundle;
- ``admission``: parses a review body, looks up the owner's avoidance record and the virtual nodes,
  asks ``review`` and logs what changed (the :class:`~provider.webhook.admission.Admitter`);
- ``server``: the HTTPS server that hands POST /mutate-pods bodies to the admitter;
- ``app``: the flags (:class:`Settings`, :func:`check`) and :class:`Webhook`, which wires and runs the rest.

Import order: app -> server -> admission -> certs -> review. TLS comes from ``provider.serving``.
"""

from provider.webhook.app import Settings, Webhook, check

__all__ = ["Settings", "Webhook", "check"]
