"""The webhook's request handling on plain data: body parsing, owner selection and lookup outcomes,
and the log description.

Lookups go through an injected fetch (a dict of paths); the real API is exercised in
tests/e2e/test_webhook.py.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from descheduler import avoidance, keys
from descheduler.kube import errors
from provider.webhook import admission
from tests.descheduler import factories as f

NOW = f.NOW
VK_A = f.node("vk-a", labels={"type": "virtual-kubelet"})
VK_B = f.node("vk-b", labels={"type": "virtual-kubelet"})
RS_PATH = "/apis/apps/v1/namespaces/shop/replicasets/web-1"


def owner_ref(kind: str = "ReplicaSet", name: str = "web-1", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "u1", "controller": True, **extra}


def pod(refs: list[dict[str, Any]] | None = None, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"generateName": "web-1-", "namespace": "shop"}
    if refs is not None:
        meta["ownerReferences"] = refs
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **(spec or {})}}  # fmt: skip


def review(obj: dict[str, Any], *, operation: str = "CREATE", namespace: str = "shop") -> dict[str, Any]:
    request = {"uid": "req-1", "operation": operation, "namespace": namespace, "object": obj}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def rs(annotation: str | None) -> dict[str, Any]:
    annotations = {keys.AVOID_NODES_ANNOTATION: annotation} if annotation is not None else {}
    return {"kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "shop", "annotations": annotations}}


class FakeApi:
    """Objects by path; a path mapped to an ApiError raises it. Records every path asked for."""

    def __init__(self, objects: Mapping[str, Any]) -> None:
        self.objects = objects
        self.asked: list[str] = []

    def __call__(self, path: str) -> Mapping[str, Any]:
        self.asked.append(path)
        found = self.objects.get(path)
        if found is None:
            raise errors.NotFoundError(404, "NotFound", f"{path} not found")
        if isinstance(found, errors.ApiError):
            raise found
        return dict(found)


def admitter(objects: Mapping[str, Any], *, nodes: list[Any] | None = None) -> tuple[admission.Admitter, FakeApi]:
    api = FakeApi(objects)
    chosen = [VK_A, VK_B] if nodes is None else nodes
    return admission.Admitter(fetch=api, virtual_nodes=lambda: chosen, clock=lambda: NOW), api


def answer(reply: admission.Reply) -> dict[str, Any]:
    assert reply.status == 200 and reply.content_type == "application/json"
    result: dict[str, Any] = json.loads(reply.body)
    return result


def patched_spec(response: dict[str, Any]) -> dict[str, Any]:
    ops = json.loads(base64.b64decode(response["response"]["patch"]))
    spec: dict[str, Any] = next(op["value"] for op in ops if op["path"] == "/spec")
    return spec


def live_for(*nodes: str) -> str:
    return avoidance.encode({node: NOW + 600 for node in nodes})


# -- body parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}).encode(), "expected"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "no request"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}).encode(), "uid"),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "object": 3}}
            ).encode(),
            "request.object",
        ),
    ],
    ids=["not JSON → 400", "array → 400", "v1beta1 → 400", "no request → 400", "no uid → 400", "object=3 → 400"],
)
def test_malformed_bodies_get_a_one_line_400(body: bytes, message: str) -> None:
    handler, api = admitter({})
    reply = handler.handle(body)
    assert reply.status == 400 and reply.content_type.startswith("text/plain")
    text = reply.body.decode()
    assert message in text and text.count("\n") == 1 and text.endswith("\n")
    assert api.asked == []


def test_parse_review_returns_the_request() -> None:
    body = json.dumps(review(pod())).encode()
    assert admission.parse_review(body)["uid"] == "req-1"


# -- owner selection ---------------------------------------------------------------------------


def test_controller_ref_picks_the_controlling_owner_only() -> None:
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u0"}
    assert admission.controller_ref(pod([other, owner_ref()])) == owner_ref()
    assert admission.controller_ref(pod([{**owner_ref(), "controller": False}])) is None
    assert admission.controller_ref(pod([])) is None
    assert admission.controller_ref(pod()) is None


def test_a_malformed_controller_ref_counts_as_none() -> None:
    assert admission.controller_ref(pod([owner_ref(name="")])) is None
    assert admission.controller_ref(pod([{"controller": True, "kind": 3, "name": "x"}])) is None


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        (owner_ref(), RS_PATH),
        (owner_ref("Deployment", "web"), "/apis/apps/v1/namespaces/shop/deployments/web"),
        (owner_ref("StatefulSet", "db"), "/apis/apps/v1/namespaces/shop/statefulsets/db"),
        ({**owner_ref("Job", "batch-1"), "apiVersion": "batch/v1"}, "/apis/batch/v1/namespaces/shop/jobs/batch-1"),
        (
            {**owner_ref("ReplicationController", "rc"), "apiVersion": "v1"},
            "/api/v1/namespaces/shop/replicationcontrollers/rc",
        ),
        (owner_ref("DaemonSet", "ds"), None),
        ({**owner_ref("Job", "j"), "apiVersion": "example.com/v1"}, None),
        ({**owner_ref(), "apiVersion": "v1"}, None),
    ],
    ids=[
        "ReplicaSet",
        "Deployment",
        "StatefulSet",
        "Job",
        "ReplicationController",
        "DaemonSet → none",
        "a custom Job → none",
        "core-group ReplicaSet → none",
    ],
)
def test_owner_path_follows_the_descheduler_writer(ref: dict[str, Any], path: str | None) -> None:
    assert admission.owner_path(ref, "shop") == path


def test_owner_path_quotes_names() -> None:
    assert admission.owner_path(owner_ref(name="a/b"), "shop") == "/apis/apps/v1/namespaces/shop/replicasets/a%2Fb"


# -- answering ---------------------------------------------------------------------------------


def test_live_avoidance_on_the_owner_becomes_hostname_not_in(caplog: pytest.LogCaptureFixture) -> None:
    handler, api = admitter({RS_PATH: rs(live_for("vk-a"))})
    with caplog.at_level(logging.INFO, logger="provider.webhook.admission"):
        response = answer(handler.handle(json.dumps(review(pod([owner_ref()]))).encode()))
    assert api.asked == [RS_PATH]
    assert response["response"]["uid"] == "req-1" and response["response"]["allowed"] is True
    terms = patched_spec(response)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": keys.HOSTNAME_LABEL, "operator": "NotIn", "values": ["vk-a"]}]}
    ]
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == ["admission: pod shop/web-1-: added kubernetes.io/hostname NotIn [vk-a]"]


def test_the_request_namespace_is_used_when_the_pod_has_none() -> None:
    obj = pod([owner_ref()])
    del obj["metadata"]["namespace"]
    handler, api = admitter({RS_PATH: rs(live_for("vk-a"))})
    response = answer(handler.handle(json.dumps(review(obj)).encode()))
    assert api.asked == [RS_PATH] and "patch" in response["response"]


@pytest.mark.parametrize(
    ("objects", "refs", "asked", "warns"),
    [
        ({RS_PATH: rs(avoidance.encode({"vk-a": NOW - 1}))}, [owner_ref()], [RS_PATH], False),
        ({RS_PATH: rs(None)}, [owner_ref()], [RS_PATH], False),
        ({RS_PATH: rs("not json")}, [owner_ref()], [RS_PATH], False),
        ({}, [owner_ref()], [RS_PATH], True),
        ({RS_PATH: errors.ForbiddenError(403, "Forbidden", "no")}, [owner_ref()], [RS_PATH], True),
        ({RS_PATH: errors.ConnectionFailedError(0, "ConnectionFailed", "timed out")}, [owner_ref()], [RS_PATH], True),
        ({}, [owner_ref("DaemonSet", "ds")], [], True),
        ({}, None, [], False),
    ],
    ids=[
        "expired entry → unchanged",
        "no annotation → unchanged",
        "malformed annotation → unchanged",
        "owner 404 → unchanged, warning",
        "403 → unchanged, warning",
        "timeout → unchanged, warning",
        "DaemonSet owner → no lookup, warning",
        "bare pod → no lookup",
    ],
)
def test_pods_without_a_live_readable_record_are_admitted_unchanged(
    objects: dict[str, Any],
    refs: list[dict[str, Any]] | None,
    asked: list[str],
    warns: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, api = admitter(objects)
    with caplog.at_level(logging.DEBUG, logger="provider.webhook.admission"):
        response = answer(handler.handle(json.dumps(review(pod(refs))).encode()))
    assert response["response"] == {"uid": "req-1", "allowed": True}
    assert api.asked == asked
    assert any(r.levelno == logging.WARNING for r in caplog.records) is warns
    assert not any(r.levelno == logging.INFO for r in caplog.records)


def test_an_unknown_owner_kind_is_warned_about_once() -> None:
    handler, _api = admitter({})
    body = json.dumps(review(pod([owner_ref("DaemonSet", "ds")]))).encode()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("provider.webhook.admission")
    keep = Keep(logging.WARNING)
    logger.addHandler(keep)
    try:
        for _ in range(3):
            handler.handle(body)
    finally:
        logger.removeHandler(keep)
    assert len(records) == 1 and "DaemonSet" in records[0].getMessage()


def test_an_avoidance_of_every_virtual_node_adds_nothing() -> None:
    handler, _api = admitter({RS_PATH: rs(live_for("vk-a", "vk-b"))})
    response = answer(handler.handle(json.dumps(review(pod([owner_ref()]))).encode()))
    assert "patch" not in response["response"]


def test_virtual_nodes_come_from_the_lookup() -> None:
    # Only vk-a is a virtual node: avoiding it would exclude them all, so nothing is added.
    handler, _api = admitter({RS_PATH: rs(live_for("vk-a"))}, nodes=[VK_A])
    response = answer(handler.handle(json.dumps(review(pod([owner_ref()]))).encode()))
    assert "patch" not in response["response"]


@pytest.mark.parametrize(
    ("kind", "operation"), [("Pod", "UPDATE"), ("Pod", "DELETE"), ("ReplicaSet", "CREATE")],
    ids=["pod UPDATE → no lookup", "pod DELETE → no lookup", "not a pod → no lookup"],
)  # fmt: skip
def test_only_pod_creates_are_looked_up(kind: str, operation: str) -> None:
    handler, api = admitter({RS_PATH: rs(live_for("vk-a"))})
    obj = {**pod([owner_ref()]), "kind": kind}
    response = answer(handler.handle(json.dumps(review(obj, operation=operation)).encode()))
    assert response["response"] == {"uid": "req-1", "allowed": True} and api.asked == []


def test_stashing_is_passed_through_and_described(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi({})
    handler = admission.Admitter(
        fetch=api, virtual_nodes=lambda: [VK_A, VK_B], stash_lower_constraints=True, clock=lambda: NOW
    )
    obj = pod(spec={"nodeSelector": {"disk": "ssd"}})
    with caplog.at_level(logging.INFO, logger="provider.webhook.admission"):
        response = answer(handler.handle(json.dumps(review(obj)).encode()))
    assert "nodeSelector" not in patched_spec(response)
    assert [r.getMessage() for r in caplog.records] == [
        f"admission: pod shop/web-1-: added nodeSelector moved to {keys.STASHED_CONSTRAINTS_ANNOTATION}"
    ]


def test_a_failing_lookup_source_still_admits_the_pod(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> list[Any]:
        raise RuntimeError("bug")

    handler = admission.Admitter(fetch=FakeApi({RS_PATH: rs(None)}), virtual_nodes=broken, clock=lambda: NOW)
    with caplog.at_level(logging.ERROR, logger="provider.webhook.admission"):
        response = answer(handler.handle(json.dumps(review(pod([owner_ref()]))).encode()))
    assert response["response"] == {"uid": "req-1", "allowed": True}
    assert "admitting it unchanged" in caplog.text


def test_describe_changes_reports_only_what_the_patch_adds() -> None:
    existing = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": keys.HOSTNAME_LABEL, "operator": "NotIn", "values": ["old"]}]}]}}}}  # fmt: skip
    obj = pod(spec=existing)
    handler, _api = admitter({RS_PATH: rs(live_for("vk-a"))})
    response = handler.admit(review(pod([owner_ref()], spec=existing))["request"])
    assert admission.describe_changes(obj, response) == [f"{keys.HOSTNAME_LABEL} NotIn [vk-a]"]
    assert admission.describe_changes(obj, {"response": {"allowed": True}}) == []


def test_pod_label_falls_back_to_generate_name() -> None:
    assert admission.pod_label(review(pod())["request"]) == "shop/web-1-"
    named = pod()
    named["metadata"]["name"] = "web-1-abc"
    assert admission.pod_label(review(named)["request"]) == "shop/web-1-abc"
