"""The cluster as one descheduling cycle sees it, and the two places that picture comes from.

- ``state``: :class:`~descheduler.cluster.state.ClusterState`, the cycle's nodes, pods, budgets,
  priority classes and claims; pure queries, and the two mutators the evictor calls;
- ``sources``: the ``StateSource`` protocol both sources implement, and ``build_state``
  (records by kind -> ``ClusterState``);
- ``decoding``: one object, JSON bytes or a parsed mapping, checked and turned into its
  :mod:`descheduler.model` record; both sources decode here, so they refuse the same objects;
- ``live``: ``LiveSource``, one paginated LIST per kind through :mod:`descheduler.kube`;
- ``snapshot``: ``SnapshotSource``, ``kubectl get -o yaml|json`` files, every bad object reported at once.

:mod:`descheduler.app` picks the source; the runner loads it once per cycle, and plugins and
the evictor see only the ``ClusterState`` it returns.
"""
