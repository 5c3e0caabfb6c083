"""The one door to eviction, and what decides whether a pod may go through it.

- ``evictor``: :class:`~descheduler.evictor.evictor.Evictor`, one per cycle; checks limits, asks
  the writer, records each decision and updates the cluster state alike in dry and live runs;
- ``writers``: the ``EvictionWriter`` protocol and its implementations: ``ApiWriter`` (Eviction
  API, Events, avoidance records), ``DryRunRecorder`` (no I/O), ``FencedWriter`` (stops when
  leadership is lost);
- ``limits``: per-node, per-namespace and total counters raising the limit errors strategies react to;
- ``budgets``: the cycle's PodDisruptionBudgets and the disruptions each still allows;
- ``filters``: the DefaultEvictor's protections as pure, named predicates (used by
  :mod:`descheduler.plugins.default_evictor`).

The runner builds the evictor with the writer :mod:`descheduler.app` chose; plugins reach it
only through their handle (:mod:`descheduler.framework`) and never see which writer it is.
"""
