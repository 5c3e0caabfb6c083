"""The virtual node's kubelet API: what the upper kube-apiserver calls on a node (``kubectl logs`` today).

- ``server``: :class:`KubeletServer`, the HTTPS server on the node's daemon endpoint, and
  :data:`~provider.kubelet.server.ROUTES`, which maps each method and path to an endpoint function;
- ``logs``: the ``/containerLogs`` endpoint (query parsing as the kubelet does it, the relay, the
  hang-up watch) and :class:`LowerLogs`, which reads the mirror's log from the lower cluster;
- ``access``: who may call with ``--authorize`` (:class:`Access`: client certificate or bearer token,
  then a SubjectAccessReview, as a kubelet's webhook authn/authz; :class:`UpperReviews` asks the upper
  cluster);
- ``resource_metrics``: ``/metrics/resource`` and ``/stats/summary`` (``kubectl top``), from
  :class:`LowerMetrics` (``lower_metrics``: the lower kubelets' pages through the node proxy),
  read and written by the pure ``prometheus_text``, ``resource_usage`` and ``usage_rendering``;
- ``exec`` (exec and attach: ``remote_command`` relays between ``ws_upper``/``spdy_upper`` and
  ``lower_exec``) and ``portforward`` (``/portForward``: ``forwarding`` runs one session,
  ``stream_pairs`` pairs its streams, ``lower_portforward`` is the lower leg), over the SPDY/3
  (``spdy*``) and WebSocket (``websocket``) transports; both lower legs are ``lower_websocket``
  clients of the lower API server;
- ``exchange``: what every endpoint works with (the request being answered, the streams in flight).

Import order: server -> access and endpoint modules (logs, exec, portforward, resource_metrics) -> exchange. A new
endpoint family is one module and one route entry. TLS comes from ``provider.serving``.
"""

from provider.kubelet.access import Access, UpperReviews
from provider.kubelet.logs import LowerLogs
from provider.kubelet.lower_metrics import LowerMetrics
from provider.kubelet.server import KubeletServer

__all__ = ["Access", "KubeletServer", "LowerLogs", "LowerMetrics", "UpperReviews"]
