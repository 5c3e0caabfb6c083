"""Every kustomize overlay of cronjobs/ (the plain manifests) is accepted by a real API server.

``kubectl kustomize`` of each folder is applied with a server-side dry run, so what
``kubectl apply -k`` sends is checked by kube-apiserver's own validation and admission.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster import clusters
from tests.helm import rendering

ROOT = Path(__file__).resolve().parents[2]
CRONJOBS = ROOT / "cronjobs"
OVERLAYS = rendering.OVERLAYS


def server_dry_run(cluster: clusters.Cluster, docs: list[dict[str, Any]]) -> str:
    """Create the namespaces the objects need for real (a dry run cannot), then dry-run all of them."""
    for doc in docs:
        if doc["kind"] == "Namespace":
            cluster.kubectl("apply", "-f", "-", input_text=json.dumps(doc))
    namespaces = {d["metadata"].get("namespace") for d in docs}
    for ns in sorted(n for n in namespaces if n):
        if not cluster.kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name").strip():
            cluster.kubectl("create", "namespace", ns)
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
    return cluster.kubectl("apply", "--dry-run=server", "-f", "-", input_text=listing)


def test_every_manifest_belongs_to_an_overlay() -> None:
    listed = set()
    for folder in OVERLAYS:
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        listed |= {(folder / r).resolve() for r in kustomization.get("resources", []) if r.endswith(".yaml")}
        for generator in kustomization.get("configMapGenerator", []):
            listed |= {(folder / f.split("=")[-1]).resolve() for f in generator.get("files", [])}
    files = {p.resolve() for p in CRONJOBS.rglob("*.yaml") if "helm" not in p.parts and p.name != "kustomization.yaml"}
    assert files, "cronjobs/ holds the deployment manifests"
    assert files - listed == set(), "every manifest is part of a kustomization"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: str(p.relative_to(ROOT)))
def test_overlay_applies_with_server_side_dry_run(upper: clusters.Cluster, overlay: Path) -> None:
    docs = rendering.kustomize(overlay)
    assert docs
    out = server_dry_run(upper, docs)
    assert out.count("(server dry run)") == len(docs), out


def test_provider_role_is_not_cluster_admin() -> None:
    docs = list(yaml.safe_load_all((CRONJOBS / "provider/rbac.yaml").read_text()))
    found = [r for d in docs if d and d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]
    assert found
    for rule in found:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule.get("apiGroups", [])
    node_rules = [r for r in found if "nodes" in r["resources"] and "patch" in r["verbs"]]
    assert all(r.get("resourceNames") for r in node_rules), "node writes are limited to the provider's own node"


def test_the_shipped_policy_is_policies_tensile_yaml() -> None:
    (configmap,) = rendering.by_kind(rendering.kustomize(CRONJOBS / "descheduler" / "base"), "ConfigMap")
    assert configmap["metadata"]["name"] == "tensile-descheduler-policy"
    assert configmap["data"]["policy.yaml"] == (ROOT / "policies/tensile.yaml").read_text()
