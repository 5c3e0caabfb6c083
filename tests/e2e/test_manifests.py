"""Every manifest in cronjobs/ is accepted by a real API server (server-side dry run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cluster import clusters

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "cronjobs").rglob("*.yaml"))


def test_there_are_manifests() -> None:
    assert MANIFESTS, "cronjobs/ holds the deployment manifests"


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_manifest_applies_with_server_side_dry_run(upper: clusters.Cluster, manifest: Path) -> None:
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    # Namespaces are created for real (a dry run cannot create the namespace its objects need).
    for doc in docs:
        if doc["kind"] == "Namespace":
            upper.kubectl("apply", "-f", "-", input_text=json.dumps(doc))
    for ns in {d["metadata"].get("namespace") for d in docs if d["metadata"].get("namespace")}:
        if not upper.kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name").strip():
            upper.kubectl("create", "namespace", ns)
    out = upper.kubectl("apply", "--dry-run=server", "-f", str(manifest))
    assert "(server dry run)" in out
    assert out.count("(server dry run)") == len(docs)


def test_provider_role_is_not_cluster_admin() -> None:
    docs = list(yaml.safe_load_all((ROOT / "cronjobs/provider/rbac.yaml").read_text()))
    rules = [r for d in docs if d and d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]
    assert rules
    for rule in rules:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule.get("apiGroups", [])
    node_rules = [r for r in rules if "nodes" in r["resources"] and "patch" in r["verbs"]]
    assert all(r.get("resourceNames") for r in node_rules), "node writes are limited to the provider's own node"


def test_the_shipped_configmap_holds_the_tensile_policy() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "cronjobs/descheduler/policy.yaml").read_text()) if d]
    (configmap,) = docs
    assert configmap["data"]["policy.yaml"] == (ROOT / "policies/tensile.yaml").read_text()
