"""Build and locate the Kubernetes control-plane binaries that the tests run.

Everything is built from upstream Go modules through the Go module proxy (DESIGN.md §5):

* kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from
  ``k8s.io/kubernetes`` via a generated wrapper module whose ``replace`` list is derived
  from the release's own go.mod (``go install k8s.io/kubernetes/...@v`` refuses because
  of the release's ``./staging`` replaces);
* etcd from ``go.etcd.io/etcd/server/v3``;
* kwok and kwokctl from ``sigs.k8s.io/kwok``'s source with two exec fixes (:mod:`tests.cluster.kwok_patches`);
* metrics-server from ``sigs.k8s.io/metrics-server`` (``cmd/metrics-server``), which kwokctl runs in the
  clusters that ask for it (``ClusterSpec.metrics_server``), so ``kubectl top`` is tested for real;
* helm from ``helm.sh/helm/v4`` (``cmd/helm``), which lints and renders ``cronjobs/helm/tensile``.

The upstream descheduler's Helm chart is not a binary: :func:`upstream_descheduler_chart` takes it
from the ``sigs.k8s.io/descheduler`` module (the Go module proxy serves the whole repository).

Binaries land in a cache directory outside the repository, keyed by version
(``$TENSILE_BIN_CACHE`` or ``~/.cache/tensile/bin``), and are built only when missing.
Run ``python tests/cluster/binaries.py`` to build; the test suite calls :func:`ensure`.
This file uses the standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

try:
    from tests.cluster import kwok_patches
except ImportError:  # run as a script: python tests/cluster/binaries.py
    import kwok_patches  # type: ignore[no-redef]

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
METRICS_SERVER_VERSION = "v0.8.0"
HELM_VERSION = "v4.3.2"
UPSTREAM_DESCHEDULER_VERSION = "v0.36.0"

KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


class BuildError(RuntimeError):
    """A build step failed; the message names the command and how to retry."""


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of every binary the test clusters need."""

    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    etcd: Path
    kwok: Path
    kwokctl: Path
    metrics_server: Path
    helm: Path

    def missing(self) -> list[Path]:
        return [p for p in self.__dict__.values() if not os.access(p, os.X_OK)]


def cache_root() -> Path:
    override = os.environ.get("TENSILE_BIN_CACHE")
    if override:
        return Path(override).expanduser().resolve()
    return Path.home() / ".cache" / "tensile" / "bin"


def kube_dir() -> Path:
    return cache_root() / f"kubernetes-{KUBERNETES_VERSION}"


def etcd_dir() -> Path:
    return cache_root() / f"etcd-{ETCD_VERSION}"


def kwok_dir() -> Path:
    return cache_root() / f"kwok-{KWOK_VERSION}-{kwok_patches.PATCH_LEVEL}"


def metrics_server_dir() -> Path:
    return cache_root() / f"metrics-server-{METRICS_SERVER_VERSION}"


def helm_dir() -> Path:
    return cache_root() / f"helm-{HELM_VERSION}"


def locate() -> Binaries:
    k, e, w = kube_dir(), etcd_dir(), kwok_dir()
    return Binaries(
        kube_apiserver=k / "kube-apiserver",
        kube_controller_manager=k / "kube-controller-manager",
        kube_scheduler=k / "kube-scheduler",
        kubectl=k / "kubectl",
        etcd=e / "etcd",
        kwok=w / "kwok",
        kwokctl=w / "kwokctl",
        metrics_server=metrics_server_dir() / "metrics-server",
        helm=helm_dir() / "helm",
    )


def how_to_build() -> str:
    return f"build them with: python {Path(__file__).resolve()} (takes tens of minutes cold)"


def _log(message: str) -> None:
    print(f"[binaries {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    # Never fetch another Go toolchain: dependencies' toolchain lines are only hints.
    env["GOTOOLCHAIN"] = "local"
    env.setdefault("GOFLAGS", "-trimpath")
    return env


def _run(cmd: list[str], *, cwd: Path) -> str:
    _log("$ " + " ".join(cmd))
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=_go_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-30:])
        raise BuildError(
            f"command failed (exit {proc.returncode}) in {cwd}: {' '.join(cmd)}\n{tail}\n"
            f"fix the cause and re-run: python {Path(__file__).resolve()}"
        )
    _log(f"  done in {time.monotonic() - started:.0f}s")
    return proc.stdout


def _staging_replaces(kubernetes_gomod: str, staging_version: str) -> list[str]:
    """Turn the release's ``k8s.io/x => ./staging/src/k8s.io/x`` lines into published versions."""
    names = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", kubernetes_gomod, flags=re.M)
    if not names:
        raise BuildError("no ./staging replace directives found in k8s.io/kubernetes go.mod")
    return [f"\t{name} => {name} {staging_version}" for name in sorted(set(names))]


def _version_replaces(gomod: str) -> list[str]:
    """The ``A => B vX`` replace directives of a go.mod (single lines and blocks; local paths left out)."""
    found = re.findall(r"^\s*(?:replace\s+)?([\w./-]+)(?:\s+v\S+)?\s*=>\s*([\w./-]+)\s+(v\S+)\s*$", gomod, flags=re.M)
    return [f"\t{old} => {new} {version}" for old, new, version in found]


def _version_ldflags(version: str) -> str:
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        raise BuildError(f"unexpected Kubernetes version {version!r}")
    major, minor = match.group(1), match.group(2)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={stamp}",
        ]
    return " ".join(flags)


def _wrapper_module(work: Path, module: str, requires: list[tuple[str, str]]) -> None:
    lines = [f"module {module}", "", "go 1.26", "", "require ("]
    lines += [f"\t{path} {version}" for path, version in requires]
    lines += [")", ""]
    (work / "go.mod").write_text("\n".join(lines))


def build_kubernetes(target: Path) -> None:
    staging_version = "v0" + KUBERNETES_VERSION[2:]  # v1.36.3 -> v0.36.3
    with tempfile.TemporaryDirectory(prefix="tensile-k8s-build-") as tmp:
        work = Path(tmp)
        _wrapper_module(work, "tensile.local/kubebins", [("k8s.io/kubernetes", KUBERNETES_VERSION)])
        info = json.loads(_run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{KUBERNETES_VERSION}"], cwd=work))
        gomod = Path(info["GoMod"]).read_text()
        replaces = _staging_replaces(gomod, staging_version)
        with (work / "go.mod").open("a") as fh:
            fh.write("replace (\n" + "\n".join(replaces) + "\n)\n")
        _log(f"wrapper module maps {len(replaces)} staging modules to {staging_version}")
        # -mod=mod lets the go command fill go.sum while it resolves the full graph.
        packages = [f"k8s.io/kubernetes/cmd/{name}" for name in KUBE_COMMANDS]
        _run(["go", "mod", "download"], cwd=work)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        ldflags = _version_ldflags(KUBERNETES_VERSION)
        for pkg in packages:
            out = staging / pkg.rsplit("/", 1)[1]
            _run(["go", "build", "-mod=mod", "-ldflags", ldflags, "-o", str(out), pkg], cwd=work)
        _publish(staging, target)


def build_module_binaries(
    target: Path,
    module: str,
    version: str,
    mains: dict[str, str],
    *,
    ldflags: str = "-s -w",
    own_replaces: bool = False,
) -> None:
    """Build ``mains`` (binary name -> package path) from ``module@version``.

    ``own_replaces``: the module's go.mod replaces versions of its dependencies, which a
    requiring module ignores; copy them into the wrapper so the build uses what the module's does."""
    with tempfile.TemporaryDirectory(prefix="tensile-go-build-") as tmp:
        work = Path(tmp)
        _wrapper_module(work, "tensile.local/bins", [(module, version)])
        if own_replaces:
            info = json.loads(_run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=work))
            lines = _version_replaces(Path(info["GoMod"]).read_text())
            with (work / "go.mod").open("a") as fh:
                fh.write("replace (\n" + "\n".join(lines) + "\n)\n")
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, pkg in mains.items():
            _run(["go", "build", "-mod=mod", "-ldflags", ldflags, "-o", str(staging / name), pkg], cwd=work)
        _publish(staging, target)


def build_metrics_server(target: Path) -> None:
    # metrics-server's own Makefile stamps its version into client-go's version package, where
    # `metrics-server --version` reads it (and kwokctl, which runs that to learn the version).
    build_module_binaries(
        target,
        "sigs.k8s.io/metrics-server",
        METRICS_SERVER_VERSION,
        {"metrics-server": "sigs.k8s.io/metrics-server/cmd/metrics-server"},
        ldflags=f"-s -w -X k8s.io/client-go/pkg/version.gitVersion={METRICS_SERVER_VERSION}",
    )


def build_helm(target: Path) -> None:
    # helm's Makefile stamps the version that `helm version` prints (the chart's kubeVersion checks
    # compare against the cluster, not against this).
    build_module_binaries(
        target,
        "helm.sh/helm/v4",
        HELM_VERSION,
        {"helm": "helm.sh/helm/v4/cmd/helm"},
        ldflags=f"-s -w -X helm.sh/helm/v4/internal/version.version={HELM_VERSION}",
    )


def upstream_descheduler_dir() -> Path:
    return cache_root() / f"descheduler-{UPSTREAM_DESCHEDULER_VERSION}"


def upstream_descheduler() -> Path:
    """The upstream descheduler binary (for the benches' side by side), built from its module once and cached."""
    binary = upstream_descheduler_dir() / "descheduler"
    if not os.access(binary, os.X_OK):
        _log(f"building the upstream descheduler {UPSTREAM_DESCHEDULER_VERSION} into {upstream_descheduler_dir()}")
        build_module_binaries(
            upstream_descheduler_dir(),
            "sigs.k8s.io/descheduler",
            UPSTREAM_DESCHEDULER_VERSION,
            {"descheduler": "sigs.k8s.io/descheduler/cmd/descheduler"},
            own_replaces=True,
        )
    return binary


def upstream_descheduler_chart() -> Path:
    """The upstream descheduler's Helm chart at :data:`UPSTREAM_DESCHEDULER_VERSION`, from the Go module cache."""
    with tempfile.TemporaryDirectory(prefix="tensile-go-download-") as tmp:
        work = Path(tmp)
        _wrapper_module(work, "tensile.local/charts", [])
        module = f"sigs.k8s.io/descheduler@{UPSTREAM_DESCHEDULER_VERSION}"
        out = _run(["go", "mod", "download", "-json", module], cwd=work)
    chart = Path(json.loads(out)["Dir"]) / "charts" / "descheduler"
    if not (chart / "Chart.yaml").is_file():
        raise BuildError(f"sigs.k8s.io/descheduler@{UPSTREAM_DESCHEDULER_VERSION} has no chart at {chart}")
    return chart


def build_kwok(target: Path) -> None:
    """kwok and kwokctl from kwok's source with :mod:`tests.cluster.kwok_patches` applied."""
    with tempfile.TemporaryDirectory(prefix="tensile-kwok-build-") as tmp:
        work = Path(tmp)
        _wrapper_module(work, "tensile.local/bins", [("sigs.k8s.io/kwok", KWOK_VERSION)])
        info = json.loads(_run(["go", "mod", "download", "-json", f"sigs.k8s.io/kwok@{KWOK_VERSION}"], cwd=work))
        source = work / "kwok-src"
        shutil.copytree(info["Dir"], source)
        for path in (source, *source.rglob("*")):
            path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
        try:
            kwok_patches.apply(source)
        except kwok_patches.PatchError as exc:
            raise BuildError(str(exc)) from None
        with (work / "go.mod").open("a") as fh:
            fh.write("replace sigs.k8s.io/kwok => ./kwok-src\n")
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in ("kwok", "kwokctl"):
            pkg = f"sigs.k8s.io/kwok/cmd/{name}"
            _run(["go", "build", "-mod=mod", "-ldflags", "-s -w", "-o", str(staging / name), pkg], cwd=work)
        _publish(staging, target)


def _publish(staging: Path, target: Path) -> None:
    """Move a finished build into place atomically, so a killed build never looks complete."""
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def ensure() -> Binaries:
    """Build whatever is missing, then return the paths. Raises BuildError on failure."""
    if shutil.which("go") is None:
        raise BuildError("the 'go' command is not on PATH; install Go >= 1.26 to build the test binaries")
    bins = locate()
    started = time.monotonic()
    if any(not os.access(p, os.X_OK) for p in (bins.etcd,)):
        _log(f"building etcd {ETCD_VERSION} into {etcd_dir()}")
        build_module_binaries(
            etcd_dir(), "go.etcd.io/etcd/server/v3", ETCD_VERSION, {"etcd": "go.etcd.io/etcd/server/v3"}
        )
    if any(not os.access(p, os.X_OK) for p in (bins.kwok, bins.kwokctl)):
        _log(f"building kwok {KWOK_VERSION} (patched: {kwok_patches.PATCH_LEVEL}) into {kwok_dir()}")
        build_kwok(kwok_dir())
    if not os.access(bins.metrics_server, os.X_OK):
        _log(f"building metrics-server {METRICS_SERVER_VERSION} into {metrics_server_dir()}")
        build_metrics_server(metrics_server_dir())
    if not os.access(bins.helm, os.X_OK):
        _log(f"building helm {HELM_VERSION} into {helm_dir()}")
        build_helm(helm_dir())
    kube = (bins.kube_apiserver, bins.kube_controller_manager, bins.kube_scheduler, bins.kubectl)
    if any(not os.access(p, os.X_OK) for p in kube):
        _log(f"building Kubernetes {KUBERNETES_VERSION} into {kube_dir()} (tens of minutes on 2 cores)")
        build_kubernetes(kube_dir())
    missing = bins.missing()
    if missing:
        raise BuildError(f"binaries still missing after build: {', '.join(map(str, missing))}")
    _log(f"all binaries present ({time.monotonic() - started:.0f}s)")
    return bins


def main() -> int:
    try:
        bins = ensure()
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in bins.__dict__.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
