"""HTTPS for the provider's servers, the kubelet API (``provider.kubelet``), the admission webhook
(``provider.webhook``) and the scheduler extender (``provider.extender``); none knows what the others serve.

- ``tls``: certificates (self-signed pairs, the files the provider serves with, checks that name
  the bad file) and :func:`~provider.serving.tls.server_context`, the one place a server-side
  ``SSLContext`` is built;
- ``https``: :class:`~provider.serving.https.TlsServer`, a threading HTTPS server that takes its
  context per connection (so a renewed certificate applies to the next handshake);
- ``certs``: where the webhook's and the extender's serving certificate comes from (mounted files,
  a Secret the replicas share, or a per-process pair) and when a certificate must be replaced.

``https`` and ``certs`` may use ``tls``, never the reverse; all sit below the endpoints and import no
other provider module.
"""
