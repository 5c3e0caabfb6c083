"""API paths, built in one place, each segment quoted once.

``resource(API, plural, namespace=..., name=..., sub=...)`` is the general form; the named
helpers cover what both packages ask for often. Owner kinds that carry avoidance records
are listed once in :data:`OWNERS`.
"""

from __future__ import annotations

from urllib.parse import quote

CORE = "/api/v1"
APPS = "/apis/apps/v1"
BATCH = "/apis/batch/v1"
POLICY = "/apis/policy/v1"
SCHEDULING = "/apis/scheduling.k8s.io/v1"
COORDINATION = "/apis/coordination.k8s.io/v1"
EVENTS = "/apis/events.k8s.io/v1"
DISCOVERY = "/apis/discovery.k8s.io/v1"
ADMISSION = "/apis/admissionregistration.k8s.io/v1"
AUTHENTICATION = "/apis/authentication.k8s.io/v1"
AUTHORIZATION = "/apis/authorization.k8s.io/v1"

OWNERS: dict[str, tuple[str, str]] = {
    "ReplicaSet": (APPS, "replicasets"),
    "Deployment": (APPS, "deployments"),
    "StatefulSet": (APPS, "statefulsets"),
    "Job": (BATCH, "jobs"),
    "ReplicationController": (CORE, "replicationcontrollers"),
}
"""Controlling owner kinds tensile reads and patches (avoidance records): kind -> (API, plural)."""


def _segment(text: str) -> str:
    return quote(text, safe="")


def resource(
    api: str, plural: str, *, namespace: str | None = None, name: str | None = None, sub: str | None = None
) -> str:
    """``{api}[/namespaces/{namespace}]/{plural}[/{name}[/{sub}]]``; a collection when ``name`` is None."""
    path = api + (f"/namespaces/{_segment(namespace)}" if namespace is not None else "") + f"/{plural}"
    if name is not None:
        path += f"/{_segment(name)}"
        if sub:
            path += f"/{sub}"
    return path


def pod(namespace: str, name: str | None = None, sub: str | None = None) -> str:
    """A pod, its subresource (``eviction``, ``status``, ``log``, ``exec``...), or the namespace's pods."""
    return resource(CORE, "pods", namespace=namespace, name=name, sub=sub)


def node(name: str | None = None, sub: str | None = None) -> str:
    return resource(CORE, "nodes", name=name, sub=sub)


def lease(namespace: str, name: str | None = None) -> str:
    return resource(COORDINATION, "leases", namespace=namespace, name=name)


def events(namespace: str) -> str:
    """Where ``events.k8s.io/v1`` Events of a namespace are created."""
    return resource(EVENTS, "events", namespace=namespace)


def group_of(api: str) -> str:
    """The API group of an API prefix: ``/apis/apps/v1`` -> ``apps``, ``/api/v1`` -> ``""`` (core)."""
    parts = api.split("/")
    return parts[2] if parts[1] == "apis" else ""


def owner(kind: str, namespace: str, name: str) -> str | None:
    """The path of a controlling owner of a kind in :data:`OWNERS`, else None."""
    found = OWNERS.get(kind)
    return resource(found[0], found[1], namespace=namespace, name=name) if found else None
