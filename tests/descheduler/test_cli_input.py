"""tensile-deschedule's flags: every one is checked before anything runs, with one line
naming the flag; exporting metrics after a cycle can only warn."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from descheduler import options
from descheduler.cli import main
from descheduler.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = [
    "--dry-run",
    "--snapshot",
    str(ROOT / "examples/snapshot.yaml"),
    "--policy-config-file",
    str(ROOT / "examples/policy.yaml"),
]
# Points nowhere: a flag error must stop the command before a cluster is needed.
LIVE = ["--policy-config-file", str(ROOT / "examples/policy.yaml"), "--kubeconfig", "/nonexistent/kubeconfig"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--descheduling-interval", "99999999999h"], "--descheduling-interval: '99999999999h' is too long"),
        (["--descheduling-interval", "5ms"], "--descheduling-interval: '5ms' is too short; use 0 to run once"),
        (["--descheduling-interval", "1m", "--metrics-address", "999.1.1.1:80"], "'999.1.1.1' is neither an IPv4"),
        (["--descheduling-interval", "1m", "--metrics-address", "::1:80"], "an IPv6 address goes in brackets"),
        (["--descheduling-interval", "1m", "--metrics-address", ":99999"], "is not HOST:PORT"),
        (["--pushgateway", "not a url"], "--pushgateway: 'not a url' is not a URL such as http://pushgateway:9091"),
        (["--pushgateway", "ftp://gw:9091"], "--pushgateway: 'ftp://gw:9091' is not a URL"),
        (["--pushgateway", "http://gw:99999"], "--pushgateway: 'http://gw:99999' is not a URL"),
        (["--metrics-file", "/nonexistent/folder/m.prom"], "--metrics-file: folder /nonexistent/folder does not exist"),
        (["--metrics-file", "/tmp"], "--metrics-file: /tmp is a folder"),
        (["--report-html", "/nonexistent/folder/r.html"], "--report-html: folder /nonexistent/folder does not exist"),
        (["--report-html", "/tmp"], "--report-html: /tmp is a folder"),
        (
            ["--leader-elect", "--descheduling-interval", "1m", "--leader-elect-lease-duration", "999999h"],
            "--leader-elect-lease-duration: '999999h' is too long",
        ),
        (
            ["--leader-elect", "--descheduling-interval", "1m", "--leader-elect-resource-name", "Not_A_Name"],
            "--leader-elect-resource-name: 'Not_A_Name' is not a Kubernetes object name",
        ),
    ],
    ids=[
        "overflowing interval",
        "interval under a second",
        "metrics address that is no IPv4 address",
        "IPv6 without brackets",
        "port out of range",
        "pushgateway not a URL",
        "pushgateway not http",
        "pushgateway port out of range",
        "metrics file in a missing folder",
        "metrics file is a folder",
        "HTML report in a missing folder",
        "HTML report is a folder",
        "overflowing lease",
        "lease name with capitals",
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_flag(args: list[str], message: str) -> None:
    code, out, err = run(*LIVE, *args)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Error" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("[::1]:10258", ("::1", 10258)), (":10258", ("", 10258)), ("localhost:1", ("localhost", 1))],
    ids=["IPv6 in brackets", "all interfaces", "a host name"],
)
def test_metrics_addresses_accept_ipv6_and_names(text: str, expected: tuple[str, int]) -> None:
    assert options.check_address(text, "--metrics-address") == expected


def test_the_providers_spelling_of_the_metrics_address_is_accepted() -> None:
    code, _out, err = run(*LIVE, "--descheduling-interval", "1m", "--metrics-addr", "999.1.1.1:80")
    assert code == 2 and "--metrics-address: '999.1.1.1:80': '999.1.1.1' is neither" in err


def test_a_failed_metrics_push_after_the_cycle_warns_and_keeps_the_report_and_the_exit_status() -> None:
    code, out, err = run(*EXAMPLE, "--pushgateway", "http://127.0.0.1:9")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("Dry run: 6 planned")
    (line,) = err.strip().splitlines()
    assert line.startswith("warning: --pushgateway http://127.0.0.1:9: could not push metrics: ")


def test_a_snapshot_error_prints_every_problem_on_its_own_line(tmp_path: Path) -> None:
    snapshot = tmp_path / "s.yaml"
    snapshot.write_text(
        "kind: List\nitems:\n"
        "- {kind: Node, metadata: {name: 1}}\n"
        "- {kind: Pod, metadata: {name: p, namespace: null, creationTimestamp: '2024-01-01T00:00:00Z'}}\n"
    )
    code, out, err = run(
        "--dry-run", "--snapshot", str(snapshot), "--policy-config-file", str(ROOT / "examples/policy.yaml")
    )
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"error: {snapshot}: items[0] (Node unnamed): metadata.name: must be a string, got an integer",
        f"error: {snapshot}: items[1] (Pod p): metadata.namespace: must be a string, got null",
    ]


def test_policy_warnings_are_printed_by_every_run_and_validate_strict_refuses_them(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        (ROOT / "examples/policy.yaml")
        .read_text()
        .replace(
            "    pluginConfig:\n",
            "    pluginConfig:\n      - {name: PodLifeTime, args: {maxPodLifeTimeSeconds: 60}}\n",
            1,
        )
    )
    code, _out, err = run(
        "--dry-run", "--snapshot", str(ROOT / "examples/snapshot.yaml"), "--policy-config-file", str(policy)
    )
    assert code == 0, err
    assert "warning: " in err and "configures PodLifeTime, which this profile does not enable" in err
    code, out, err = run("validate", str(policy))
    assert code == 0 and out.strip() == f"{policy}: ok" and "warning: " in err
    code, out, err = run("validate", "--strict", str(policy))
    assert code == 2 and "refused by --strict" in err


def test_version_is_printed() -> None:
    code, out, _err = run("--version")
    assert code == 0 and out.startswith("tensile-deschedule ")


def test_plugins_can_be_listed_as_yaml() -> None:
    import yaml

    code, out, _err = run("plugins", "-o", "yaml")
    assert code == 0
    assert "RemoveDuplicates" in {entry["name"] for entry in yaml.safe_load(out)}


def test_options_keep_a_failing_flag_from_reaching_the_cluster() -> None:
    with pytest.raises(InputError, match="--pushgateway"):
        options.build(options.Flags(policy_config_file="p.yaml", pushgateway="http:// bad"))
