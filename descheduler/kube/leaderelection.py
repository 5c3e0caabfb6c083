"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does.

:func:`plan_lease` is the pure decision ("may I take or renew this lease now, and with
what spec?"); :class:`LeaderElector` does the GET/POST/PUT, using the Lease's
resourceVersion so two candidates never both win. Used by :mod:`descheduler.daemon`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from descheduler import bodies
from descheduler.kube import errors, paths, retry
from descheduler.kube.client import JsonObject, Kube

logger = logging.getLogger(__name__)

MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class ElectionConfig:
    """Upstream's --leader-elect-* flags, with upstream defaults."""

    lease_duration: float = 137.0
    """Seconds a non-leader waits after the last renewal before taking the lease."""
    renew_deadline: float = 107.0
    """Seconds the leader keeps trying to renew before it gives leadership up."""
    retry_period: float = 26.0
    """Seconds between attempts to take or renew the lease."""
    name: str = "descheduler"
    """Name of the Lease object."""
    namespace: str = "kube-system"
    """Namespace of the Lease object."""


def new_identity() -> str:
    """Hostname plus a random suffix, so two replicas on one host never share an identity."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def format_microtime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(MICROTIME)


def parse_microtime(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in (MICROTIME, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def plan_lease(spec: JsonObject | None, *, identity: str, now: datetime, lease_duration: float) -> JsonObject | None:
    """The Lease spec to write to hold the lease at ``now``, or None when another holder's lease is still valid.

    ``spec`` is the current Lease's spec (None when there is no Lease yet). A lease held by
    someone else is free once ``renewTime + leaseDurationSeconds`` has passed, or when its
    holder released it (empty ``holderIdentity``).
    """
    spec = spec or {}
    holder = spec.get("holderIdentity") or ""
    stamp = format_microtime(now)
    if holder == identity:
        return {**spec, "renewTime": stamp, "leaseDurationSeconds": _seconds(lease_duration)}
    if holder:
        renewed = parse_microtime(spec.get("renewTime")) or parse_microtime(spec.get("acquireTime"))
        held_for = float(spec.get("leaseDurationSeconds") or lease_duration)
        if renewed is not None and now < renewed + timedelta(seconds=held_for):
            return None
    transitions = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": _seconds(lease_duration),
        "acquireTime": stamp,
        "renewTime": stamp,
        "leaseTransitions": transitions,
    }


def _seconds(value: float) -> int:
    return max(1, round(value))


class LeaderElector:
    """Keeps trying to take the lease; while held, renews it and reports changes of leadership.

    ``on_started`` / ``on_stopped`` are called from the election thread when this replica
    becomes leader or stops being one (renewal failed for ``renew_deadline``, or the lease
    was taken). Like upstream, a replica that lost the lease keeps competing for it.
    """

    def __init__(
        self,
        kube: Kube,
        config: ElectionConfig,
        *,
        identity: str,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.config = config
        self.identity = identity
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._clock = clock
        self._leading = False
        self._last_renewed = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="leader-election", daemon=True)
        self._path = paths.lease(config.namespace, config.name)

    @property
    def leading(self) -> bool:
        return self._leading

    def start(self) -> None:
        logger.info("competing for lease %s/%s as %s", self.config.namespace, self.config.name, self.identity)
        self._thread.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop competing; the leader gives the lease up so another replica need not wait it out."""
        self._stop.set()
        self._thread.join(timeout=self.config.retry_period + 5)
        if release and self._leading:
            self._release()
        self._set_leading(False)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                held = self.try_acquire_or_renew()
            except errors.ApiError as exc:
                logger.warning("lease %s/%s: %s", self.config.namespace, self.config.name, exc)
                held = False
            if held:
                self._last_renewed = time.monotonic()
                self._set_leading(True)
            elif self._leading and self._renewal_overdue():
                logger.error("lease %s/%s: leadership lost", self.config.namespace, self.config.name)
                self._set_leading(False)
            self._stop.wait(self.config.retry_period)

    def _renewal_overdue(self) -> bool:
        return time.monotonic() - self._last_renewed >= self.config.renew_deadline

    def _set_leading(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        if leading:
            logger.info("became leader of lease %s/%s as %s", self.config.namespace, self.config.name, self.identity)
            self._on_started()
        else:
            self._on_stopped()

    def try_acquire_or_renew(self) -> bool:
        """One attempt. True when this replica holds the lease afterwards."""
        try:
            lease: JsonObject | None = self.kube.get(self._path, policy=retry.NO_RETRY)
        except errors.NotFoundError:
            lease = None
        spec = plan_lease(
            lease.get("spec") if lease else None,
            identity=self.identity,
            now=self._clock(),
            lease_duration=self.config.lease_duration,
        )
        if spec is None:
            if self._leading:
                # Another replica took the lease (our renewals were too late): stop at once.
                logger.error("lease %s/%s taken by %s", self.config.namespace, self.config.name, _holder(lease))
                self._set_leading(False)
            return False
        try:
            if lease is None:
                self.kube.post(self._path.rsplit("/", 1)[0], self._body(spec, None), policy=retry.NO_RETRY)
            else:
                # resourceVersion makes the PUT fail with 409 if anyone wrote the Lease since our GET.
                version = bodies.metadata_of(lease).get("resourceVersion")
                self.kube.put(self._path, self._body(spec, version), policy=retry.NO_RETRY)
        except errors.ConflictError:  # 409: changed since our GET, or created by someone else first
            logger.debug("lease %s/%s: lost a race to another candidate", self.config.namespace, self.config.name)
            return False
        return True

    def _body(self, spec: JsonObject, resource_version: str | None) -> JsonObject:
        metadata: dict[str, Any] = {"name": self.config.name, "namespace": self.config.namespace}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    def _release(self) -> None:
        try:
            lease = self.kube.get(self._path, policy=retry.NO_RETRY)
            if lease.get("spec", {}).get("holderIdentity") != self.identity:
                return
            spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
            self.kube.put(
                self._path, self._body(spec, bodies.metadata_of(lease).get("resourceVersion")), policy=retry.NO_RETRY
            )
            logger.info("released lease %s/%s", self.config.namespace, self.config.name)
        except errors.ApiError as exc:
            logger.warning("could not release lease %s/%s: %s", self.config.namespace, self.config.name, exc)


def _holder(lease: JsonObject | None) -> str:
    return str((lease or {}).get("spec", {}).get("holderIdentity") or "?")
