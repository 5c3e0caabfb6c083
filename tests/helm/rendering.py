"""Render what operators install: the Helm chart with the real ``helm``, the overlays with ``kubectl kustomize``.

Both binaries are the test environment's (tests/cluster/binaries.py builds and caches them), so
what the tests check is what ``helm install`` and ``kubectl apply -k`` would send.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.cluster import binaries

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "cronjobs" / "helm" / "tensile"
EXAMPLES = CHART / "examples"
OVERLAYS = sorted(p.parent for p in (ROOT / "cronjobs").rglob("kustomization.yaml") if "helm" not in p.parts)
"""Every kustomize folder of cronjobs/, bases included."""


class RenderError(AssertionError):
    """helm or kustomize refused; the message has its stderr."""


def tool(name: str) -> Path:
    """A binary of the test environment, or a failure saying how to build it."""
    bins = binaries.locate()
    path = Path(getattr(bins, name))
    if not path.is_file():
        raise AssertionError(f"{name} is missing at {path}; {binaries.how_to_build()}")
    return path


def run(cmd: Sequence[str | Path], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, cwd=ROOT)
    if check and proc.returncode != 0:
        raise RenderError(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc


def helm(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([tool("helm"), *args], check=check)


def template(
    *values_files: Path,
    release: str = "tensile",
    namespace: str = "tensile-system",
    chart: Path = CHART,
    sets: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``helm template`` of the chart: every rendered object."""
    args: list[str | Path] = ["template", release, chart, "--namespace", namespace]
    for path in values_files:
        args += ["--values", path]
    for item in sets:
        args += ["--set", item]
    return documents(helm(*args).stdout)


def kustomize(folder: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize FOLDER``: the objects ``kubectl apply -k FOLDER`` would send."""
    return documents(run([tool("kubectl"), "kustomize", folder]).stdout)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: Sequence[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, Job or CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])
