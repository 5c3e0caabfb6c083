"""cronjobs/webhook/: least-privilege RBAC, and the three manifests agree on every name they share.

The server-side dry run of each file is in test_manifests.py; the RBAC being sufficient is shown
by test_webhook.py, which runs the webhook as this ServiceAccount.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from descheduler.kube import paths

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK = ROOT / "cronjobs" / "webhook"


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((WEBHOOK / name).read_text()) if d]


def one(name: str, kind: str) -> dict[str, Any]:
    [found] = [d for d in docs(name) if d["kind"] == kind]
    return found


def args() -> dict[str, str]:
    """The webhook container's ``--flag=value`` arguments."""
    container = one("deployment.yaml", "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "webhook"
    return dict(a.removeprefix("--").split("=", 1) for a in container["args"][1:])


def rules() -> list[tuple[str, dict[str, Any]]]:
    return [(d["kind"], r) for d in docs("rbac.yaml") if d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]


def owner_resources() -> set[tuple[str, str]]:
    """(group, plural) of every owner kind the descheduler records avoidances on."""
    return {(paths.group_of(api), plural) for api, plural in paths.OWNERS.values()}


def test_webhook_role_is_not_cluster_admin() -> None:
    allowed = {(g, r): {"get"} for g, r in owner_resources()}
    allowed |= {
        ("", "nodes"): {"list", "watch"},
        ("", "secrets"): {"create", "get", "update"},
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): {"get", "update"},
    }
    granted: dict[tuple[str, str], set[str]] = {}
    for _kind, rule in rules():
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == allowed, "exactly what the webhook needs: nothing more, and every owner kind"


def test_writes_are_limited_to_the_webhooks_own_objects() -> None:
    flags = args()
    for kind, rule in rules():
        if "mutatingwebhookconfigurations" in rule["resources"]:
            assert kind == "ClusterRole" and rule["resourceNames"] == [flags["webhook-config-name"]]
        if "secrets" in rule["resources"]:
            # Only create cannot name its object; reading and renewing are limited to the TLS Secret.
            assert kind == "Role", "secrets only in the webhook's own namespace"
            assert rule["verbs"] == ["create"] or rule["resourceNames"] == [flags["tls-secret"]]
    role = one("rbac.yaml", "Role")
    assert role["metadata"]["namespace"] == flags["service-namespace"]


def test_manifests_agree_on_names() -> None:
    flags = args()
    account = one("rbac.yaml", "ServiceAccount")["metadata"]
    deployment = one("deployment.yaml", "Deployment")
    service = one("deployment.yaml", "Service")
    config = one("mutatingwebhookconfiguration.yaml", "MutatingWebhookConfiguration")
    pod_spec = deployment["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == account["name"]
    assert deployment["metadata"]["namespace"] == account["namespace"] == flags["service-namespace"]
    assert service["metadata"]["name"] == flags["service-name"]
    assert service["metadata"]["namespace"] == flags["service-namespace"]
    assert config["metadata"]["name"] == flags["webhook-config-name"]
    [hook] = config["webhooks"]
    assert hook["clientConfig"]["service"] == {
        "name": flags["service-name"],
        "namespace": flags["service-namespace"],
        "path": "/mutate-pods",
        "port": 443,
    }
    [port] = service["spec"]["ports"]
    [container_port] = [p for p in pod_spec["containers"][0]["ports"] if p["name"] == port["targetPort"]]
    assert port["port"] == 443 and container_port["containerPort"] == int(flags["port"])
    for binding in (d for d in docs("rbac.yaml") if d["kind"].endswith("Binding")):
        assert binding["subjects"] == [{"kind": "ServiceAccount", **account}]


def test_the_image_is_the_providers() -> None:
    provider = [d for d in yaml.safe_load_all((ROOT / "cronjobs/provider/deployment.yaml").read_text()) if d]
    [provider_deployment] = [d for d in provider if d["kind"] == "Deployment"]
    expected = provider_deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    container = one("deployment.yaml", "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == expected and container["command"] == ["tensile-virtual-node"]


def test_the_pod_runs_non_root_read_only_and_is_probed_over_https() -> None:
    deployment = one("deployment.yaml", "Deployment")
    pod_spec = deployment["spec"]["template"]["spec"]
    [container] = pod_spec["containers"]
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert deployment["spec"]["replicas"] >= 2 and "tls-secret" in args(), "replicas share one certificate"


def test_the_cluster_keeps_working_without_the_webhook() -> None:
    config = one("mutatingwebhookconfiguration.yaml", "MutatingWebhookConfiguration")
    [hook] = config["webhooks"]
    assert hook["failurePolicy"] == "Ignore" and hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"] and hook["timeoutSeconds"] == 5
    assert hook["reinvocationPolicy"] == "Never"
    pods_created = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
    assert hook["rules"] == [{**pods_created, "scope": "Namespaced"}]
    [excluded] = hook["namespaceSelector"]["matchExpressions"]
    assert excluded["key"] == "kubernetes.io/metadata.name" and excluded["operator"] == "NotIn"
    assert set(excluded["values"]) == {"kube-system", "kube-node-lease", args()["service-namespace"]}
    [skip] = hook["objectSelector"]["matchExpressions"]
    assert skip == {"key": "tensile.io/admission", "operator": "NotIn", "values": ["skip"]}
    labels = one("deployment.yaml", "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert labels["tensile.io/admission"] == "skip", "the webhook's own pods never wait for it"
    assert "caBundle" not in hook["clientConfig"], "the webhook fills it in"
