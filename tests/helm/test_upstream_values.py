"""An upstream descheduler chart values file carries over: it renders with the documented differences only.

The upstream chart (sigs.k8s.io/descheduler's charts/descheduler, taken from the Go module the
test environment downloads) and the tensile chart render ``upstream-values.yaml`` side by side.
Object by object, every field that differs must be one the chart's README lists under
"Differences from the upstream chart"; the policy itself must be the same document.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster import binaries
from tests.helm import rendering

HERE = Path(__file__).resolve().parent
UPSTREAM_VALUES = HERE / "upstream-values.yaml"
README = rendering.CHART / "README.md"

# Field path pattern -> the README entry that documents it.
DOCUMENTED: dict[str, str] = {
    r"\.metadata\.labels\..*|.*\.template\.metadata\.labels\..*|.*\.annotations\.checksum/config": "labels",
    r"\.metadata\.name|.*\.template\.metadata\.name|\.roleRef\.name|\.subjects\[0\]\.name|.*serviceAccountName"
    r"|.*\.volumes": "names",
    r".*\.containers\[0\]\.(image|command\[0\]|name)": "image",
    r".*\.containers\[0\]\.args": "cmdOptions",
    r"\.rules": "rbac",
    r".*\.spec\.securityContext\..*": "podSecurityContext",
    r".*\.containers\[0\]\.(livenessProbe|ports)": "livenessProbe",
    r".*\.containers\[0\]\.volumeMounts": "volumeMounts",
    r"\.spec\.jobTemplate\.spec\.(backoffLimit|activeDeadlineSeconds)": "jobTemplate",
}


def differences(upstream: Any, ours: Any, path: str = "") -> list[str]:
    """The paths where two rendered objects differ (lists of equal length compared item by item)."""
    if isinstance(upstream, dict) and isinstance(ours, dict):
        found = []
        for key in sorted(set(upstream) | set(ours)):
            if key not in upstream or key not in ours:
                found.append(f"{path}.{key}")
            else:
                found += differences(upstream[key], ours[key], f"{path}.{key}")
        return found
    if isinstance(upstream, list) and isinstance(ours, list) and len(upstream) == len(ours):
        return [
            p for i, (a, b) in enumerate(zip(upstream, ours, strict=True)) for p in differences(a, b, f"{path}[{i}]")
        ]
    return [] if upstream == ours else [path]


def documented_as(path: str) -> str | None:
    return next((entry for pattern, entry in DOCUMENTED.items() if re.fullmatch(pattern, path)), None)


@pytest.fixture(scope="module")
def rendered() -> tuple[dict[str, Any], dict[str, Any]]:
    upstream = rendering.template(
        UPSTREAM_VALUES, release="descheduler", namespace="kube-system", chart=binaries.upstream_descheduler_chart()
    )
    ours = rendering.template(UPSTREAM_VALUES, release="descheduler", namespace="kube-system")
    return {d["kind"]: d for d in upstream}, {d["kind"]: d for d in ours}


def test_both_charts_render_the_same_kinds(rendered: tuple[dict[str, Any], dict[str, Any]]) -> None:
    upstream, ours = rendered
    assert set(upstream) == {"ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "CronJob"}
    assert set(ours) == set(upstream)


def test_the_policy_is_the_same_document(rendered: tuple[dict[str, Any], dict[str, Any]]) -> None:
    upstream, ours = rendered
    policy = yaml.safe_load(upstream["ConfigMap"]["data"]["policy.yaml"])
    assert yaml.safe_load(ours["ConfigMap"]["data"]["policy.yaml"]) == policy
    assert policy["profiles"][0]["plugins"]["balance"]["enabled"][2] == "LowNodeUtilization"


@pytest.mark.parametrize("kind", ["ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "CronJob"])
def test_every_difference_is_documented(rendered: tuple[dict[str, Any], dict[str, Any]], kind: str) -> None:
    upstream, ours = rendered
    paths = [p for p in differences(upstream[kind], ours[kind]) if p != ".data.policy.yaml"]
    undocumented = [p for p in paths if documented_as(p) is None]
    assert not undocumented, f"{kind}: differences from the upstream chart not in {README.name}: {undocumented}"


def test_the_values_a_user_sets_reach_the_cronjob(rendered: tuple[dict[str, Any], dict[str, Any]]) -> None:
    upstream, ours = rendered
    for field in ("schedule", "suspend", "startingDeadlineSeconds", "successfulJobsHistoryLimit", "timeZone"):
        assert ours["CronJob"]["spec"].get(field) == upstream["CronJob"]["spec"].get(field), field
    pod = rendering.pod_spec(ours["CronJob"])
    for field in ("priorityClassName", "nodeSelector", "tolerations", "affinity", "dnsConfig", "imagePullSecrets"):
        assert pod[field] == rendering.pod_spec(upstream["CronJob"])[field], field
    assert pod["securityContext"]["fsGroup"] == 1000
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "250m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    assert "--v=3" in pod["containers"][0]["args"]


def test_the_readme_lists_every_documented_difference() -> None:
    text = README.read_text()
    section = text.split("## Differences from the upstream chart", 1)[1].split("\n## ", 1)[0]
    for entry in sorted(set(DOCUMENTED.values())):
        assert f"**{entry}**" in section, f"{README.name} does not document {entry!r}"
