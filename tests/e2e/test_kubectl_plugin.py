"""``kubectl tensile`` through the real kubectl: kubectl finds kubectl-tensile on PATH and runs it.

On a live cluster, ``kubectl tensile deschedule --dry-run`` prints the same plan as
``tensile-deschedule --dry-run``, with kubectl's --kubeconfig and --context; ``-n`` shows that
namespace's part; ``kubectl tensile explain POD -n NS`` says why a planned pod was chosen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster import clusters
from tests.e2e.support import workloads

ROOT = Path(__file__).resolve().parents[2]
NODES = [clusters.NodeSpec(name=f"p-node-{i}") for i in range(3)]
SCRIPTS = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cluster(control_plane_binaries: object, clusters_root: Path) -> Iterator[clusters.Cluster]:
    with clusters.running(clusters.ClusterSpec("plugin", tuple(NODES)), root=clusters_root / "plugin") as started:
        yield started


@pytest.fixture(scope="module")
def piled(cluster: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    ns = workloads.pile_up(cluster, 6, node="p-node-0", others=("p-node-1", "p-node-2"), prefix="plug")
    policy = workloads.write_dedupe_policy(tmp_path_factory.mktemp("policy") / "policy.yaml", ns)
    return ns, policy


def kubectl(cluster: clusters.Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """The test environment's kubectl with this checkout's scripts first on PATH, and no KUBECONFIG."""
    if not (SCRIPTS / "kubectl-tensile").is_file():
        pytest.fail(f"kubectl-tensile is not installed in {SCRIPTS}: run pip install -e '.[test]'")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["PATH"] = f"{SCRIPTS}{os.pathsep}{env.get('PATH', '')}"
    cmd = [str(cluster.bins.kubectl), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def context_of(cluster: clusters.Cluster) -> str:
    return str(yaml.safe_load(cluster.kubeconfig.read_text())["current-context"])


def plan(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    doc["summary"]["durationSeconds"] = 0
    return dict(doc)


def test_kubectl_tensile_deschedule_prints_the_same_plan(cluster: clusters.Cluster, piled: tuple[str, Path]) -> None:
    _ns, policy = piled
    access = ["--kubeconfig", str(cluster.kubeconfig), "--context", context_of(cluster)]
    flags = ["--dry-run", "--policy-config-file", str(policy), "-o", "json"]
    through_kubectl = kubectl(cluster, "tensile", "deschedule", *access, *flags)
    assert through_kubectl.returncode == 0, through_kubectl.stderr
    direct = subprocess.run(
        [sys.executable, "-m", "descheduler", *access, *flags], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert direct.returncode == 0, direct.stderr
    ours = plan(through_kubectl.stdout)
    assert ours == plan(direct.stdout)
    assert len(ours["evictions"]) == 4 and {e["result"] for e in ours["evictions"]} == {"planned"}
    # The table too, line for line but the timing.
    table = kubectl(cluster, "tensile", "deschedule", *access, "--dry-run", "--policy-config-file", str(policy))
    direct_table = subprocess.run(
        [sys.executable, "-m", "descheduler", *access, "--dry-run", "--policy-config-file", str(policy)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert table.stdout.splitlines()[:-1] == direct_table.stdout.splitlines()[:-1]


def test_namespace_and_explain_through_kubectl(cluster: clusters.Cluster, piled: tuple[str, Path]) -> None:
    ns, policy = piled
    access = ["--kubeconfig", str(cluster.kubeconfig)]
    other = kubectl(cluster, "tensile", "deschedule", *access, "--dry-run", "--policy-config-file", str(policy),
                    "-n", "kube-system", "-o", "json")  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["evictions"] == []
    mine = kubectl(cluster, "tensile", "deschedule", *access, "--dry-run", "--policy-config-file", str(policy),
                   "-n", ns, "-o", "json")  # fmt: skip
    chosen = json.loads(mine.stdout)["evictions"][0]["pod"]
    explained = kubectl(cluster, "tensile", "explain", chosen, "-n", ns, *access,
                        "--policy-config-file", str(policy), "-o", "json")  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    verdicts = json.loads(explained.stdout)["verdicts"]
    assert [(v["plugin"], v["verdict"]) for v in verdicts] == [("RemoveDuplicates", "chosen")]
