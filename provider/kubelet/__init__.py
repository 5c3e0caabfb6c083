"""The virtual node's kubelet API: what the upper kube-apiserver calls on a node (``kubectl logs`` today).

- ``server``: :class:`KubeletServer`, the HTTPS server on the node's daemon endpoint, and
  :data:`~provider.kubelet.server.ROUTES`, which maps each method and path to an endpoint function;
- ``logs``: the ``/containerLogs`` endpoint (query parsing as the kubelet does it, the relay, the
  hang-up watch) and :class:`LowerLogs`, which reads the mirror's log from the lower cluster;
- ``exec`` (exec and attach) and ``portforward`` (``/portForward``: ``forwarding`` runs one session,
  ``stream_pairs`` pairs its streams, ``lower_portforward`` is the lower leg), over the SPDY/3
  (``spdy*``) and WebSocket (``websocket``) transports;
- ``exchange``: what every endpoint works with (the request being answered, the streams in flight).

Import order: server -> endpoint modules (logs, exec, portforward) -> exchange. A new
endpoint family is one module and one route entry. TLS comes from ``provider.serving``.
"""

from provider.kubelet.logs import LowerLogs
from provider.kubelet.server import KubeletServer

__all__ = ["KubeletServer", "LowerLogs"]
