"""VirtualNodeFragmentation: the cheapest set of evictions that lets a pod pending everywhere fit one virtual node."""

from __future__ import annotations

from typing import Any

import pytest

from descheduler import model
from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.framework.profile import PluginHandle
from descheduler.model import Pod
from descheduler.plugins import virtual_node_fragmentation as plugin
from descheduler.policy.types import Limits
from descheduler.report import Decision
from tests.descheduler import factories as f

VIRTUAL = {"type": "virtual-kubelet"}


def args(**wire: Any) -> plugin.Args:
    decoded = f.decode_args(plugin.Args, **wire)
    assert plugin.validate(decoded) == []
    return decoded


def pending(name: str, *, cpu: str = "2", since: float = 120, **kw: Any) -> Pod:
    status = {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": f.ts(since)}
        ],
    }
    kw.setdefault("owner", ("ReplicaSet", f"rs-{name}"))
    kw.setdefault("spec", {"nodeSelector": VIRTUAL})  # only virtual nodes: n-real's room never helps it
    return f.pod(name, node="", cpu=cpu, memory="64Mi", phase="Pending", status=status, age_seconds=since, **kw)


def small(name: str, node: str, *, cpu: str = "1", owner: str = "small", **kw: Any) -> Pod:
    return f.pod(name, node=node, cpu=cpu, memory="64Mi", owner=("ReplicaSet", owner), **kw)


def vnode(name: str, cpu: str = "4", **kw: Any) -> model.Node:
    return f.node(name, cpu=cpu, memory="64Gi", labels=VIRTUAL, **kw)


class Run:
    def __init__(
        self,
        nodes: list[model.Node],
        pods: list[Pod],
        *,
        limit: Limits | None = None,
        pdbs: list[model.PodDisruptionBudget] | None = None,
        evictable: Any = None,
        **wire: Any,
    ) -> None:
        self.state = f.state(nodes, pods, pdbs=pdbs or [])
        self.writer = f.RecordingWriter()
        self.evictor = Evictor(self.state, self.writer, limits.LimitCounter(limit or Limits()))
        handle = PluginHandle(self.state, self.evictor, plugin.NAME, "test-profile")
        if evictable is not None:
            handle.filters.append(evictable)
        plugin.VirtualNodeFragmentation(args(**wire), handle).balance(list(self.state.nodes.values()))

    @property
    def decisions(self) -> list[Decision]:
        return [d for d in self.evictor.decisions if d.result.succeeded]

    @property
    def evicted(self) -> list[str]:
        return sorted(d.pod for d in self.decisions)


def filled(node: str, cpus: list[str], *, owner: str = "small", prefix: str = "") -> list[Pod]:
    return [small(f"{prefix or node}-{i}", node, cpu=cpu, owner=owner) for i, cpu in enumerate(cpus)]


def test_one_small_pod_moves_so_the_pending_pod_fits() -> None:
    # Each virtual node has 1 CPU free: the 2-CPU pod fits neither; moving one 1-CPU pod makes room.
    pods = [*filled("vk-a", ["1", "1", "1"]), *filled("vk-b", ["1", "1", "1"], owner="other"), pending("big")]
    run = Run([vnode("vk-a"), vnode("vk-b")], pods)
    assert len(run.evicted) == 1
    decision = run.decisions[0]
    assert decision.unblocks == "default/big"
    assert decision.reason == f"makes room on {decision.node}"
    assert decision.plugin == plugin.NAME


def test_fewest_pods_win_over_smaller_pods() -> None:
    pods = [
        *filled("vk-a", ["0.5", "0.5", "1"], prefix="a-small"),
        small("a-big", "vk-a", cpu="1", owner="big"),
        *filled("vk-b", ["1", "1", "1"], owner="other"),
        f.pod("room", node="n-real", cpu="100m", owner=("ReplicaSet", "room")),
        pending("big"),
    ]
    # vk-a: 0.5+0.5+1+1 = 3 used, 1 free. Two 0.5 pods would also do, but one 1-CPU pod is fewer;
    # among the equal single pods (same priority, same size) the name decides.
    run = Run([vnode("vk-a"), vnode("vk-b"), f.node("n-real", cpu="4")], pods)
    assert run.evicted == ["a-big"]


def test_lower_priority_set_is_chosen_between_equal_sizes() -> None:
    nodes = [vnode("vk-a", cpu="2"), vnode("vk-b", cpu="2"), f.node("n-real", cpu="4")]
    pods = [
        small("a-important", "vk-a", cpu="1", owner="important", priority=100),
        small("a-other", "vk-a", cpu="1", owner="a-other", priority=200),
        small("b-cheap", "vk-b", cpu="1", owner="cheap", priority=10),
        small("b-other", "vk-b", cpu="1", owner="b-other", priority=200),
        pending("big", priority=1000),
    ]
    run = Run(nodes, pods)
    # Both nodes need both of their pods out, top priority 200 each: the next priority decides,
    # and vk-b's {200, 10} is cheaper than vk-a's {200, 100}.
    assert run.evicted == ["b-cheap", "b-other"]


def test_single_lower_priority_pod_beats_a_higher_one() -> None:
    nodes = [vnode("vk-a", cpu="3"), vnode("vk-b", cpu="3"), f.node("n-real", cpu="4")]
    pods = [
        small("a-pod", "vk-a", cpu="1", owner="a", priority=100),
        small("a-fill", "vk-a", cpu="1", owner="af", priority=5000),
        small("b-pod", "vk-b", cpu="1", owner="b", priority=10),
        small("b-fill", "vk-b", cpu="1", owner="bf", priority=5000),
        pending("big", priority=1000),
    ]
    assert Run(nodes, pods).evicted == ["b-pod"]


def test_least_requested_breaks_a_priority_tie() -> None:
    nodes = [vnode("vk-a", cpu="4"), vnode("vk-b", cpu="4"), f.node("n-real", cpu="8")]
    pods = [
        small("a-first", "vk-a", cpu="1500m", owner="a1"),
        small("a-second", "vk-a", cpu="1500m", owner="a2"),
        small("b-3cpu", "vk-b", cpu="3", owner="b1"),
        pending("big", cpu="2"),
    ]
    run = Run(nodes, pods)
    # vk-a: 1 CPU free, evicting one 1.5-CPU pod is enough; vk-b: 1 CPU free, its only pod is 3 CPU.
    assert run.evicted == ["a-first"]


def test_pods_of_higher_priority_than_the_pending_pod_stay() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [small("vip", "vk-a", cpu="1", owner="vip", priority=2000), pending("big", cpu="2", priority=1000)]
    pods.append(small("n-fill", "n-real", cpu="3", owner="fill"))
    assert Run(nodes, pods).evicted == []


def test_equal_priority_pods_may_move() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [
        small("peer", "vk-a", cpu="1", owner="peer", priority=1000),
        small("n-fill", "n-real", cpu="3", owner="fill"),
        pending("big", cpu="2", priority=1000),
    ]
    assert Run(nodes, pods).evicted == ["peer"]


def test_nothing_moves_when_the_victims_would_fit_nowhere_else() -> None:
    pods = [*filled("vk-a", ["1", "1", "1"]), *filled("vk-b", ["1", "1", "1", "1"], owner="b"), pending("big")]
    assert Run([vnode("vk-a"), vnode("vk-b")], pods).evicted == []


def test_all_victims_together_must_fit_elsewhere() -> None:
    # Only vk-a suits the pending pod and it needs two 1-CPU pods out: room for one elsewhere is not enough.
    picky = {"nodeSelector": {"kubernetes.io/hostname": "vk-a"}}
    pods = [*filled("vk-a", ["1", "1", "1", "1"]), pending("big", spec=picky)]
    assert Run([vnode("vk-a"), vnode("vk-b", cpu="1")], pods).evicted == []
    assert Run([vnode("vk-a"), vnode("vk-b", cpu="2")], pods).evicted == ["vk-a-0", "vk-a-1"]


def test_the_set_is_bounded_per_pending_pod() -> None:
    nodes = [vnode("vk-a", cpu="3"), f.node("n-real", cpu="8")]
    pods = [*filled("vk-a", ["1", "1", "1"]), pending("big", cpu="3")]
    assert Run(nodes, pods, maxPodsToEvictPerPendingPod=2).evicted == []
    assert len(Run(nodes, pods, maxPodsToEvictPerPendingPod=3).evicted) == 3


def test_the_cycle_budget_bounds_all_pending_pods_together() -> None:
    nodes = [vnode("vk-a", cpu="3"), vnode("vk-b", cpu="3"), f.node("n-real", cpu="8")]
    pods = [
        *filled("vk-a", ["1", "1", "1"]),
        *filled("vk-b", ["1", "1", "1"], owner="b"),
        pending("p1", cpu="1"),
        pending("p2", cpu="1", since=300),
    ]
    # Without a budget each pending pod gets one eviction; with budget 1 only the oldest (p2) is helped.
    assert len(Run(nodes, pods).evicted) == 2
    run = Run(nodes, pods, maxPodsToEvictPerCycle=1)
    assert len(run.evicted) == 1 and run.decisions[0].unblocks == "default/p2"


def test_higher_priority_pending_pods_are_helped_first() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="1")]
    pods = [
        *filled("vk-a", ["1", "1"]),
        pending("low", cpu="1", priority=1, since=600),
        pending("high", cpu="1", priority=100),
    ]
    run = Run(nodes, pods)
    # Room elsewhere for one victim only: it goes to the high-priority pending pod.
    assert [d.unblocks for d in run.decisions] == ["default/high"]


def test_freed_room_is_reserved_for_the_pending_pod() -> None:
    # Two identical pending pods, room for one victim elsewhere: the second is not promised the same room.
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="1")]
    pods = [*filled("vk-a", ["1", "1"]), pending("p1", cpu="1", owner=("ReplicaSet", "same")), pending("p2", cpu="1")]
    pods[-1] = pending("p2", cpu="1", owner=("ReplicaSet", "same"), since=60)
    run = Run(nodes, pods)
    assert len(run.evicted) == 1


def test_pdb_without_disruptions_allowed_protects_its_pods() -> None:
    pdb = model.PodDisruptionBudget("default", "guard", {"matchLabels": {"app": "guarded"}}, 0)
    nodes = [vnode("vk-a", cpu="2"), vnode("vk-b", cpu="3"), f.node("n-real", cpu="4")]
    pods = [
        small("guarded", "vk-a", cpu="1", owner="g", labels={"app": "guarded"}),
        small("a-other", "vk-a", cpu="1", owner="a", labels={"app": "guarded"}),
        *filled("vk-b", ["1", "1", "500m"], owner="b"),
        small("n-fill", "n-real", cpu="2", owner="fill"),
        pending("big", cpu="2"),
    ]
    run = Run(nodes, pods, pdbs=[pdb])
    # vk-a would need both guarded pods; vk-b needs two of its own (0.5 free -> 2): the PDB steers to vk-b.
    assert run.evicted and all(p.startswith("vk-b") for p in run.evicted)


def test_pdb_room_is_counted_across_the_set() -> None:
    pdb = model.PodDisruptionBudget("default", "guard", {"matchLabels": {"app": "g"}}, 1)
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [
        *[small(f"g{i}", "vk-a", cpu="1", owner="g", labels={"app": "g"}) for i in range(2)],
        pending("big", cpu="2"),
    ]
    assert Run(nodes, pods, pdbs=[pdb]).evicted == []
    pdb2 = model.PodDisruptionBudget("default", "guard", {"matchLabels": {"app": "g"}}, 2)
    assert Run(nodes, pods, pdbs=[pdb2]).evicted == ["g0", "g1"]


def test_eviction_limits_are_all_or_nothing() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [*filled("vk-a", ["1", "1"]), pending("big", cpu="2")]
    assert Run(nodes, pods, limit=Limits(total=1)).evicted == []
    assert Run(nodes, pods, limit=Limits(per_node=1)).evicted == []
    assert Run(nodes, pods, limit=Limits(total=2)).evicted == ["vk-a-0", "vk-a-1"]


def test_evictor_filters_apply() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [small("protected", "vk-a", cpu="1", owner="p"), small("free", "vk-a", cpu="1", owner="q")]
    pods.append(pending("big", cpu="1"))
    run = Run(nodes, pods, evictable=lambda p: p.name != "free")
    assert run.evicted == ["protected"]


@pytest.mark.parametrize(
    "victim",
    [
        f.pod("bare", node="vk-a", cpu="1", memory="64Mi", owner=None),
        f.pod("daemon", node="vk-a", cpu="1", memory="64Mi", owner=("DaemonSet", "ds")),
        f.pod("leaving", node="vk-a", cpu="1", memory="64Mi", deleting=True),
    ],
    ids=["no controller (would not come back)", "DaemonSet pod", "already terminating"],
)
def test_pods_that_cannot_move_are_never_chosen(victim: Pod) -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [victim, small("other", "vk-a", cpu="1", owner="x", priority=10_000), pending("big", cpu="1")]
    assert Run(nodes, pods).evicted == []


def test_pending_pods_too_fresh_or_able_to_fit_are_left_to_the_scheduler() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    base = [*filled("vk-a", ["1", "1"])]
    assert Run(nodes, [*base, pending("fresh", cpu="2", since=10)]).evicted == []
    assert Run(nodes, [*base, pending("fits-real", cpu="1", spec={})]).evicted == []  # n-real has room
    assert Run(nodes, [*base, pending("fresh", cpu="2", since=10)], minTimeSinceLastTransitionSeconds=5).evicted


def test_only_virtual_nodes_are_made_room_on() -> None:
    nodes = [vnode("vk-a", cpu="4"), f.node("real-1", cpu="2"), f.node("real-2", cpu="2")]
    pods = [*filled("real-1", ["1", "1"]), small("vk-a-fill", "vk-a", cpu="4", owner="vf"), pending("big", cpu="2")]
    assert Run(nodes, pods).evicted == []


def test_pending_pod_constraints_choose_the_node() -> None:
    nodes = [vnode("vk-a", cpu="2"), vnode("vk-b", cpu="2"), f.node("n-real", cpu="4")]
    spec = {"nodeSelector": {"kubernetes.io/hostname": "vk-b", **VIRTUAL}}
    pods = [
        small("a-cheap", "vk-a", cpu="1", owner="a", priority=0),
        small("b-dear", "vk-b", cpu="1", owner="b", priority=50),
        pending("picky", cpu="2", spec=spec, priority=100),
    ]
    pods += [small("a-x", "vk-a", cpu="1", owner="ax"), small("b-x", "vk-b", cpu="1", owner="bx")]
    run = Run(nodes, pods)
    assert run.evicted == ["b-dear", "b-x"]


def test_avoidance_is_recorded_for_the_virtual_node() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [small("mover", "vk-a", cpu="1", owner="m"), pending("big", cpu="2")]
    pods.append(small("mover-2", "vk-a", cpu="1", owner="m"))
    run = Run(nodes, pods, avoidanceSeconds=120)
    assert sorted(run.writer.avoidances) == [("mover", "vk-a", f.NOW + 120), ("mover-2", "vk-a", f.NOW + 120)]
    assert Run(nodes, pods, avoidanceSeconds=0).writer.avoidances == []


def test_namespaces_and_label_selector_restrict_victims_and_pending_pods() -> None:
    nodes = [vnode("vk-a", cpu="2"), f.node("n-real", cpu="4")]
    pods = [small("batch", "vk-a", cpu="1", owner="b", labels={"tier": "batch"}), pending("big", cpu="2")]
    pods.append(small("web", "vk-a", cpu="1", owner="w", labels={"tier": "web"}))
    assert Run(nodes, pods, labelSelector={"matchLabels": {"tier": "batch"}}).evicted == []
    assert Run(nodes, pods, namespaces={"exclude": ["default"]}).evicted == []
    assert Run(nodes, pods, pendingNamespaces={"include": ["other"]}).evicted == []
    assert Run(nodes, pods, pendingLabelSelector={"matchLabels": {"app": "x"}}).evicted == []
    assert Run(nodes, pods).evicted == ["batch", "web"]


@pytest.mark.parametrize(
    ("wire", "path"),
    [
        ({"maxPodsToEvictPerPendingPod": 0}, "maxPodsToEvictPerPendingPod"),
        ({"maxPodsToEvictPerPendingPod": 11}, "maxPodsToEvictPerPendingPod"),
        ({"maxPodsToEvictPerCycle": 0}, "maxPodsToEvictPerCycle"),
        ({"avoidanceSeconds": -1}, "avoidanceSeconds"),
        ({"minTimeSinceLastTransitionSeconds": -1}, "minTimeSinceLastTransitionSeconds"),
        ({"nodeSelector": ""}, "nodeSelector"),
        ({"nodeSelector": "a in (b"}, "nodeSelector"),
        ({"namespaces": {"include": ["a"], "exclude": ["b"]}}, "namespaces"),
        ({"pendingNamespaces": {"include": ["a"], "exclude": ["b"]}}, "pendingNamespaces"),
    ],
)
def test_bad_arguments_are_named(wire: dict[str, Any], path: str) -> None:
    decoded = f.decode_args(plugin.Args, **wire)
    assert [p.path for p in plugin.validate(decoded)] == [path]


def test_defaults() -> None:
    a = plugin.Args()
    assert (a.node_selector, a.min_time_since_last_transition_seconds) == ("type=virtual-kubelet", 60)
    assert (a.max_pods_to_evict_per_pending_pod, a.max_pods_to_evict_per_cycle, a.avoidance_seconds) == (3, 10, 300)
