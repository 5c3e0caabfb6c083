"""DefaultEvictor's podProtections: the protection names, their defaults, the deprecated
booleans they replace, their per-protection settings and validation (upstream v0.36
``defaultevictor/types.go`` PodProtections). Used by :mod:`descheduler.plugins.default_evictor`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from descheduler import wording
from descheduler.errors import Problem
from descheduler.policy.argspec import doc

LOCAL_STORAGE = "PodsWithLocalStorage"
SYSTEM_CRITICAL = "SystemCriticalPods"
FAILED_BARE = "FailedBarePods"
DAEMONSET = "DaemonSetPods"
WITH_PVC = "PodsWithPVC"
WITHOUT_PDB = "PodsWithoutPDB"
RESOURCE_CLAIMS = "PodsWithResourceClaims"
DEFAULT_PROTECTIONS = (LOCAL_STORAGE, SYSTEM_CRITICAL, FAILED_BARE, DAEMONSET)
EXTRA_PROTECTIONS = (WITH_PVC, WITHOUT_PDB, RESOURCE_CLAIMS)

# Deprecated booleans and the protection each maps onto (field name -> protection).
DEPRECATED_DISABLING = {
    "evict_local_storage_pods": LOCAL_STORAGE,
    "evict_daemon_set_pods": DAEMONSET,
    "evict_system_critical_pods": SYSTEM_CRITICAL,
    "evict_failed_bare_pods": FAILED_BARE,
}
DEPRECATED_ENABLING = {"ignore_pvc_pods": WITH_PVC, "ignore_pods_without_pdb": WITHOUT_PDB}
DEPRECATED_FIELDS = (*DEPRECATED_DISABLING, *DEPRECATED_ENABLING)
"""DefaultEvictor's Args fields that podProtections replaces."""


@dataclass(frozen=True)
class ProtectedStorageClass:
    """One entry of ``protectedStorageClasses``: a StorageClass whose claims protect their pods."""

    name: str = field(default="", metadata=doc("StorageClass name."))


@dataclass(frozen=True)
class PodsWithPVCConfig:
    """The PodsWithPVC protection's settings: which storage classes it protects (all when empty)."""

    protected_storage_classes: tuple[ProtectedStorageClass, ...] = field(
        default=(), metadata=doc("Protect only pods whose claims use these storage classes; empty protects all.")
    )


@dataclass(frozen=True)
class PodProtectionsConfig:
    """``podProtections.config``: settings per protection, keyed by the protection's name."""

    pods_with_pvc: PodsWithPVCConfig | None = field(
        default=None, metadata=doc("Settings of the PodsWithPVC protection.", wire="PodsWithPVC")
    )


@dataclass(frozen=True)
class PodProtections:
    """DefaultEvictor's ``podProtections``: default protections to turn off and extra ones to turn on.

    When it lists anything it replaces the deprecated booleans (:func:`effective`); setting both is refused.
    """

    extra_enabled: tuple[str, ...] = field(
        default=(), metadata=doc("Extra protections to enable: " + ", ".join(EXTRA_PROTECTIONS) + ".")
    )
    default_disabled: tuple[str, ...] = field(
        default=(), metadata=doc("Default protections to disable: " + ", ".join(DEFAULT_PROTECTIONS) + ".")
    )
    config: PodProtectionsConfig | None = field(default=None, metadata=doc("Per-protection settings."))


def validate(protections: PodProtections, *, deprecated: Sequence[str]) -> list[Problem]:
    """``deprecated``: the wire names of the deprecated booleans that are set beside it."""
    if not protections.extra_enabled and not protections.default_disabled:
        return []
    problems: list[Problem] = []
    if deprecated:
        message = (
            f"cannot be combined with the deprecated fields ({', '.join(deprecated)}); move them into podProtections"
        )
        problems.append(Problem("podProtections", message))
    problems += _validate_names(protections.extra_enabled, "podProtections.extraEnabled", EXTRA_PROTECTIONS)
    problems += _validate_names(protections.default_disabled, "podProtections.defaultDisabled", DEFAULT_PROTECTIONS)
    if WITH_PVC in protections.extra_enabled:  # upstream checks the names only then
        problems += _validate_storage_class_names(protections.config)
    return problems


def _validate_storage_class_names(config: PodProtectionsConfig | None) -> list[Problem]:
    if config is None or config.pods_with_pvc is None:
        return []
    path = "podProtections.config.PodsWithPVC.protectedStorageClasses"
    classes = config.pods_with_pvc.protected_storage_classes
    return [Problem(f"{path}[{i}].name", "must not be empty") for i, c in enumerate(classes) if not c.name]


def _validate_names(names: tuple[str, ...], path: str, allowed: tuple[str, ...]) -> list[Problem]:
    problems = [
        Problem(f"{path}[{i}]", f"must be one of {', '.join(allowed)}; got {wording.shown(name)}")
        for i, name in enumerate(names)
        if name not in allowed
    ]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(Problem(path, f"contains duplicate entries: {', '.join(duplicates)}"))
    return problems


def effective(protections: PodProtections, *, deprecated: Mapping[str, bool]) -> frozenset[str]:
    """podProtections when it lists anything, else the deprecated booleans (``deprecated``: field -> set)."""
    if protections.extra_enabled or protections.default_disabled:
        kept = (p for p in DEFAULT_PROTECTIONS if p not in protections.default_disabled)
        return frozenset((*kept, *protections.extra_enabled))
    disabled = {protection for name, protection in DEPRECATED_DISABLING.items() if deprecated.get(name)}
    enabled = {protection for name, protection in DEPRECATED_ENABLING.items() if deprecated.get(name)}
    return frozenset(p for p in DEFAULT_PROTECTIONS if p not in disabled) | enabled


_DEPRECATED_SETTINGS = {
    LOCAL_STORAGE: ("evictLocalStoragePods", "false"),
    DAEMONSET: ("evictDaemonSetPods", "false"),
    SYSTEM_CRITICAL: ("evictSystemCriticalPods", "false"),
    FAILED_BARE: ("evictFailedBarePods", "false"),
    WITH_PVC: ("ignorePvcPods", "true"),
    WITHOUT_PDB: ("ignorePodsWithoutPDB", "true"),
}


def switched_on_by(protections: PodProtections, protection: str) -> tuple[str, str]:
    """Where a policy turns ``protection`` on, as (argument path, its value in words), for explain:
    podProtections when it lists anything (as :func:`effective`), else the deprecated boolean."""
    listed = protections.extra_enabled or protections.default_disabled
    if listed or protection not in _DEPRECATED_SETTINGS:
        if protection in DEFAULT_PROTECTIONS:
            return "podProtections.defaultDisabled", f"does not list {protection}"
        return "podProtections.extraEnabled", f"lists {protection}"
    return _DEPRECATED_SETTINGS[protection]


def protected_storage_classes(protections: PodProtections) -> frozenset[str]:
    config = protections.config
    if config is None or config.pods_with_pvc is None:
        return frozenset()
    return frozenset(c.name for c in config.pods_with_pvc.protected_storage_classes)
