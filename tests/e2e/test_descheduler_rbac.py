"""The RBAC of cronjobs/descheduler/base on a real cluster: sufficient and minimal.

The ServiceAccount, ClusterRole, Role and bindings of ``cronjobs/descheduler/base/rbac.yaml`` are
applied for real. ``python -m descheduler`` then runs as a pod would: in-cluster
configuration (``KUBERNETES_SERVICE_HOST``/``PORT``, the service-account token and CA at
``/var/run/secrets/kubernetes.io/serviceaccount/``, no kubeconfig, an empty ``$HOME``).

One *scenario* is everything the descheduler does with the API:

1. a real (non-dry-run) cycle that evicts piled-up duplicates (lists, evictions, Events);
2. avoidance records on each supported owner kind, through ``ApiWriter.record_avoidance``
   (no built-in plugin asks for one yet, so it is called directly, in-cluster too);
3. a short daemon run with ``--leader-elect``: creates, takes and releases the Lease.

With the full roles the scenario succeeds without a single 403; without any one rule it
fails with a Forbidden error naming that rule's resource.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from descheduler import keys
from tests.cluster import clusters
from tests.cluster.test_smoke import wait_for
from tests.e2e.support import kubelet_run, workloads
from tests.e2e.support.workloads import running_on

ROOT = Path(__file__).resolve().parents[2]
RBAC = ROOT / "cronjobs" / "descheduler" / "base" / "rbac.yaml"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "tensile-descheduler"
LEASE = "tensile-descheduler"
NODES = [clusters.NodeSpec(name=f"r-node-{i}") for i in range(3)]
OWNER_KINDS = ("ReplicaSet", "Deployment", "StatefulSet", "Job", "ReplicationController")
FORBIDDEN = "403 Forbidden"


def rbac_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC.read_text()) if d]


def role_docs() -> list[dict[str, Any]]:
    return [d for d in rbac_docs() if d["kind"] in ("ClusterRole", "Role")]


def rule_id(kind: str, rule: dict[str, Any]) -> str:
    group = rule["apiGroups"][0] or "core"
    names = f"[{','.join(rule['resourceNames'])}]" if rule.get("resourceNames") else ""
    return f"{kind}:{group}:{','.join(rule['resources'])}{names}:{','.join(rule['verbs'])}"


RULES = [(doc["kind"], doc["metadata"]["name"], i) for doc in role_docs() for i in range(len(doc["rules"]))]
RULE_IDS = [rule_id(doc["kind"], rule) for doc in role_docs() for rule in doc["rules"]]


@pytest.fixture(scope="module")
def cluster(control_plane_binaries: object, clusters_root: Path) -> Iterator[clusters.Cluster]:
    with clusters.running(clusters.ClusterSpec("rbac", tuple(NODES)), root=clusters_root / "rbac") as started:
        yield started


@pytest.fixture(scope="module")
def pod_env(cluster: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The manifests' RBAC applied for real; the environment and files a pod of the SA would have."""
    cluster.kubectl("apply", "-f", str(RBAC))
    token = cluster.kubectl("create", "token", SERVICE_ACCOUNT, "-n", NAMESPACE, "--duration", "2h").strip()
    ca = cluster.workdir / "clusters" / cluster.name / "pki" / "ca.crt"
    home = tmp_path_factory.mktemp("empty-home")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG" and not k.startswith("KUBERNETES_")}
    port = cluster.apiserver_url.rsplit(":", 1)[1]
    env.update(HOME=str(home), KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=port)
    with kubelet_run.service_account_files(token, ca.read_bytes(), tmp_path_factory.mktemp("sa-backup")):
        yield env


# -- the scenario ----------------------------------------------------------------------------


@dataclass
class Scenario:
    namespace: str
    once_code: int
    report: dict[str, Any]
    once_out: str
    once_err: str
    probe_code: int
    probe_err: str
    daemon_code: int
    daemon_err: str

    @property
    def text(self) -> str:
        """All output, with the report's messages decoded (JSON escapes their quotes)."""
        messages = [str(e.get("message", "")) for e in self.report.get("evictions", [])]
        return "\n".join((self.once_out, *messages, self.once_err, self.probe_err, self.daemon_err))


def pile_up(cluster: clusters.Cluster, replicas: int = 6) -> str:
    """A namespace with a Deployment whose replicas all run on r-node-0, plus one owner of each other kind."""
    ns = workloads.pile_up(cluster, replicas, node="r-node-0", others=("r-node-1", "r-node-2"), prefix="rbac")
    template = {"metadata": {"labels": {"app": "idle"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    selector = {"matchLabels": {"app": "idle"}}
    owners = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "idle", "namespace": ns},
            "spec": {"replicas": 0, "serviceName": "idle", "selector": selector, "template": template},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "idle", "namespace": ns},
            "spec": {
                "suspend": True,
                "template": {"spec": {**template["spec"], "restartPolicy": "Never"}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "idle", "namespace": ns},
            "spec": {"replicas": 0, "selector": {"app": "idle"}, "template": template},
        },
    ]
    cluster.apply(owners)
    return ns


def owner_refs(cluster: clusters.Cluster, ns: str) -> list[tuple[str, str, str]]:
    data = json.loads(cluster.kubectl("get", "replicasets,deployments,statefulsets,jobs,rc", "-n", ns, "-o", "json"))
    return [(i["kind"], i["metadata"]["name"], i["metadata"]["uid"]) for i in data["items"]]


def policy_file(tmp_path: Path, ns: str) -> Path:
    return workloads.write_dedupe_policy(tmp_path / f"policy-{ns}.yaml", ns)


PROBE = """\
import json, logging, sys, time
from descheduler.evictor.writers import ApiWriter
from descheduler.kube.client import Kube, load_configuration
from descheduler.model import pod_from_raw
logging.basicConfig(level=logging.WARNING)
ns, node, owners = json.loads(sys.argv[1])
writer = ApiWriter(Kube(load_configuration()))
for kind, name, uid in owners:
    ref = {"apiVersion": "v1", "kind": kind, "name": name, "uid": uid, "controller": True}
    raw = {"metadata": {"namespace": ns, "name": "probe-" + kind.lower(), "uid": "probe-" + uid,
                        "ownerReferences": [ref]}}
    writer.record_avoidance(pod_from_raw(raw), node=node, until=time.time() + 600)
"""


def run_scenario(cluster: clusters.Cluster, env: dict[str, str], tmp_path: Path) -> Scenario:
    ns = pile_up(cluster)
    policy = policy_file(tmp_path, ns)
    cli = [sys.executable, "-m", "descheduler", "--policy-config-file", str(policy)]
    # 1. One real cycle.
    once = subprocess.run([*cli, "-o", "json"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    report = json.loads(once.stdout) if once.stdout.strip().startswith("{") else {}
    # 2. Avoidance records on every supported owner kind.
    args = json.dumps([ns, "r-node-0", owner_refs(cluster, ns)])
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    # 3. A daemon with leader election, from no Lease: create, take, run a cycle, release on SIGTERM.
    cluster.kubectl("delete", "lease", LEASE, "-n", NAMESPACE, "--ignore-not-found")
    daemon_log = tmp_path / f"daemon-{ns}.log"
    with daemon_log.open("w") as log:
        proc = subprocess.Popen(
            [
                *cli,
                "--descheduling-interval=1h",
                "--leader-elect",
                "--leader-elect-lease-duration=5s",
                "--leader-elect-renew-deadline=4s",
                "--leader-elect-retry-period=1s",
                f"--leader-elect-resource-name={LEASE}",
                f"--leader-elect-resource-namespace={NAMESPACE}",
                "--metrics-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        try:
            wait_for(
                lambda: proc.poll() is not None or any(s in daemon_log.read_text() for s in ("cycle done", FORBIDDEN)),
                timeout=60,
                what="the daemon's first cycle or a 403",
            )
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return Scenario(
        ns,
        once.returncode,
        report,
        once.stdout,
        once.stderr,
        probe.returncode,
        probe.stderr,
        proc.returncode,
        daemon_log.read_text(),
    )


# -- roles -----------------------------------------------------------------------------------


def can_i(cluster: clusters.Cluster, kind: str, rule: dict[str, Any]) -> bool:
    """Whether the SA may do the rule's first verb on its first resource, as the authorizer says now."""
    resource, _, subresource = rule["resources"][0].partition("/")
    group = rule["apiGroups"][0]
    target = f"{resource}.{group}" if group else resource
    if rule.get("resourceNames"):
        target += f"/{rule['resourceNames'][0]}"
    args = ["auth", "can-i", rule["verbs"][0], target, f"--as=system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"]
    args += ["-n", NAMESPACE] if kind == "Role" else ["--all-namespaces"]
    if subresource:
        args.append(f"--subresource={subresource}")
    return cluster.kubectl(*args, check=False).strip() == "yes"


def replace_role(cluster: clusters.Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("replace", "-f", "-", input_text=json.dumps(doc))


# -- tests -----------------------------------------------------------------------------------


def test_every_rule_names_verbs_explicitly() -> None:
    for doc in role_docs():
        for rule in doc["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
            assert not {"delete", "deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"]), rule
    bound = {(d["kind"], d["metadata"]["name"]) for d in rbac_docs() if d["kind"].endswith("Binding")}
    assert bound == {("ClusterRoleBinding", "tensile-descheduler"), ("RoleBinding", LEASE + "-leader-election")}


def test_service_account_runs_a_real_cycle_in_cluster(
    cluster: clusters.Cluster, pod_env: dict[str, str], tmp_path: Path
) -> None:
    run = run_scenario(cluster, pod_env, tmp_path)
    assert FORBIDDEN not in run.text, run.text
    assert run.once_code == 0, run.once_err
    assert run.report["dryRun"] is False
    evicted = [e["pod"] for e in run.report["evictions"] if e["result"] == "evicted"]
    assert len(evicted) == 4, run.report
    wait_for(
        lambda: (
            sum(running_on(cluster, run.namespace).values()) == 6
            and running_on(cluster, run.namespace).get("r-node-0", 0) <= 2
        ),
        what="replacements running elsewhere",
    )
    events = json.loads(cluster.kubectl("get", "events.events.k8s.io", "-n", run.namespace, "-o", "json"))["items"]
    assert {e["regarding"]["name"] for e in events if e.get("reason") == "Descheduled"} == set(evicted)
    # Avoidance records written on every owner kind.
    assert run.probe_code == 0 and not run.probe_err.strip(), run.probe_err
    data = json.loads(
        cluster.kubectl("get", "replicasets,deployments,statefulsets,jobs,rc", "-n", run.namespace, "-o", "json")
    )
    annotated = {
        i["kind"] for i in data["items"] if keys.AVOID_NODES_ANNOTATION in i["metadata"].get("annotations", {})
    }
    assert annotated == set(OWNER_KINDS)
    # The daemon created the Lease, led, ran a cycle, and released the Lease on SIGTERM.
    assert run.daemon_code == 0, run.daemon_err
    assert "became leader" in run.daemon_err and "cycle done" in run.daemon_err, run.daemon_err
    lease = json.loads(cluster.kubectl("get", "lease", LEASE, "-n", NAMESPACE, "-o", "json"))
    assert lease["spec"].get("holderIdentity", "") == "", lease
    assert "released lease" in run.daemon_err


@pytest.mark.parametrize(("kind", "name", "index"), RULES, ids=RULE_IDS)
def test_without_any_one_rule_the_run_is_forbidden(
    cluster: clusters.Cluster, pod_env: dict[str, str], tmp_path: Path, kind: str, name: str, index: int
) -> None:
    full = next(d for d in role_docs() if d["kind"] == kind and d["metadata"]["name"] == name)
    rule = full["rules"][index]
    reduced = {**full, "rules": [r for i, r in enumerate(full["rules"]) if i != index]}
    replace_role(cluster, reduced)
    try:
        wait_for(lambda: not can_i(cluster, kind, rule), timeout=30, what="the authorizer to see the reduced role")
        run = run_scenario(cluster, pod_env, tmp_path)
    finally:
        replace_role(cluster, full)
        wait_for(lambda: can_i(cluster, kind, rule), timeout=30, what="the authorizer to see the restored role")
    assert FORBIDDEN in run.text, run.text
    # The Forbidden error names this rule's resource, e.g. 'cannot list resource "nodes"'.
    named = [f'cannot {verb} resource "{res}"' for res in rule["resources"] for verb in rule["verbs"]]
    assert any(n in run.text for n in named), f"none of {named} in:\n{run.text}"
    if "list" in rule["verbs"] or rule["resources"] == ["pods/eviction"]:
        # Missing reads or evictions fail the cycle (exit 1); Events, avoidance records and the
        # Lease are best effort inside a cycle (a warning), and a replica without the Lease never leads.
        assert run.once_code == 1, run.once_err
