"""A mirror that the lower cluster refuses for ever: the provider backs off and says why, upstairs and once per step.

The lower namespace carries a ResourceQuota of zero pods, so every create of the mirror is
refused (403 "exceeded quota"); the provider is run with a 10 s resync, which must not turn
into a retry every 10 s either.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import clusters
from tests.e2e.support.providers import ProviderProcess, ready_provider, wait_for

NODE = "vk-rejects"
WINDOW_SECONDS = 60.0
REFUSED_CREATES = re.compile(
    r'^apiserver_request_total\{(?=[^}]*code="403")(?=[^}]*resource="pods")(?=[^}]*verb="POST")[^}]*\} (\d+)',
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def provider(
    upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderProcess]:
    with ready_provider(upper, lower_a, NODE, tmp_path_factory.mktemp("rejects-logs")) as proc:
        yield proc


def refused_pod_creates(cluster: clusters.Cluster) -> int:
    """Pod creates the API server has refused with 403 so far (its own metric)."""
    return sum(int(n) for n in REFUSED_CREATES.findall(cluster.kubectl("get", "--raw", "/metrics")))


def bound_pod(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeName": NODE,
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "app", "image": "nginx:1.27"}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def scheduled_condition(upper: clusters.Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    out = upper.kubectl("get", "pod", "-n", namespace, name, "-o", "json", check=False)
    if not out.strip():
        return None
    conditions = json.loads(out)["status"].get("conditions", [])
    return next((c for c in conditions if c["type"] == "PodScheduled"), None)


def test_a_permanently_refused_mirror_backs_off_and_says_why(
    provider: ProviderProcess, upper: clusters.Cluster, lower_a: clusters.Cluster
) -> None:
    namespace = f"e2e-{uuid.uuid4().hex[:6]}"
    upper.kubectl("create", "namespace", namespace)
    lower_a.kubectl("create", "namespace", namespace)
    lower_a.kubectl("create", "quota", "no-pods", "-n", namespace, "--hard=pods=0")
    before = refused_pod_creates(lower_a)
    started = time.monotonic()
    upper.apply([bound_pod("refused", namespace)])

    def shown_upstairs() -> bool:
        condition = scheduled_condition(upper, namespace, "refused")
        return bool(condition and condition.get("reason") == "ProviderCreateFailed")

    wait_for(shown_upstairs, timeout=30, what="PodScheduled=False/ProviderCreateFailed on the upper pod")
    condition = scheduled_condition(upper, namespace, "refused")
    assert condition is not None and condition["status"] == "False"
    assert "refused" in condition["message"] and "quota" in condition["message"], condition
    assert "next attempt in" in condition["message"], condition

    time.sleep(max(0.0, WINDOW_SECONDS - (time.monotonic() - started)))
    attempts = refused_pod_creates(lower_a) - before
    # Back-off 10 s, 20 s, 40 s: attempts at 0, 10 and 30 s; every 10 s (the old way, and the
    # resync period here) would be 7.
    assert 2 <= attempts <= 4, f"{attempts} refused creates in {WINDOW_SECONDS:.0f}s"
    steps = [
        line for line in provider.logs().splitlines() if f"{namespace}/refused" in line and "refused the mirror" in line
    ]
    assert len(steps) == attempts, "one log line per back-off step:\n" + "\n".join(steps)
    assert all("next attempt in" in line for line in steps), steps

    # Deleting the pod does not wait out the back-off: with no mirror, the kubelet's last word is at once.
    upper.kubectl("delete", "pod", "-n", namespace, "refused", "--wait=false")
    deleted_at = time.monotonic()
    wait_for(lambda: scheduled_condition(upper, namespace, "refused") is None, timeout=20, what="the upper pod gone")
    assert time.monotonic() - deleted_at < 15
