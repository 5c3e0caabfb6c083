"""The one door to the Kubernetes API, shared by the descheduler and the provider.

- ``client``: ``Kube``, raw JSON requests, paginated LISTs and streams on the official client's
  configuration, and ``load_configuration`` (kubeconfig, context or in-cluster);
- ``kubeconfig``: which kubeconfig files, merged as kubectl merges them, checked before any request;
- ``errors``: HTTP statuses and transport failures as tensile errors, in three families
  (``ClientError``, ``ServerError``, ``ConnectionFailedError``) under ``ApiError``;
- ``retry``: ``RetryPolicy`` values, the one retry loop ``call_with_retry``, and the cycle ``deadline``;
- ``attempts``: the time one request attempt may take and the error it ends with (used by ``Kube.request``);
- ``streaming``: streamed response bodies (watches, followed logs), closable from any thread;
- ``paths``: every API path, each segment quoted once, and the owner kinds that carry avoidance records;
- ``leaderelection``: leader election on a coordination.k8s.io Lease, as client-go does it.

Only this package imports ``kubernetes``; callers catch :mod:`descheduler.kube.errors`, never the
client library's exceptions.
"""
