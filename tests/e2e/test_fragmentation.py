"""Issue 5, fragmentation end to end: a pod that fits no virtual node although the room is there in total.

Two lower clusters of one 2-CPU node each, so each virtual node's room is exactly its real
node's. Six 0.5-CPU pods fill both virtual nodes to 1.5 CPU, so a 1-CPU pod fits neither and
stays Unschedulable in the upper cluster. One ``tensile-deschedule`` run evicts a single small pod
(the minimal set), whose replacement the webhook keeps off the freed node; the big pod then runs
there. A PodDisruptionBudget that allows no disruption stops the plugin altogether.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from descheduler import keys
from descheduler.model import parse_time
from tests.cluster import clusters
from tests.e2e.support import tensile_env as te
from tests.e2e.support import webhooks
from tests.e2e.support.providers import wait_for

LOWERS = {
    "vk-c": (clusters.NodeSpec("frag-c-node-0", cpu="2"),),
    "vk-d": (clusters.NodeSpec("frag-d-node-0", cpu="2", labels={"disk": "ssd"}),),
}
NS = "batch"


@pytest.fixture(scope="module")
def env(
    control_plane_binaries: object, clusters_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[te.TensileEnv]:
    logs = tmp_path_factory.mktemp("frag-logs")
    with te.tensile_env(clusters_root / "frag", "frag", LOWERS, log_dir=logs) as env:
        yield env


def small_pods_on(env: te.TensileEnv, node: str, app: str) -> None:
    """Three 0.5-CPU pods of Deployment ``app`` on ``node``: the other virtual node is cordoned meanwhile."""
    other = next(n for n in LOWERS if n != node)
    env.upper.kubectl("cordon", other)
    try:
        env.upper.apply([te.deployment(app, NS, replicas=3, cpu="500m", labels={"tier": "small"})])
        wait_for(
            lambda: [p["spec"]["nodeName"] for p in te.running_pods(env.upper, NS, app)] == [node] * 3,
            timeout=90,
            what=f"three {app} pods Running on {node}",
        )
    finally:
        env.upper.kubectl("uncordon", other)


def pdb_allows(env: te.TensileEnv, disruptions: int) -> bool:
    pdb = json.loads(env.upper.kubectl("get", "pdb", "small", "-n", NS, "-o", "json"))
    status = pdb.get("status", {})
    return bool(
        status.get("observedGeneration") == pdb["metadata"]["generation"]
        and status.get("currentHealthy") == 6
        and status.get("disruptionsAllowed") == disruptions
    )


def set_pdb(env: te.TensileEnv, min_available: int) -> None:
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "small", "namespace": NS},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"tier": "small"}}},
    }
    env.upper.apply([pdb])
    wait_for(lambda: pdb_allows(env, 6 - min_available), what=f"PDB allowing {6 - min_available} disruptions")


def write_policy(tmp_path: Path) -> Path:
    return te.policy(
        tmp_path / "fragmentation.yaml",
        f"""\
        apiVersion: descheduler/v1alpha2
        kind: DeschedulerPolicy
        profiles:
          - name: fragmentation
            pluginConfig:
              - name: VirtualNodeFragmentation
                args:
                  minTimeSinceLastTransitionSeconds: 2
                  avoidanceSeconds: 300
                  namespaces:
                    include: [{NS}]
            plugins:
              balance:
                enabled: [VirtualNodeFragmentation]
        """,
    )


def test_one_small_pod_makes_room_for_a_pod_that_fit_nowhere(env: te.TensileEnv, tmp_path: Path) -> None:
    upper = env.upper
    upper.kubectl("create", "namespace", NS)
    small_pods_on(env, "vk-c", "small-c")
    small_pods_on(env, "vk-d", "small-d")
    set_pdb(env, 6)
    upper.apply([te.deployment("big", NS, replicas=1, cpu="1")])

    def big_unschedulable() -> bool:
        found = te.pods_of(upper, NS, "big")
        return len(found) == 1 and te.scheduled_condition(found[0]).get("reason") == "Unschedulable"

    wait_for(big_unschedulable, timeout=60, what="the big pod Unschedulable in the upper cluster")
    big = te.pods_of(upper, NS, "big")[0]
    assert not big["spec"].get("nodeName")
    since = parse_time(te.scheduled_condition(big)["lastTransitionTime"]) or 0.0
    time.sleep(max(0.0, since + 3 - time.time()))
    policy_file = write_policy(tmp_path)

    # The PDB allows no disruption: nothing is evicted, not even planned.
    assert te.deschedule(upper, policy_file)["evictions"] == []
    assert te.deschedule(upper, policy_file, "--dry-run")["evictions"] == []

    set_pdb(env, 5)
    before = te.resource_versions(upper)
    planned = te.deschedule(upper, policy_file, "--dry-run")
    assert te.resource_versions(upper) == before, "a dry run changed the cluster"
    big_key = f"{NS}/{big['metadata']['name']}"
    assert len(planned["evictions"]) == 1, planned
    (eviction,) = planned["evictions"]
    assert (eviction["plugin"], eviction["result"], eviction["unblocks"]) == (
        "VirtualNodeFragmentation",
        "planned",
        big_key,
    )
    freed = eviction["node"]

    done = te.deschedule(upper, policy_file)
    assert te.plan_of(done) == te.plan_of(planned)
    assert [e["result"] for e in done["evictions"]] == ["evicted"]

    # The big pod runs where room was made; the evicted pod's replacement runs on the other node.
    wait_for(
        lambda: [p["spec"]["nodeName"] for p in te.running_pods(upper, NS, "big")] == [freed],
        timeout=90,
        what=f"the big pod Running on {freed}",
    )
    small = [*te.running_pods(upper, NS, "small-c"), *te.running_pods(upper, NS, "small-d")]
    wait_for(
        lambda: len([*te.running_pods(upper, NS, "small-c"), *te.running_pods(upper, NS, "small-d")]) == 6,
        timeout=90,
        what="six small pods Running again",
    )
    small = [*te.running_pods(upper, NS, "small-c"), *te.running_pods(upper, NS, "small-d")]
    other = next(n for n in LOWERS if n != freed)
    assert sorted(p["spec"]["nodeName"] for p in small) == sorted([freed] * 2 + [other] * 4)
    moved = [p for p in small if webhooks.not_in_hostnames(p)]
    assert len(moved) == 1 and moved[0]["spec"]["nodeName"] == other
    assert webhooks.not_in_hostnames(moved[0]) == [[freed]]


def test_constraints_aimed_at_lower_nodes_travel_to_the_mirror(env: te.TensileEnv) -> None:
    """The webhook moves a nodeSelector no virtual node has into an annotation; the provider restores it below."""
    upper, ns = env.upper, "ssd"
    upper.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=90s")  # room on vk-d
    upper.kubectl("create", "namespace", ns)
    app = te.deployment("db", ns, replicas=1, cpu="100m", preferred_node="vk-d")
    template = app["spec"]["template"]["spec"]
    template["nodeSelector"] = {"disk": "ssd"}  # a label of lower D's real node
    ssd = {"key": "disk", "operator": "In", "values": ["ssd"]}
    required = template["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    required["nodeSelectorTerms"][0]["matchExpressions"].append(ssd)  # next to type In [virtual-kubelet]
    upper.apply([app])
    wait_for(lambda: len(te.running_pods(upper, ns, "db")) == 1, timeout=90, what="the db pod Running upstairs")
    (pod,) = te.running_pods(upper, ns, "db")
    assert "nodeSelector" not in pod["spec"], "the upper scheduler must not need disk=ssd"
    stashed = json.loads(pod["metadata"]["annotations"][keys.STASHED_CONSTRAINTS_ANNOTATION])
    assert stashed["nodeSelector"] == {"disk": "ssd"}
    assert pod["spec"]["nodeName"] == "vk-d"
    mirror = json.loads(env.lowers["vk-d"].kubectl("get", "pod", pod["metadata"]["name"], "-n", ns, "-o", "json"))
    upper_terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert (
        upper_terms["nodeSelectorTerms"]
        == te.ON_VIRTUAL_NODES["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    ), "only the expression aimed below moves"
    assert mirror["spec"]["nodeSelector"] == {"disk": "ssd"}
    lower_terms = mirror["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert lower_terms["nodeSelectorTerms"] == [{"matchExpressions": [ssd]}]
    assert mirror["spec"]["nodeName"] == "frag-d-node-0"
