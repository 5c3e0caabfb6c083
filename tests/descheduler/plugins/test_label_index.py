from __future__ import annotations

from descheduler import model
from descheduler.plugins import label_index
from tests.descheduler import factories as f


def index() -> label_index.LabelIndex:
    return label_index.LabelIndex(
        [
            f.pod("web-1", labels={"app": "web", "rev": "1"}),
            f.pod("db", labels={"app": "db"}),
            f.pod("web-2", labels={"app": "web", "rev": "2"}),
            f.pod("web-1b", labels={"app": "web", "rev": "1"}),
        ]
    )


def names(pods: list[model.Pod]) -> list[str]:
    return [p.name for p in pods]


def test_pods_with_equal_labels_share_a_group() -> None:
    assert [names(members) for _labels, members in index().groups] == [["web-1", "web-1b"], ["db"], ["web-2"]]


def test_selector_matches_whole_groups() -> None:
    assert names(index().matching({"matchLabels": {"app": "web"}})) == ["web-1", "web-1b", "web-2"]
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "web"]}]}
    assert sorted(names(index().matching(selector))) == ["db", "web-1", "web-1b", "web-2"]


def test_extra_labels_narrow_the_selector() -> None:
    found = index().matching({"matchLabels": {"app": "web"}}, extra_labels=[("rev", "2")])
    assert names(found) == ["web-2"]
    assert index().matching({"matchLabels": {"app": "db"}}, extra_labels=[("rev", "1")]) == []
    # An empty selector matches every pod; the extra labels alone decide.
    assert names(index().matching({}, extra_labels=[("rev", "1")])) == ["web-1", "web-1b"]


def test_nil_selector_matches_nothing() -> None:
    assert index().matching(None) == []
    assert index().matching(None, extra_labels=[("app", "web")]) == []
