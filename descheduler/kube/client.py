"""The only door to the Kubernetes API.

The official client is used for what it does well (kubeconfig, exec plugins, in-cluster
service-account config, TLS); requests and responses are raw JSON parsed with orjson,
because the client's model deserialisation is far too slow for 100k+ pods.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec
import orjson
import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from descheduler.errors import InputError
from descheduler.kube import attempts, dialing, errors, retry, streaming
from descheduler.kube import kubeconfig as kubeconfigs

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

logger = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = "tensile/0.1"
DEFAULT_PAGE_SIZE = 500
JsonObject = dict[str, Any]
DEFAULT_TIMEOUT: streaming.Timeout = (10.0, 60.0)
"""Per attempt: 10 s to connect, 60 s of silence; a 500-pod LIST page needs well under that."""


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """``--kubeconfig FILE`` (that file only), else $KUBECONFIG (a list, merged as kubectl
    merges it), else in-cluster, else ~/.kube/config.

    Everything is checked before any request; a problem raises InputError with one line
    naming the file, the entry and the bad value.
    """
    cfg = k8s_client.Configuration()
    files, in_cluster = _sources(kubeconfig)
    if files is not None:
        _load_kubeconfig(cfg, files, context, only=kubeconfig is not None)
    elif in_cluster:
        _load_in_cluster(cfg)
    else:
        raise InputError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run inside a cluster")
    return cfg


def default_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace kubectl would use without -n: the context's, in-cluster the pod's, else ``default``.

    The same files as :func:`load_configuration`, in the same order; a bad file raises InputError.
    """
    files, in_cluster = _sources(kubeconfig)
    if files is not None:
        paths, label = files
        selection = kubeconfigs.select(kubeconfigs.load(paths, label, only=kubeconfig is not None), context)
        return str(selection.context.body.get("namespace") or "default")
    if in_cluster:
        with contextlib.suppress(OSError):
            return Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip() or "default"
    return "default"


def _sources(kubeconfig: str | None) -> tuple[tuple[list[str], str] | None, bool]:
    """The kubeconfig files to merge (with how to name them) and whether this runs in a cluster:
    --kubeconfig, else $KUBECONFIG, else in-cluster, else ~/.kube/config if it exists."""
    files = kubeconfigs.candidate_files(kubeconfig, os.environ.get("KUBECONFIG"))
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    if files is None and not in_cluster:
        default = Path.home() / ".kube" / "config"
        files = ([str(default)], f"kubeconfig {default}") if default.exists() else None
    return files, in_cluster


def _load_kubeconfig(cfg: Any, files: tuple[list[str], str], context: str | None, *, only: bool) -> None:
    paths, label = files
    selection = kubeconfigs.select(kubeconfigs.load(paths, label, only=only), context)
    kubeconfigs.check_files(selection)
    try:
        k8s_config.load_kube_config_from_dict(selection.as_config(), client_configuration=cfg, persist_config=False)
    except (ConfigException, ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
        # What the checks above do not cover: bad base64 data, a malformed auth-provider.
        where = f'kubeconfig {selection.context.source}: context "{selection.context.name}"'
        raise InputError(f"{where}: cannot be used: {_one_line(str(exc))}") from exc
    kubeconfigs.check_tls_material(selection, ca_file=cfg.ssl_ca_cert, cert_file=cfg.cert_file, key_file=cfg.key_file)


def _load_in_cluster(cfg: Any) -> None:
    where = "in-cluster configuration (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT)"
    try:
        k8s_config.load_incluster_config(client_configuration=cfg)
    except ConfigException as exc:
        raise InputError(f"{where}: {_one_line(str(exc))}") from exc
    problem = kubeconfigs.check_server_url(cfg.host)
    if problem is not None:
        raise InputError(f"{where}: {problem}")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


class Kube:
    """Raw JSON requests with tensile errors and the retry loop: the one client of one API server.

    The descheduler's live source, eviction writer and leader elector each call it, and the
    provider wraps it for every cluster it talks to (``provider.kube.reachability``); nothing
    else touches the client library. Verbs take a :class:`~descheduler.kube.retry.RetryPolicy`;
    ``list_objects`` pages a LIST and hands each item's JSON to a decoder without a dict tree.

    ``timeout`` is per attempt: ``(connect, read)`` seconds, read being the longest silence
    while waiting for the response or between its chunks, or one number bounding the whole
    attempt. A :func:`retry.deadline` in force cuts both to the time it leaves.
    """

    def __init__(
        self, configuration: Any, *, timeout: streaming.Timeout = DEFAULT_TIMEOUT, connections: int = 32
    ) -> None:
        # One pooled connection per concurrent caller (watches, workers); the client's default
        # of 5 x cores would make parallel workers queue for sockets or open throwaway ones.
        configuration.connection_pool_maxsize = connections
        # retry.call_with_retry is the one retry loop: urllib3's own would repeat each attempt
        # up to 3 more times, each with the full timeout, and log a warning for every one.
        configuration.retries = False
        self._api = k8s_client.ApiClient(configuration)
        self._api.user_agent = USER_AGENT
        self.host = str(configuration.host)
        self.timeout = timeout
        self._answered = False
        """Set once the server has answered anything: from then on, no connection is an outage."""

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: str | None = None, context: str | None = None, *, connections: int = 32
    ) -> Kube:
        return cls(load_configuration(kubeconfig, context), connections=connections)

    def close(self) -> None:
        self._api.close()

    def dial(self, *, timeout: float = 10.0) -> dialing.Dialed:
        """A raw connection to this server with this client's credentials, for upgrades (exec, port-forward)."""
        return dialing.dial(self._api.configuration, timeout=timeout)

    # -- raw requests ----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: streaming.Timeout | None = None,
        accept: str = "application/json",
    ) -> bytes:
        """One attempt, no retry: the body of a 2xx response, else the mapped error.

        ``accept`` is for bodies that are not API objects (a kubelet's metrics through the node proxy).
        """
        what = f"{method} {path}"
        attempt = attempts.Attempt.start(self.timeout if timeout is None else timeout, retry.current_deadline())
        if attempt.expired():
            raise attempt.too_late(what, host=self.host)
        headers = {"Accept": accept, "Content-Type": content_type}
        url_path = path + ("?" + urlencode(query) if query else "")
        _method, url, headers, _body, _post = self._api.param_serialize(
            method=method, resource_path=url_path, header_params=headers, auth_settings=["BearerToken"]
        )
        try:
            response = self._api.rest_client.request(
                method, url, headers=headers, body=body, _request_timeout=attempt.socket_timeouts()
            ).response
            self._answered = True
            data = attempts.read_body(response, attempt)
        except (urllib3.exceptions.HTTPError, OSError, k8s_client.ApiException, errors.BodyTooSlowError) as exc:
            raise attempt.failed(exc, what, host=self.host, answered=self._answered) from exc
        if not 200 <= response.status < 300:
            raise errors.from_response(response.status, data, response.headers)
        return data

    def stream(
        self,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        timeout: streaming.Timeout = (10.0, 60.0),
        policy: retry.RetryPolicy = retry.NO_RETRY,
    ) -> streaming.ResponseStream:
        """GET ``path`` with its body as a stream (watches, followed logs).

        The status is checked before returning, so a 404 or an unreachable server raises here
        (retried per ``policy``), never half-way through the body. The read timeout bounds the
        silence between chunks, so a dead connection is noticed; None waits for ever.
        """
        what = f"GET {self.host}{path}"
        return retry.call_with_retry(
            lambda: streaming.open_stream(self._api, path, query or {}, timeout, what), policy=policy, what=what
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        policy: retry.RetryPolicy = retry.WRITES,
    ) -> JsonObject:
        """One JSON request through the retry loop; the verbs below only pick defaults."""
        data = self.call_raw(method, path, body=body, query=query, content_type=content_type, policy=policy)
        result: JsonObject = orjson.loads(data) if data else {}
        return result

    def call_raw(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
        policy: retry.RetryPolicy = retry.READS,
    ) -> bytes:
        """:meth:`call` without parsing the response: for bodies decoded straight into records."""
        return retry.call_with_retry(
            lambda: self.request(method, path, query=query, body=body, content_type=content_type),
            policy=policy,
            what=f"{method} {path}",
        )

    def get(
        self, path: str, *, query: dict[str, Any] | None = None, policy: retry.RetryPolicy = retry.READS
    ) -> JsonObject:
        return self.call("GET", path, query=query, policy=policy)

    def post(self, path: str, body: Any, *, policy: retry.RetryPolicy = retry.WRITES) -> JsonObject:
        return self.call("POST", path, body=body, policy=policy)

    def put(self, path: str, body: Any, *, policy: retry.RetryPolicy = retry.WRITES) -> JsonObject:
        return self.call("PUT", path, body=body, policy=policy)

    def delete(self, path: str, *, body: Any = None, policy: retry.RetryPolicy = retry.WRITES) -> JsonObject:
        return self.call("DELETE", path, body=body, policy=policy)

    def patch(
        self, path: str, body: Any, *, patch_type: str = "merge", policy: retry.RetryPolicy = retry.WRITES
    ) -> JsonObject:
        content_type = {"merge": "application/merge-patch+json", "json": "application/json-patch+json"}[patch_type]
        return self.call("PATCH", path, body=body, content_type=content_type, policy=policy)

    def list_objects(
        self,
        path: str,
        convert: Callable[[memoryview], T],
        *,
        query: dict[str, Any] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> tuple[list[T], str]:
        """LIST ``path`` in pages, handing each item's JSON to ``convert`` as it arrives.

        Pages are never parsed into dicts as a whole: each item stays bytes until ``convert``
        decodes it (into a record, or a dict), so memory stays flat. A 410 on a continue token
        means the list's snapshot expired: list again from the start. Returns the converted
        items and the list's resourceVersion.
        """
        for _attempt in range(3):
            try:
                return self._list_once(path, convert, query or {}, page_size)
            except errors.GoneError:
                logger.info("LIST %s: continue token expired; listing again", path)
        return self._list_once(path, convert, query or {}, page_size)

    def _list_once(
        self, path: str, convert: Callable[[memoryview], T], query: dict[str, Any], page_size: int
    ) -> tuple[list[T], str]:
        items: list[T] = []
        token = ""
        resource_version = ""
        while True:
            params = {**query, "limit": page_size, **({"continue": token} if token else {})}
            data = self.call_raw("GET", path, query=params)
            try:
                page = _PAGE.decode(data)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise errors.ServerError(0, "BadResponse", f"GET {path}: not a Kubernetes list: {exc}") from exc
            resource_version = page.metadata.resource_version or resource_version
            items.extend(convert(memoryview(raw)) for raw in page.items or ())
            token = page.metadata.continue_
            if not token:
                return items, resource_version


class _ListMeta(msgspec.Struct, rename={"continue_": "continue", "resource_version": "resourceVersion"}):
    continue_: str = ""
    resource_version: str = ""


class _Page(msgspec.Struct):
    """One page of a LIST: its items stay undecoded JSON."""

    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)
    items: list[msgspec.Raw] | None = None


_PAGE = msgspec.json.Decoder(_Page)
