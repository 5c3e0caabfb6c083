"""``kubectl tensile``: the command line kubectl hands over becomes tensile-deschedule's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from descheduler import kubectl_plugin
from descheduler.kube import client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = [
    "--snapshot",
    str(ROOT / "examples/snapshot.yaml"),
    "--policy-config-file",
    str(ROOT / "examples/policy.yaml"),
]


def test_deschedule_passes_every_flag_through() -> None:
    args = ["deschedule", "--dry-run", "--kubeconfig", "k", "--context", "c", "-n", "team-a", "-o", "json"]
    assert kubectl_plugin.translate(args) == args[1:]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["explain", "web-1", "-n", "team-a"], ["explain", "team-a/web-1"]),
        (["explain", "-n", "team-a", "web-1"], ["explain", "team-a/web-1"]),
        (["explain", "web-1", "--namespace=team-a"], ["explain", "team-a/web-1"]),
        (["explain", "web-1", "-nteam-a"], ["explain", "team-a/web-1"]),
        (["explain", "web-1"], ["explain", "ctx-ns/web-1"]),
        (["explain", "team-b/web-1"], ["explain", "team-b/web-1"]),
        (
            ["explain", "--policy-config-file", "p.yaml", "web-1", "--context", "c"],
            ["explain", "--policy-config-file", "p.yaml", "ctx-ns/web-1", "--context", "c"],
        ),
    ],
)
def test_explain_takes_the_namespace_as_kubectl_does(args: list[str], expected: list[str]) -> None:
    assert kubectl_plugin.translate(args, context_namespace="ctx-ns") == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "a command is needed"),
        (["evict"], "unknown command 'evict'"),
        (["explain", "team-b/web-1", "-n", "team-a"], "names its namespace: leave out -n team-a"),
        (["explain", "web-1", "-n"], "-n needs a namespace"),
    ],
)
def test_bad_command_lines_are_refused_in_words(args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kubectl_plugin.translate(args)


def test_the_context_namespace_is_read_from_the_kubeconfig(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [
                    {"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}},
                    {"name": "b", "context": {"cluster": "c", "user": "u"}},
                ],
                "current-context": "a",
            }
        )
    )
    assert client.default_namespace(str(config)) == "team-a"
    assert client.default_namespace(str(config), "b") == "default"


def run_plugin(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from descheduler.kubectl_plugin import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_the_plugin_prints_the_same_plan_as_tensile_deschedule() -> None:
    plugin = run_plugin("deschedule", "--dry-run", *EXAMPLE, "-o", "json")
    direct = subprocess.run(
        [sys.executable, "-m", "descheduler", "--dry-run", *EXAMPLE, "-o", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert plugin.returncode == direct.returncode == 0, plugin.stderr
    strip = lambda doc: {**doc, "summary": {**doc["summary"], "durationSeconds": 0}}  # noqa: E731
    assert strip(json.loads(plugin.stdout)) == strip(json.loads(direct.stdout))


def test_namespace_narrows_what_a_dry_run_shows() -> None:
    everything = json.loads(run_plugin("deschedule", "--dry-run", *EXAMPLE, "-o", "json").stdout)
    namespaces = {e["namespace"] for e in everything["evictions"]}
    assert len(namespaces) >= 2, "the example plans evictions in several namespaces"
    chosen = sorted(namespaces)[0]
    narrowed = json.loads(run_plugin("deschedule", "--dry-run", *EXAMPLE, "-n", chosen, "-o", "json").stdout)
    assert narrowed["evictions"] == [e for e in everything["evictions"] if e["namespace"] == chosen]
    assert narrowed["summary"]["nodes"] == everything["summary"]["nodes"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deschedule", "--policy-config-file", "x", "-n", "a"], "only narrows what a --dry-run shows"),
        (["deschedule", "--dry-run", *EXAMPLE, "-n", "Not_A_Namespace"], "is not a namespace name"),
        (["nonsense"], "unknown command"),
    ],
)
def test_plugin_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = run_plugin(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_upstream_klog_verbosity_is_accepted() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "descheduler", "--v=3", "--dry-run", *EXAMPLE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
