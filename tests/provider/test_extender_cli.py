"""``tensile-virtual-node extender``: its flags checked before anything starts, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from provider import cli
from provider.serving import tls


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, ["extender", *args], prog_name="tensile-virtual-node")
    return result.exit_code, result.stdout, result.stderr


def pair(tmp_path: Path) -> list[str]:
    cert, key = tls.self_signed("extender", ip_addresses=["127.0.0.1"], dns_names=[], days=1)
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    return ["--tls-cert-file", str(tmp_path / "tls.crt"), "--tls-key-file", str(tmp_path / "tls.key")]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ((), "--tls-cert-file, --tls-key-file, --client-ca-file required"),
        (("--client-ca-file", "/nope"), "--tls-cert-file, --tls-key-file required"),
        (("--strategy", "worst"), "--strategy"),
        (("--port", "0"), "--port"),
        (("--metrics-addr", "nowhere"), "--metrics-addr"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(args: tuple[str, ...], named: str) -> None:
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1 and named in err, err
    assert "Traceback" not in err


def test_tls_files_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    code, _out, err = run(*pair(tmp_path), "--client-ca-file", str(tmp_path / "missing-ca.crt"))
    assert code == 2 and err.startswith("error: --client-ca-file") and err.count("\n") == 1, err


def test_help_names_the_verbs_and_the_flags() -> None:
    code, out, _err = run("--help")
    assert code == 0
    for flag in ("--tls-cert-file", "--client-ca-file", "--strategy", "--metrics-addr", "--port"):
        assert flag in out
