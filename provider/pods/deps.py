"""Pure planners for the ConfigMaps and Secrets a mirrored pod needs in the lower cluster.

The reconcile loop copies exactly what :func:`references` names before it creates a mirror,
keeps the copies current with :func:`copy_differs`, and lets go of the ones
:func:`released_copies` returns. Several virtual nodes of one upper cluster can share a lower
cluster, and so a copy: each copy lists the virtual nodes using it (:func:`users`), and the
last one to let go deletes it. Service-account tokens are never copied (DESIGN.md §3).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import bodies, keys
from provider.pods import mirror

Raw = dict[str, Any]
ObjectKey = tuple[str, str, str]
"""(kind, namespace, name) of a ConfigMap or Secret."""

KINDS = frozenset({"ConfigMap", "Secret"})
SERVICE_ACCOUNT_TOKEN_TYPE = "kubernetes.io/service-account-token"
# Every lower namespace has its own, published by the lower cluster's controller manager.
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
_OWNERSHIP_LABELS = frozenset({keys.UPPER_CLUSTER_LABEL, keys.VIRTUAL_NODE_LABEL})
_CONTENT_FIELDS = ("data", "binaryData", "stringData", "type", "immutable")


@dataclass(frozen=True)
class Refs:
    """Names of the ConfigMaps and Secrets one pod uses, in the pod's namespace."""

    configmaps: frozenset[str]
    secrets: frozenset[str]


def references(pod: Mapping[str, Any]) -> Refs:
    """Everything the pod references, optional or not; the caller skips the missing optional ones.

    Service-account token secrets (the volumes :mod:`provider.pods.mirror` strips, and any secret
    named like one) and the lower cluster's own ``kube-root-ca.crt`` are left out.
    """
    spec = pod.get("spec") or {}
    configmaps: set[str] = set()
    secrets: set[str] = set()
    account = mirror.service_account(spec)
    for volume in spec.get("volumes") or ():
        if mirror.is_token_volume(volume, account=account):
            continue  # stripped from the mirror, so its secret is not needed below
        _volume_refs(volume, configmaps, secrets)
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or ():
            _container_refs(container, configmaps, secrets)
    secrets.update(ref.get("name") for ref in spec.get("imagePullSecrets") or ())
    configmaps.discard(ROOT_CA_CONFIGMAP)
    # Token secrets are never copied, also when an env var names one.
    wanted_secrets = {s for s in _names(secrets) if not mirror.is_token_secret_name(s, account=account)}
    return Refs(configmaps=_names(configmaps), secrets=frozenset(wanted_secrets))


def _volume_refs(volume: Mapping[str, Any], configmaps: set[str], secrets: set[str]) -> None:
    if "configMap" in volume:
        configmaps.add(volume["configMap"].get("name"))
    if "secret" in volume:
        secrets.add(volume["secret"].get("secretName"))
    for source in (volume.get("projected") or {}).get("sources") or ():
        if "configMap" in source:
            configmaps.add(source["configMap"].get("name"))
        if "secret" in source:
            secrets.add(source["secret"].get("name"))


def _container_refs(container: Mapping[str, Any], configmaps: set[str], secrets: set[str]) -> None:
    for env in container.get("env") or ():
        source = env.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            configmaps.add(source["configMapKeyRef"].get("name"))
        if "secretKeyRef" in source:
            secrets.add(source["secretKeyRef"].get("name"))
    for env_from in container.get("envFrom") or ():
        if "configMapRef" in env_from:
            configmaps.add(env_from["configMapRef"].get("name"))
        if "secretRef" in env_from:
            secrets.add(env_from["secretRef"].get("name"))


def _names(found: set[Any]) -> frozenset[str]:
    # References without a name are invalid upstream already; nothing to copy for them.
    return frozenset(name for name in found if isinstance(name, str) and name)


def lower_copy(
    obj: Mapping[str, Any], *, kind: str, upper_cluster: str, virtual_node: str, users: Iterable[str] = ()
) -> Raw:
    """The lower copy of an upper ConfigMap or Secret: its content under our ownership labels.

    ``virtual_node`` is the one creating it (a label); ``users`` the virtual nodes whose mirrors
    use it (default: the creator). Annotations are not copied: they often hold kubectl's
    last-applied configuration, a second copy of the content that nothing below reads.
    """
    if kind not in KINDS:
        raise ValueError(f"cannot copy a {kind}: only {', '.join(sorted(KINDS))}")
    if kind == "Secret" and obj.get("type") == SERVICE_ACCOUNT_TOKEN_TYPE:
        raise ValueError(f"refusing to copy service-account token secret {_key(obj)} to the lower cluster")
    meta = obj["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in _OWNERSHIP_LABELS}
    labels[keys.UPPER_CLUSTER_LABEL] = upper_cluster
    labels[keys.VIRTUAL_NODE_LABEL] = virtual_node
    body: Raw = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace") or "default",
            "labels": labels,
            "annotations": {keys.COPY_USERS_ANNOTATION: json.dumps(sorted(set(users) or {virtual_node}))},
        },
    }
    # Deep copies: ``obj`` usually lives in an informer cache that must never change under it.
    body.update({field: copy.deepcopy(obj[field]) for field in _CONTENT_FIELDS if field in obj})
    return body


def copy_differs(upper_obj: Mapping[str, Any], lower_copy: Mapping[str, Any]) -> bool:
    """Whether the copy's content (data, binaryData, type, labels other than ownership) is stale."""
    for field in ("data", "binaryData"):
        if (upper_obj.get(field) or {}) != (lower_copy.get(field) or {}):
            return True
    # The server defaults a Secret's type to Opaque; a ConfigMap has none on either side.
    if upper_obj.get("type") != lower_copy.get("type"):
        return True
    return _plain_labels(upper_obj) != _plain_labels(lower_copy)


def _plain_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels: Mapping[str, str] = bodies.metadata_of(obj).get("labels") or {}
    return {k: v for k, v in labels.items() if k not in _OWNERSHIP_LABELS}


def is_copy_of(obj: Mapping[str, Any], upper_cluster: str) -> bool:
    """Whether ``obj`` is a copy made for ``upper_cluster`` (by any of its virtual nodes)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.keys() >= _OWNERSHIP_LABELS and labels[keys.UPPER_CLUSTER_LABEL] == upper_cluster


def users(lower_copy: Mapping[str, Any]) -> frozenset[str]:
    """The virtual nodes whose mirrors use the copy.

    A copy without a readable list (written before the list existed, or damaged) belongs to
    the virtual node that created it, so exactly one virtual node may still let go of it.
    """
    meta = lower_copy.get("metadata") or {}
    creator = (meta.get("labels") or {}).get(keys.VIRTUAL_NODE_LABEL)
    fallback = frozenset({creator}) if creator else frozenset()
    try:
        listed = json.loads((meta.get("annotations") or {}).get(keys.COPY_USERS_ANNOTATION) or "null")
    except ValueError:
        return fallback
    if not isinstance(listed, list) or not all(isinstance(name, str) and name for name in listed):
        return fallback
    return frozenset(listed)


def with_users(lower_copy: Mapping[str, Any], names: Iterable[str]) -> Raw:
    """The copy (as read, resourceVersion included) with its list of users replaced."""
    updated = copy.deepcopy(dict(lower_copy))
    annotations = updated.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[keys.COPY_USERS_ANNOTATION] = json.dumps(sorted(set(names)))
    return updated


def released_copies(
    copies: Iterable[Mapping[str, Any]], referenced: set[ObjectKey], *, upper_cluster: str, virtual_node: str
) -> list[tuple[Raw, frozenset[str]]]:
    """Copies ``virtual_node`` uses but none of its mirrored pods references any more, each with
    the users left once it lets go: none left means delete it.

    Only copies made for ``upper_cluster`` are candidates (the caller lists by that label;
    this is the second lock). LIST items have no ``kind``: such a copy is kept if any
    referenced kind has its namespace and name, so a missing kind never releases something in
    use. Copies already being deleted are left alone.
    """
    by_name = {(namespace, name) for _, namespace, name in referenced}
    released: list[tuple[Raw, frozenset[str]]] = []
    for obj in copies:
        meta = obj.get("metadata") or {}
        if not is_copy_of(obj, upper_cluster) or meta.get("deletionTimestamp"):
            continue
        current = users(obj)
        if virtual_node not in current:
            continue
        namespace, name = meta.get("namespace") or "default", meta.get("name")
        kind = obj.get("kind")
        used = (kind, namespace, name) in referenced if kind else (namespace, name) in by_name
        if not used:
            released.append((dict(obj), current - {virtual_node}))
    return released


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
