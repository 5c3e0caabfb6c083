"""Pure planner for the lower copy of an upper Service.

A mirrored pod resolves ``db.shop`` in its lower cluster; for that name to lead to the ``db``
pods wherever they run, each lower cluster needs a Service of that name whose endpoints are the
upper ones. :func:`lower_service` builds that copy: a selectorless ClusterIP (NodePort and
LoadBalancer reflected as ClusterIP, the original type and the selector recorded in
annotations), headless kept headless, ``ExternalName`` copied as it is. The lower cluster picks
the cluster IP. Which Services are never copied is :func:`skip_reason`; whether a copy must be
rewritten, :func:`service_differs` and :func:`needs_replace`. Endpoints are
:mod:`provider.pods.endpoint_plan`'s.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from descheduler import keys

Raw = dict[str, Any]

NEVER_NAMESPACES = frozenset({"kube-system"})
"""Namespaces whose Services are the cluster's own: every lower cluster has its own."""
CLUSTER_SERVICE = ("default", "kubernetes")
_OWNERSHIP_LABELS = frozenset({keys.UPPER_CLUSTER_LABEL, keys.VIRTUAL_NODE_LABEL})
_COPIED_SPEC_FIELDS = ("sessionAffinity", "sessionAffinityConfig", "publishNotReadyAddresses", "ipFamilyPolicy")
_PORT_FIELDS = ("name", "protocol", "port", "targetPort", "appProtocol")
_HEADLESS = "None"


def skip_reason(service: Mapping[str, Any]) -> str | None:
    """Why ``service`` is never copied below (None: it is copied where it is needed)."""
    meta = service.get("metadata") or {}
    namespace, name = meta.get("namespace") or "default", meta.get("name")
    if namespace in NEVER_NAMESPACES:
        return f"Services in {namespace} belong to each cluster"
    if (namespace, name) == CLUSTER_SERVICE:
        return "default/kubernetes is each cluster's own API server"
    if str((meta.get("annotations") or {}).get(keys.REFLECT_ANNOTATION, "")).strip().lower() == "false":
        return f'annotated {keys.REFLECT_ANNOTATION}: "false"'
    return None


def is_headless(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == _HEADLESS


def is_external_name(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("type") == "ExternalName"


def lower_service(upper: Mapping[str, Any], *, upper_cluster: str, virtual_node: str, users: Iterable[str] = ()) -> Raw:
    """The lower copy of ``upper``, under our ownership labels, listing ``users`` (default: the creator).

    The body carries :data:`~descheduler.keys.SOURCE_HASH_ANNOTATION`, a digest of everything
    taken from ``upper``: a copy whose digest matches needs no write.
    """
    meta = upper.get("metadata") or {}
    spec = upper.get("spec") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in _OWNERSHIP_LABELS}
    annotations: dict[str, str] = {}
    upper_type = spec.get("type") or "ClusterIP"
    lower_spec: Raw
    if upper_type == "ExternalName":
        lower_spec = {"type": "ExternalName", "externalName": spec.get("externalName", "")}
        if spec.get("ports"):
            lower_spec["ports"] = [_port(p) for p in spec["ports"]]
    else:
        if upper_type != "ClusterIP":
            annotations[keys.SERVICE_TYPE_ANNOTATION] = str(upper_type)
        lower_spec = {"type": "ClusterIP", "ports": [_port(p) for p in spec.get("ports") or ()]}
        if is_headless(upper):
            lower_spec["clusterIP"] = _HEADLESS
        lower_spec.update({f: json.loads(json.dumps(spec[f])) for f in _COPIED_SPEC_FIELDS if f in spec})
    if spec.get("selector"):
        annotations[keys.SERVICE_SELECTOR_ANNOTATION] = json.dumps(spec["selector"], sort_keys=True)
    annotations[keys.UPPER_UID_ANNOTATION] = str(meta.get("uid") or "")
    annotations[keys.SOURCE_HASH_ANNOTATION] = digest(
        {"labels": labels, "annotations": annotations, "spec": lower_spec}
    )
    annotations[keys.COPY_USERS_ANNOTATION] = json.dumps(sorted(set(users) or {virtual_node}))
    labels[keys.UPPER_CLUSTER_LABEL] = upper_cluster
    labels[keys.VIRTUAL_NODE_LABEL] = virtual_node
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace") or "default",
            "labels": labels,
            "annotations": annotations,
        },
        "spec": lower_spec,
    }


def _port(port: Mapping[str, Any]) -> Raw:
    # nodePort is the upper cluster's; the lower copy is a ClusterIP.
    return {f: port[f] for f in _PORT_FIELDS if f in port}


def digest(content: Any) -> str:
    """A short, stable digest of JSON-like ``content`` (key order does not matter)."""
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]


def source_hash(obj: Mapping[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(keys.SOURCE_HASH_ANNOTATION) or "")


def service_differs(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Whether ``existing`` was written from another version of the source than ``desired``."""
    return source_hash(desired) != source_hash(existing)


def needs_replace(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Whether ``existing`` cannot become ``desired`` in place: a cluster IP is immutable, so turning
    headless or back, and switching to or from ExternalName, is delete and create."""
    if is_headless(desired) != is_headless(existing):
        return True
    return is_external_name(desired) != is_external_name(existing)


def update_body(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> Raw:
    """``desired`` as a PUT over ``existing``: its resourceVersion and the lower cluster's IP allocation kept."""
    body: Raw = copy.deepcopy(dict(desired))
    old_meta = existing.get("metadata") or {}
    body["metadata"]["resourceVersion"] = old_meta.get("resourceVersion")
    old_spec = existing.get("spec") or {}
    if not is_external_name(desired):
        for field in ("clusterIP", "clusterIPs", "ipFamilies"):
            if field in old_spec:
                body["spec"][field] = old_spec[field]
        if "ipFamilyPolicy" not in body["spec"] and "ipFamilyPolicy" in old_spec:
            body["spec"]["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
    return body
