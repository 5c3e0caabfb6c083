"""Pure planner that mirrors one upper Pod into the lower cluster (DESIGN.md §3).

The reconcile loop calls :func:`plan` with its cached upper and lower pod of one
namespace/name and applies the returned action. Restart safety lives here: a lower pod
without both ownership labels is never touched, and one that belongs to an older upper pod
of the same name is deleted under a uid precondition, never adopted.

Node constraints in the upper spec address *virtual* nodes (``type=virtual-kubelet``, the
webhook's ``hostname NotIn``), so the mirror drops them and gets the ones the admission
webhook stashed for the lower nodes instead (:mod:`provider.fit.constraints`, which the
scheduler extender judges too).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import bodies, keys
from provider.fit import constraints
from provider.pods import status

logger = logging.getLogger(__name__)

Raw = dict[str, Any]

# The keys copied from the upper pod are recorded, so that keys deleted upstream can be deleted
# below without touching what lower-cluster controllers (CNI, sidecar injectors) added.
COPIED_KEYS_ANNOTATION = keys.COPIED_KEYS_ANNOTATION

_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_OWNERSHIP_LABELS = frozenset({keys.UPPER_CLUSTER_LABEL, keys.VIRTUAL_NODE_LABEL})
_INTERNAL_ANNOTATIONS = frozenset(
    {keys.UPPER_UID_ANNOTATION, keys.STASHED_CONSTRAINTS_ANNOTATION, COPIED_KEYS_ANNOTATION}
)
_LEGACY_TOKEN_VOLUME_PREFIX = "default-token-"
_PROJECTED_TOKEN_VOLUME_PREFIX = "kube-api-access-"
# Filled in by the lower cluster's admission from its own PriorityClass and RuntimeClass
# objects; copying the upper values makes admission reject the pod when the two differ.
_ADMISSION_OWNED_FIELDS = ("priority", "preemptionPolicy", "overhead")
# The lower pod runs as the lower namespace's default account with no token at all: the upper
# account does not exist below (admission would reject the pod), its upper token is stripped,
# and a same-named lower account could hold unrelated RBAC.
LOWER_SERVICE_ACCOUNT = "default"


@dataclass(frozen=True)
class Create:
    """Create this lower pod."""

    body: Raw


@dataclass(frozen=True)
class Update:
    """Apply this JSON merge patch to the lower pod (also valid as a strategic merge patch)."""

    patch: Raw


@dataclass(frozen=True)
class Delete:
    """Delete the lower pod, with a uid precondition so a newer pod of that name survives."""

    grace_period_seconds: int | None
    uid: str


@dataclass(frozen=True)
class Nothing:
    """Nothing to do below; the reason is for logs."""

    reason: str


@dataclass(frozen=True)
class Conflict:
    """A lower pod of that name exists and is not ours: never touch it."""

    reason: str


Action = Create | Update | Delete | Nothing | Conflict


def is_own_mirror(lower: Mapping[str, Any], *, upper_cluster: str, virtual_node: str) -> bool:
    """Whether ``lower`` (a pod or a copied object) belongs to this upper cluster and virtual node."""
    labels = bodies.metadata_of(lower).get("labels") or {}
    return bool(
        labels.get(keys.UPPER_CLUSTER_LABEL) == upper_cluster and labels.get(keys.VIRTUAL_NODE_LABEL) == virtual_node
    )


def service_account(spec: Mapping[str, Any]) -> str:
    """The pod's service account name as admission resolves it."""
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def is_token_secret_name(name: str, *, account: str) -> bool:
    """Whether a secret name is that of a legacy service-account token secret."""
    return name.startswith(_LEGACY_TOKEN_VOLUME_PREFIX) or name.startswith(f"{account}-token-")


def is_token_volume(volume: Mapping[str, Any], *, account: str) -> bool:
    """Whether ``volume`` carries the upper service-account token (legacy secret or projected)."""
    name = str(volume.get("name") or "")
    if "projected" in volume:
        return name.startswith(_PROJECTED_TOKEN_VOLUME_PREFIX)
    secret = volume.get("secret")
    if secret is None:
        return False
    secret_name = str(secret.get("secretName") or "")
    return name.startswith(_LEGACY_TOKEN_VOLUME_PREFIX) or is_token_secret_name(secret_name, account=account)


# -- building the mirror --------------------------------------------------------------


def lower_pod(upper: Mapping[str, Any], *, upper_cluster: str, virtual_node: str) -> Raw:
    """The mirror of ``upper``: same namespace and name, owned by labels, no upper-only fields."""
    meta = upper["metadata"]
    spec: Raw = copy.deepcopy(dict(upper.get("spec") or {}))
    spec.pop("nodeName", None)
    # Ephemeral containers cannot be set on create; they are an upper-side debugging tool.
    spec.pop("ephemeralContainers", None)
    # The scheduler that placed the pod upstairs (a second profile, say) need not exist below.
    spec.pop("schedulerName", None)
    for field in _ADMISSION_OWNED_FIELDS:
        spec.pop(field, None)
    _strip_token_volumes(spec)
    spec["serviceAccountName"] = LOWER_SERVICE_ACCOUNT
    spec.pop("serviceAccount", None)  # deprecated alias; the server fills it from serviceAccountName
    spec["automountServiceAccountToken"] = False
    _restore_constraints(spec, meta.get("annotations") or {}, key=_key(upper))
    labels, annotations = _desired_metadata(upper, upper_cluster=upper_cluster, virtual_node=virtual_node)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace") or "default",
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }


def _strip_token_volumes(spec: Raw) -> None:
    account = service_account(spec)
    volumes = spec.get("volumes") or []
    dropped = {v.get("name") for v in volumes if is_token_volume(v, account=account)}
    if not dropped:
        return
    spec["volumes"] = [v for v in volumes if v.get("name") not in dropped]
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or ():
            if "volumeMounts" in container:
                container["volumeMounts"] = [m for m in container["volumeMounts"] if m.get("name") not in dropped]


def _restore_constraints(spec: Raw, annotations: Mapping[str, str], *, key: str) -> None:
    """Swap the upper node constraints for the stashed lower ones; tolerations only grow."""
    lower = constraints.lower_constraints(spec, annotations)
    for problem in lower.problems:
        logger.warning("pod %s: %s", key, problem)
    spec.pop("nodeSelector", None)
    if lower.node_selector:
        spec["nodeSelector"] = lower.node_selector
    spec.pop("affinity", None)
    if lower.affinity:
        spec["affinity"] = lower.affinity
    if lower.tolerations:
        spec["tolerations"] = lower.tolerations


def _desired_metadata(
    upper: Mapping[str, Any], *, upper_cluster: str, virtual_node: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Labels and annotations the mirror must carry: the upper ones plus ownership and bookkeeping."""
    meta = upper["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in _OWNERSHIP_LABELS}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _INTERNAL_ANNOTATIONS}
    copied = {"annotations": sorted(annotations), "labels": sorted(labels)}
    labels[keys.UPPER_CLUSTER_LABEL] = upper_cluster
    labels[keys.VIRTUAL_NODE_LABEL] = virtual_node
    annotations[keys.UPPER_UID_ANNOTATION] = str(meta.get("uid") or "")
    annotations[COPIED_KEYS_ANNOTATION] = json.dumps(copied, separators=(",", ":"), sort_keys=True)
    return labels, annotations


# -- planning -------------------------------------------------------------------------


def plan(
    upper: Mapping[str, Any] | None, lower: Mapping[str, Any] | None, *, upper_cluster: str, virtual_node: str
) -> Action:
    """What to do below so that ``lower`` mirrors ``upper`` (either may be absent)."""
    wanted = upper is not None and _wants_mirror(upper, virtual_node)
    if lower is not None and not is_own_mirror(lower, upper_cluster=upper_cluster, virtual_node=virtual_node):
        if wanted:
            return Conflict(f"lower pod {_key(lower)} exists and is not a mirror of {virtual_node}")
        return Nothing("the lower pod is not ours")
    if lower is not None:
        return _plan_own(upper, lower, upper_cluster=upper_cluster, virtual_node=virtual_node)
    if upper is None:
        return Nothing("no upper pod and no mirror")
    if not wanted:
        return Nothing(_why_unwanted(upper, virtual_node))
    if status.mirror_reported(upper):
        # The mirror existed and vanished (lower eviction, drain): like a kubelet that lost a
        # pod, fail it upstairs (status.lost_mirror_patch) so its controller replaces it.
        return Nothing("the mirror was lost; the upper pod is failed, not mirrored again")
    return Create(lower_pod(upper, upper_cluster=upper_cluster, virtual_node=virtual_node))


def plan_inputs(pod: Mapping[str, Any], *, upper: bool) -> tuple[Any, ...]:
    """What of an upper pod (``upper``) or of its mirror :func:`plan` and the lost-mirror check read.

    Two versions of a pod with equal inputs get the same plan, so the pod controller need not
    plan again for a change outside them: the many status updates of a starting mirror, and
    the status copies written onto the upper pod, concern the status copy alone. Of the
    status, only the upper pod's phase and whether a mirror ever reported count, and of the
    node only the upper pod's (the lower scheduler's binding changes no plan).
    """
    meta = bodies.metadata_of(pod)
    spec = pod.get("spec") or {}
    images = tuple(
        (c.get("name"), c.get("image")) for field in ("containers", "initContainers") for c in spec.get(field) or ()
    )
    inputs = (
        meta.get("uid"),
        meta.get("generation"),
        meta.get("deletionTimestamp"),
        meta.get("deletionGracePeriodSeconds"),
        meta.get("labels"),
        meta.get("annotations"),
        spec.get("activeDeadlineSeconds"),
        images,
    )
    return (*inputs, spec.get("nodeName"), _phase(pod), status.mirror_reported(pod)) if upper else inputs


def _wants_mirror(upper: Mapping[str, Any], virtual_node: str) -> bool:
    return (
        (upper.get("spec") or {}).get("nodeName") == virtual_node
        and not upper["metadata"].get("deletionTimestamp")
        and _phase(upper) not in _TERMINAL_PHASES
    )


def _why_unwanted(upper: Mapping[str, Any], virtual_node: str) -> str:
    if (upper.get("spec") or {}).get("nodeName") != virtual_node:
        return f"the upper pod is not bound to {virtual_node}"
    if upper["metadata"].get("deletionTimestamp"):
        return "the upper pod is being deleted and has no mirror"
    return "the upper pod has finished"


def _plan_own(
    upper: Mapping[str, Any] | None, lower: Mapping[str, Any], *, upper_cluster: str, virtual_node: str
) -> Action:
    """``lower`` is ours: delete it, leave it, or bring its mutable fields up to date."""
    if upper is None:
        return _delete(lower, None, "the upper pod is gone")
    upper_meta = upper["metadata"]
    if _annotations(lower).get(keys.UPPER_UID_ANNOTATION) != upper_meta.get("uid"):
        return _delete(lower, None, "the mirror belongs to an older upper pod of the same name")
    if (upper.get("spec") or {}).get("nodeName") != virtual_node:
        return _delete(lower, None, f"the upper pod is not bound to {virtual_node}")
    if upper_meta.get("deletionTimestamp"):
        return _delete(lower, upper_meta.get("deletionGracePeriodSeconds"), "the upper pod is being deleted")
    if _phase(upper) in _TERMINAL_PHASES:
        return Nothing("the upper pod has finished; the mirror keeps its own lifecycle")
    if lower["metadata"].get("deletionTimestamp"):
        return Nothing("the mirror is being deleted")
    patch = _update_patch(upper, lower, upper_cluster=upper_cluster, virtual_node=virtual_node)
    return Update(patch) if patch else Nothing("the mirror is up to date")


def _delete(lower: Mapping[str, Any], grace: int | None, why: str) -> Delete | Nothing:
    meta = lower["metadata"]
    if meta.get("deletionTimestamp"):
        current = meta.get("deletionGracePeriodSeconds")
        # Deleting again only helps when it shortens the grace period (a force delete upstairs).
        if grace is None or (current is not None and current <= grace):
            return Nothing(f"{why}; the mirror is already being deleted")
    return Delete(grace, str(meta.get("uid") or ""))


def _update_patch(upper: Mapping[str, Any], lower: Mapping[str, Any], *, upper_cluster: str, virtual_node: str) -> Raw:
    """Merge patch of the fields a pod may change after creation: images, deadline, metadata."""
    labels, annotations = _desired_metadata(upper, upper_cluster=upper_cluster, virtual_node=virtual_node)
    removable = _copied_keys(lower)
    meta_patch: Raw = {}
    for field, desired in (("labels", labels), ("annotations", annotations)):
        current = lower["metadata"].get(field) or {}
        changes = _map_patch(current, desired, removable=removable.get(field, ()))
        if changes:
            meta_patch[field] = changes
    spec_patch: Raw = {}
    upper_spec, lower_spec = upper.get("spec") or {}, lower.get("spec") or {}
    for field in ("containers", "initContainers"):
        containers = _with_images(upper_spec.get(field) or (), lower_spec.get(field) or ())
        if containers is not None:
            spec_patch[field] = containers
    if upper_spec.get("activeDeadlineSeconds") != lower_spec.get("activeDeadlineSeconds"):
        spec_patch["activeDeadlineSeconds"] = upper_spec.get("activeDeadlineSeconds")
    patch: Raw = {}
    if meta_patch:
        patch["metadata"] = meta_patch
    if spec_patch:
        patch["spec"] = spec_patch
    return patch


def _map_patch(
    current: Mapping[str, str], desired: Mapping[str, str], *, removable: Iterable[str]
) -> dict[str, str | None]:
    changes: dict[str, str | None] = {k: v for k, v in desired.items() if current.get(k) != v}
    changes.update({k: None for k in removable if k in current and k not in desired})
    return changes


def _copied_keys(lower: Mapping[str, Any]) -> dict[str, list[str]]:
    """What an earlier plan copied from upstairs; without a record nothing is removed."""
    try:
        record = json.loads(_annotations(lower).get(COPIED_KEYS_ANNOTATION) or "{}")
    except ValueError:
        return {}
    if not isinstance(record, dict):
        return {}
    return {field: [k for k in record.get(field) or () if isinstance(k, str)] for field in ("labels", "annotations")}


def _with_images(upper: Iterable[Mapping[str, Any]], lower: Iterable[Mapping[str, Any]]) -> list[Raw] | None:
    """The lower container list with the upper images, or None when no image differs.

    The whole list is sent because a merge patch replaces lists; every other field is the
    lower pod's own, so the update changes images only, which pod validation allows.
    """
    images = {c.get("name"): c.get("image") for c in upper}
    changed = False
    result: list[Raw] = []
    for container in lower:
        image = images.get(container.get("name"))
        if image is not None and image != container.get("image"):
            result.append({**container, "image": image})
            changed = True
        else:
            result.append(dict(container))
    # Copied: the lower list lives in an informer cache that must never change under it.
    return copy.deepcopy(result) if changed else None


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    annotations: Mapping[str, str] = bodies.metadata_of(obj).get("annotations") or {}
    return annotations


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
