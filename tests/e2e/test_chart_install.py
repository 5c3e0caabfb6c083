"""What operators install, installed for real: the Helm chart's renders and the cronjob overlay.

* Every object the chart renders (default values, the three example values files, an upstream
  descheduler values file) passes a server-side dry-run apply on the real upper cluster.
* The chart's CronJob variant, applied to a cluster of its own, runs: a Job made from the CronJob
  (``kubectl create job --from=cronjob/...``, as an operator runs one now) gets its pod from the
  Job controller, and that pod's container runs as a kubelet would start it (tests/e2e/support/
  kubelet_run.py: the pod's command, arguments, ConfigMap volume and ServiceAccount token, no
  kubeconfig). It evicts the piled-up duplicates through the chart's own RBAC, without one 403.
* ``kubectl apply -k`` of cronjobs/descheduler/cronjob does the same, with the policy replaced
  the kustomize way (an overlay of the overlay with a ``configMapGenerator`` ``behavior: replace``).
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster import clusters
from tests.cluster.test_smoke import wait_for
from tests.e2e.support import kubelet_run, workloads
from tests.e2e.test_manifests import server_dry_run
from tests.helm import rendering

NODES = [clusters.NodeSpec(name=f"c-node-{i}") for i in range(3)]
UPSTREAM_VALUES = rendering.ROOT / "tests" / "helm" / "upstream-values.yaml"
VARIANTS = {"defaults": (), **{p.stem: (p,) for p in sorted(rendering.EXAMPLES.glob("*.yaml"))}}
VARIANTS["upstream-values"] = (UPSTREAM_VALUES,)
SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors",
                  "singular": "servicemonitor"},
        "scope": "Namespaced",
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}  # fmt: skip
"""The Prometheus Operator's CRD, reduced to its name: the dry run checks the chart's object against it."""


@pytest.fixture(scope="module")
def with_service_monitors(upper: clusters.Cluster) -> clusters.Cluster:
    upper.apply([SERVICE_MONITOR_CRD])
    wait_for(
        lambda: "servicemonitors" in upper.kubectl("api-resources", "--api-group=monitoring.coreos.com", check=False),
        what="the ServiceMonitor CRD to be served",
    )
    return upper


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_object_passes_a_server_side_dry_run(
    with_service_monitors: clusters.Cluster, variant: str
) -> None:
    docs = rendering.template(*VARIANTS[variant], release=f"dry-{variant}", namespace="tensile-system")
    out = server_dry_run(with_service_monitors, docs)
    assert out.count("(server dry run)") == len(docs), out


# -- installed and run ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(control_plane_binaries: object, clusters_root: Path) -> Iterator[clusters.Cluster]:
    with clusters.running(clusters.ClusterSpec("chart", tuple(NODES)), root=clusters_root / "chart") as started:
        yield started


def job_pod(cluster: clusters.Cluster, namespace: str, job: str) -> dict[str, Any]:
    """The pod the Job controller made for ``job``, once it exists."""
    found: list[dict[str, Any]] = []

    def created() -> bool:
        items = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-l", f"job-name={job}", "-o", "json"))
        found[:] = items["items"]
        return bool(found)

    wait_for(created, timeout=60, what=f"the pod of Job {job}")
    return found[0]


def run_from_cronjob(cluster: clusters.Cluster, namespace: str, cronjob: str, work: Path) -> dict[str, Any]:
    """``kubectl create job --from=cronjob/...``, then its pod's container as a kubelet would run it."""
    job = f"{cronjob}-now"
    cluster.kubectl("create", "job", job, f"--from=cronjob/{cronjob}", "-n", namespace)
    pod = job_pod(cluster, namespace, job)
    proc = kubelet_run.run_container(cluster, pod, work)
    assert "403" not in proc.stderr and "Forbidden" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    return {"pod": pod, "stderr": proc.stderr, "stdout": proc.stdout}


def assert_duplicates_evicted(cluster: clusters.Cluster, namespace: str, run: dict[str, Any]) -> None:
    # The CronJob logs JSON lines, one per eviction, and prints the plain report.
    assert "4 evicted" in run["stdout"], run["stdout"] + run["stderr"]
    wait_for(
        lambda: (
            sum(workloads.running_on(cluster, namespace).values()) == 6
            and workloads.running_on(cluster, namespace).get("c-node-0", 0) <= 2
        ),
        timeout=60,
        what="the replacements running on the other nodes",
    )


def test_the_charts_cronjob_runs_and_evicts_through_its_own_service_account(
    cluster: clusters.Cluster, tmp_path: Path
) -> None:
    ns = workloads.pile_up(cluster, 6, node="c-node-0", others=("c-node-1", "c-node-2"), prefix="chart")
    values = tmp_path / "values.yaml"
    policy = {k: v for k, v in workloads.dedupe_policy(ns).items() if k not in ("apiVersion", "kind")}
    values.write_text(yaml.safe_dump({"deschedulerPolicy": policy, "cmdOptions": {"v": 1}}))
    docs = rendering.template(values, release="e2e", namespace="kube-system")
    assert [d["kind"] for d in docs if d["kind"] == "CronJob"] == ["CronJob"]
    cluster.apply(docs)
    pod_spec = rendering.pod_spec(rendering.one(docs, "CronJob"))
    run = run_from_cronjob(cluster, "kube-system", "e2e-tensile-descheduler", tmp_path)
    assert run["pod"]["spec"]["serviceAccountName"] == pod_spec["serviceAccountName"] == "e2e-tensile-descheduler"
    assert_duplicates_evicted(cluster, ns, run)


def test_kubectl_apply_k_of_the_cronjob_overlay_runs_and_evicts(cluster: clusters.Cluster, tmp_path: Path) -> None:
    ns = workloads.pile_up(cluster, 6, node="c-node-0", others=("c-node-1", "c-node-2"), prefix="kust")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    workloads.write_dedupe_policy(overlay / "my-policy.yaml", ns)
    base = os.path.relpath(rendering.ROOT / "cronjobs" / "descheduler" / "cronjob", overlay)
    (overlay / "kustomization.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - {base}
            configMapGenerator:
              - name: tensile-descheduler-policy
                namespace: kube-system
                behavior: replace
                files:
                  - policy.yaml=my-policy.yaml
                options:
                  disableNameSuffixHash: true
            """
        )
    )
    cluster.kubectl("apply", "-k", str(overlay))
    run = run_from_cronjob(cluster, "kube-system", "tensile-descheduler", tmp_path / "run")
    assert run["pod"]["spec"]["serviceAccountName"] == "tensile-descheduler"
    assert_duplicates_evicted(cluster, ns, run)
