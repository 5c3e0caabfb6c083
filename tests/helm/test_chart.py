"""The Helm chart with the real helm: lint, render, refuse bad values, and agree with the overlays.

Rendering needs no cluster; tests/e2e/test_chart_install.py applies what is rendered here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from descheduler.plugins import default_registry
from descheduler.policy import loading
from tests.helm import rendering, values_schema

ROOT = rendering.ROOT
EXAMPLES = sorted(rendering.EXAMPLES.glob("*.yaml"))
VARIANTS: dict[str, tuple[Path, ...]] = {"defaults": (), **{p.stem: (p,) for p in EXAMPLES}}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    name = str(request.param)
    return name, rendering.template(*VARIANTS[name])


def test_there_are_three_example_values_files() -> None:
    assert [p.stem for p in EXAMPLES] == ["cronjob", "deployment-ha", "virtual-nodes"]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_helm_lint_passes(name: str) -> None:
    args: list[str | Path] = ["lint", rendering.CHART, "--strict"]
    for path in VARIANTS[name]:
        args += ["--values", path]
    out = rendering.helm(*args).stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in out


def test_every_rendered_policy_is_a_valid_tensile_policy(variant: tuple[str, list[dict[str, Any]]]) -> None:
    name, docs = variant
    configmap = rendering.one(docs, "ConfigMap", "tensile-descheduler-policy")
    policy = loading.parse_policy(configmap["data"]["policy.yaml"], registry=default_registry())
    assert policy.profiles, name
    assert not policy.warnings, (name, policy.warnings)


def test_the_default_policy_is_policies_tensile_yaml() -> None:
    shipped = (ROOT / "policies" / "tensile.yaml").read_text()
    assert (rendering.CHART / "files" / "policy.yaml").read_text() == shipped
    configmap = rendering.one(rendering.template(), "ConfigMap", "tensile-descheduler-policy")
    assert configmap["data"]["policy.yaml"] == shipped


def test_a_policy_in_values_replaces_the_default_whole() -> None:
    docs = rendering.template(
        sets=[
            "deschedulerPolicy.profiles[0].name=only",
            "deschedulerPolicy.profiles[0].plugins.deschedule.enabled[0]=RemoveFailedPods",
        ]
    )
    policy = yaml.safe_load(rendering.one(docs, "ConfigMap")["data"]["policy.yaml"])
    assert policy == {
        "apiVersion": "descheduler/v1alpha2",
        "kind": "DeschedulerPolicy",
        "profiles": [{"name": "only", "plugins": {"deschedule": {"enabled": ["RemoveFailedPods"]}}}],
    }


def test_defaults_render_the_cronjob_only() -> None:
    kinds = sorted(d["kind"] for d in rendering.template())
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "ServiceAccount"]


def test_deployment_example_has_election_service_monitor_and_budget() -> None:
    docs = rendering.template(rendering.EXAMPLES / "deployment-ha.yaml")
    deployment = rendering.one(docs, "Deployment")
    args = rendering.pod_spec(deployment)["containers"][0]["args"]
    assert deployment["spec"]["replicas"] == 2
    assert "--leader-elect" in args and "--descheduling-interval=5m" in args
    assert "--leader-elect-resource-name=tensile-descheduler" in args
    role = rendering.one(docs, "Role", "tensile-descheduler-leader-election")
    assert role["rules"][1]["resourceNames"] == ["tensile-descheduler"]
    monitor = rendering.one(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["scheme"] == "http"
    assert rendering.one(docs, "Service")["spec"]["ports"][0]["name"] == "http-metrics"
    assert rendering.one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_virtual_nodes_example_gives_each_provider_its_own_rights() -> None:
    docs = rendering.template(rendering.EXAMPLES / "virtual-nodes.yaml")
    providers = [d for d in rendering.by_kind(docs, "Deployment") if "-vn-" in d["metadata"]["name"]]
    assert sorted(d["metadata"]["name"] for d in providers) == ["tensile-vn-lower-a", "tensile-vn-lower-b"]
    for deployment, node in zip(
        sorted(providers, key=lambda d: d["metadata"]["name"]), ["tensile-lower-a", "vk-lower-b"], strict=True
    ):
        pod = rendering.pod_spec(deployment)
        assert f"--nodename={node}" in pod["containers"][0]["args"]
        role = rendering.one(docs, "ClusterRole", deployment["metadata"]["name"])
        node_rules = [r for r in role["rules"] if "nodes" in r["resources"] and "patch" in r["verbs"]]
        assert [r["resourceNames"] for r in node_rules] == [[node]]
        lease = rendering.one(docs, "Role", deployment["metadata"]["name"])
        assert lease["metadata"]["namespace"] == "kube-node-lease"
        assert lease["rules"][1]["resourceNames"] == [node, f"{node}-tensile-fit"]
    secrets = rendering.by_kind(docs, "Secret")
    assert [s["metadata"]["name"] for s in secrets] == ["tensile-vn-lower-b-kubeconfig"]
    assert rendering.one(docs, "MutatingWebhookConfiguration")["webhooks"][0]["clientConfig"]["service"] == {
        "name": "tensile-webhook",
        "namespace": "tensile-system",
        "path": "/mutate-pods",
        "port": 443,
    }
    scheduler = yaml.safe_load(
        rendering.one(docs, "ConfigMap", "tensile-extender-scheduler-config")["data"]["config.yaml"]
    )
    assert scheduler["extenders"][0]["urlPrefix"] == "https://tensile-extender.tensile-system.svc:443"


def test_a_virtual_node_without_a_kubeconfig_is_refused_naming_it() -> None:
    sets = ["--set", "virtualNodes[0].name=lower-a", "--set", "virtualNodes[0].kubeconfig.key=kubeconfig"]
    proc = rendering.helm("template", "t", rendering.CHART, *sets, check=False)
    assert proc.returncode != 0
    assert "virtualNodes[0].kubeconfig: set existingSecret" in proc.stderr
    missing = rendering.helm("template", "t", rendering.CHART, "--set", "virtualNodes[0].name=lower-a", check=False)
    assert "/virtualNodes/0': missing property 'kubeconfig'" in missing.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("deschedulerPolicy.maxNoOfPodsToEvictPerNode=-1", "/deschedulerPolicy/maxNoOfPodsToEvictPerNode"),
        ("deschedulerPolicy.profilez=1", "deschedulerPolicy"),
        ("kind=Cronjob", "/kind"),
        ("replicas=2", "more than 1 needs leaderElection.enabled"),
        ("webhook.failurePolicy=Sometimes", "/webhook/failurePolicy"),
        ("leaderElection.resourceLock=configmaps", "/leaderElection/resourceLock"),
    ],
)
def test_bad_values_are_refused_by_name(setting: str, message: str) -> None:
    sets = ["--set", setting] + (["--set", "kind=Deployment"] if setting.startswith("replicas") else [])
    proc = rendering.helm("template", "t", rendering.CHART, *sets, check=False)
    assert proc.returncode != 0, proc.stdout[:200]
    assert message in proc.stderr


def test_the_values_schema_embeds_the_policy_schema() -> None:
    values = json.loads(values_schema.VALUES_SCHEMA.read_text())
    policy, defs = values_schema.embedded(json.loads(values_schema.POLICY_SCHEMA.read_text()))
    assert values["properties"]["deschedulerPolicy"] == policy, "run: python -m tests.helm.values_schema"
    assert all(values["$defs"][name] == body for name, body in defs.items())
