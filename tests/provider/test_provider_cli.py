"""``tensile-virtual-node`` flags: a bad value is one line naming the flag as typed, exit 2, before anything starts."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from provider import cli, config, flags
from provider.serving import tls

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:%d"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""
SETTING_NAMES = [f.name for f in dataclasses.fields(config.ProviderConfig)]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The commands configure the root logger towards CliRunner's stderr, which is closed afterwards.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG % port)
    return str(path)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str, str]:
    """(certificate, its key, another key) files."""
    cert_pem, key_pem = tls.self_signed("vnode", ip_addresses=["127.0.0.1"], dns_names=[])
    _other_cert, other_key = tls.self_signed("other", ip_addresses=[], dns_names=["other"])
    files = []
    for name, data in (("tls.crt", cert_pem), ("tls.key", key_pem), ("other.key", other_key)):
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    return files[0], files[1], files[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), prog_name="tensile-virtual-node")
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_naming(err: str, flag: str) -> None:
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert flag in err, err
    assert not any(name in err for name in SETTING_NAMES if "_" in name), f"an internal field is named: {err}"
    assert "Error" not in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--resync-seconds", "inf"), "'--resync-seconds'"),
        (("--resync-seconds", "nan"), "'--resync-seconds'"),
        (("--resync-seconds", "-1"), "'--resync-seconds'"),
        (("--resync-seconds", "0"), "'--resync-seconds'"),
        (("--resync-seconds", "99999999999"), "'--resync-seconds'"),
        (("--resync-seconds", "1e400"), "'--resync-seconds'"),
        (("--kubelet-port", "0"), "'--kubelet-port'"),
        (("--kubelet-port", "65536"), "'--kubelet-port'"),
        (("--kubelet-port", "99999999999"), "'--kubelet-port'"),
        (("--kubelet-port", "nan"), "'--kubelet-port'"),
        (("--workers", "0"), "'--workers'"),
        (("--workers", "257"), "'--workers'"),
        (("--workers", "1e3"), "'--workers'"),
        (("--kubelet-address", "999.1.1.1"), "'--kubelet-address'"),
        (("--kubelet-address", "vk.no-such-host.invalid"), "'--kubelet-address'"),
        (("--kubelet-address", "[::1"), "'--kubelet-address'"),
        (("--listen-address", "::g"), "'--listen-address'"),
        (("--metrics-addr", "999.1.1.1:80"), "'--metrics-addr'"),
        (("--metrics-addr", "::1:80"), "'--metrics-addr'"),
        (("--metrics-address", "999.1.1.1:80"), "'--metrics-address'"),
        (("--metrics-addr", ":80", "--metrics-address", ":81"), "--metrics-address"),
        (("--nodename", "Virtual_Node"), "--nodename"),
        (("--upper-cluster-id", "not a label"), "--upper-cluster-id"),
        (("--lower-cluster-name", "not a label"), "--lower-cluster-name"),
        (("--tls-cert-file", "tls.crt"), "--tls-key-file"),
        (("--client-ca-file", "/nonexistent/ca.crt"), "--client-ca-file /nonexistent/ca.crt: file not found"),
        (("--no-such-flag",), "--no-such-flag"),
    ],
    ids=[
        "resync inf", "resync NaN", "resync negative", "resync zero", "resync beyond any timer", "resync overflowing",
        "port 0", "port 65536", "port 99999999999", "port NaN", "no workers", "257 workers", "workers 1e3",
        "IPv4 octet 999", "name that does not resolve", "unclosed bracket", "bad IPv6 listen address",
        "metrics IPv4 octet 999", "metrics IPv6 without brackets", "metrics alias named as typed",
        "both metrics spellings", "node name not a DNS label", "upper id not a label value",
        "lower name not a label value", "certificate without key", "CA file missing", "unknown flag",
    ],
)  # fmt: skip
def test_a_bad_flag_is_one_line_naming_it_and_exit_2(kubeconfig: str, args: tuple[str, ...], flag: str) -> None:
    code, out, err = run("--kubeconfig", kubeconfig, "--client-kubeconfig", kubeconfig, *args)
    assert (code, out) == (2, "")
    assert_one_line_naming(err, flag)


def test_tls_files_that_cannot_be_served_with_name_their_flag(kubeconfig: str, pair: tuple[str, str, str]) -> None:
    cert, key, other_key = pair
    common = ("--kubeconfig", kubeconfig, "--client-kubeconfig", kubeconfig)
    cases = [
        (("--tls-cert-file", key, "--tls-key-file", key), f"--tls-cert-file {key}: no PEM certificate in it"),
        (("--tls-cert-file", cert, "--tls-key-file", cert), f"--tls-key-file {cert}: no PEM private key in it"),
        (("--tls-cert-file", cert, "--tls-key-file", other_key), f"--tls-key-file {other_key}: is not the key of"),
        (("--client-ca-file", key), f"--client-ca-file {key}: no PEM certificate in it"),
    ]
    for args, message in cases:
        code, _out, err = run(*common, *args)
        assert code == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1, err


def test_a_kubeconfig_that_cannot_be_used_names_its_flag(kubeconfig: str, tmp_path: Path) -> None:
    missing = tmp_path / "lower.yaml"
    code, _out, err = run("--kubeconfig", kubeconfig, "--client-kubeconfig", str(missing))
    assert code == 2 and err == f"error: --client-kubeconfig: kubeconfig {missing}: file not found\n"


def test_an_address_not_on_this_machine_is_exit_2_naming_the_flags(kubeconfig: str) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    code, _out, err = run(
        "--kubeconfig", kubeconfig, "--client-kubeconfig", kubeconfig, "--listen-address", "192.0.2.1",
        "--kubelet-api-insecure",
    )  # fmt: skip
    assert code == 2 and last_line(err).startswith("error: --listen-address 192.0.2.1 --kubelet-port 10250: cannot")
    code, _out, err = run(
        "--kubeconfig", kubeconfig, "--client-kubeconfig", kubeconfig, "--kubelet-port", str(free_port()),
        "--metrics-address", "192.0.2.1:10255",
    )  # fmt: skip
    assert code == 2 and last_line(err).startswith("error: --metrics-address 192.0.2.1:10255: cannot listen:")


def test_a_port_in_use_is_exit_1_naming_the_flags(kubeconfig: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _out, err = run(
            "--kubeconfig", kubeconfig, "--client-kubeconfig", kubeconfig, "--kubelet-port", str(port)
        )
    assert code == 1 and last_line(err).startswith(f"error: --listen-address 127.0.0.1 --kubelet-port {port}: cannot")


def last_line(err: str) -> str:
    """The error line: log lines of what started before the bind (the kubelet server's warning) come first."""
    return err.splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("value", "address"),
    [("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("::1", "::1"), ("fe80::1", "fe80::1")],
    ids=["IPv4", "IPv6 in brackets -> bare", "IPv6 bare", "IPv6 link-local"],
)
def test_addresses_are_taken_as_ip_addresses(value: str, address: str) -> None:
    assert flags.host(value) == address


def test_a_host_name_is_resolved_to_the_address_the_node_advertises() -> None:
    resolved = flags.host("localhost")
    assert resolved in {"127.0.0.1", "::1"}


def test_an_ipv6_metrics_address_is_accepted() -> None:
    context = click.Context(cli.run_command)
    option = next(p for p in cli.run_command.params if p.name == "metrics_addr")
    assert flags.listen_address_option(context, option, "[::1]:10255") == "[::1]:10255"


def test_every_setting_a_flag_sets_is_named_by_a_provider_flag() -> None:
    options = {opt for p in cli.run_command.params for opt in getattr(p, "opts", ())}
    assert set(flags.FLAG_OF_SETTING) <= set(SETTING_NAMES)
    assert set(flags.FLAG_OF_SETTING.values()) <= options


def test_help_lists_the_subcommands() -> None:
    code, out, _err = run("--help")
    assert code == 0
    usage = out.splitlines()[:2]
    assert usage == ["Usage: tensile-virtual-node [OPTIONS]", "   or: tensile-virtual-node COMMAND [OPTIONS]"]
    commands = out.split("\nCommands:\n", 1)[1]
    listed = [line.split()[0] for line in commands.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert listed[:3] == ["run", "webhook", "extender"]


@pytest.mark.parametrize("args", [("extenders", "--help"), ("hook",), ("webhooks", "--port", "1")])
def test_an_unknown_command_fails_as_click_says(args: tuple[str, ...]) -> None:
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: No such command '{args[0]}'.") and err.count("\n") == 1
    if args[0] == "webhooks":
        assert err.endswith("Did you mean 'webhook'?\n")


def test_flags_without_a_command_are_the_run_command(kubeconfig: str) -> None:
    bare = run("--client-kubeconfig", kubeconfig, "--workers", "0")
    explicit = run("run", "--client-kubeconfig", kubeconfig, "--workers", "0")
    assert bare == explicit
    assert bare[0] == 2 and "--workers" in bare[2]


def test_run_has_its_own_help() -> None:
    code, out, _err = run("run", "--help")
    assert code == 0 and out.startswith("Usage: tensile-virtual-node run [OPTIONS]")
    assert "--client-kubeconfig" in out


@pytest.mark.parametrize("args", [("--version",), ("webhook", "--version")], ids=["provider", "webhook"])
def test_version_comes_from_the_package(args: tuple[str, ...]) -> None:
    assert run(*args)[:2] == (0, f"tensile {metadata.version('tensile')}\n")


@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.1", "::"])
def test_the_kubelet_api_beyond_loopback_needs_client_certificates(kubeconfig: str, address: str) -> None:
    code, out, err = run("--kubeconfig", kubeconfig, "--client-kubeconfig", kubeconfig, "--listen-address", address)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: --listen-address {address} without --client-ca-file: anyone who can reach"), err
    assert "--authorize" in err and "--kubelet-api-insecure" in err


def test_the_refusal_names_kubelet_address_when_it_chose_the_address(kubeconfig: str) -> None:
    code, _out, err = run("--kubeconfig", kubeconfig, "--client-kubeconfig", kubeconfig, "--kubelet-address", "0.0.0.0")
    assert code == 2
    assert err.startswith("error: --kubelet-address 0.0.0.0 without --client-ca-file: "), err


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_client_certificates(address: str) -> None:
    flags.check_kubelet_api_access(address, client_ca_file=None, insecure=False)


def test_insecure_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="provider"):
        flags.check_kubelet_api_access("0.0.0.0", client_ca_file=None, insecure=True)
    assert [r.getMessage() for r in caplog.records] == [
        "--kubelet-api-insecure: the kubelet API on 0.0.0.0 accepts any client; every mirrored pod's logs are open"
        " to whoever reaches it"
    ]


def test_a_client_ca_allows_any_address() -> None:
    flags.check_kubelet_api_access("0.0.0.0", client_ca_file="/etc/tensile/upper-ca/ca.crt", insecure=False)


def test_authorize_alone_allows_any_address_with_tokens_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="provider"):
        flags.check_kubelet_api_access("0.0.0.0", client_ca_file=None, insecure=False, authorize=True)
    assert caplog.records == []
