"""The tensile-deschedule command: exit codes, one-line errors, outputs, examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from descheduler.cli import main
from descheduler.plugins import default_registry
from descheduler.policy.schema import policy_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = [
    "--dry-run",
    "--snapshot",
    str(ROOT / "examples/snapshot.yaml"),
    "--policy-config-file",
    str(ROOT / "examples/policy.yaml"),
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_example_dry_run_prints_a_table_and_summary() -> None:
    code, out, err = run(*EXAMPLE)
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header == ["NAMESPACE", "POD", "NODE", "PLUGIN", "REASON", "RESULT"]
    assert "checkout-7f9c5-q2xk8" in out and "PendingOnVirtualNode" in out
    assert "(unblocks batch/train-7mx2q)" in out
    assert out.strip().splitlines()[-1].startswith("Dry run: ")


def test_example_json_is_the_documented_document() -> None:
    code, out, err = run(*EXAMPLE, "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dryRun"] is True
    assert set(doc) == {"dryRun", "evictions", "summary"}
    planned = {(e["namespace"], e["pod"], e["plugin"]) for e in doc["evictions"]}
    assert planned == {
        ("shop", "checkout-7f9c5-q2xk8", "PendingOnVirtualNode"),
        ("shop", "worker-5b8d9-k2n8p", "RemovePodsHavingTooManyRestarts"),
        ("batch", "report-28712-jq8vd", "RemoveFailedPods"),
        ("shop", "web-6d4cf5-b8x2m", "VirtualNodeFragmentation"),
        ("shop", "web-6d4cf5-h2k7w", "RemoveDuplicates"),
        ("shop", "web-6d4cf5-m4p1s", "RemoveDuplicates"),
    }
    (freeing,) = [e for e in doc["evictions"] if e["plugin"] == "VirtualNodeFragmentation"]
    assert freeing["unblocks"] == "batch/train-7mx2q"
    for row in doc["evictions"]:
        assert {"namespace", "pod", "node", "plugin", "profile", "reason", "result"} <= set(row)
        assert row["result"] == "planned"
    assert doc["summary"]["evictions"] == len(doc["evictions"])


def test_yaml_output_matches_json() -> None:
    _c, as_json, _e = run(*EXAMPLE, "-o", "json")
    _c, as_yaml, _e = run(*EXAMPLE, "-o", "yaml")
    a, b = json.loads(as_json), yaml.safe_load(as_yaml)
    a["summary"].pop("durationSeconds"), b["summary"].pop("durationSeconds")
    assert a == b


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dry-run"], "error: --policy-config-file is required"),
        (
            ["--policy-config-file", str(ROOT / "examples/policy.yaml"), "--snapshot", "x.yaml"],
            "error: --snapshot plans against files and cannot evict: add --dry-run",
        ),
        (
            ["--policy-config-file", "/nonexistent/policy.yaml", "--dry-run", "--snapshot", "x"],
            "error: /nonexistent/policy.yaml: cannot read: No such file or directory",
        ),
        (
            ["--policy-config-file", str(ROOT / "examples/policy.yaml"), "--kubeconfig", "/nonexistent/kubeconfig"],
            "error: kubeconfig /nonexistent/kubeconfig: file not found",
        ),
        (
            ["--policy-config-file", str(ROOT / "examples/policy.yaml"), "--dry-run", "--snapshot", "/nonexistent"],
            "error: snapshot /nonexistent: no such file or folder",
        ),
    ],
    ids=["no policy", "snapshot without dry-run", "unreadable policy", "missing kubeconfig", "missing snapshot"],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(message), err


def test_a_broken_kubeconfig_is_one_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nclusters: [\n")
    code, _out, err = run("--policy-config-file", str(ROOT / "examples/policy.yaml"), "--kubeconfig", str(kubeconfig))
    assert code == 2
    assert err.startswith(f"error: kubeconfig {kubeconfig}: ") and len(err.strip().splitlines()) == 1


def test_validate_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: descheduler/v1alpha2\nkind: DeschedulerPolicy\nprofiles: [{name: p, x: 1}, {name: p}]\n"
    )
    code, out, err = run("validate", str(ROOT / "examples/policy.yaml"), str(bad))
    assert code == 2
    assert out.strip() == f"{ROOT / 'examples/policy.yaml'}: ok"
    assert err.splitlines() == [
        f"{bad}: profiles[0].x: unknown field; allowed fields: name, pluginConfig, plugins",
        f"{bad}: profiles[1].name: duplicate profile name 'p' (also profiles[0])",
    ]


def test_every_shipped_policy_validates() -> None:
    files = [*sorted(str(p) for p in (ROOT / "policies").glob("*.yaml")), str(ROOT / "examples/policy.yaml")]
    assert len(files) > 1
    code, out, err = run("validate", *files)
    assert code == 0, err
    assert out.count(": ok") == len(files)


def test_schema_file_is_current() -> None:
    committed = json.loads((ROOT / "policies/deschedulerpolicy.schema.json").read_text())
    assert committed == policy_schema(default_registry()), "regenerate: tensile-deschedule schema > policies/..."


def test_plugins_lists_every_plugin_with_arguments() -> None:
    code, out, _err = run("plugins", "-o", "json")
    assert code == 0
    listing = {entry["name"]: entry for entry in json.loads(out)}
    assert set(listing) == set(default_registry().names())
    restarts = {a["name"]: a for a in listing["RemovePodsHavingTooManyRestarts"]["args"]}
    assert restarts["podRestartThreshold"]["type"] == "int32"
    assert restarts["includingInitContainers"]["default"] is False
    code, text, _err = run("plugins")
    assert code == 0 and "LowNodeUtilization  [balance]" in text


def test_show_nodes_adds_the_figures_to_json_and_the_html_page_holds_them(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    code, out, err = run(*EXAMPLE, "-o", "json", "--show-nodes", "--report-html", str(page))
    assert code == 0, err
    doc = json.loads(out)
    names = [(n["name"], n["group"]) for n in doc["nodes"]]
    assert names == [("edge-0", None), ("vk-lower-a", "lower-a"), ("vk-lower-b", "lower-b"), ("vk-lower-c", "lower-c")]
    # Evicted pods leave their node; the pending pod and replacements take room elsewhere.
    by_name = {n["name"]: n for n in doc["nodes"]}
    assert by_name["vk-lower-c"]["after"]["pods"] < by_name["vk-lower-c"]["before"]["pods"]
    assert sum(n["after"]["pods"] for n in doc["nodes"]) > sum(n["before"]["pods"] for n in doc["nodes"]) - 6
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and 'id="report-data"' in text
    assert not (tmp_path / "plan.html.tmp").exists()


def test_show_nodes_table_lists_each_node_with_its_group() -> None:
    code, out, err = run(*EXAMPLE, "--show-nodes")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("edge-0 ", "vk-lower-"))}
    assert set(rows) == {"edge-0", "vk-lower-a", "vk-lower-b", "vk-lower-c"}
    assert "lower: lower-a" in rows["vk-lower-a"] and "→" in rows["edge-0"]


def test_an_html_page_that_cannot_be_written_is_a_warning_after_the_report_and_exit_1(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    (tmp_path / "plan.html.tmp").mkdir()  # the page is written through this name: now it cannot be
    code, out, err = run(*EXAMPLE, "--report-html", str(page))
    assert code == 1
    assert out.strip().splitlines()[-1].startswith("Dry run: ")
    assert err.startswith(f"warning: --report-html {page}: could not write the report: ")
    assert not page.exists()
