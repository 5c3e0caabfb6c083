"""tensile-virtual-node: a lower cluster presented as one node of the upper cluster.

The map, top layer first (each part imports only what is below it; see .importlinter):

- ``cli``: click only: the ``run`` (default) and ``webhook`` commands; ``flags`` turns flag
  values into settings (``config.ProviderConfig``, ``webhook.Settings``);
- ``app``: one virtual node: the informers, the controllers they feed, the kubelet API server
  and /metrics, started in order and drained on SIGTERM;
- the rooms, which never import each other:
  ``pods/`` (PodController, StatusSync, CopiesController around the pure mirror, status and
  deps planners), ``node/`` (NodeController, LeaseController, pure builders and capacity),
  ``kubelet/`` (the kubelet HTTPS API: routes to one module per endpoint family),
  ``webhook/`` (the admission webhook process: pure review, admission, server, certs, app);
- the ground they share: ``kube/`` (informer, work queue, reachability tracker, object keys),
  ``serving/`` (the HTTPS server and TLS), ``metrics``;
- ``config`` (the settings) and ``requeue`` (when a queue tries a key again).

From the descheduler it uses only the shared surface listed in ``descheduler/__init__.py``.
"""
