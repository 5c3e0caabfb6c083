"""The webhook's flags: checked before anything starts, and the certificate source they choose."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from descheduler.errors import InputError
from descheduler.kube.client import Kube
from provider.serving import certs, tls
from provider.webhook import app


def test_settings_are_checked_before_anything_starts(tmp_path: Path) -> None:
    cert = tmp_path / "tls.crt"
    cert.write_text("x")
    bad = [
        app.Settings(tls_cert_file=str(cert)),
        app.Settings(tls_cert_file=str(cert), tls_key_file=str(tmp_path / "missing.key")),
        app.Settings(virtual_node_selector="type in ("),
        app.Settings(tls_sans=(" ",)),
        app.Settings(service_name=""),
    ]
    for settings in bad:
        with pytest.raises(InputError):
            app.check(settings)
    app.check(app.Settings(virtual_node_selector="type=virtual-kubelet,tier in (a,b)"))


def test_files_win_over_the_secret_which_wins_over_a_pair_in_memory(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    pair = tls.self_signed("hook", ip_addresses=[], dns_names=["hook"])
    cert.write_bytes(pair[0])
    key.write_bytes(pair[1])
    kube = cast(Kube, object())  # building a source does no I/O
    files = app.Settings(tls_cert_file=str(cert), tls_key_file=str(key), tls_secret="hook-tls")
    assert isinstance(app.cert_source(files, kube), certs.FileCerts)
    assert isinstance(app.cert_source(app.Settings(tls_secret="hook-tls"), kube), certs.SecretCerts)
    assert isinstance(app.cert_source(app.Settings(), kube), certs.GeneratedCerts)
