"""$KUBECONFIG lists merge as kubectl documents it, on real files; --kubeconfig is one file.

kubectl's rules (kubernetes.io, "Organizing Cluster Access Using kubeconfig Files", merging):
empty names are ignored; the first file to set a value or a map key wins and it is never
changed (two files with a red-user: only the first file's red-user, even its missing fields
are not filled from the second); missing files are skipped (an error only if none exists);
a file that cannot be deserialized is an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.config.kube_config import KubeConfigMerger

from descheduler.errors import InputError
from descheduler.kube import client


def kubeconfig(
    path: Path,
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {}).items()],
        "contexts": [{"name": n, "context": c} for n, c in (contexts or {}).items()],
    }
    if current is not None:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def load(monkeypatch: pytest.MonkeyPatch, *paths: Path | str, context: str | None = None) -> Any:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(str(p) for p in paths))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return client.load_configuration(context=context)


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    first = kubeconfig(
        tmp_path / "first.yaml",
        clusters={"red": {"server": "https://red-first:6443"}},
        users={"red-user": {"token": "first-token"}},
        contexts={"red": {"cluster": "red", "user": "red-user"}},
        current="red",
    )
    second = kubeconfig(
        tmp_path / "second.yaml",
        clusters={"red": {"server": "https://red-second:6443"}, "blue": {"server": "https://blue:6443"}},
        users={"red-user": {"token": "second-token"}, "blue-user": {"token": "blue-token"}},
        contexts={"blue": {"cluster": "blue", "user": "blue-user"}},
        current="blue",
    )
    return first, second


def test_current_context_comes_from_the_first_file_that_sets_it(
    monkeypatch: pytest.MonkeyPatch, two_files: tuple[Path, Path]
) -> None:
    cfg = load(monkeypatch, *two_files)
    assert cfg.host == "https://red-first:6443"
    assert cfg.api_key["BearerToken"] == "Bearer first-token"


def test_the_library_merger_takes_the_last_current_context_which_is_why_tensile_merges_itself(
    monkeypatch: pytest.MonkeyPatch, two_files: tuple[Path, Path]
) -> None:
    merged = KubeConfigMerger(os.pathsep.join(map(str, two_files))).config
    assert merged.value["current-context"] == "blue"  # kubectl would pick "red"
    assert load(monkeypatch, *two_files).host == "https://red-first:6443"


def test_an_entry_defined_twice_is_taken_whole_from_the_first_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = kubeconfig(tmp_path / "a.yaml", clusters={"c": {"server": "https://first:6443"}}, current="ctx")
    second = kubeconfig(
        tmp_path / "b.yaml",
        clusters={"c": {"server": "https://second:6443", "insecure-skip-tls-verify": True}},
        contexts={"ctx": {"cluster": "c"}},
    )
    cfg = load(monkeypatch, first, second)
    assert cfg.host == "https://first:6443"
    assert cfg.verify_ssl is True  # not filled in from the second file's "c"


def test_entries_only_a_later_file_defines_are_used(
    monkeypatch: pytest.MonkeyPatch, two_files: tuple[Path, Path]
) -> None:
    cfg = load(monkeypatch, *two_files, context="blue")
    assert cfg.host == "https://blue:6443"
    assert cfg.api_key["BearerToken"] == "Bearer blue-token"


def test_an_empty_current_context_does_not_count_as_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a.yaml", current="")
    second = kubeconfig(
        tmp_path / "b.yaml", clusters={"c": {"server": "https://c:6443"}}, contexts={"x": {"cluster": "c"}}, current="x"
    )
    assert load(monkeypatch, first, second).host == "https://c:6443"


def test_missing_files_and_empty_names_in_the_list_are_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    cfg = load(monkeypatch, tmp_path / "absent.yaml", "", two_files[1])
    assert cfg.host == "https://blue:6443"


def test_an_empty_file_in_the_list_contributes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load(monkeypatch, empty, two_files[0]).host == "https://red-first:6443"


def test_a_list_where_no_file_exists_is_one_line_naming_the_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    with pytest.raises(InputError) as caught:
        load(monkeypatch, a, b)
    assert str(caught.value) == f"KUBECONFIG={a}{os.pathsep}{b}: none of these files exists"


def test_a_file_in_the_list_that_is_not_yaml_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, two_files: tuple[Path, Path]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [\n")
    with pytest.raises(InputError) as caught:
        load(monkeypatch, two_files[0], broken)
    assert str(caught.value).startswith(f"kubeconfig {broken}: not valid YAML at line 2")


def test_relative_certificate_paths_resolve_against_the_file_that_names_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    token = tmp_path / "two" / "token"
    token.write_text("from-two")
    first = kubeconfig(
        tmp_path / "one" / "config",
        clusters={"c": {"server": "https://c:6443"}},
        contexts={"x": {"cluster": "c", "user": "u"}},
        current="x",
    )
    second = kubeconfig(tmp_path / "two" / "config", users={"u": {"tokenFile": "token"}})
    monkeypatch.chdir(tmp_path / "one")  # neither the working directory nor the first file's
    assert load(monkeypatch, first, second).api_key["BearerToken"] == "Bearer from-two"


def test_kubeconfig_flag_means_exactly_that_file_and_ignores_the_environment(
    monkeypatch: pytest.MonkeyPatch, two_files: tuple[Path, Path]
) -> None:
    first, second = two_files
    monkeypatch.setenv("KUBECONFIG", str(first))
    assert client.load_configuration(str(second)).host == "https://blue:6443"
    joined = f"{first}{os.pathsep}{second}"
    with pytest.raises(InputError) as caught:
        client.load_configuration(joined)
    assert str(caught.value) == f"kubeconfig {joined}: file not found"


def test_a_list_of_only_empty_files_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("")
    b.write_text("# nothing here\n")
    with pytest.raises(InputError) as caught:
        load(monkeypatch, a, b, tmp_path / "absent.yaml")
    assert (
        str(caught.value) == f"KUBECONFIG={a}{os.pathsep}{b}{os.pathsep}{tmp_path / 'absent.yaml'}: every file is empty"
    )
