"""Workload shapes shared by the descheduler's end-to-end tests."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from tests.cluster import clusters
from tests.e2e.support.providers import wait_for


def running_on(cluster: clusters.Cluster, ns: str) -> dict[str, int]:
    """Running, not terminating pods of a namespace per node."""
    counts: dict[str, int] = {}
    for pod in json.loads(cluster.kubectl("get", "pods", "-n", ns, "-o", "json"))["items"]:
        if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
            counts[pod["spec"]["nodeName"]] = counts.get(pod["spec"]["nodeName"], 0) + 1
    return counts


def pile_up(
    cluster: clusters.Cluster, replicas: int, *, node: str, others: tuple[str, ...], prefix: str = "dup"
) -> str:
    """A new namespace with a Deployment whose replicas all run on ``node``: the ``others`` are
    cordoned while it starts, so RemoveDuplicates has work to do afterwards."""
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("cordon", *others)
    try:
        cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx", f"--replicas={replicas}")
        wait_for(lambda: running_on(cluster, ns) == {node: replicas}, what=f"{replicas} pods on {node}")
    finally:
        cluster.kubectl("uncordon", *others)
    return ns


def descheduler_command(cluster: clusters.Cluster, policy: Path, *extra: str) -> list[str]:
    """``tensile-deschedule`` against ``cluster`` with ``policy``, as a subprocess command line."""
    return [sys.executable, "-m", "descheduler", "--policy-config-file", str(policy),
            "--kubeconfig", str(cluster.kubeconfig), *extra]  # fmt: skip


def dedupe_policy(namespace: str) -> dict[str, object]:
    """A DeschedulerPolicy that runs RemoveDuplicates in ``namespace`` only (what a pile-up calls for)."""
    return {
        "apiVersion": "descheduler/v1alpha2",
        "kind": "DeschedulerPolicy",
        "profiles": [
            {
                "name": "dedupe",
                "pluginConfig": [{"name": "RemoveDuplicates", "args": {"namespaces": {"include": [namespace]}}}],
                "plugins": {"balance": {"enabled": ["RemoveDuplicates"]}},
            }
        ],
    }


def write_dedupe_policy(path: Path, namespace: str) -> Path:
    path.write_text(json.dumps(dedupe_policy(namespace)))
    return path
