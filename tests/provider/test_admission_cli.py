"""``tensile-virtual-node webhook`` next to the provider: routing, help, and one-line flag errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from provider import cli


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The commands configure the root logger towards CliRunner's stderr, which is closed afterwards.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), prog_name="tensile-virtual-node")
    return result.exit_code, result.stdout, result.stderr


def flags(command: click.Command) -> list[tuple[str, str | None]]:
    return [(opt, p.help) for p in command.params if isinstance(p, click.Option) and not p.hidden for opt in p.opts]


@pytest.mark.parametrize(
    ("args", "command", "usage"),
    [
        (("--help",), cli.run_command, "Usage: tensile-virtual-node [OPTIONS]"),
        (("webhook", "--help"), cli.webhook_command, "Usage: tensile-virtual-node webhook [OPTIONS]"),
    ],
    ids=["provider", "webhook"],
)
def test_help_documents_every_flag(args: tuple[str, ...], command: click.Command, usage: str) -> None:
    code, out, _err = run(*args)
    assert code == 0 and out.startswith(usage)
    for opt, help_text in flags(command):
        assert opt in out and help_text, f"{opt} is documented"


def test_provider_help_points_at_each_commands_help() -> None:
    assert "tensile-virtual-node COMMAND --help" in " ".join(run("--help")[1].split())


def test_webhook_flags_are_the_ones_asked_for() -> None:
    expected = {
        "--kubeconfig", "--listen-address", "--port", "--tls-cert-file", "--tls-key-file", "--tls-secret", "--tls-san",
        "--service-name", "--service-namespace", "--webhook-config-name", "--virtual-node-selector",
        "--stash-lower-constraints", "--logging-format", "-v", "--verbose",
    }  # fmt: skip
    assert expected <= {opt for opt, _help in flags(cli.webhook_command)}
    defaults = {p.name: p.default for p in cli.webhook_command.params}
    assert defaults["listen_address"] == "0.0.0.0" and defaults["port"] == 9443
    assert defaults["service_name"] == "tensile-webhook" and defaults["service_namespace"] == "tensile-system"
    assert defaults["virtual_node_selector"] == "type=virtual-kubelet"
    assert defaults["stash_lower_constraints"] is False


def test_provider_command_lines_still_reach_the_provider(tmp_path: Path) -> None:
    missing = tmp_path / "lower.yaml"
    code, _out, err = run("--kubeconfig", str(missing), "--client-kubeconfig", str(missing))
    assert code == 2 and err == f"error: --kubeconfig: kubeconfig {missing}: file not found\n"
    code, _out, err = run()
    assert code == 2 and "Missing option '--client-kubeconfig'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--port", "70000"), "error: Invalid value for '--port'"),
        (("--port", "nan"), "error: Invalid value for '--port': 'nan' is not a whole number from 1 to 65535"),
        (("--tls-secret", "tensile-system/webhook-tls"), "error: Invalid value for '--tls-secret': "),
        (("--tls-secret", "Webhook_TLS"), "error: Invalid value for '--tls-secret': 'Webhook_TLS' is not a Secret"),
        (("--tls-san", "webhook.example.com", "--tls-san", "bad_name"), "error: Invalid value for '--tls-san': 'bad_"),
        (("--tls-san", ""), "error: Invalid value for '--tls-san'"),
        (("--service-name", "9-webhook"), "error: Invalid value for '--service-name': '9-webhook' is not a Service"),
        (("--service-namespace", "a.b"), "error: Invalid value for '--service-namespace': 'a.b' is not a namespace"),
        (("--webhook-config-name", "Tensile"), "error: Invalid value for '--webhook-config-name': 'Tensile' is not"),
        (("--listen-address", "999.1.1.1"), "error: Invalid value for '--listen-address': '999.1.1.1' is neither"),
        (("--no-such-flag",), "error: No such option"),
        (("--tls-cert-file", "x.crt"), "error: --tls-cert-file and --tls-key-file go together"),
        (("--tls-cert-file", "x.crt", "--tls-key-file", "x.key"), "error: --tls-cert-file x.crt: file not found"),
        (("--virtual-node-selector", "type in ("), "error: --virtual-node-selector"),
        (
            ("--kubeconfig", "/nonexistent/kubeconfig"),
            "error: --kubeconfig: kubeconfig /nonexistent/kubeconfig: file not found",
        ),
    ],
    ids=[
        "port out of range", "port NaN", "secret as namespace/name", "secret not a DNS-1123 subdomain",
        "SAN with an underscore", "empty SAN", "service name starting with a digit", "namespace with a dot",
        "configuration name in capitals", "listen address octet 999",
        "unknown flag", "cert without key", "missing cert file", "bad selector", "kubeconfig",
    ],
)  # fmt: skip
def test_bad_webhook_flags_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    code, out, err = run("webhook", *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.parametrize("address", ["10255", "host:port", ":70000"])
def test_a_bad_metrics_address_is_one_line_and_exit_2(tmp_path: Path, address: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    code, out, err = run("--client-kubeconfig", str(kubeconfig), "--metrics-addr", address)
    assert code == 2 and out == ""
    assert err.startswith(f"error: Invalid value for '--metrics-addr': '{address}' is not HOST:PORT")
    assert err.count("\n") == 1


def test_good_webhook_names_and_addresses_pass_the_flag_checks() -> None:
    args = [
        "webhook", "--tls-secret", "tensile-webhook.tls", "--tls-san", "*.webhook.example.com", "--tls-san", "10.0.0.7",
        "--tls-san", "fd00::7", "--service-name", "tensile-webhook", "--service-namespace", "tensile-system",
        "--webhook-config-name", "tensile.io-pods", "--listen-address", "[::]", "--kubeconfig", "/nonexistent/kube",
    ]  # fmt: skip
    code, _out, err = run(*args)
    # Every flag passed; the first thing that fails is loading the (missing) kubeconfig.
    assert code == 2 and err.startswith("error: --kubeconfig: kubeconfig /nonexistent/kube: file not found")
