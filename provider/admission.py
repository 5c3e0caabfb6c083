"""The admission webhook's server half (issue 5): HTTPS in front of the pure :func:`provider.webhook.review`.

``tensile-virtual-node webhook`` (:mod:`provider.cli`) builds a :class:`Webhook`. Per request it reads the
avoidance record on the pod's controlling owner (one short GET without retries: a pod create must never wait
long for us) and the virtual nodes (an :class:`~provider.kube.informer.Informer`), then answers with the decision.
It also keeps its serving certificate and the MutatingWebhookConfiguration's caBundle current
(:mod:`provider.webhook_tls`) and serves over HTTPS (:mod:`provider.admission_server`). Every failure admits
the pod unchanged.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from descheduler import avoidance, keys, matching, model
from descheduler.errors import InputError, TensileError
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider import webhook
from provider.admission_server import MUTATE_PATH, AdmissionServer, Reply, text_reply
from provider.kube import informer as watching
from provider.serving import tls
from provider.webhook_tls import CaBundleSync, CertSource, FileCerts, GeneratedCerts, SecretCerts, subject_names

logger = logging.getLogger(__name__)

Raw = dict[str, Any]
Fetch = Callable[[str], Mapping[str, Any]]
"""GET an API path and return the object; raises errors.ApiError."""

# A pod create waits for us (timeoutSeconds 5 in the configuration): one quick try, no retries.
LOOKUP_TIMEOUT = 2.0
# How often the certificate source is read again and the caBundle compared.
REFRESH_SECONDS = 60.0
REVIEW_API_VERSION = "admission.k8s.io/v1"

# -- requests (pure) ---------------------------------------------------------------------------


class BadReviewError(ValueError):
    """The body is not an AdmissionReview v1 request; the message is one line for the 400 answer."""


def parse_review(body: bytes) -> Raw:
    """The ``request`` of an AdmissionReview v1 body, checked just enough to answer it."""
    try:
        review = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReviewError(f"body is not JSON: {exc}") from None
    if not isinstance(review, dict):
        raise BadReviewError("body is not a JSON object")
    if review.get("kind") != "AdmissionReview" or review.get("apiVersion") != REVIEW_API_VERSION:
        found = f"{review.get('apiVersion')}/{review.get('kind')}"
        raise BadReviewError(f"expected {REVIEW_API_VERSION} AdmissionReview, got {found}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadReviewError("AdmissionReview has no request object")
    if not isinstance(request.get("uid"), str) or not request["uid"]:
        raise BadReviewError("request.uid is missing")
    if not isinstance(request.get("object") or {}, dict):
        raise BadReviewError("request.object is not an object")
    return request


def controller_ref(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with ``controller: true`` (at most one exists), if it is well-formed."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            well_formed = isinstance(ref.get("kind"), str) and isinstance(ref.get("name"), str) and ref["name"]
            return ref if well_formed else None
    return None


def owner_path(ref: Mapping[str, Any], namespace: str) -> str | None:
    """The API path of the owner ``ref`` names, or None for a kind the descheduler never records on.

    The group is compared too: a custom resource that happens to be called ``Job`` is not a batch Job.
    """
    known = paths.OWNERS.get(str(ref.get("kind")))
    group = str(ref.get("apiVersion") or "").rpartition("/")[0]
    if known is None or group != paths.group_of(known[0]) or not namespace:
        return None
    return paths.owner(str(ref["kind"]), namespace, str(ref["name"]))


def pod_label(request: Mapping[str, Any]) -> str:
    """namespace/name for logs; pods made by controllers have only a generateName at this point."""
    meta = (request.get("object") or {}).get("metadata") or {}
    namespace = request.get("namespace") or meta.get("namespace") or ""
    return f"{namespace}/{meta.get('name') or meta.get('generateName') or request.get('name') or '?'}"


def describe_changes(pod: Mapping[str, Any], response: Mapping[str, Any]) -> list[str]:
    """What the response's patch adds to ``pod``, one phrase per change (for the log line)."""
    patch = (response.get("response") or {}).get("patch")
    if not patch:
        return []
    ops = json.loads(base64.b64decode(patch))
    new = {op["path"].strip("/"): op["value"] for op in ops if op.get("op") in ("add", "replace")}
    changes = []
    added = sorted(set(_not_in_values(new.get("spec") or {})) - set(_not_in_values(pod.get("spec") or {})))
    if added:
        changes.append(f"{keys.HOSTNAME_LABEL} NotIn [{', '.join(added)}]")
    stashed = ((new.get("metadata") or {}).get("annotations") or {}).get(keys.STASHED_CONSTRAINTS_ANNOTATION)
    before = ((pod.get("metadata") or {}).get("annotations") or {}).get(keys.STASHED_CONSTRAINTS_ANNOTATION)
    if stashed and stashed != before:
        changes.append(f"{', '.join(sorted(json.loads(stashed)))} moved to {keys.STASHED_CONSTRAINTS_ANNOTATION}")
    return changes or ["a patch"]


def _not_in_values(spec: Mapping[str, Any]) -> list[str]:
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    return [
        value
        for term in required.get("nodeSelectorTerms") or ()
        for expression in term.get("matchExpressions") or ()
        if expression.get("key") == keys.HOSTNAME_LABEL and expression.get("operator") == "NotIn"
        for value in expression.get("values") or ()
    ]


class Admitter:
    """Answers one AdmissionReview body: the lookups, then :func:`webhook.review`.

    ``fetch`` and ``virtual_nodes`` are the only I/O, injected so the handling is tested on plain data.
    """

    def __init__(
        self,
        *,
        fetch: Fetch,
        virtual_nodes: Callable[[], Sequence[model.Node]],
        stash_lower_constraints: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._virtual_nodes = virtual_nodes
        self._stash = stash_lower_constraints
        self._clock = clock
        self._warned_kinds: set[str] = set()
        self._lock = threading.Lock()

    def handle(self, body: bytes) -> Reply:
        try:
            request = parse_review(body)
        except BadReviewError as exc:
            return text_reply(400, f"bad AdmissionReview: {exc}")
        try:
            response = self.admit(request)
        except Exception:
            # A bug must not block pods whatever the failurePolicy: admit unchanged, loudly.
            logger.exception("admission: review of pod %s failed; admitting it unchanged", pod_label(request))
            response = {
                "apiVersion": REVIEW_API_VERSION,
                "kind": "AdmissionReview",
                "response": {"uid": request["uid"], "allowed": True},
            }
        return Reply(200, orjson.dumps(response))

    def admit(self, request: Mapping[str, Any]) -> Raw:
        """The AdmissionReview answer for a parsed request, logging what it changes."""
        if request.get("operation") != "CREATE" or (request.get("object") or {}).get("kind", "Pod") != "Pod":
            return webhook.review(request, webhook.Context(), now=self._clock())  # allowed, unchanged: no lookups
        context = webhook.Context(
            avoid=self.owner_avoidance(request),
            virtual_nodes=self._virtual_nodes(),
            stash_lower_constraints=self._stash,
        )
        response = webhook.review(request, context, now=self._clock())
        changes = describe_changes(request.get("object") or {}, response)
        label = pod_label(request)
        if changes:
            logger.info("admission: pod %s: added %s", label, "; ".join(changes), extra={"pod": label})
        else:
            logger.debug("admission: pod %s: no change", label, extra={"pod": label})
        return response

    def owner_avoidance(self, request: Mapping[str, Any]) -> avoidance.Record:
        """The avoidance record on the pod's controlling owner; empty when there is none or it cannot be read."""
        pod = request.get("object") or {}
        ref = controller_ref(pod)
        if ref is None:
            return {}
        namespace = str(request.get("namespace") or (pod.get("metadata") or {}).get("namespace") or "")
        path = owner_path(ref, namespace)
        if path is None:
            self._warn_kind(f"{ref.get('apiVersion')} {ref['kind']}", pod_label(request))
            return {}
        try:
            owner = self._fetch(path)
        except (errors.ApiError, ValueError) as exc:
            logger.warning(
                "admission: pod %s: cannot read its owner %s %s (%s); admitting without avoidances",
                pod_label(request),
                ref["kind"],
                ref["name"],
                exc,
            )
            return {}
        annotations = (owner.get("metadata") or {}).get("annotations") or {}
        return avoidance.decode(annotations.get(keys.AVOID_NODES_ANNOTATION))

    def _warn_kind(self, kind: str, label: str) -> None:
        # Once per kind: every DaemonSet pod would otherwise repeat the same warning.
        with self._lock:
            first = kind not in self._warned_kinds
            self._warned_kinds.add(kind)
        if first:
            logger.warning(
                "admission: pod %s: owner kind %s never carries avoidances; such pods are admitted unchanged"
                " (logged once per kind)",
                label,
                kind,
            )


def virtual_nodes_of(informer: watching.Informer) -> Callable[[], list[model.Node]]:
    """The informer's nodes as model.Node; a malformed object is skipped (it cannot be a target anyway)."""

    def nodes() -> list[model.Node]:
        found = []
        for raw in informer.items():
            try:
                found.append(model.node_from_raw(raw))
            except (KeyError, TypeError, ValueError):
                logger.debug("admission: skipping malformed node %s", watching.object_key(raw))
        return found

    return nodes


def short_fetch(kube: Kube) -> Fetch:
    """One GET with LOOKUP_TIMEOUT and no retries (the caller admits the pod anyway on failure)."""

    def fetch(path: str) -> Mapping[str, Any]:
        found = orjson.loads(kube.request("GET", path, timeout=LOOKUP_TIMEOUT))
        if not isinstance(found, dict):
            raise ValueError(f"GET {path}: not a JSON object")
        return found

    return fetch


# -- the whole webhook -------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """``tensile-virtual-node webhook`` flags, checked by :func:`check`."""

    listen_address: str = "0.0.0.0"
    port: int = 9443
    tls_cert_file: str | None = None
    """With tls_key_file: serve these files (cert-manager style); they win over tls_secret."""
    tls_key_file: str | None = None
    tls_secret: str | None = None
    """A kubernetes.io/tls Secret in service_namespace shared by replicas; created or renewed as needed."""
    tls_sans: tuple[str, ...] = ()
    """Extra subjectAltNames (DNS names or IPs) for generated certificates."""
    service_name: str = "tensile-webhook"
    service_namespace: str = "tensile-system"
    webhook_config_name: str | None = None
    """The MutatingWebhookConfiguration whose caBundle is kept equal to the serving certificate."""
    virtual_node_selector: str = f"{keys.VIRTUAL_NODE_TYPE_LABEL}={keys.VIRTUAL_NODE_TYPE_VALUE}"
    stash_lower_constraints: bool = False


def check(settings: Settings) -> None:
    """Raise InputError (one line) for flags that cannot work, before anything starts."""
    if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
        raise InputError("--tls-cert-file and --tls-key-file go together")
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        try:
            tls.check_pair(settings.tls_cert_file, settings.tls_key_file)
        except tls.TlsFileError as exc:
            raise InputError(f"{'--tls-cert-file' if exc.role == 'cert' else '--tls-key-file'} {exc}") from None
    try:
        matching.parse_selector_string(settings.virtual_node_selector)
    except ValueError as exc:
        raise InputError(f"--virtual-node-selector {settings.virtual_node_selector!r}: {exc}") from None
    if any(not san.strip() for san in settings.tls_sans):
        raise InputError("--tls-san: empty value")
    if not settings.service_name or not settings.service_namespace:
        raise InputError("--service-name and --service-namespace must not be empty")


def cert_source(settings: Settings, kube: Kube) -> CertSource:
    """Files if given, else the shared Secret if named, else an in-memory self-signed pair."""
    names = subject_names(settings.service_name, settings.service_namespace, settings.tls_sans)
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        if settings.tls_secret:
            logger.warning("admission: --tls-cert-file given; --tls-secret %s is not used", settings.tls_secret)
        return FileCerts(settings.tls_cert_file, settings.tls_key_file)
    if settings.tls_secret:
        return SecretCerts(
            kube, name=settings.tls_secret, namespace=settings.service_namespace, names=names, clock=_utc_now
        )
    return GeneratedCerts(names, clock=_utc_now)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Webhook:
    """Everything ``tensile-virtual-node webhook`` runs: node informer, HTTPS server, certificate refresh."""

    def __init__(self, settings: Settings, kube: Kube) -> None:
        self.settings = settings
        self._source = cert_source(settings, kube)
        self._ca_sync = CaBundleSync(kube, settings.webhook_config_name) if settings.webhook_config_name else None
        self._stop = threading.Event()
        self._nodes = watching.Informer(
            kube, "/api/v1/nodes", "virtual-nodes", query={"labelSelector": settings.virtual_node_selector}
        )
        self._admitter = Admitter(
            fetch=short_fetch(kube),
            virtual_nodes=virtual_nodes_of(self._nodes),
            stash_lower_constraints=settings.stash_lower_constraints,
        )
        self._server: AdmissionServer | None = None
        self._refresher: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else self.settings.port

    def start(self) -> None:
        """Load the certificate (failure is fatal: nothing to serve with), then serve and refresh."""
        pair = self._source.load()
        self._server = AdmissionServer(
            address=self.settings.listen_address,
            port=self.settings.port,
            pair=pair,
            admitter=self._admitter,
            ready=self._nodes.synced.is_set,
        )
        self._server.start()
        self._nodes.start(self._stop)
        logger.info("admission: serving %s on %s:%d", MUTATE_PATH, self.settings.listen_address, self.port)
        self._sync_ca_bundle(pair[0])
        self._refresher = threading.Thread(target=self._refresh_loop, name="admission-refresh", daemon=True)
        self._refresher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop()
        if self._refresher is not None:
            # A refresh in flight may be waiting for the API; it is a daemon thread, so do not wait long.
            self._refresher.join(timeout=5.0)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            self.refresh()

    def refresh(self) -> None:
        """Pick up a rotated certificate and re-assert the caBundle; failures wait for the next round."""
        assert self._server is not None
        try:
            pair = self._source.load()
            if self._server.use(pair):
                logger.info("admission: serving a new certificate")
        except (TensileError, OSError) as exc:
            logger.warning("admission: cannot refresh the serving certificate: %s", exc)
        self._sync_ca_bundle(self._server.cert_pem)

    def _sync_ca_bundle(self, cert_pem: bytes) -> None:
        if self._ca_sync is None:
            return
        try:
            self._ca_sync.sync(cert_pem)
        except errors.ApiError as exc:
            logger.warning(
                "admission: cannot update the caBundle of MutatingWebhookConfiguration %s: %s; retrying in %.0fs",
                self._ca_sync.name,
                exc,
                REFRESH_SECONDS,
            )
