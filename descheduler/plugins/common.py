"""Argument types and helpers that several upstream plugins share (namespaces, selectors, evicting a node's pods)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from descheduler import matching
from descheduler.errors import Problem
from descheduler.evictor import limits
from descheduler.framework import types
from descheduler.framework.types import Handle
from descheduler.model import Pod
from descheduler.policy.argspec import LabelSelector, doc


@dataclass(frozen=True)
class Namespaces:
    """The ``namespaces`` argument of several upstream plugins: include or exclude, never both (``api.Namespaces``)."""

    include: tuple[str, ...] = field(default=(), metadata=doc("Only pods in these namespaces."))
    exclude: tuple[str, ...] = field(default=(), metadata=doc("Never pods in these namespaces."))


def validate_namespaces(namespaces: Namespaces | None, path: str = "namespaces") -> list[Problem]:
    if namespaces is not None and namespaces.include and namespaces.exclude:
        return [Problem(path, "only one of include and exclude can be set")]
    return []


def validate_virtual_node_selector(text: str, path: str = "nodeSelector") -> list[Problem]:
    """The string-form selector of tensile's plugins must parse and must not be empty (it would select every node)."""
    if not text.strip():
        return [Problem(path, "must select the virtual nodes, e.g. type=virtual-kubelet")]
    try:
        matching.parse_selector_string(text)
    except ValueError as exc:
        return [Problem(path, str(exc))]
    return []


def namespace_allowed(namespace: str, namespaces: Namespaces | None) -> bool:
    if namespaces is None:
        return True
    if namespaces.include:
        return namespace in namespaces.include
    return namespace not in namespaces.exclude


def labels_allowed(pod: Pod, selector: LabelSelector | None) -> bool:
    """An unset selector allows every pod, like upstream's ``labelSelector`` args."""
    return selector is None or matching.selector_matches(selector, pod.labels)


def pod_allowed(pod: Pod, namespaces: Namespaces | None, selector: LabelSelector | None) -> bool:
    if namespaces is None and selector is None:  # the usual case, asked for every pod by most plugins
        return True
    return namespace_allowed(pod.namespace, namespaces) and labels_allowed(pod, selector)


def namespace_refusal(namespace: str, namespaces: Namespaces | None, path: str = "namespaces") -> types.Refusal | None:
    """Why ``namespaces`` keeps pods of ``namespace`` out (for explain), or None."""
    if namespace_allowed(namespace, namespaces):
        return None
    if namespaces is not None and namespaces.include:
        return types.Refusal(f"{path}.include", f"namespace {namespace} is not included")
    return types.Refusal(f"{path}.exclude", f"namespace {namespace} is excluded")


def pod_refusal(
    pod: Pod, namespaces: Namespaces | None, selector: LabelSelector | None, *, prefix: str = ""
) -> types.Refusal | None:
    """Why the usual ``namespaces``/``labelSelector`` pair keeps ``pod`` out (for explain), or None.

    ``prefix`` names the pair of another role (``pending`` for ``pendingNamespaces``).
    """
    found = namespace_refusal(pod.namespace, namespaces, f"{prefix}Namespaces" if prefix else "namespaces")
    if found is None and not labels_allowed(pod, selector):
        path = f"{prefix}LabelSelector" if prefix else "labelSelector"
        found = types.Refusal(path, "the pod's labels do not match it")
    return found


def evict_from_node(
    handle: Handle, candidates: Iterable[tuple[Pod, str]], *, avoid_node: str = "", avoid_seconds: float = 0.0
) -> bool:
    """Evict one node's candidates in order, each with its reason; False once the total limit says stop.

    As upstream's strategies react: a node limit ends this node's candidates (the caller moves on to
    its next node) and a namespace limit skips to the next candidate. ``candidates`` is consumed
    lazily, so nothing after a node limit or the total limit is looked at. ``avoid_node`` and
    ``avoid_seconds`` go to every eviction (see :meth:`Handle.evict`).
    """
    for pod, reason in candidates:
        try:
            handle.evict(pod, reason=reason, avoid_node=avoid_node, avoid_seconds=avoid_seconds)
        except limits.NodeLimitError:
            return True
        except limits.NamespaceLimitError:
            continue
        except limits.TotalLimitError:
            return False
    return True
