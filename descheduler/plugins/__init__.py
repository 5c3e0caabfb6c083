"""Built-in plugins. ``default_registry`` is the one explicit list of them."""

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
