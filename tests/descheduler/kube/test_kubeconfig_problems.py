"""A kubeconfig that cannot work is one line naming the file, the entry and the bad value,
raised before any request (load_configuration opens no connection)."""

from __future__ import annotations

from pathlib import Path

import pytest

from descheduler.errors import InputError
from descheduler.kube import client
from provider.serving import tls

GOOD_CLUSTER = "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
USER = "users:\n- name: u\n  user:\n    token: t\n"
CONTEXT = "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"


def problem(path: Path, *, context: str | None = None) -> str:
    with pytest.raises(InputError) as caught:
        client.load_configuration(str(path), context)
    message = str(caught.value)
    assert "\n" not in message
    return message


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "file is empty", id="empty file"),
        pytest.param("clusters: [a\n", "not valid YAML at line 2, column 1: expected ',' or ']'", id="not YAML"),
        pytest.param(
            "just some text\n",
            "not a kubeconfig (expected a mapping with clusters, contexts and users)",
            id="YAML but a string",
        ),
        pytest.param("- a\n- b\n", "not a kubeconfig (expected a mapping", id="YAML but a list"),
        pytest.param("clusters: {c: 1}\n", "clusters must be a list of named entries", id="clusters a mapping"),
        pytest.param("clusters:\n- cluster: {}\n", "clusters[0] has no name", id="entry without a name"),
        pytest.param(
            GOOD_CLUSTER + USER, "no current-context set; choose one with --context (contexts: none)", id="no context"
        ),
    ],
)
def test_file_level_problems_name_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert problem(path).startswith(f"kubeconfig {path}: {expected}")


def test_an_unknown_context_names_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CLUSTER + USER + CONTEXT)
    assert problem(path, context="prod") == f'kubeconfig {path}: no context "prod" (contexts: x)'


def test_a_current_context_naming_no_context_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CLUSTER + USER + CONTEXT.replace("current-context: x", "current-context: gone"))
    assert problem(path) == f'kubeconfig {path}: no context "gone" (contexts: x)'


def test_a_context_naming_a_missing_cluster_names_both(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CLUSTER + USER + CONTEXT.replace("cluster: c", "cluster: nope"))
    assert problem(path) == f'kubeconfig {path}: context "x" names cluster "nope", which no kubeconfig file defines'


def test_a_context_naming_a_missing_user_names_both(tmp_path: Path) -> None:
    # The client library would quietly connect as nobody; kubectl refuses, and so does tensile.
    path = write(tmp_path, GOOD_CLUSTER + USER + CONTEXT.replace("user: u", "user: ghost"))
    assert problem(path) == f'kubeconfig {path}: context "x" names user "ghost", which no kubeconfig file defines'


def test_a_context_without_a_cluster_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CLUSTER + USER + CONTEXT.replace("cluster: c, ", ""))
    assert problem(path) == f'kubeconfig {path}: context "x" names no cluster'


def test_a_malformed_server_names_file_cluster_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CLUSTER.replace("https://127.0.0.1:6443", "'not a url'") + USER + CONTEXT)
    assert problem(path) == (
        f"kubeconfig {path}: cluster \"c\": server 'not a url' is not a valid URL (it contains spaces); "
        "want e.g. https://HOST:6443"
    )


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("cluster", "certificate-authority"),
        ("user", "client-certificate"),
        ("user", "client-key"),
        ("user", "tokenFile"),
    ],
)
def test_a_missing_file_named_by_the_entry_is_refused(tmp_path: Path, section: str, key: str) -> None:
    missing = tmp_path / "nowhere" / "file.pem"
    cluster = GOOD_CLUSTER + (f"    {key}: {missing}\n" if section == "cluster" else "")
    user = "users:\n- name: u\n  user:\n" + (f"    {key}: {missing}\n" if section == "user" else "    token: t\n")
    path = write(tmp_path, cluster + user + CONTEXT)
    name = "c" if section == "cluster" else "u"
    assert problem(path) == f'kubeconfig {path}: {section} "{name}": {key} {missing}: file not found'


def test_a_directory_where_a_certificate_should_be_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CLUSTER + f"    certificate-authority: {tmp_path}\n" + USER + CONTEXT)
    assert problem(path) == (
        f'kubeconfig {path}: cluster "c": certificate-authority {tmp_path}: is a directory, not a file'
    )


def test_a_relative_certificate_path_is_reported_resolved(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_CLUSTER + "    certificate-authority: ca.crt\n" + USER + CONTEXT)
    assert problem(path).endswith(f"certificate-authority {tmp_path / 'ca.crt'}: file not found")


def test_a_certificate_authority_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("this is not a certificate\n")
    path = write(tmp_path, GOOD_CLUSTER + f"    certificate-authority: {ca}\n" + USER + CONTEXT)
    assert problem(path) == f'kubeconfig {path}: cluster "c": certificate-authority is not a PEM certificate'


def test_a_client_key_of_another_certificate_is_refused(tmp_path: Path) -> None:
    cert, _key = tls.self_signed("me", ip_addresses=[], dns_names=["me"])
    _other_cert, other_key = tls.self_signed("other", ip_addresses=[], dns_names=["other"])
    (tmp_path / "me.crt").write_bytes(cert)
    (tmp_path / "other.key").write_bytes(other_key)
    user = "users:\n- name: u\n  user:\n    client-certificate: me.crt\n    client-key: other.key\n"
    path = write(tmp_path, GOOD_CLUSTER + user + CONTEXT)
    assert problem(path) == f'kubeconfig {path}: user "u": client-key does not belong to client-certificate'


def test_a_matching_client_pair_and_inline_ca_load(tmp_path: Path) -> None:
    cert, key = tls.self_signed("me", ip_addresses=[], dns_names=["me"])
    (tmp_path / "me.crt").write_bytes(cert)
    (tmp_path / "me.key").write_bytes(key)
    user = "users:\n- name: u\n  user:\n    client-certificate: me.crt\n    client-key: me.key\n"
    path = write(tmp_path, GOOD_CLUSTER + f"    certificate-authority: {tmp_path / 'me.crt'}\n" + user + CONTEXT)
    cfg = client.load_configuration(str(path))
    assert (cfg.cert_file, cfg.key_file) == (str(tmp_path / "me.crt"), str(tmp_path / "me.key"))


def test_no_kubeconfig_anywhere_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(InputError) as caught:
        client.load_configuration()
    assert str(caught.value) == "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run inside a cluster"
