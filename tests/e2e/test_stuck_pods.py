"""Issue 5, stuck pods end to end: upper cluster, two lower clusters, two providers, the webhook.

Lower cluster A's free CPU is split over two real nodes (1 CPU each), so a 2-CPU pod fits A's
virtual node (2 CPU free in total) but no real node of A, and stays Unschedulable below. One
``tensile-deschedule`` run evicts it and records an avoidance of vk-a on its ReplicaSet; the
webhook keeps the replacement and later replicas off vk-a while the record lives (also after
restarting the provider and the webhook), and lets them back after it expires.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from descheduler.model import parse_time
from tests.cluster import clusters
from tests.e2e.support import tensile_env as te
from tests.e2e.support import webhooks
from tests.e2e.support.providers import wait_for

LOWER_A = tuple(clusters.NodeSpec(f"stuck-a-node-{i}", cpu="2") for i in range(2))
LOWER_B = (clusters.NodeSpec("stuck-b-node-0", cpu="4"),)
AVOID_SECONDS = 60
NS = "shop"


@pytest.fixture(scope="module")
def env(
    control_plane_binaries: object, clusters_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[te.TensileEnv]:
    logs = tmp_path_factory.mktemp("stuck-logs")
    with te.tensile_env(clusters_root / "stuck", "stuck", {"vk-a": LOWER_A, "vk-b": LOWER_B}, log_dir=logs) as env:
        yield env


def fill_lower_a(env: te.TensileEnv) -> None:
    """A pod of 1 CPU on each real node of A (not mirrors: the virtual node's capacity drops by 2 CPU)."""
    lower = env.lowers["vk-a"]
    lower.kubectl("create", "namespace", "filler")
    for spec in LOWER_A:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"fill-{spec.name}", "namespace": "filler"},
            "spec": {
                "nodeName": spec.name,
                "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "1"}}}],
            },
        }
        lower.kubectl("create", "-f", "-", input_text=json.dumps(pod))

    def virtual_cpu() -> str:
        node = env.providers["vk-a"].node() or {}
        return str(node.get("status", {}).get("allocatable", {}).get("cpu", ""))

    wait_for(lambda: virtual_cpu() in ("2", "2000m"), what="vk-a allocatable cpu 2 after the fillers")


def write_policy(
    tmp_path: Path, *, namespace: str = NS, after: int = 3, pending: int = 300, avoid: int = AVOID_SECONDS
) -> Path:
    """PendingOnVirtualNode alone, in ``namespace``: stuck ``after`` seconds Unschedulable or ``pending`` Pending."""
    return te.policy(
        tmp_path / "stuck.yaml",
        f"""\
        apiVersion: descheduler/v1alpha2
        kind: DeschedulerPolicy
        profiles:
          - name: stuck
            pluginConfig:
              - name: PendingOnVirtualNode
                args:
                  minTimeSinceLastTransitionSeconds: {after}
                  maxPendingSeconds: {pending}
                  avoidanceSeconds: {avoid}
                  namespaces:
                    include: [{namespace}]
            plugins:
              deschedule:
                enabled: [PendingOnVirtualNode]
        """,
    )


def test_stuck_pod_moves_to_the_other_virtual_node_and_its_owner_avoids_the_first(
    env: te.TensileEnv, tmp_path: Path
) -> None:
    upper = env.upper
    fill_lower_a(env)
    stuck = te.stuck_checkout(upper, NS)
    since = parse_time(te.scheduled_condition(stuck)["lastTransitionTime"]) or 0.0
    time.sleep(max(0.0, since + 4 - time.time()))
    policy_file = write_policy(tmp_path)

    # The dry run plans exactly this eviction and changes nothing.
    before = te.resource_versions(upper)
    planned = te.deschedule(upper, policy_file, "--dry-run")
    assert te.resource_versions(upper) == before
    assert planned["dryRun"] is True
    assert te.plan_of(planned) == [(NS, stuck["metadata"]["name"], "vk-a", "PendingOnVirtualNode")]
    assert [e["result"] for e in planned["evictions"]] == ["planned"]

    # The real run carries out the same plan and records the avoidance on the ReplicaSet.
    done = te.deschedule(upper, policy_file)
    assert te.plan_of(done) == te.plan_of(planned)
    assert [e["result"] for e in done["evictions"]] == ["evicted"]
    record = te.avoidance_of(upper, NS, stuck)
    assert set(record) == {"vk-a"}
    expires = record["vk-a"]
    assert time.time() + AVOID_SECONDS - 30 < expires <= time.time() + AVOID_SECONDS + 1

    # The replacement is steered to vk-b by the webhook and runs there.
    def replaced_on_b() -> bool:
        found = te.running_pods(upper, NS, "checkout")
        return [p["spec"]["nodeName"] for p in found] == ["vk-b"] and found[0]["metadata"]["uid"] != stuck["metadata"][
            "uid"
        ]

    wait_for(replaced_on_b, timeout=90, what="the replacement Running on vk-b")
    replacement = te.running_pods(upper, NS, "checkout")[0]
    assert ["vk-a"] in webhooks.not_in_hostnames(replacement)

    # Restart the provider of vk-a and the webhook: the record is on the ReplicaSet, so it still holds.
    env.providers["vk-a"].kill()
    env.providers["vk-a"].start()
    env.restart_webhook()
    env.providers["vk-a"].wait_ready()
    assert time.time() < expires - 10, "the restarts took too long to test the avoidance"
    upper.kubectl("scale", "deployment", "checkout", "-n", NS, "--replicas=2")
    wait_for(lambda: len(te.running_pods(upper, NS, "checkout")) == 2, timeout=90, what="two checkout pods Running")
    assert {p["spec"]["nodeName"] for p in te.pods_of(upper, NS, "checkout")} == {"vk-b"}
    assert time.time() < expires, "the second replica was placed after the avoidance expired"

    # After the record expires, a new replica may land on vk-a again (vk-b is full now).
    time.sleep(max(0.0, expires + 1 - time.time()))
    upper.kubectl("scale", "deployment", "checkout", "-n", NS, "--replicas=3")

    def third_on_a() -> bool:
        return sorted(p["spec"].get("nodeName", "") for p in te.pods_of(upper, NS, "checkout")) == [
            "vk-a",
            "vk-b",
            "vk-b",
        ]

    wait_for(third_on_a, timeout=60, what="the third replica bound to vk-a after the avoidance expired")
    third = next(p for p in te.pods_of(upper, NS, "checkout") if p["spec"]["nodeName"] == "vk-a")
    assert webhooks.not_in_hostnames(third) == []
