"""Requests per node before and after a plan: evicted pods leave, predicted replacements arrive,
virtual nodes stand under their lower cluster."""

from __future__ import annotations

from descheduler import utilisation
from descheduler.evictor import limits
from descheduler.evictor.evictor import Evictor
from descheduler.evictor.writers import DryRunRecorder
from descheduler.policy.types import Limits
from tests.descheduler import factories as f

VIRTUAL = {"type": "virtual-kubelet", "tensile.io/lower-cluster": "east"}
GIB = 1 << 30


def figures_by_name(result: list[utilisation.NodeFigures]) -> dict[str, utilisation.NodeFigures]:
    return {figure.name: figure for figure in result}


def test_before_and_after_are_read_from_the_two_mappings_against_allocatable() -> None:
    node = f.node("n1", cpu="4", memory="8Gi", pods="110")
    (figure,) = utilisation.node_figures(
        [node],
        before={"n1": {"cpu": 3000, "memory": 4 * GIB, "pods": 3}},
        after={"n1": {"cpu": 1000, "memory": GIB, "pods": 1}},
    )
    assert figure.before == utilisation.Amounts(cpu=3000, memory=4 * GIB, pods=3)
    assert figure.after == utilisation.Amounts(cpu=1000, memory=GIB, pods=1)
    assert figure.allocatable == utilisation.Amounts(cpu=4000, memory=8 * GIB, pods=110)
    assert figure.to_dict() == {
        "name": "n1",
        "group": None,
        "virtual": False,
        "before": {"cpu": 3000, "memory": 4 * GIB, "pods": 3},
        "after": {"cpu": 1000, "memory": GIB, "pods": 1},
        "allocatable": {"cpu": 4000, "memory": 8 * GIB, "pods": 110},
    }


def test_a_node_missing_from_a_reading_requested_nothing() -> None:
    (figure,) = utilisation.node_figures([f.node("n1")], before={}, after={})
    assert figure.before == figure.after == utilisation.Amounts()


def test_virtual_nodes_are_grouped_under_their_lower_cluster_after_ordinary_nodes() -> None:
    nodes = [
        f.node("vk-b", labels={"type": "virtual-kubelet", "tensile.io/lower-cluster": "west"}),
        f.node("vk-a2", labels=VIRTUAL),
        f.node("worker-2"),
        f.node("vk-a1", labels=VIRTUAL),
        f.node("worker-1"),
        f.node("vk-unlabelled", labels={"type": "virtual-kubelet"}),
    ]
    result = utilisation.node_figures(nodes, before={}, after={})
    assert [(g, [x.name for x in members]) for g, members in utilisation.groups(result)] == [
        ("-", ["worker-1", "worker-2"]),
        ("lower: east", ["vk-a1", "vk-a2"]),
        ("lower: vk-unlabelled", ["vk-unlabelled"]),
        ("lower: west", ["vk-b"]),
    ]
    by_name = figures_by_name(result)
    assert by_name["vk-a1"].virtual and by_name["vk-a1"].to_dict()["group"] == "east"
    assert not by_name["worker-1"].virtual


def test_a_lower_cluster_label_alone_does_not_make_a_virtual_node() -> None:
    node = f.node("n1", labels={"tensile.io/lower-cluster": "east"})
    assert utilisation.lower_cluster(node) is None


def test_evicted_pods_leave_their_node_and_replacements_are_reserved_where_predicted() -> None:
    """As the runner reads it: a copy before the evictor acts, the state's own figures after."""
    state = f.state(
        [f.node("busy", cpu="2"), f.node("idle", cpu="4", labels=VIRTUAL)],
        [
            f.pod("web-1", node="busy", cpu="500m", memory="1Gi"),
            f.pod("web-2", node="busy", cpu="500m", memory="1Gi", owner=("ReplicaSet", "rs-2")),
            f.pod("loner", node="busy", cpu="250m", memory="256Mi", owner=None),
        ],
    )
    before = {name: state.usage(name) for name in state.nodes}
    evictor = Evictor(state, DryRunRecorder(), limits.LimitCounter(Limits()))
    pods = {p.name: p for p in state.pods}
    assert evictor.evict(pods["web-1"], plugin="Test", profile="p", reason="test", avoid_node="busy")
    assert evictor.evict(pods["loner"], plugin="Test", profile="p", reason="test")
    after = {name: state.usage(name) for name in state.nodes}
    by_name = figures_by_name(utilisation.node_figures(state.nodes.values(), before=before, after=after))

    assert by_name["busy"].before == utilisation.Amounts(cpu=1250, memory=2 * GIB + 256 * (1 << 20), pods=3)
    assert by_name["busy"].after == utilisation.Amounts(cpu=500, memory=GIB, pods=1)
    # web-1's ReplicaSet replaces it; avoiding busy, the replacement is predicted on idle. loner has no owner.
    assert by_name["idle"].before == utilisation.Amounts()
    assert by_name["idle"].after == utilisation.Amounts(cpu=500, memory=GIB, pods=1)


def test_percent_is_of_allocatable_and_none_without_any() -> None:
    assert utilisation.percent(500, 2000) == 25.0
    assert utilisation.percent(3000, 2000) == 150.0
    assert utilisation.percent(5, 0) is None
