"""tensile-deschedule: policy -> cluster state -> plugins -> evictor -> report.

How a run goes (top layer first; each imports only from layers below it, see .importlinter):

- ``cli`` (click: flags and one-line errors) -> ``options`` (flags -> one frozen RunOptions)
  -> ``app`` (wiring of a once, daemon or leader-elected run) -> ``daemon``/``runner`` (one cycle:
  state -> profiles -> writer -> report) -> ``metrics`` (the run's Prometheus figures);
- ``plugins/`` (one module per strategy) on ``framework/`` (extension points, registry,
  profiles) on ``evictor/`` (protections, limits, budgets, the writers that evict or record);
- ``placement`` (would a pod fit elsewhere), ``cluster/`` (ClusterState from a live cluster or a
  snapshot), ``report`` (table, JSON, YAML) and ``report_html`` (the same as one HTML page with bars),
  ``utilisation`` (requests per node before and after the plan), ``policy/`` (the v1alpha2 policy: types, loading,
  validation, schema; a leaf every layer above may import);
- ``kube/`` (the one door to the API server: client, kubeconfig, retries, errors, paths, leader
  election, the list-then-watch informer), ``serving`` (the /metrics and /healthz HTTP server);
- plain data and parsing: ``bodies`` (TypedDicts of raw API bodies), ``model``, ``matching``,
  ``avoidance``, ``keys``, ``quantity``,
  ``durations``, ``addresses``, ``wire``/``wire_errors``/``documents`` (decoding input),
  ``errors``, ``wording``, ``logsetup``.

The shared surface: the modules that ``provider`` (tensile-virtual-node) may import, enforced
by the import contract "provider uses only the descheduler's shared surface". Anything else
here is the descheduler's own and may change without the provider noticing.
"""

SHARED_SURFACE = (
    "descheduler.kube",
    "descheduler.errors",
    "descheduler.keys",
    "descheduler.quantity",
    "descheduler.durations",
    "descheduler.addresses",
    "descheduler.model",
    "descheduler.matching",
    "descheduler.avoidance",
    "descheduler.bodies",
    "descheduler.logsetup",
    "descheduler.serving",
)
"""Modules (and packages) of the descheduler that the provider may import."""
