"""Pure planners for the ConfigMaps and Secrets a mirrored pod needs in the lower cluster.

The reconcile loop copies exactly what :func:`references` names before it creates a mirror,
keeps the copies current with :func:`copy_differs`, and deletes the ones
:func:`unused_copies` returns. Service-account tokens are never copied (DESIGN.md §3).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from descheduler import keys
from provider import mirror

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

    Service-account token secrets (the volumes :mod:`provider.mirror` strips, and any secret
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


def lower_copy(obj: Mapping[str, Any], *, kind: str, upper_cluster: str, virtual_node: str) -> Raw:
    """The lower copy of an upper ConfigMap or Secret: its content under our ownership labels.

    Annotations are not copied: they often hold kubectl's last-applied configuration, a
    second copy of the content that nothing below reads.
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
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace") or "default", "labels": labels},
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
    labels: Mapping[str, str] = (obj.get("metadata") or {}).get("labels") or {}
    return {k: v for k, v in labels.items() if k not in _OWNERSHIP_LABELS}


def unused_copies(copies: Iterable[Mapping[str, Any]], referenced: set[ObjectKey]) -> list[Raw]:
    """Our copies no mirrored pod references any more: the ones to delete.

    Only objects carrying both ownership labels are candidates (the caller lists by our
    label selector; this is the second lock). LIST items have no ``kind``: such a copy is
    kept if any referenced kind has its namespace and name, so a missing kind never deletes
    something in use. Copies already being deleted are left alone.
    """
    by_name = {(namespace, name) for _, namespace, name in referenced}
    unused: list[Raw] = []
    for obj in copies:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if not labels.keys() >= _OWNERSHIP_LABELS or meta.get("deletionTimestamp"):
            continue
        namespace, name = meta.get("namespace") or "default", meta.get("name")
        kind = obj.get("kind")
        used = (kind, namespace, name) in referenced if kind else (namespace, name) in by_name
        if not used:
            unused.append(dict(obj))
    return unused


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
