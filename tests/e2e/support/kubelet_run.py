"""Run a pod's container as a kubelet would, for pods whose image this machine does not run.

The test clusters' nodes are kwok's: a pod the Job controller creates is bound and reported
Running, but nothing starts its container. :func:`run_container` starts it here instead, from the
pod object the API server holds: its command and arguments, its ConfigMap and emptyDir volumes
at stand-in folders (argument paths under a mount are rewritten to them), and its ServiceAccount
as in-cluster credentials (a bound token, the cluster CA, ``KUBERNETES_SERVICE_HOST``/``PORT``),
with no kubeconfig and an empty ``$HOME``. So a manifest's pod runs with exactly the rights its
RBAC gives, as it would in a real cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import clusters

ROOT = Path(__file__).resolve().parents[3]
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
COMMANDS = {"tensile-deschedule": [sys.executable, "-m", "descheduler"]}
"""The image's entry points, as this checkout runs them."""


@contextlib.contextmanager
def service_account_files(token: str, ca: bytes, backup: Path) -> Iterator[None]:
    """Write the token and CA at the in-cluster paths; afterwards restore or remove them.

    The kubernetes client reads these module-constant paths, so the test writes the real ones
    (it runs as root in CI). Whatever existed before is put back; directories it made are removed.
    """
    created = [d for d in (SA_DIR, *SA_DIR.parents) if not d.exists()]
    saved = {}
    for name in ("token", "ca.crt"):
        path = SA_DIR / name
        if path.exists():
            saved[name] = backup / name
            shutil.copy2(path, saved[name])
    try:
        SA_DIR.mkdir(parents=True, exist_ok=True)
        (SA_DIR / "token").write_text(token)
        (SA_DIR / "ca.crt").write_bytes(ca)
    except OSError as exc:
        pytest.fail(f"cannot write the service-account files in {SA_DIR} (run as root): {exc}")
    try:
        yield
    finally:
        for name in ("token", "ca.crt"):
            path = SA_DIR / name
            if name in saved:
                shutil.copy2(saved[name], path)
            else:
                path.unlink(missing_ok=True)
        for directory in sorted(created, key=lambda d: len(d.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()


def in_cluster_env(cluster: clusters.Cluster, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG" and not k.startswith("KUBERNETES_")}
    port = cluster.apiserver_url.rsplit(":", 1)[1]
    env.update(HOME=str(home), KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=port)
    return env


def _mount_volumes(cluster: clusters.Cluster, pod: dict[str, Any], work: Path) -> dict[str, Path]:
    """Each mountPath of the first container -> a folder holding what the volume would."""
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    namespace = pod["metadata"]["namespace"]
    mounts: dict[str, Path] = {}
    for i, mount in enumerate(pod["spec"]["containers"][0].get("volumeMounts", [])):
        if mount["mountPath"] == str(SA_DIR):
            continue  # the ServiceAccount's token: service_account_files writes it where the client reads it
        folder = work / f"volume-{i}"
        folder.mkdir()
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            name = volume["configMap"]["name"]
            data = json.loads(cluster.kubectl("get", "configmap", name, "-n", namespace, "-o", "json"))["data"]
            for key, value in data.items():
                (folder / key).write_text(value)
        elif "emptyDir" not in volume:
            raise AssertionError(f"volume {mount['name']}: only configMap and emptyDir volumes can be stood in for")
        mounts[mount["mountPath"]] = folder
    return mounts


def _rewrite(arg: str, mounts: dict[str, Path]) -> str:
    for mount_path, folder in sorted(mounts.items(), key=lambda item: -len(item[0])):
        if f"={mount_path}/" in arg or arg.startswith(mount_path + "/"):
            return arg.replace(mount_path + "/", f"{folder}/", 1)
    return arg


def run_container(cluster: clusters.Cluster, pod: dict[str, Any], work: Path) -> subprocess.CompletedProcess[str]:
    """Start the pod's first container here with the pod's ServiceAccount; the finished process."""
    container = pod["spec"]["containers"][0]
    command = container.get("command") or []
    if not command or command[0] not in COMMANDS:
        raise AssertionError(f"container {container['name']}: no local stand-in for command {command}")
    if not any(m["mountPath"] == str(SA_DIR) for m in container.get("volumeMounts", [])):
        raise AssertionError(f"pod {pod['metadata']['name']} mounts no ServiceAccount token: no API access")
    work.mkdir(parents=True, exist_ok=True)
    mounts = _mount_volumes(cluster, pod, work)
    args = [_rewrite(a, mounts) for a in [*command[1:], *container.get("args", [])]]
    account = pod["spec"].get("serviceAccountName", "default")
    namespace = pod["metadata"]["namespace"]
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration", "1h").strip()
    ca = (cluster.workdir / "clusters" / cluster.name / "pki" / "ca.crt").read_bytes()
    home = work / "home"
    home.mkdir()
    backup = work / "sa-backup"
    backup.mkdir()
    with service_account_files(token, ca, backup):
        return subprocess.run(
            [*COMMANDS[command[0]], *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=in_cluster_env(cluster, home),
            cwd=ROOT,
        )
