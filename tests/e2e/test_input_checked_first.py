"""Nothing reaches the cluster before every flag, the policy and the kubeconfig are checked:
the API server's own request counters stay still for each bad invocation, and a metrics
export that fails after a real cycle only warns."""

from __future__ import annotations

import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import clusters
from tests.e2e.support import workloads

NODES = [clusters.NodeSpec(name=f"i-node-{i}") for i in range(2)]
COUNTED = re.compile(
    r'^apiserver_request_total\{(?=[^}]*verb="(?P<verb>LIST|POST)")[^}]*resource="(?P<resource>nodes|pods)"'
    r'[^}]*subresource="(?P<sub>[^"]*)"[^}]*\} (?P<n>\d+)',
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def cluster(control_plane_binaries: object, clusters_root: Path) -> Iterator[clusters.Cluster]:
    with clusters.running(clusters.ClusterSpec("input", tuple(NODES)), root=clusters_root / "input") as started:
        yield started


def requests_seen(cluster: clusters.Cluster) -> dict[str, int]:
    """LISTs of nodes and pods and eviction POSTs the API server has answered."""
    counts: dict[str, int] = {}
    for m in COUNTED.finditer(cluster.kubectl("get", "--raw", "/metrics")):
        if m["verb"] == "POST" and m["sub"] != "eviction":
            continue
        key = f"{m['verb']} {m['resource']}{'/' + m['sub'] if m['sub'] else ''}"
        counts[key] = counts.get(key, 0) + int(m["n"])
    return counts


@pytest.fixture(scope="module")
def evictable(cluster: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Two pods a PodLifeTime policy would evict at once, and that policy."""
    ns = workloads.pile_up(cluster, 2, node="i-node-0", others=("i-node-1",), prefix="input")
    policy = tmp_path_factory.mktemp("input") / "policy.yaml"
    policy.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: descheduler/v1alpha2
            kind: DeschedulerPolicy
            profiles:
              - name: age
                pluginConfig:
                  - {{name: PodLifeTime, args: {{maxPodLifeTimeSeconds: 1, namespaces: {{include: [{ns}]}}}}}}
                plugins: {{deschedule: {{enabled: [PodLifeTime]}}}}
            """
        )
    )
    time.sleep(1.5)
    return ns, policy


@pytest.mark.parametrize(
    "extra",
    [
        ["--pushgateway", "not a url"],
        ["--metrics-file", "/nonexistent/folder/descheduler.prom"],
        ["--context", "no-such-context"],
        ["--descheduling-interval", "5ms"],
        ["--output", "xml"],
    ],
    ids=["bad pushgateway", "metrics file in a missing folder", "unknown context", "tiny interval", "bad output"],
)
def test_bad_input_exits_2_before_any_request(
    cluster: clusters.Cluster, evictable: tuple[str, Path], extra: list[str]
) -> None:
    ns, policy = evictable
    before = requests_seen(cluster)
    proc = subprocess.run(
        workloads.descheduler_command(cluster, policy, *extra), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert requests_seen(cluster) == before, "no LIST and no eviction may be sent"
    assert workloads.running_on(cluster, ns) == {"i-node-0": 2}


def test_a_bad_policy_exits_2_before_any_request(
    cluster: clusters.Cluster, evictable: tuple[str, Path], tmp_path: Path
) -> None:
    _ns, policy = evictable
    broken = tmp_path / "broken.yaml"
    broken.write_text(policy.read_text().replace("maxPodLifeTimeSeconds: 1", "maxPodLifeTimeSeconds: -1"))
    before = requests_seen(cluster)
    proc = subprocess.run(workloads.descheduler_command(cluster, broken), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "maxPodLifeTimeSeconds: must be >= 0, got -1" in proc.stderr
    assert requests_seen(cluster) == before


def test_a_push_that_fails_after_a_real_cycle_warns_and_keeps_report_and_status(
    cluster: clusters.Cluster, evictable: tuple[str, Path]
) -> None:
    _ns, policy = evictable
    proc = subprocess.run(
        workloads.descheduler_command(cluster, policy, "--pushgateway", "http://127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("2 evicted"), proc.stdout
    assert [line for line in proc.stderr.splitlines() if line.startswith("warning: --pushgateway")], proc.stderr
