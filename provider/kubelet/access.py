"""Who may use the kubelet API with ``--authorize``: each request is checked as a kubelet started with
``--authentication-token-webhook --authorization-mode=Webhook`` checks it, before
:mod:`provider.kubelet.server` routes it.

Authentication: a client certificate the ``--client-ca-file`` CA signed (the TLS handshake verified it)
is the user of its subject (CN, groups O), as the kubelet's x509 authenticator has it; any other
caller needs ``Authorization: Bearer <token>``, which a TokenReview on the upper cluster turns into a
user. Authorization: a SubjectAccessReview on the upper cluster for that user and the request's
attributes (:func:`attributes`, the kubelet's mapping of method and path to ``nodes/<subresource>`` of
this node). Certificate callers are reviewed too, as the kubelet reviews them: the upper API server's
kubelet-client identity is allowed already (kubeadm binds the user ``kube-apiserver-kubelet-client`` to
``system:kubelet-api-admin``; the test clusters' ``kwok-admin`` is in ``system:masters``).

Answers are cached for the kubelet's default times (:data:`AUTHENTICATION_TTL`,
:data:`AUTHORIZED_TTL`, :data:`UNAUTHORIZED_TTL`), in caches of bounded size; tokens are kept only
as their SHA-256 and never logged. :class:`UpperReviews` sends the reviews with the provider's upper
credentials; :class:`Access` makes the decision and is tested with a fake of it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import unquote

from descheduler.kube import errors, paths, retry
from descheduler.kube.client import Kube

logger = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

AUTHENTICATION_TTL = 120.0
"""Seconds a TokenReview's answer, yes or no, is reused (kubelet ``authentication.webhook.cacheTTL``)."""
AUTHORIZED_TTL = 300.0
"""Seconds an allowing SubjectAccessReview is reused (kubelet ``authorization.webhook.cacheAuthorizedTTL``)."""
UNAUTHORIZED_TTL = 30.0
"""Seconds a denying SubjectAccessReview is reused (kubelet ``authorization.webhook.cacheUnauthorizedTTL``)."""
CACHE_ENTRIES = 1024
"""Most answers each cache holds; a flood of distinct tokens evicts the oldest, not memory."""
REVIEW_SECONDS = 5.0
"""The longest one review may take, retries included; then the caller gets 503."""
REVIEW_RETRY = retry.RetryPolicy(backoffs=(0.2, 0.5))

AUTHENTICATED_GROUP = "system:authenticated"
VERBS: Mapping[str, str] = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
"""The API verb of each HTTP method, as the kubelet maps them."""
SUBRESOURCES: Mapping[str, tuple[str, ...]] = {
    "stats": ("stats",),
    "metrics": ("metrics",),
    "logs": ("log",),  # "log", as pods/log
    # Kubelet fine-grained authorization (GA and locked on in v1.36): nodes/pods or nodes/healthz
    # suffice for these, and nodes/proxy, which used to be needed, still does.
    "pods": ("pods", "proxy"),
    "healthz": ("healthz", "proxy"),
}
"""The subresources of ``nodes`` to authorize by the path's first segment; any one of them suffices."""
OTHER_SUBRESOURCES = ("proxy",)
"""Everything else (``/exec``, ``/attach``, ``/portForward``, ``/containerLogs``, ``/run``) is nodes/proxy."""


@dataclass(frozen=True)
class User:
    """Who a caller is: what a TokenReview returns, or a client certificate's subject."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Extra attributes by key, sorted, so that a user can key a cache."""

    def authenticated(self) -> User:
        """This user in ``system:authenticated`` too, as the API server adds every authenticated user."""
        return self if AUTHENTICATED_GROUP in self.groups else replace(self, groups=(*self.groups, AUTHENTICATED_GROUP))


@dataclass(frozen=True)
class Attributes:
    """What a request asks for: ``verb`` on ``nodes/<subresource>`` of this node, for one of ``subresources``."""

    verb: str
    subresources: tuple[str, ...]


def attributes(method: str, path: str) -> Attributes:
    """The attributes of a request, from its method and (percent-encoded) path.

    The first segment is decoded as the router decodes it, so the subresource authorized is the
    one of the endpoint that answers.
    """
    first = unquote(path.split("/")[1]) if path.startswith("/") else ""
    return Attributes(VERBS.get(method, method.lower()), SUBRESOURCES.get(first, OTHER_SUBRESOURCES))


def bearer_token(values: Sequence[str]) -> str | None:
    """The token of one ``Authorization: Bearer <token>`` header; None when there is none, or the
    header is not that (two headers, another scheme, no token, anything after the token)."""
    if len(values) != 1:
        return None
    parts = values[0].split()
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].isascii() or not parts[1].isprintable():
        return None
    return parts[1]


def certificate_user(certificate: Mapping[str, Any] | None) -> User | None:
    """The user of a verified client certificate (``SSLSocket.getpeercert()``): CN the name, every O a group."""
    if not certificate:
        return None  # none presented (None), or not verified ({}): only a verified subject counts
    names = [(key, value) for rdn in certificate.get("subject", ()) for key, value in rdn]
    common = [value for key, value in names if key == "commonName"]
    if not common:
        return None
    return User(common[0], groups=tuple(value for key, value in names if key == "organizationName"))


class TtlCache(Generic[K, V]):
    """A thread-safe map whose entries expire, holding at most ``max_entries`` (the oldest go first)."""

    def __init__(self, max_entries: int = CACHE_ENTRIES, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        with self._lock:
            now = self._clock()
            self._entries.pop(key, None)
            if len(self._entries) >= self.max_entries:
                self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]  # insertion order: the oldest
            self._entries[key] = (now + ttl, value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class Reviews(Protocol):
    """Asks the upper cluster; raises :class:`~descheduler.kube.errors.ApiError` when it cannot."""

    def review_token(self, token: str) -> User | None:
        """The user the token authenticates, or None."""

    def review_access(self, user: User, verb: str, subresource: str, node_name: str) -> bool:
        """Whether ``user`` may ``verb`` ``nodes/<subresource>`` of ``node_name``."""


@dataclass(frozen=True)
class Verdict:
    """The answer for one request: 200 (go on, as ``user``), or the status and one line to send instead."""

    status: int
    message: str = ""
    user: User | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class _TokenAnswer:
    user: User | None


class Access:
    """Decides whether a request to the kubelet API of ``node_name`` may go on (:meth:`check`)."""

    def __init__(
        self,
        reviews: Reviews,
        *,
        node_name: str,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = CACHE_ENTRIES,
    ) -> None:
        self.reviews = reviews
        self.node_name = node_name
        self._tokens: TtlCache[str, _TokenAnswer] = TtlCache(max_entries, clock=clock)
        self._decisions: TtlCache[tuple[User, str, str], bool] = TtlCache(max_entries, clock=clock)

    def check(
        self, method: str, path: str, *, authorization: Sequence[str], certificate: Mapping[str, Any] | None
    ) -> Verdict:
        """401 for a caller that is nobody, 403 for one the upper cluster does not allow, 503 when it
        cannot tell; else 200 with the caller."""
        wanted = attributes(method, path)
        try:
            user = certificate_user(certificate) or self._token_user(authorization)
            if user is None:
                return Verdict(401, "Unauthorized")
            user = user.authenticated()
            if any(self._allowed(user, wanted.verb, sub) for sub in wanted.subresources):
                return Verdict(200, user=user)
        except errors.ApiError as exc:
            logger.warning("kubelet API: cannot review a %s %s request with the upper cluster: %s", method, path, exc)
            return Verdict(503, f"cannot check the caller with the upper cluster: {' '.join(str(exc).split())}")
        subresources = ",".join(wanted.subresources)
        label = "subresource" if len(wanted.subresources) == 1 else "subresource(s)"
        message = f"Forbidden (user={user.name}, verb={wanted.verb}, resource=nodes, {label}={subresources})"
        logger.info("kubelet API: %s %s: %s", method, path, message)
        return Verdict(403, message, user)

    def _token_user(self, authorization: Sequence[str]) -> User | None:
        token = bearer_token(authorization)
        if token is None:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        answer = self._tokens.get(key)
        if answer is None:
            answer = _TokenAnswer(self.reviews.review_token(token))
            self._tokens.put(key, answer, AUTHENTICATION_TTL)
        return answer.user

    def _allowed(self, user: User, verb: str, subresource: str) -> bool:
        key = (user, verb, subresource)
        allowed = self._decisions.get(key)
        if allowed is None:
            allowed = self.reviews.review_access(user, verb, subresource, self.node_name)
            self._decisions.put(key, allowed, AUTHORIZED_TTL if allowed else UNAUTHORIZED_TTL)
        return allowed


TOKEN_REVIEWS = paths.resource(paths.AUTHENTICATION, "tokenreviews")
ACCESS_REVIEWS = paths.resource(paths.AUTHORIZATION, "subjectaccessreviews")


class UpperReviews:
    """TokenReview and SubjectAccessReview on the upper cluster, with the provider's credentials
    (its ClusterRole grants ``create`` on both), each within :data:`REVIEW_SECONDS`."""

    def __init__(self, upper: Kube, *, seconds: float = REVIEW_SECONDS) -> None:
        self.upper = upper
        self.seconds = seconds

    def review_token(self, token: str) -> User | None:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        with retry.deadline(self.seconds):
            status = self.upper.post(TOKEN_REVIEWS, body, policy=REVIEW_RETRY).get("status") or {}
        user = status.get("user") or {}
        if not status.get("authenticated") or not user.get("username"):
            return None
        extra = user.get("extra") or {}
        return User(
            str(user["username"]),
            uid=str(user.get("uid") or ""),
            groups=tuple(str(g) for g in user.get("groups") or ()),
            extra=tuple(sorted((str(k), tuple(str(v) for v in values or ())) for k, values in extra.items())),
        )

    def review_access(self, user: User, verb: str, subresource: str, node_name: str) -> bool:
        spec: dict[str, Any] = {
            "user": user.name,
            "groups": list(user.groups),
            "resourceAttributes": {
                "verb": verb,
                "group": "",
                "version": "v1",
                "resource": "nodes",
                "subresource": subresource,
                "name": node_name,
            },
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {key: list(values) for key, values in user.extra}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        with retry.deadline(self.seconds):
            status = self.upper.post(ACCESS_REVIEWS, body, policy=REVIEW_RETRY).get("status") or {}
        return bool(status.get("allowed")) and not status.get("denied")
