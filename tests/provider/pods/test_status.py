from __future__ import annotations

import copy
from typing import Any

import pytest

from provider.pods import status

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:05:00Z"
HOST = "10.0.0.7"
UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/3 nodes are available: 3 Insufficient cpu.",
    "lastTransitionTime": T0,
}
CREATE_FAILED = {"type": "PodScheduled", "status": "False", "reason": "ProviderCreateFailed"}
RUNNING_STATUS: dict[str, Any] = {
    "phase": "Running",
    "conditions": [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": T0},
        {"type": "Ready", "status": "True", "lastTransitionTime": T0},
    ],
    "containerStatuses": [
        {
            "name": "app",
            "image": "web:1",
            "imageID": "docker.io/web@sha256:1",
            "ready": True,
            "started": True,
            "restartCount": 2,
            "state": {"running": {"startedAt": T0}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        }
    ],
    "initContainerStatuses": [
        {"name": "setup", "image": "setup:1", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}
    ],
    "hostIP": "192.168.5.20",
    "hostIPs": [{"ip": "192.168.5.20"}],
    "podIP": "10.1.0.5",
    "podIPs": [{"ip": "10.1.0.5"}],
    "startTime": T0,
    "qosClass": "Burstable",
}


def pod(status_: dict[str, Any] | None = None, *, deleting: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"namespace": "shop", "name": "web", "uid": "u1"},
        "spec": {
            "nodeName": "vk-a",
            "containers": [{"name": "app", "image": "web:1"}, {"name": "proxy", "image": "proxy:1"}],
            "initContainers": [{"name": "setup", "image": "setup:1"}],
        },
        "status": copy.deepcopy(status_) if status_ is not None else {"phase": "Pending"},
    }
    if deleting:
        body["metadata"]["deletionTimestamp"] = T1
    return body


def applied(upper: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    """The upper status after a merge patch (top-level status keys; null deletes)."""
    result = copy.deepcopy(upper)
    for key, value in (patch or {}).get("status", {}).items():
        if value is None:
            result["status"].pop(key, None)
        else:
            result["status"][key] = value
    return result


# -- status_patch -------------------------------------------------------------------


def test_running_mirror_status_is_copied_up_with_the_virtual_node_as_host() -> None:
    patch = status.status_patch(pod(), pod(RUNNING_STATUS), host_ip=HOST)
    assert patch is not None
    copied = patch["status"]
    for field in ("phase", "conditions", "containerStatuses", "initContainerStatuses", "podIP", "podIPs", "startTime"):
        assert copied[field] == RUNNING_STATUS[field], field
    assert (copied["hostIP"], copied["hostIPs"]) == (HOST, [{"ip": HOST}])


def test_unschedulable_mirror_shows_upstairs_with_its_transition_time() -> None:
    lower = pod({"phase": "Pending", "conditions": [UNSCHEDULABLE], "qosClass": "Burstable"})
    upper = pod({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]})
    patch = status.status_patch(upper, lower, host_ip=HOST)
    assert patch is not None
    assert patch["status"]["conditions"] == [UNSCHEDULABLE]
    assert "hostIP" not in patch["status"]  # not placed below: no host yet, and none upstairs to clear


def test_nothing_to_write_when_the_upper_status_already_matches() -> None:
    lower = pod(RUNNING_STATUS)
    upper = applied(pod(), status.status_patch(pod(), lower, host_ip=HOST))
    assert status.status_patch(upper, lower, host_ip=HOST) is None


@pytest.mark.parametrize(
    "field",
    ["reason", "message", "podIP", "podIPs", "startTime", "ephemeralContainerStatuses"],
    ids=lambda f: f"{f} gone below -> null upstairs",
)
def test_fields_missing_below_are_removed_upstairs(field: str) -> None:
    upper = pod({**RUNNING_STATUS, "reason": "r", "message": "m", "ephemeralContainerStatuses": [{"name": "d"}]})
    lower_status = {k: v for k, v in upper["status"].items() if k != field}
    upper["status"]["hostIP"], upper["status"]["hostIPs"] = HOST, [{"ip": HOST}]
    patch = status.status_patch(upper, pod(lower_status), host_ip=HOST)
    assert patch == {"status": {field: None}}


def test_evicted_lower_pod_reason_and_message_are_copied() -> None:
    lower = pod({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."})
    patch = status.status_patch(pod(), lower, host_ip=HOST)
    assert patch is not None
    assert (patch["status"]["phase"], patch["status"]["reason"]) == ("Failed", "Evicted")


def test_host_ip_goes_away_when_the_lower_pod_has_none() -> None:
    upper = pod({"phase": "Running", "hostIP": HOST, "hostIPs": [{"ip": HOST}]})
    patch = status.status_patch(upper, pod({"phase": "Running"}), host_ip=HOST)
    assert patch == {"status": {"hostIP": None, "hostIPs": None}}


# -- mirror_reported ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_", "reported"),
    [
        ({"phase": "Pending"}, False),
        ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}, False),
        ({"phase": "Pending", "conditions": [CREATE_FAILED]}, False),
        ({"phase": "Pending", "conditions": [UNSCHEDULABLE]}, True),
        ({"phase": "Pending", "conditions": [{"type": "Initialized", "status": "True"}]}, True),
        ({"phase": "Running", "startTime": T0}, True),
        ({"phase": "Pending", "hostIP": HOST}, True),
        ({"phase": "Running", "containerStatuses": [{"name": "app"}]}, True),
    ],
    ids=[
        "fresh pod -> no mirror seen",
        "bound upstairs only -> no mirror seen",
        "create failure shown -> no mirror seen",
        "lower scheduler's Unschedulable -> mirror seen",
        "kubelet condition -> mirror seen",
        "startTime -> mirror seen",
        "hostIP -> mirror seen",
        "container statuses -> mirror seen",
    ],
)
def test_mirror_reported_only_from_marks_a_lower_pod_leaves(status_: dict[str, Any], reported: bool) -> None:
    assert status.mirror_reported(pod(status_)) is reported


# -- lost_mirror_patch --------------------------------------------------------------


def test_lost_mirror_fails_the_upper_pod_and_terminates_its_containers() -> None:
    patch = status.lost_mirror_patch(pod(RUNNING_STATUS), reason="Evicted", message="gone below", now=T1)
    assert patch is not None
    lost = patch["status"]
    assert (lost["phase"], lost["reason"], lost["message"]) == ("Failed", "Evicted", "gone below")
    app, proxy = lost["containerStatuses"]
    assert app["state"] == {
        "terminated": {
            "exitCode": 137,
            "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated",
            "startedAt": T0,
            "finishedAt": T1,
        }
    }
    assert (app["ready"], app["restartCount"], app["imageID"]) == (False, 2, "docker.io/web@sha256:1")
    assert app["lastState"] == RUNNING_STATUS["containerStatuses"][0]["lastState"]
    assert (proxy["name"], proxy["image"], proxy["restartCount"]) == ("proxy", "proxy:1", 0)
    assert "startedAt" not in proxy["state"]["terminated"]


def test_lost_mirror_keeps_already_terminated_containers() -> None:
    patch = status.lost_mirror_patch(pod(RUNNING_STATUS), reason="MirrorLost", message="m", now=T1)
    assert patch is not None
    assert patch["status"]["initContainerStatuses"] == RUNNING_STATUS["initContainerStatuses"]


def test_lost_mirror_conditions_say_not_ready_and_disrupted() -> None:
    patch = status.lost_mirror_patch(pod(RUNNING_STATUS), reason="MirrorLost", message="gone", now=T1)
    assert patch is not None
    conditions = {c["type"]: c for c in patch["status"]["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["lastTransitionTime"]) == ("False", T1)
    assert conditions["ContainersReady"]["status"] == "False"
    assert (conditions["DisruptionTarget"]["status"], conditions["DisruptionTarget"]["message"]) == ("True", "gone")
    assert conditions["PodScheduled"] == RUNNING_STATUS["conditions"][0]  # untouched


@pytest.mark.parametrize(
    "upper",
    [pod({"phase": "Succeeded"}), pod({"phase": "Failed"}), pod(RUNNING_STATUS, deleting=True)],
    ids=["succeeded -> none", "already failed -> none", "being deleted -> none"],
)
def test_lost_mirror_leaves_finished_or_deleting_pods_alone(upper: dict[str, Any]) -> None:
    assert status.lost_mirror_patch(upper, reason="MirrorLost", message="m", now=T1) is None


# -- create_failure_patch -----------------------------------------------------------


def test_create_failure_shows_as_pod_scheduled_false() -> None:
    upper = pod(
        {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": T0}]}
    )
    patch = status.create_failure_patch(upper, reason="ProviderCreateFailed", message="quota exceeded", now=T1)
    assert patch == {
        "status": {
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "ProviderCreateFailed",
                    "message": "quota exceeded",
                    "lastTransitionTime": T1,
                }
            ]
        }
    }


def test_create_failure_already_shown_writes_nothing() -> None:
    upper = pod()
    shown = applied(upper, status.create_failure_patch(upper, reason="ProviderCreateFailed", message="quota", now=T0))
    assert status.create_failure_patch(shown, reason="ProviderCreateFailed", message="quota", now=T1) is None


def test_new_failure_message_keeps_the_transition_time() -> None:
    upper = pod()
    shown = applied(upper, status.create_failure_patch(upper, reason="ProviderCreateFailed", message="quota", now=T0))
    patch = status.create_failure_patch(shown, reason="ProviderCreateFailed", message="no class", now=T1)
    assert patch is not None
    (condition,) = patch["status"]["conditions"]
    assert (condition["message"], condition["lastTransitionTime"]) == ("no class", T0)


def test_create_failure_on_a_finished_pod_writes_nothing() -> None:
    assert (
        status.create_failure_patch(pod({"phase": "Failed"}), reason="ProviderCreateFailed", message="m", now=T1)
        is None
    )


def test_create_failure_cannot_pose_as_the_lower_scheduler() -> None:
    with pytest.raises(ValueError, match="reserved"):
        status.create_failure_patch(pod(), reason="Unschedulable", message="m", now=T1)


def test_create_failure_shown_does_not_count_as_a_mirror() -> None:
    upper = pod()
    shown = applied(upper, status.create_failure_patch(upper, reason="ProviderCreateFailed", message="m", now=T0))
    assert status.mirror_reported(shown) is False


def test_status_patch_shares_nothing_with_the_cached_lower_pod() -> None:
    lower = pod(RUNNING_STATUS)
    patch = status.status_patch(pod(), lower, host_ip=HOST)
    assert patch is not None
    patch["status"]["conditions"].append({"type": "X"})
    patch["status"]["containerStatuses"][0]["ready"] = False
    assert lower["status"] == RUNNING_STATUS


BOUND_UPSTAIRS = {"type": "PodScheduled", "status": "True", "lastTransitionTime": T0}


def test_the_upper_schedulers_pod_scheduled_true_stays_while_the_mirror_is_created_and_scheduled() -> None:
    upper = pod({"phase": "Pending", "conditions": [BOUND_UPSTAIRS], "qosClass": "Burstable"})
    created_below = pod({"phase": "Pending", "qosClass": "Burstable"})
    scheduled_below = pod(
        {
            "phase": "Pending",
            "qosClass": "Burstable",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": T1}],
        }
    )
    assert status.status_patch(upper, created_below, host_ip=HOST) is None
    assert status.status_patch(upper, scheduled_below, host_ip=HOST) is None


def test_running_below_keeps_the_upper_pod_scheduled_and_copies_the_rest() -> None:
    upper = pod({"phase": "Pending", "conditions": [BOUND_UPSTAIRS]})
    lower_status = copy.deepcopy(RUNNING_STATUS)
    lower_status["conditions"][0]["lastTransitionTime"] = T1
    patch = status.status_patch(upper, pod(lower_status), host_ip=HOST)
    assert patch is not None
    assert patch["status"]["conditions"] == [BOUND_UPSTAIRS, lower_status["conditions"][1]]
    assert patch["status"]["phase"] == "Running"


def test_unschedulable_below_replaces_pod_scheduled_and_a_later_success_replaces_it_again() -> None:
    upper = pod({"phase": "Pending", "conditions": [BOUND_UPSTAIRS]})
    patch = status.status_patch(upper, pod({"phase": "Pending", "conditions": [UNSCHEDULABLE]}), host_ip=HOST)
    assert patch == {"status": {"conditions": [UNSCHEDULABLE]}}
    stuck = pod({"phase": "Pending", "conditions": [UNSCHEDULABLE]})
    placed = {"type": "PodScheduled", "status": "True", "lastTransitionTime": T1}
    patch = status.status_patch(stuck, pod({"phase": "Pending", "conditions": [placed]}), host_ip=HOST)
    assert patch == {"status": {"conditions": [placed]}}


def test_shows_status_exactly_when_there_is_nothing_to_patch() -> None:
    upper = {"metadata": {"name": "p"}, "status": {"phase": "Pending", "qosClass": "BestEffort"}}
    for lower_status in ({"phase": "Pending", "qosClass": "BestEffort"}, {"phase": "Running", "podIP": "10.0.0.2"}):
        lower = {"metadata": {"name": "p"}, "status": lower_status}
        patch = status.status_patch(upper, lower, host_ip="10.9.9.9")
        assert status.shows_status(upper, lower, host_ip="10.9.9.9") == (patch is None)
