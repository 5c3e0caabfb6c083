"""``tensile-deschedule explain NAMESPACE/POD`` on the bundled example: the table, the JSON document, and
one-line errors with exit 2 for an unknown pod, a bad NAMESPACE/POD and a bad policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from descheduler.cli import main

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = str(ROOT / "examples/snapshot.yaml")
POLICY = str(ROOT / "examples/policy.yaml")
SOURCE = ["--snapshot", SNAPSHOT, "--policy-config-file", POLICY]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_table_gives_each_plugin_a_verdict_with_its_path() -> None:
    code, out, err = run("explain", "shop/worker-5b8d9-k2n8p", *SOURCE)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "pod shop/worker-5b8d9-k2n8p on vk-lower-c"
    assert lines[1] == "  profile tensile-example:"
    assert "    RemovePodsHavingTooManyRestarts: chosen — 27 restarts >= threshold 20" in lines
    assert "    RemoveFailedPods: not a candidate — the pod is Running, not Failed" in lines
    assert len(lines) == 2 + 5  # one line per Deschedule and Balance plugin of the profile


def test_a_pod_under_the_threshold_names_the_policy_path() -> None:
    code, out, _err = run("explain", "shop/web-6d4cf5-c9z4q", *SOURCE)
    assert code == 0
    path = "profiles[0].pluginConfig[3].args.podRestartThreshold"
    assert f"    RemovePodsHavingTooManyRestarts: not a candidate — {path}: 0 restarts < 20" in out.splitlines()


def test_json_is_a_stable_document() -> None:
    code, out, err = run("explain", "shop/worker-5b8d9-k2n8p", *SOURCE, "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pod"] == {"namespace": "shop", "name": "worker-5b8d9-k2n8p", "node": "vk-lower-c"}
    assert all(set(v) == {"profile", "plugin", "verdict", "reason", "path"} for v in doc["verdicts"])
    by_plugin = {v["plugin"]: v for v in doc["verdicts"]}
    assert by_plugin["RemovePodsHavingTooManyRestarts"] == {
        "profile": "tensile-example",
        "plugin": "RemovePodsHavingTooManyRestarts",
        "verdict": "chosen",
        "reason": "27 restarts >= threshold 20",
        "path": "",
    }
    assert [v["plugin"] for v in doc["verdicts"]] == [
        "PendingOnVirtualNode",
        "RemovePodsHavingTooManyRestarts",
        "RemoveFailedPods",
        "VirtualNodeFragmentation",
        "RemoveDuplicates",
    ]


def test_group_options_before_the_subcommand_are_accepted() -> None:
    code, out, err = run(*SOURCE, "-o", "json", "explain", "shop/worker-5b8d9-k2n8p")
    assert code == 0, err
    assert json.loads(out)["pod"]["name"] == "worker-5b8d9-k2n8p"


def test_explain_never_needs_dry_run_and_plans_as_the_dry_run() -> None:
    code, out, _err = run("--dry-run", *SOURCE, "-o", "json")
    assert code == 0
    planned = {(e["namespace"], e["pod"], e["plugin"]) for e in json.loads(out)["evictions"]}
    for namespace, pod, plugin in planned:
        code, explained, err = run("explain", f"{namespace}/{pod}", *SOURCE, "-o", "json")
        assert code == 0, err
        verdicts = {v["plugin"]: v["verdict"] for v in json.loads(explained)["verdicts"]}
        assert verdicts[plugin] == "chosen"


def test_unknown_pod_is_one_line_and_exit_2() -> None:
    code, out, err = run("explain", "default/x", *SOURCE)
    assert (code, out) == (2, "")
    assert err == f"error: pod default/x not found in snapshot {SNAPSHOT}\n"


@pytest.mark.parametrize("target", ["web-1", "a/b/c", "/web-1", "Default/web-1", "default/"])
def test_bad_namespace_pod_is_one_line_and_exit_2(target: str) -> None:
    code, out, err = run("explain", target, *SOURCE)
    assert (code, out) == (2, "")
    assert err.startswith("error: NAMESPACE/POD: ")
    assert err.count("\n") == 1
    assert "such as default/web-1" in err


def test_missing_policy_is_the_main_commands_error() -> None:
    code, _out, err = run("explain", "shop/db-0", "--snapshot", SNAPSHOT)
    assert (code, err) == (2, "error: --policy-config-file is required\n")


def test_bad_policy_lists_its_problems_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("apiVersion: descheduler/v1alpha2\nkind: DeschedulerPolicy\nprofiles: []\n")
    code, out, err = run("explain", "shop/db-0", "--snapshot", SNAPSHOT, "--policy-config-file", str(bad))
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert "profiles: must be a non-empty list of profiles" in err
    assert "Traceback" not in err and "Error:" not in err


def test_bad_output_is_one_line_and_exit_2() -> None:
    code, _out, err = run("explain", "shop/db-0", *SOURCE, "-o", "xml")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
