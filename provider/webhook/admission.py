"""The webhook's request handling: an AdmissionReview body in, the answer out (issue 5, second half).

:func:`parse_review` checks the body; :class:`Admitter` looks up what the pure decision
(:func:`provider.webhook.review.review`) needs, the avoidance record on the pod's controlling owner
(:func:`controller_ref`, :func:`owner_path`; one short GET without retries, as :func:`short_fetch`
makes it: a pod create must never wait long for us) and the virtual nodes (an informer, through
:func:`virtual_nodes_of`), then logs what the patch changes (:func:`describe_changes`). Every failure
admits the pod unchanged. The HTTPS server in front is :mod:`provider.webhook.server`.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from descheduler import avoidance, keys, model
from descheduler.kube import errors, paths
from descheduler.kube.client import Kube
from provider.kube import informer as watching
from provider.webhook import review

logger = logging.getLogger(__name__)

Raw = dict[str, Any]
Fetch = Callable[[str], Mapping[str, Any]]
"""GET an API path and return the object; raises errors.ApiError."""

# A pod create waits for us (timeoutSeconds 5 in the configuration): one quick try, no retries.
LOOKUP_TIMEOUT = 2.0
REVIEW_API_VERSION = "admission.k8s.io/v1"

# -- requests (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the admitter answers a body with; the server sends it as it is."""

    status: int
    body: bytes
    content_type: str = "application/json"


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, (text + "\n").encode(), "text/plain; charset=utf-8")


class BadReviewError(ValueError):
    """The body is not an AdmissionReview v1 request; the message is one line for the 400 answer."""


def parse_review(body: bytes) -> Raw:
    """The ``request`` of an AdmissionReview v1 body, checked just enough to answer it."""
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReviewError(f"body is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise BadReviewError("body is not a JSON object")
    if found.get("kind") != "AdmissionReview" or found.get("apiVersion") != REVIEW_API_VERSION:
        kind = f"{found.get('apiVersion')}/{found.get('kind')}"
        raise BadReviewError(f"expected {REVIEW_API_VERSION} AdmissionReview, got {kind}")
    request = found.get("request")
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
    """Answers one AdmissionReview body: the lookups, then :func:`review.review`.

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
            return review.review(request, review.Context(), now=self._clock())  # allowed, unchanged: no lookups
        context = review.Context(
            avoid=self.owner_avoidance(request),
            virtual_nodes=self._virtual_nodes(),
            stash_lower_constraints=self._stash,
        )
        response = review.review(request, context, now=self._clock())
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
