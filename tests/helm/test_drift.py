"""The Helm chart, the kustomize overlays and the shipped policy say the same thing.

The overlays (cronjobs/) are the plain manifests; the chart renders the same components from
values. Rendered with the values that match the overlays' names, both must grant the same RBAC
rules, start the same commands with the same arguments and mount the same policy.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helm import rendering

ROOT = rendering.ROOT
CRONJOBS = ROOT / "cronjobs"


def rules(docs: list[dict[str, Any]], kind: str, name: str) -> list[dict[str, Any]]:
    return list(rendering.one(docs, kind, name)["rules"])


def container(workload: dict[str, Any]) -> dict[str, Any]:
    return dict(rendering.pod_spec(workload)["containers"][0])


@pytest.fixture(scope="module")
def descheduler_chart() -> dict[str, list[dict[str, Any]]]:
    deployment = [
        "kind=Deployment",
        "replicas=2",
        "leaderElection.enabled=true",
        "leaderElection.resourceNamespace=kube-system",
    ]
    return {
        "cronjob": rendering.template(namespace="kube-system"),
        "job": rendering.template(namespace="kube-system", sets=["kind=Job"]),
        "deployment": rendering.template(namespace="kube-system", sets=deployment),
    }


@pytest.mark.parametrize("overlay", ["cronjob", "job", "deployment"])
def test_descheduler_overlays_match_the_chart(overlay: str, descheduler_chart: dict[str, list[dict[str, Any]]]) -> None:
    plain = rendering.kustomize(CRONJOBS / "descheduler" / overlay)
    chart = descheduler_chart[overlay]
    name = "tensile-descheduler"
    assert rules(plain, "ClusterRole", name) == rules(chart, "ClusterRole", name)
    kind = {"cronjob": "CronJob", "job": "Job", "deployment": "Deployment"}[overlay]
    ours, theirs = container(rendering.one(plain, kind)), container(rendering.one(chart, kind))
    assert sorted(ours["args"]) == sorted(theirs["args"])
    assert ours["command"] == theirs["command"] and ours["resources"] == theirs["resources"]
    assert ours["securityContext"].items() <= theirs["securityContext"].items()
    assert ours["volumeMounts"] == theirs["volumeMounts"]
    plain_pod, chart_pod = (
        rendering.pod_spec(rendering.one(plain, kind)),
        rendering.pod_spec(rendering.one(chart, kind)),
    )
    assert plain_pod["securityContext"] == chart_pod["securityContext"]
    assert plain_pod["serviceAccountName"] == chart_pod["serviceAccountName"] == name
    assert plain_pod["volumes"] == chart_pod["volumes"]
    policy = rendering.one(plain, "ConfigMap", f"{name}-policy")["data"]["policy.yaml"]
    assert policy == rendering.one(chart, "ConfigMap", f"{name}-policy")["data"]["policy.yaml"]
    assert policy == (ROOT / "policies" / "tensile.yaml").read_text()
    if overlay == "deployment":
        lease = f"{name}-leader-election"
        assert rules(plain, "Role", lease) == rules(chart, "Role", lease)


def test_webhook_overlay_matches_the_chart() -> None:
    plain = rendering.kustomize(CRONJOBS / "webhook")
    chart = rendering.template(sets=["webhook.enabled=true", "descheduler.enabled=false"])
    name = "tensile-webhook"
    assert rules(plain, "ClusterRole", name) == rules(chart, "ClusterRole", name)
    assert rules(plain, "Role", name) == rules(chart, "Role", name)
    assert (
        container(rendering.one(plain, "Deployment"))["args"] == container(rendering.one(chart, "Deployment"))["args"]
    )
    plain_hooks = rendering.one(plain, "MutatingWebhookConfiguration")["webhooks"]
    chart_hooks = rendering.one(chart, "MutatingWebhookConfiguration")["webhooks"]
    assert plain_hooks == chart_hooks


def test_extender_overlay_matches_the_chart() -> None:
    plain = rendering.kustomize(CRONJOBS / "extender")
    chart = rendering.template(sets=["extender.enabled=true", "descheduler.enabled=false"])
    name = "tensile-extender"
    for kind, role in (("ClusterRole", name), ("Role", name), ("Role", f"{name}-summaries")):
        assert rules(plain, kind, role) == rules(chart, kind, role), role
    assert (
        container(rendering.one(plain, "Deployment"))["args"] == container(rendering.one(chart, "Deployment"))["args"]
    )
    plain_config = yaml.safe_load(rendering.one(plain, "ConfigMap")["data"]["config.yaml"])
    chart_config = yaml.safe_load(rendering.one(chart, "ConfigMap")["data"]["config.yaml"])
    assert plain_config == chart_config


@pytest.mark.parametrize("authorize", [False, True])
def test_provider_overlay_matches_the_chart(authorize: bool) -> None:
    plain = rendering.kustomize(CRONJOBS / "provider")
    node = "tensile-lower-a"
    sets = [
        "descheduler.enabled=false",
        "virtualNodes[0].name=lower-a",
        f"virtualNodes[0].nodeName={node}",
        f"virtualNodes[0].kubeconfig.existingSecret={node}-kubeconfig",
        f"provider.authorize={str(authorize).lower()}",
    ]
    chart = rendering.template(sets=sets)
    name = "tensile-vn-lower-a"
    plain_rules = rules(plain, "ClusterRole", "tensile-virtual-node")
    reviews = [r for r in plain_rules if r["apiGroups"][0] in ("authentication.k8s.io", "authorization.k8s.io")]
    expected = plain_rules if authorize else [r for r in plain_rules if r not in reviews]
    assert rules(chart, "ClusterRole", name) == expected
    assert rules(plain, "Role", "tensile-virtual-node-lease") == rules(chart, "Role", name)
    plain_args = container(rendering.one(plain, "Deployment"))["args"]
    chart_args = container(rendering.one(chart, "Deployment"))["args"]
    expected_args = list(plain_args)
    if authorize:  # the overlay shows --authorize as a comment: an operator's choice
        ca = next(i for i, arg in enumerate(expected_args) if arg.startswith("--client-ca-file="))
        expected_args.insert(ca + 1, "--authorize")
    assert chart_args == expected_args
