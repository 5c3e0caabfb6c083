"""Every label, annotation and taint key tensile reads or writes (DESIGN.md §3)."""

from __future__ import annotations

PREFIX = "tensile.io"

# Virtual node (owned by the provider).
VIRTUAL_NODE_TYPE_LABEL = "type"
VIRTUAL_NODE_TYPE_VALUE = "virtual-kubelet"
ROLE_LABEL = "kubernetes.io/role"
ROLE_VALUE = "agent"
HOSTNAME_LABEL = "kubernetes.io/hostname"
LOWER_CLUSTER_LABEL = f"{PREFIX}/lower-cluster"
VIRTUAL_NODE_TAINT_KEY = "virtual-kubelet.io/provider"
VIRTUAL_NODE_TAINT_VALUE = "tensile"

# Mirrored objects in a lower cluster.
UPPER_CLUSTER_LABEL = f"{PREFIX}/upper-cluster"
VIRTUAL_NODE_LABEL = f"{PREFIX}/virtual-node"
UPPER_UID_ANNOTATION = f"{PREFIX}/upper-uid"
# On a ConfigMap/Secret copy: JSON list of the virtual nodes whose mirrors use it (several
# virtual nodes of one upper cluster may share a lower cluster, and so one copy).
COPY_USERS_ANNOTATION = f"{PREFIX}/used-by"
STASHED_CONSTRAINTS_ANNOTATION = f"{PREFIX}/lower-constraints"

# Avoidance record on a controlling owner: JSON {node: expiry RFC 3339}.
AVOID_NODES_ANNOTATION = f"{PREFIX}/avoid-nodes"

# Upstream descheduler keys.
EVICT_ANNOTATION = "descheduler.alpha.kubernetes.io/evict"
PREFER_NO_EVICTION_ANNOTATION = "descheduler.alpha.kubernetes.io/prefer-no-eviction"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"

# Well-known Kubernetes node labels set on the virtual node.
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
# On a mirror: JSON {"labels": [...], "annotations": [...]}, the keys copied from the upper pod.
COPIED_KEYS_ANNOTATION = f"{PREFIX}/copied-keys"

# Services reflected into a lower cluster (provider.pods.service_plan, provider.pods.endpoint_plan).
# On an upper Service: "false" keeps it out of every lower cluster.
REFLECT_ANNOTATION = f"{PREFIX}/reflect"
# On a lower Service: the upper type when it was not ClusterIP/ExternalName (NodePort, LoadBalancer),
# and the upper selector as JSON (the lower copy has none, so the lower controllers leave it alone).
SERVICE_TYPE_ANNOTATION = f"{PREFIX}/service-type"
SERVICE_SELECTOR_ANNOTATION = f"{PREFIX}/service-selector"
# On every reflected object: a digest of what tensile wrote, so an unchanged source writes nothing.
SOURCE_HASH_ANNOTATION = f"{PREFIX}/source-hash"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ENDPOINTSLICE_MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
ENDPOINTSLICE_MANAGED_BY = PREFIX
# On a lower Endpoints object: the lower endpointslice-mirroring controller must not turn it into slices.
ENDPOINTS_SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"

# The fit summary a provider publishes for the scheduler extender (provider.node.fit_publisher):
# a Lease kube-node-lease/<node>-tensile-fit, labelled so the extender watches only those, whose
# annotation holds the summary's JSON (provider.fit.summary) and whose renewTime is its heartbeat.
FIT_SUMMARY_LABEL = f"{PREFIX}/fit-summary"
FIT_SUMMARY_ANNOTATION = f"{PREFIX}/fit-summary"
FIT_LEASE_SUFFIX = "-tensile-fit"
NODE_LEASE_NAMESPACE = "kube-node-lease"
