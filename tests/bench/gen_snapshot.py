"""Generate a synthetic cluster snapshot, shaped like `kubectl get ... -A -o json` output.

    python tests/bench/gen_snapshot.py --nodes 500 --pods 15000 -o /tmp/snap.json

A realistic mix: most pods belong to Deployments (ReplicaSets) of 2-30 replicas, some to
StatefulSets, Jobs and DaemonSets (one pod per node), a few are bare; sizes from 50m/64Mi
to 4 CPU/8Gi; four priority classes; ~2% Pending (some unbound and unschedulable, some
bound to virtual nodes and unschedulable below), ~1% Failed, ~1% crash-looping; some
pods with node affinity, anti-affinity, topology spread constraints and tolerations;
PDBs for a tenth of the Deployments; 5% of nodes are virtual nodes (tensile), a few
tainted or cordoned. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import orjson

PRIORITIES = [("low", 100), ("default", 1000), ("high", 100000), ("system-cluster-critical", 2000000000)]
SIZES = [
    ("50m", "64Mi"),
    ("100m", "128Mi"),
    ("250m", "256Mi"),
    ("500m", "1Gi"),
    ("1", "2Gi"),
    ("2", "4Gi"),
    ("4", "8Gi"),
]
SIZE_WEIGHTS = [20, 30, 20, 15, 9, 4, 2]
ZONES = ["zone-a", "zone-b", "zone-c"]
VIRTUAL_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"},
]


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def make_node(i: int, rng: random.Random, now: float, virtual: bool) -> dict[str, Any]:
    name = f"vk-{i:05d}" if virtual else f"node-{i:05d}"
    cpu, mem = ("64", "256Gi") if virtual else rng.choice([("8", "32Gi"), ("16", "64Gi"), ("32", "128Gi")])
    labels = {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": ZONES[i % 3], "kubernetes.io/os": "linux"}
    taints = []
    if virtual:
        labels.update({"type": "virtual-kubelet", "kubernetes.io/role": "agent", "tensile.io/lower-cluster": name})
        taints.append({"key": "virtual-kubelet.io/provider", "value": "tensile", "effect": "NoSchedule"})
    elif i % 50 == 7:
        taints.append({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "creationTimestamp": rfc3339(now - 86400 * 30)},
        "spec": {"taints": taints, "unschedulable": i % 97 == 3},
        "status": {
            "allocatable": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "100Gi"},
            "capacity": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "100Gi"},
            "conditions": [{"type": "Ready", "status": "False" if i % 211 == 5 else "True"}],
        },
    }


class PodMaker:
    def __init__(self, rng: random.Random, now: float, nodes: list[dict[str, Any]]) -> None:
        self.rng, self.now = rng, now
        self.node_names = [n["metadata"]["name"] for n in nodes]
        self.virtual = [n for n in self.node_names if n.startswith("vk-")]
        self.virtual_set = set(self.virtual)
        self.count = 0

    def pod(
        self,
        ns: str,
        name: str,
        owner: tuple[str, str] | None,
        labels: dict[str, str],
        node: str | None,
        extra_spec: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        self.count += 1
        cpu, mem = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        pclass, pvalue = rng.choices(PRIORITIES, [20, 60, 18, 2])[0]
        age = min(60 + rng.expovariate(1 / (86400 * 2)), 86400 * 90)  # mostly days, a long tail
        meta: dict[str, Any] = {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{self.count}",
            "labels": labels,
            "creationTimestamp": rfc3339(self.now - age),
            "resourceVersion": str(self.count),
        }
        if node in self.virtual_set or node is None:
            extra_spec = {**(extra_spec or {}), "tolerations": VIRTUAL_TOLERATIONS}
        if owner:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "apps/v1",
                    "kind": owner[0],
                    "name": owner[1],
                    "uid": f"uid-{owner[0]}-{ns}-{owner[1]}",
                    "controller": True,
                }
            ]
        spec: dict[str, Any] = {
            "containers": [
                {
                    "name": "app",
                    "image": f"registry.example/{labels.get('app', 'x')}:1",
                    "resources": {"requests": {"cpu": cpu, "memory": mem}, "limits": {"memory": mem}},
                }
            ],
            "priorityClassName": pclass,
            "priority": pvalue,
            "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
        }
        if rng.random() < 0.05:
            spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
        spec.update(extra_spec or {})
        status = self.status(spec, node, age)
        if node:
            spec["nodeName"] = node
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}

    def status(self, spec: dict[str, Any], node: str | None, age: float) -> dict[str, Any]:
        rng, roll = self.rng, self.rng.random()
        start = rfc3339(self.now - age)
        if node is None or roll < 0.01:
            return {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/500 nodes are available",
                        "lastTransitionTime": start,
                    }
                ],
                "qosClass": "Burstable",
            }
        if roll < 0.02:
            return {
                "phase": "Failed",
                "reason": "Error",
                "startTime": start,
                "containerStatuses": [
                    {"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
                ],
            }
        restarts = rng.randint(20, 200) if roll < 0.03 else rng.choice([0, 0, 0, 1, 2])
        waiting = {"waiting": {"reason": "CrashLoopBackOff"}} if restarts >= 20 else {"running": {"startedAt": start}}
        return {
            "phase": "Running",
            "startTime": start,
            "podIP": "10.1.2.3",
            "qosClass": "Burstable",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": start},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": start},
            ],
            "containerStatuses": [{"name": "app", "restartCount": restarts, "ready": True, "state": waiting}],
        }

    def place(self) -> str | None:
        if self.rng.random() < 0.01:
            return None
        return (
            self.rng.choice(self.virtual)
            if self.virtual and self.rng.random() < 0.2
            else self.rng.choice(self.node_names)
        )


def constraints(rng: random.Random, app: str) -> dict[str, Any]:
    roll = rng.random()
    selector = {"matchLabels": {"app": app}}
    if roll < 0.05:
        return {
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}
                    ]
                }
            }
        }
    if roll < 0.10:
        return {
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": selector,
                }
            ]
        }
    if roll < 0.15:
        return {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "In",
                                        "values": [rng.choice(ZONES)],
                                    }
                                ]
                            }
                        ]
                    }
                }
            }
        }
    return {}


def generate(nodes: int, pods: int, seed: int = 42, *, now: float | None = None) -> dict[str, Any]:
    """The snapshot document; ``now`` (default: the clock) dates every object, for reproducible plans."""
    rng, now = random.Random(seed), time.time() if now is None else now
    node_objs = [make_node(i, rng, now, virtual=i % 20 == 0) for i in range(nodes)]
    maker = PodMaker(rng, now, node_objs)
    namespaces = [f"team-{i:03d}" for i in range(max(1, pods // 1500))]
    items: list[dict[str, Any]] = []
    pdbs: list[dict[str, Any]] = []
    for node in maker.node_names:  # one DaemonSet pod per node
        items.append(
            maker.pod("kube-system", f"log-agent-{node}", ("DaemonSet", "log-agent"), {"app": "log-agent"}, node)
        )
    deployment = 0
    while maker.count < pods:
        deployment += 1
        ns, app = rng.choice(namespaces), f"app-{deployment}"
        kind_roll = rng.random()
        kind = (
            "ReplicaSet"
            if kind_roll < 0.85
            else "StatefulSet"
            if kind_roll < 0.93
            else "Job"
            if kind_roll < 0.98
            else None
        )
        replicas = min(rng.randint(2, 30), pods - maker.count)
        extra = constraints(rng, app)
        owner = (kind, f"{app}-7d9f8c") if kind else None
        for r in range(replicas):
            name = f"{app}-7d9f8c-{r:04d}" if kind else f"{app}-bare-{r}"
            items.append(maker.pod(ns, name, owner, {"app": app}, maker.place(), extra))
        if kind == "ReplicaSet" and deployment % 10 == 0:
            pdbs.append(
                {
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": {"name": app, "namespace": ns},
                    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}},
                    "status": {"disruptionsAllowed": 1},
                }
            )
    extras = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}}
        for ns in [*namespaces, "kube-system"]
    ]
    extras += [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": n}, "value": v}
        for n, v in PRIORITIES
    ]
    return {"apiVersion": "v1", "kind": "List", "items": node_objs + items + pdbs + extras}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--pods", type=int, default=15000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    doc = generate(args.nodes, args.pods, args.seed)
    args.output.write_bytes(orjson.dumps(doc))
    size = args.output.stat().st_size / 2**20
    elapsed = time.monotonic() - started
    summary = f"{args.nodes} nodes, {args.pods} pods, {size:.0f} MiB"
    print(f"wrote {args.output} ({summary}) in {elapsed:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
