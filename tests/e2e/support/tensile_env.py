"""The whole tensile deployment on real control planes: an upper cluster, lower clusters with one
virtual node (provider process) each, and the admission webhook registered with the upper API server.

Used by the end-to-end tests of the tensile use case (stuck pods, fragmentation). The webhook
runs as in production: its certificate lives in a Secret and it keeps the caBundle of its
MutatingWebhookConfiguration current itself, so it can be restarted like any other component.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import textwrap
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from descheduler import avoidance, keys
from tests.cluster import clusters
from tests.e2e.support import webhooks, workloads
from tests.e2e.support.providers import ProviderProcess, virtual_deployment, wait_for

WEBHOOK_NAMESPACE = "tensile-system"
ON_VIRTUAL_NODES = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "type", "operator": "In", "values": ["virtual-kubelet"]}]}
            ]
        }
    }
}


@dataclass
class TensileEnv:
    upper: clusters.Cluster
    lowers: dict[str, clusters.Cluster]
    """Virtual node name -> its lower cluster."""
    providers: dict[str, ProviderProcess]
    webhook: webhooks.WebhookProcess
    webhook_config: str

    def restart_webhook(self) -> None:
        self.webhook.kill()
        self.webhook.start()
        self.webhook.wait_ready()
        self.wait_webhook_effective()

    def wait_webhook_effective(self, timeout: float = 60.0) -> None:
        """Until the API server calls the webhook: a probe pod owned by a ReplicaSet that avoids a
        made-up node comes out of a server-side dry run with the hostname exclusion."""
        ns = "tensile-probe"
        if not self.upper.kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name").strip():
            self.upper.kubectl("create", "namespace", ns)
        record = avoidance.encode({"probe-node": time.time() + 3600})
        rs = replica_set_for_probe(ns, record)
        self.upper.kubectl("apply", "-f", "-", input_text=json.dumps(rs))
        uid = self.upper.kubectl("get", "replicaset", "probe", "-n", ns, "-o", "jsonpath={.metadata.uid}").strip()
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": "probe-",
                "namespace": ns,
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "probe", "uid": uid, "controller": True}
                ],
            },
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }

        def mutated() -> bool:
            admitted = webhooks.admitted(self.upper, pod)
            return admitted is not None and ["probe-node"] in webhooks.not_in_hostnames(admitted)

        wait_for(mutated, timeout=timeout, what=f"the webhook to mutate pods\n{self.webhook.logs()[-3000:]}")


def replica_set_for_probe(namespace: str, record: str) -> dict[str, Any]:
    labels = {"app": "probe"}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "probe", "namespace": namespace, "annotations": {keys.AVOID_NODES_ANNOTATION: record}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


@contextlib.contextmanager
def tensile_env(
    root: Path, prefix: str, lowers: Mapping[str, tuple[clusters.NodeSpec, ...]], *, log_dir: Path
) -> Iterator[TensileEnv]:
    """Start everything; stop it all afterwards, also on failure."""
    specs = [clusters.ClusterSpec(f"{prefix}-upper")]
    specs += [clusters.ClusterSpec(f"{prefix}-{node}", nodes) for node, nodes in lowers.items()]
    started = clusters.start_clusters(specs, root=root)
    upper = started[f"{prefix}-upper"]
    providers = {node: ProviderProcess(upper, started[f"{prefix}-{node}"], node, log_dir) for node in lowers}
    config = f"{prefix}-pod-webhook"
    webhook = webhooks.WebhookProcess(
        upper,
        f"{prefix}-webhook",
        log_dir,
        extra_args=[
            "--tls-secret", "tensile-webhook-tls",
            "--service-namespace", WEBHOOK_NAMESPACE,
            "--webhook-config-name", config,
            "--stash-lower-constraints",
        ],
    )  # fmt: skip
    try:
        upper.kubectl("create", "namespace", WEBHOOK_NAMESPACE)
        # Registered without a caBundle: the webhook fills it in, as in production.
        webhooks.register(upper, config, url=webhook.url, ca_bundle=None)
        for provider in providers.values():
            provider.start()
        webhook.start()
        for provider in providers.values():
            provider.wait_ready()
        webhook.wait_ready()
        env = TensileEnv(upper, {n: p.lower for n, p in providers.items()}, providers, webhook, config)
        env.wait_webhook_effective()
        yield env
    finally:
        for process in (*providers.values(), webhook):
            process.terminate()
        clusters.stop_clusters(started.values())


def deployment(
    name: str,
    namespace: str,
    *,
    replicas: int,
    cpu: str,
    labels: Mapping[str, str] | None = None,
    preferred_node: str = "",
) -> dict[str, Any]:
    """A Deployment for any virtual node (required type=virtual-kubelet; optionally preferring one)."""
    affinity: dict[str, Any] = json.loads(json.dumps(ON_VIRTUAL_NODES))
    if preferred_node:
        prefer = {"key": "kubernetes.io/hostname", "operator": "In", "values": [preferred_node]}
        affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 100, "preference": {"matchExpressions": [prefer]}}
        ]
    made = virtual_deployment(name, namespace, replicas, "", cpu=cpu, extra_spec={"affinity": affinity})
    template = made["spec"]["template"]
    del template["spec"]["nodeSelector"]  # not pinned to one virtual node
    template["metadata"]["labels"].update(labels or {})
    return made


def policy(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


def deschedule(upper: clusters.Cluster, policy_file: Path, *extra: str) -> dict[str, Any]:
    """One ``tensile-deschedule`` run against the upper cluster; its JSON report (exit 0 required)."""
    cmd = workloads.descheduler_command(upper, policy_file, "-o", "json", *extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "KUBECONFIG": ""})
    assert proc.returncode == 0, f"tensile-deschedule exited {proc.returncode}: {proc.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def plan_of(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """What a report evicts, without the result: comparable between a dry run and a real run."""
    return sorted((e["namespace"], e["pod"], e["node"], e["plugin"]) for e in report["evictions"])


def pods_of(upper: clusters.Cluster, namespace: str, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(
        upper.kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json")
    )["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def running_pods(upper: clusters.Cluster, namespace: str, app: str) -> list[dict[str, Any]]:
    return [p for p in pods_of(upper, namespace, app) if p["status"].get("phase") == "Running"]


def scheduled_condition(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return next((c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"), {})


def resource_versions(upper: clusters.Cluster) -> dict[str, str]:
    data = json.loads(upper.kubectl("get", "pods,replicasets,deployments,pdb", "-A", "-o", "json"))
    return {
        f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}": i["metadata"]["resourceVersion"]
        for i in data["items"]
    }


def avoidance_of(upper: clusters.Cluster, namespace: str, pod: Mapping[str, Any]) -> avoidance.Record:
    """The avoidance record on the pod's ReplicaSet."""
    owner = next(r for r in pod["metadata"]["ownerReferences"] if r.get("controller"))
    rs = json.loads(upper.kubectl("get", "replicaset", owner["name"], "-n", namespace, "-o", "json"))
    return avoidance.decode((rs["metadata"].get("annotations") or {}).get(keys.AVOID_NODES_ANNOTATION))


def stuck_checkout(upper: clusters.Cluster, namespace: str, *, node: str = "vk-a") -> dict[str, Any]:
    """A namespace with a 2-CPU "checkout" Deployment preferring ``node``, once its pod is bound
    there and Unschedulable below (the provider copies that status up); the pod."""
    upper.kubectl("create", "namespace", namespace)
    upper.apply([deployment("checkout", namespace, replicas=1, cpu="2", preferred_node=node)])

    def stuck_on_node() -> bool:
        found = pods_of(upper, namespace, "checkout")
        return (
            len(found) == 1
            and found[0]["spec"].get("nodeName") == node
            and scheduled_condition(found[0]).get("reason") == "Unschedulable"
        )

    wait_for(stuck_on_node, timeout=90, what=f"checkout bound to {node} and Unschedulable below")
    return pods_of(upper, namespace, "checkout")[0]
