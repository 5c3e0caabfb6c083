"""``tensile-virtual-node extender``: its flags checked before anything starts, one line each."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner

from descheduler.kube.client import Kube
from provider import cli
from provider.extender import app
from provider.serving import certs, tls


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
        ((), "--client-ca-file required"),
        (("--client-ca-file", "/nope"), "--tls-secret or --tls-cert-file/--tls-key-file required"),
        (("--client-ca-file", "/nope", "--tls-cert-file", "/nope"), "--tls-cert-file and --tls-key-file go together"),
        (("--tls-secret", "ns/name"), "--tls-secret"),
        (("--tls-secret", "Not_A_Name"), "--tls-secret"),
        (("--tls-san", ""), "--tls-san"),
        (("--service-namespace", "Bad_NS"), "--service-namespace"),
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
    for flag in ("--tls-cert-file", "--tls-secret", "--tls-san", "--client-ca-file", "--strategy", "--metrics-addr"):
        assert flag in out


def test_the_files_win_over_the_secret_and_a_secret_alone_is_enough(tmp_path: Path) -> None:
    kube = cast(Kube, object())  # building a source does no I/O
    both = app.Settings(client_ca_file="ca", tls_cert_file="c", tls_key_file="k", tls_secret="x-tls")
    assert isinstance(app.cert_source(both, kube), certs.FileCerts)
    assert isinstance(app.cert_source(app.Settings(client_ca_file="ca", tls_secret="x-tls"), kube), certs.SecretCerts)
