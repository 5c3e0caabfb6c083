"""The built-in plugins, one module per plugin, and ``default_registry``, the one explicit list of them.

A plugin module holds ``NAME`` (the upstream policy name), a frozen ``Args`` dataclass with
upstream's defaults, ``validate(args)``, the plugin class and its ``SPEC``; README.md here says
how to add one.

- ``default_evictor``: DefaultEvictor (Filter, PreEvictionFilter), the filters of a profile that names none;
- ``pod_protections``: DefaultEvictor's ``podProtections`` argument and the deprecated booleans it replaces;
- ``pod_lifetime``: PodLifeTime (Deschedule), pods matching all its criteria (age, states, ...), oldest first;
- ``remove_failed_pods``: RemoveFailedPods (Deschedule), Failed pods;
- ``remove_pods_having_too_many_restarts``: RemovePodsHavingTooManyRestarts (Deschedule);
- ``remove_pods_violating_node_affinity``: RemovePodsViolatingNodeAffinity (Deschedule);
- ``remove_pods_violating_node_taints``: RemovePodsViolatingNodeTaints (Deschedule);
- ``remove_pods_violating_inter_pod_anti_affinity``: RemovePodsViolatingInterPodAntiAffinity (Deschedule);
- ``remove_duplicates``: RemoveDuplicates (Balance), copies of one owner stacked on a node;
- ``remove_pods_violating_topology_spread_constraint``: RemovePodsViolatingTopologySpreadConstraint (Balance);
- ``low_node_utilization``: LowNodeUtilization (Balance), from overutilized towards underutilized nodes;
- ``high_node_utilization``: HighNodeUtilization (Balance), empties underutilized nodes;
- ``pending_on_virtual_node``: PendingOnVirtualNode (Deschedule, tensile's own), pods stuck behind a virtual node;
- ``virtual_node_fragmentation``: VirtualNodeFragmentation (Balance, tensile's own), room for a pod that fits nowhere;
- ``node_utilization``: the maths and eviction loop the two utilization plugins share;
- ``label_index``: pods grouped by label set, for plugins that match many selectors in one namespace;
- ``common``: argument types and helpers several plugins share (namespaces, selectors, a node's evictions).

A plugin reaches the cluster state and the evictor only through its handle, and imports no
other plugin module, only the shared ones (``common``, ``node_utilization``, ``label_index``,
``pod_protections``).
"""

from __future__ import annotations

from descheduler.framework.registry import Registry
from descheduler.plugins import (
    default_evictor,
    high_node_utilization,
    low_node_utilization,
    pending_on_virtual_node,
    pod_lifetime,
    remove_duplicates,
    remove_failed_pods,
    remove_pods_having_too_many_restarts,
    remove_pods_violating_inter_pod_anti_affinity,
    remove_pods_violating_node_affinity,
    remove_pods_violating_node_taints,
    remove_pods_violating_topology_spread_constraint,
    virtual_node_fragmentation,
)


def default_registry() -> Registry:
    """Every built-in plugin: what the CLI runs, validates and lists, and what the policy schema is made of."""
    return Registry(
        [
            default_evictor.SPEC,
            high_node_utilization.SPEC,
            low_node_utilization.SPEC,
            pending_on_virtual_node.SPEC,
            pod_lifetime.SPEC,
            remove_duplicates.SPEC,
            remove_failed_pods.SPEC,
            remove_pods_having_too_many_restarts.SPEC,
            remove_pods_violating_inter_pod_anti_affinity.SPEC,
            remove_pods_violating_node_affinity.SPEC,
            remove_pods_violating_node_taints.SPEC,
            remove_pods_violating_topology_spread_constraint.SPEC,
            virtual_node_fragmentation.SPEC,
        ]
    )


__all__ = ["default_registry"]
