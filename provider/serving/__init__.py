"""HTTPS for the provider's two endpoints, the kubelet API (``provider.kubelet``) and the admission
webhook (``provider.webhook``); neither knows what the other serves.

- ``tls``: certificates (self-signed pairs, the files the provider serves with, checks that name
  the bad file) and :func:`~provider.serving.tls.server_context`, the one place a server-side
  ``SSLContext`` is built;
- ``https``: :class:`~provider.serving.https.TlsServer`, a threading HTTPS server that takes its
  context per connection (so a renewed certificate applies to the next handshake).

``https`` may use ``tls``, never the reverse; both sit below the endpoints and import no other
provider module.
"""
