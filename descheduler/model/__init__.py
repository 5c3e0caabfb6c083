"""Compact records of the Kubernetes objects the descheduler reasons about.

Raw API bodies are large; at 150k pods keeping them would cost gigabytes. The records keep
only what strategies and the evictor read, with quantities already parsed to integers and
timestamps to epoch seconds, built from objects :mod:`descheduler.wire` has already checked.

- ``records``: the records themselves (``Pod``, ``Node``, ``PodDisruptionBudget``, ...);
- ``building``: ``*_from_wire`` builds a record from a checked wire object, ``*_from_raw`` from a
  parsed mapping (a watch event, a test's body), raising ``ObjectError`` naming the bad field;
- ``resources``: resource lists as integers, a pod's effective requests and its QoS class, as
  Kubernetes computes them.

Every name is re-exported here, so callers write ``model.Pod`` and ``model.node_from_raw``.
"""

from descheduler.model.building import (
    RawObject,
    namespace_from_wire,
    node_from_raw,
    node_from_wire,
    parse_time,
    pdb_from_wire,
    pod_from_raw,
    pod_from_wire,
    priority_class_from_wire,
    pvc_from_wire,
)
from descheduler.model.records import (
    Condition,
    ContainerStatus,
    Namespace,
    Node,
    OwnerRef,
    PersistentVolumeClaim,
    Pod,
    PodDisruptionBudget,
    PriorityClass,
    Taint,
)
from descheduler.model.resources import Resources, pod_requests, qos_class, resources_from_wire

__all__ = [
    "Condition",
    "ContainerStatus",
    "Namespace",
    "Node",
    "OwnerRef",
    "PersistentVolumeClaim",
    "Pod",
    "PodDisruptionBudget",
    "PriorityClass",
    "RawObject",
    "Resources",
    "Taint",
    "namespace_from_wire",
    "node_from_raw",
    "node_from_wire",
    "parse_time",
    "pdb_from_wire",
    "pod_from_raw",
    "pod_from_wire",
    "pod_requests",
    "priority_class_from_wire",
    "pvc_from_wire",
    "qos_class",
    "resources_from_wire",
]
