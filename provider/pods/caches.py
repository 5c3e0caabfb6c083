"""The two pod caches that every pod controller reads, and what makes a lower pod ours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provider.kube.informer import Informer
from provider.kube.objects import ObjectKey, RawObject, object_key
from provider.pods import mirror


@dataclass(frozen=True)
class PodCaches:
    """Upper pods bound to this virtual node and all lower pods, as the informers hold them.

    Read-only for the controllers; the informers (started by :mod:`provider.app`) keep them
    current. Nothing is decided for a pod until both have completed their first list, so a
    restart adopts existing mirrors instead of duplicating or deleting them.
    """

    upper: Informer
    lower: Informer
    upper_cluster: str
    node_name: str

    def synced(self) -> bool:
        return self.upper.synced.is_set() and self.lower.synced.is_set()

    def is_own_mirror(self, lower: Mapping[str, Any]) -> bool:
        """Whether ``lower`` is a mirror this virtual node created (not another node's, not a user's)."""
        return mirror.is_own_mirror(lower, upper_cluster=self.upper_cluster, virtual_node=self.node_name)

    def bound_upper(self, key: ObjectKey) -> RawObject | None:
        """The upper pod ``key`` if it is (still) bound to this virtual node."""
        upper = self.upper.get(key)
        if upper is not None and (upper.get("spec") or {}).get("nodeName") != self.node_name:
            return None
        return upper

    def mirrored_keys(self) -> set[ObjectKey]:
        """Every pod known on either side: the upper pods here, and the lower mirrors of ours."""
        mirrors = {object_key(obj) for obj in self.lower.items() if self.is_own_mirror(obj)}
        return {*self.upper.keys(), *mirrors}
