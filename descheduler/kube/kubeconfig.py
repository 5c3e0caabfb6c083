"""Kubeconfig files: which ones, merged as kubectl merges them, checked before any request.

:func:`descheduler.kube.client.load_configuration` calls :func:`load`; the client library only
turns the one selected context (paths already absolute) into a Configuration. Every problem
is an ``InputError`` of one line naming the file, the entry and the bad value.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
import yaml

from descheduler.errors import InputError

SECTIONS = ("clusters", "users", "contexts")
_INNER = {"clusters": "cluster", "users": "user", "contexts": "context"}
# Fields holding file paths, resolved against the directory of the file that sets them (as
# client-go's ResolveLocalPaths does), so a merged entry keeps meaning what its file meant.
_PATH_FIELDS = {"clusters": ("certificate-authority",), "users": ("client-certificate", "client-key", "tokenFile")}


@dataclass(frozen=True)
class Entry:
    """One named cluster, user or context, with the file it was taken from."""

    name: str
    body: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class Merged:
    """Several kubeconfig files seen as one: for each name the first file's entry wins."""

    files: tuple[str, ...]
    sections: dict[str, dict[str, Entry]] = field(default_factory=dict)
    current_context: str = ""
    current_context_source: str = ""


@dataclass(frozen=True)
class Selection:
    """The context in use, its cluster and user (None: anonymous), checked."""

    context: Entry
    cluster: Entry
    user: Entry | None

    def as_config(self) -> dict[str, Any]:
        """A one-context kubeconfig document for the client library's loader."""
        context = {**self.context.body, "cluster": self.cluster.name}
        if self.user is not None:
            context["user"] = self.user.name
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": self.context.name,
            "contexts": [{"name": self.context.name, "context": context}],
            "clusters": [{"name": self.cluster.name, "cluster": dict(self.cluster.body)}],
            "users": [{"name": self.user.name, "user": dict(self.user.body)}] if self.user else [],
        }


# -- which files -----------------------------------------------------------------------


def candidate_files(flag: str | None, env: str | None) -> tuple[list[str], str] | None:
    """The files to merge and how to name them in messages, or None when none is configured.

    ``--kubeconfig FILE`` means exactly that file. ``$KUBECONFIG`` is a list (``os.pathsep``);
    empty names are ignored, as kubectl does.
    """
    if flag:
        return [flag], f"kubeconfig {flag}"
    paths = [os.path.expanduser(p) for p in (env or "").split(os.pathsep) if p]
    if not paths:
        return None
    return paths, f"kubeconfig {paths[0]}" if len(paths) == 1 else f"KUBECONFIG={env}"


def load(paths: Sequence[str], label: str, *, only: bool) -> Merged:
    """Read and merge ``paths``. ``only``: the single file named by --kubeconfig, which must exist.

    Missing files in a list are skipped, as kubectl does, unless none exists.
    """
    docs: list[tuple[str, dict[str, Any]]] = []
    present = [p for p in paths if Path(p).exists()]
    if only and not present:
        raise InputError(f"{label}: file not found")
    if not present:
        raise InputError(f"{label}: none of these files exists")
    for path in present:
        doc = read_file(path)
        if doc is not None:
            docs.append((path, doc))
    if not docs:
        raise InputError(
            f"kubeconfig {present[0]}: file is empty" if len(present) == 1 else f"{label}: every file is empty"
        )
    return merge(docs)


def read_file(path: str) -> dict[str, Any] | None:
    """One kubeconfig file as a mapping; None when it is empty (kubectl merges nothing from it)."""
    where = f"kubeconfig {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except IsADirectoryError:
        raise InputError(f"{where}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError(f"{where}: not a text file") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot be read: {(exc.strerror or str(exc)).lower()}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise InputError(f"{where}: not valid YAML{at}: {problem}") from exc
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise InputError(f"{where}: not a kubeconfig (expected a mapping with clusters, contexts and users)")
    return doc


# -- merging (pure) --------------------------------------------------------------------


def merge(docs: Iterable[tuple[str, Mapping[str, Any]]]) -> Merged:
    """kubectl's rules: the first file to set a value or an entry's name wins, entries are never
    merged field by field, and ``current-context`` comes from the first file that sets it."""
    files: list[str] = []
    sections: dict[str, dict[str, Entry]] = {section: {} for section in SECTIONS}
    current, current_source = "", ""
    for path, doc in docs:
        files.append(path)
        for section in SECTIONS:
            for entry in _entries(path, doc, section):
                sections[section].setdefault(entry.name, entry)
        value = doc.get("current-context")
        if not current and value:
            if not isinstance(value, str):
                raise InputError(f"kubeconfig {path}: current-context must be a context name")
            current, current_source = value, path
    return Merged(tuple(files), sections, current, current_source)


def _entries(path: str, doc: Mapping[str, Any], section: str) -> list[Entry]:
    raw = doc.get(section)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError(f"kubeconfig {path}: {section} must be a list of named entries")
    found = []
    for index, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise InputError(f"kubeconfig {path}: {section}[{index}] has no name")
        body = item.get(_INNER[section]) or {}
        if not isinstance(body, dict):
            raise InputError(f'kubeconfig {path}: {section[:-1]} "{name}": {_INNER[section]} must be a mapping')
        found.append(Entry(name, _resolved(body, section, Path(path).parent), path))
    return found


def _resolved(body: dict[str, Any], section: str, base: Path) -> dict[str, Any]:
    out = dict(body)
    for key in _PATH_FIELDS.get(section, ()):
        value = out.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            out[key] = str(base / os.path.expanduser(value))
    command = (out.get("exec") or {}).get("command") if isinstance(out.get("exec"), dict) else None
    if isinstance(command, str) and os.sep in command and not os.path.isabs(command):
        out["exec"] = {**out["exec"], "command": str(base / command)}
    return out


# -- choosing and checking the context (pure) -------------------------------------------


def select(merged: Merged, context: str | None) -> Selection:
    """The context named by ``context`` (--context) or current-context, with its cluster and user."""
    contexts = merged.sections["contexts"]
    name = context or merged.current_context
    if not name:
        known = ", ".join(sorted(contexts)) or "none"
        raise InputError(
            f"kubeconfig {merged.files[0]}: no current-context set; choose one with --context (contexts: {known})"
        )
    chosen = contexts.get(name)
    if chosen is None:
        where = merged.current_context_source if not context else ", ".join(merged.files)
        known = ", ".join(sorted(contexts)) or "none"
        raise InputError(f'kubeconfig {where}: no context "{name}" (contexts: {known})')
    cluster = _named(merged, chosen, "cluster", required=True)
    assert cluster is not None
    user = _named(merged, chosen, "user", required=False)
    problem = check_server_url(cluster.body.get("server"))
    if problem is not None:
        raise InputError(f'kubeconfig {cluster.source}: cluster "{cluster.name}": {problem}')
    return Selection(chosen, cluster, user)


def _named(merged: Merged, context: Entry, kind: str, *, required: bool) -> Entry | None:
    where = f'kubeconfig {context.source}: context "{context.name}"'
    name = context.body.get(kind)
    if not name:
        if required:
            raise InputError(f"{where} names no {kind}")
        return None
    entry = merged.sections[f"{kind}s"].get(str(name))
    if entry is None:
        raise InputError(f'{where} names {kind} "{name}", which no kubeconfig file defines')
    return entry


def check_server_url(value: object) -> str | None:
    """What is wrong with a cluster's ``server``, or None. kubectl would guess a scheme for
    ``host:port``; the client library would then speak plain HTTP, so tensile refuses it."""
    if value is None or value == "":
        return "no server set"
    if not isinstance(value, str):
        return "server must be a URL such as https://HOST:6443"
    why = _url_problem(value)
    return None if why is None else f"server {value!r} is not a valid URL ({why}); want e.g. https://HOST:6443"


def _url_problem(value: str) -> str | None:
    if any(ch.isspace() for ch in value):
        return "it contains spaces"
    if "://" not in value:
        return "no scheme"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed IPv6 bracket
        return "it cannot be parsed"
    if parts.scheme not in ("https", "http"):
        return f"the scheme is {parts.scheme!r}, not https or http"
    if not parts.hostname:
        return "no host"
    try:
        port = parts.port
    except ValueError:  # not a number, or beyond 65535
        port = -1
    if port is not None and not 1 <= port <= 65535:
        return "the port must be a number from 1 to 65535"
    if parts.query or parts.fragment:
        return "it has a query or fragment"
    try:
        urllib3.util.parse_url(value)
    except urllib3.exceptions.LocationParseError:
        return "it cannot be parsed"
    return None


# -- files the selection refers to (I/O) ------------------------------------------------


def check_files(selection: Selection) -> None:
    """Every file the cluster and user name must be readable, before any request."""
    checks = [(selection.cluster, "cluster", "certificate-authority")]
    if selection.user is not None:
        checks += [(selection.user, "user", key) for key in ("client-certificate", "client-key", "tokenFile")]
    for entry, kind, key in checks:
        if f"{key}-data" in entry.body or (key == "tokenFile" and "token" in entry.body):
            continue  # inline data wins over the file, as in the client library
        path = entry.body.get(key)
        if not path:
            continue
        where = f'kubeconfig {entry.source}: {kind} "{entry.name}": {key} {path}'
        if not isinstance(path, str):
            raise InputError(f"{where}: must be a file path")
        try:
            with open(path, "rb"):
                pass
        except FileNotFoundError:
            raise InputError(f"{where}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{where}: is a directory, not a file") from None
        except OSError as exc:
            raise InputError(f"{where}: cannot be read: {(exc.strerror or str(exc)).lower()}") from exc


def check_tls_material(
    selection: Selection, *, ca_file: str | None, cert_file: str | None, key_file: str | None
) -> None:
    """The CA and the client pair the library prepared (from files or inline data) must be
    usable PEM, so a bad certificate is exit 2 now rather than a TLS failure on first request."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError, ValueError) as exc:
            cluster = selection.cluster
            raise InputError(
                f'kubeconfig {cluster.source}: cluster "{cluster.name}": certificate-authority is not a PEM certificate'
            ) from exc
    if cert_file and selection.user is not None:
        user = selection.user
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, OSError, ValueError) as exc:
            mismatch = isinstance(exc, ssl.SSLError) and exc.reason == "KEY_VALUES_MISMATCH"
            problem = (
                "client-key does not belong to client-certificate"
                if mismatch
                else ("client-certificate and client-key are not a PEM certificate and its key")
            )
            raise InputError(f'kubeconfig {user.source}: user "{user.name}": {problem}') from exc
