from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from descheduler import keys
from provider.pods import mirror

UP, VN = "up", "vk-a"
OWNED = {keys.UPPER_CLUSTER_LABEL: UP, keys.VIRTUAL_NODE_LABEL: VN}
TOKEN_MOUNT = {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
TOKEN_VOLUME = {
    "name": "kube-api-access-x7k2p",
    "projected": {
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        ]
    },
}
CONFIG_MOUNT = {"name": "config", "mountPath": "/etc/app"}
CONFIG_VOLUME = {"name": "config", "configMap": {"name": "app-config"}}


def upper_pod(name: str = "web", *, uid: str = "u1", node: str | None = VN, **spec: Any) -> dict[str, Any]:
    """An upper pod as the API server returns it, with the usual server-set and admission-set fields."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": "shop",
            "name": name,
            "generateName": "web-",
            "uid": uid,
            "resourceVersion": "42",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "abc"},
            "annotations": {"team": "blue"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs1"}],
            "finalizers": ["example.com/keep"],
            "managedFields": [{"manager": "kube-controller-manager"}],
        },
        "spec": {
            "serviceAccountName": "app",
            "serviceAccount": "app",
            "containers": [
                {"name": "app", "image": "web:1", "volumeMounts": [CONFIG_MOUNT, TOKEN_MOUNT]},
                {"name": "proxy", "image": "proxy:1", "volumeMounts": [TOKEN_MOUNT]},
            ],
            "initContainers": [{"name": "setup", "image": "setup:1", "volumeMounts": [TOKEN_MOUNT]}],
            "volumes": [CONFIG_VOLUME, TOKEN_VOLUME],
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            "priority": 0,
            "preemptionPolicy": "PreemptLowerPriority",
            "enableServiceLinks": True,
        },
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]},
    }
    if node is not None:
        body["spec"]["nodeName"] = node
    body["spec"].update(spec)
    return body


def created(upper: dict[str, Any], *, uid: str = "l1") -> dict[str, Any]:
    """What the lower API server stores for the mirror of ``upper``: our body plus server fields."""
    body = mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)
    body["metadata"].update({"uid": uid, "resourceVersion": "7", "creationTimestamp": "2024-05-01T10:00:01Z"})
    for container in body["spec"]["containers"]:
        container.setdefault("terminationMessagePath", "/dev/termination-log")
    body["spec"]["serviceAccount"] = body["spec"]["serviceAccountName"]
    body["status"] = {"phase": "Running", "podIP": "10.1.0.5"}
    return body


def plan(upper: dict[str, Any] | None, lower: dict[str, Any] | None) -> mirror.Action:
    return mirror.plan(upper, lower, upper_cluster=UP, virtual_node=VN)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies a JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def foreign(upper: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    lower = created(upper)
    lower["metadata"]["labels"] = labels
    return lower


# -- lower_pod ----------------------------------------------------------------------


def test_mirror_keeps_namespace_name_and_labels_and_adds_ownership() -> None:
    meta = mirror.lower_pod(upper_pod(), upper_cluster=UP, virtual_node=VN)["metadata"]
    assert (meta["namespace"], meta["name"]) == ("shop", "web")
    assert meta["labels"] == {"app": "web", "pod-template-hash": "abc", **OWNED}
    assert meta["annotations"]["team"] == "blue"
    assert meta["annotations"][keys.UPPER_UID_ANNOTATION] == "u1"


def test_mirror_has_no_server_or_controller_metadata() -> None:
    meta = mirror.lower_pod(upper_pod(), upper_cluster=UP, virtual_node=VN)["metadata"]
    assert set(meta) == {"namespace", "name", "labels", "annotations"}


def test_mirror_is_unbound_and_has_no_status() -> None:
    body = mirror.lower_pod(upper_pod(), upper_cluster=UP, virtual_node=VN)
    assert "nodeName" not in body["spec"]
    assert "status" not in body
    assert (body["apiVersion"], body["kind"]) == ("v1", "Pod")


def test_fields_lower_admission_computes_are_left_to_it() -> None:
    upper = upper_pod(overhead={"cpu": "250m"}, runtimeClassName="kata", priorityClassName="high", priority=1000)
    spec = mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)["spec"]
    assert not {"priority", "preemptionPolicy", "overhead"} & set(spec)
    assert (spec["priorityClassName"], spec["runtimeClassName"]) == ("high", "kata")


def test_the_upper_scheduler_name_is_not_mirrored() -> None:
    upper = upper_pod(schedulerName="tensile-extended")
    assert "schedulerName" not in mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)["spec"]


def test_ephemeral_containers_are_not_mirrored() -> None:
    upper = upper_pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}])
    assert "ephemeralContainers" not in mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)["spec"]


def test_projected_token_volume_and_its_mounts_are_stripped_everywhere() -> None:
    spec = mirror.lower_pod(upper_pod(), upper_cluster=UP, virtual_node=VN)["spec"]
    assert spec["volumes"] == [CONFIG_VOLUME]
    assert spec["containers"][0]["volumeMounts"] == [CONFIG_MOUNT]
    assert spec["containers"][1]["volumeMounts"] == []
    assert spec["initContainers"][0]["volumeMounts"] == []


@pytest.mark.parametrize(
    ("volume", "stripped"),
    [
        ({"name": "default-token-abcde", "secret": {"secretName": "default-token-abcde"}}, True),
        ({"name": "token", "secret": {"secretName": "app-token-q8z"}}, True),
        ({"name": "creds", "secret": {"secretName": "db-password"}}, False),
        ({"name": "creds", "secret": {"secretName": "other-token-q8z"}}, False),
        (
            {"name": "vault", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault"}}]}},
            False,
        ),
    ],
    ids=[
        "legacy default-token volume -> stripped",
        "secret of the pod's account token -> stripped",
        "ordinary secret -> kept",
        "token-like secret of another account -> kept",
        "user-defined projected volume -> kept",
    ],
)
def test_which_secret_volumes_are_token_volumes(volume: dict[str, Any], stripped: bool) -> None:
    mount = {"name": volume["name"], "mountPath": "/x"}
    upper = upper_pod(volumes=[volume], containers=[{"name": "app", "image": "web:1", "volumeMounts": [mount]}])
    spec = mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)["spec"]
    assert (spec["volumes"] == []) is stripped
    assert (spec["containers"][0]["volumeMounts"] == []) is stripped


def test_mirror_runs_as_lower_default_account_without_any_token() -> None:
    spec = mirror.lower_pod(upper_pod(), upper_cluster=UP, virtual_node=VN)["spec"]
    assert spec["serviceAccountName"] == "default"
    assert "serviceAccount" not in spec
    assert spec["automountServiceAccountToken"] is False


def test_building_the_mirror_does_not_touch_the_upper_pod() -> None:
    upper = upper_pod(nodeSelector={"type": "virtual-kubelet"})
    before = copy.deepcopy(upper)
    mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)
    assert upper == before


def test_upper_ownership_labels_are_replaced_by_ours() -> None:
    upper = upper_pod()
    upper["metadata"]["labels"][keys.UPPER_CLUSTER_LABEL] = "grand-upper"
    labels = mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)["metadata"]["labels"]
    assert labels[keys.UPPER_CLUSTER_LABEL] == UP


STASH: dict[str, Any] = {
    "nodeSelector": {"disktype": "ssd"},
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
        }
    },
    "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
}
UPPER_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["vk-b"]}]}
            ]
        }
    },
    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []},
}


def stashed_upper(stash: Any) -> dict[str, Any]:
    upper = upper_pod(
        nodeSelector={"type": "virtual-kubelet", "kubernetes.io/os": "linux"}, affinity=copy.deepcopy(UPPER_AFFINITY)
    )
    upper["metadata"]["annotations"][keys.STASHED_CONSTRAINTS_ANNOTATION] = (
        stash if isinstance(stash, str) else json.dumps(stash)
    )
    return upper


def test_stashed_constraints_replace_the_virtual_node_ones() -> None:
    body = mirror.lower_pod(stashed_upper(STASH), upper_cluster=UP, virtual_node=VN)
    spec = body["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "disktype": "ssd"}
    assert spec["affinity"] == {
        "nodeAffinity": STASH["nodeAffinity"],
        "podAntiAffinity": UPPER_AFFINITY["podAntiAffinity"],
    }
    assert spec["tolerations"] == upper_pod()["spec"]["tolerations"] + STASH["tolerations"]
    assert keys.STASHED_CONSTRAINTS_ANNOTATION not in body["metadata"]["annotations"]


def test_tolerations_already_present_are_not_duplicated() -> None:
    upper = stashed_upper({"tolerations": upper_pod()["spec"]["tolerations"]})
    spec = mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)["spec"]
    assert spec["tolerations"] == upper_pod()["spec"]["tolerations"]


def test_without_a_stash_virtual_node_constraints_are_dropped() -> None:
    upper = upper_pod(
        nodeSelector={"type": "virtual-kubelet"}, affinity={"nodeAffinity": UPPER_AFFINITY["nodeAffinity"]}
    )
    spec = mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN)["spec"]
    assert "nodeSelector" not in spec
    assert "affinity" not in spec
    assert spec["tolerations"] == upper["spec"]["tolerations"]


@pytest.mark.parametrize(
    ("stash", "selector"),
    [
        ("{not json", {"kubernetes.io/os": "linux"}),
        ("[1, 2]", {"kubernetes.io/os": "linux"}),
        ({"nodeSelector": ["disktype"], "tolerations": STASH["tolerations"]}, {"kubernetes.io/os": "linux"}),
    ],
    ids=["unparsable -> ignored", "not an object -> ignored", "malformed part -> only that part ignored"],
)
def test_a_bad_stash_never_blocks_the_mirror(
    stash: Any, selector: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="provider.mirror"):
        spec = mirror.lower_pod(stashed_upper(stash), upper_cluster=UP, virtual_node=VN)["spec"]
    assert spec["nodeSelector"] == selector
    assert "nodeAffinity" not in spec.get("affinity", {})
    assert "shop/web" in caplog.text
    if isinstance(stash, dict):
        assert STASH["tolerations"][0] in spec["tolerations"]


# -- is_own_mirror ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "own"),
    [
        (OWNED, True),
        ({keys.UPPER_CLUSTER_LABEL: UP}, False),
        ({keys.VIRTUAL_NODE_LABEL: VN}, False),
        ({keys.UPPER_CLUSTER_LABEL: UP, keys.VIRTUAL_NODE_LABEL: "vk-b"}, False),
        ({keys.UPPER_CLUSTER_LABEL: "other", keys.VIRTUAL_NODE_LABEL: VN}, False),
        ({}, False),
    ],
    ids=[
        "both labels match -> ours",
        "virtual node label missing -> not ours",
        "upper cluster label missing -> not ours",
        "another virtual node -> not ours",
        "another upper cluster -> not ours",
        "no labels -> not ours",
    ],
)
def test_ownership_needs_both_labels(labels: dict[str, str], own: bool) -> None:
    assert mirror.is_own_mirror({"metadata": {"labels": labels}}, upper_cluster=UP, virtual_node=VN) is own


def test_object_without_labels_is_not_ours() -> None:
    assert mirror.is_own_mirror({"metadata": {}}, upper_cluster=UP, virtual_node=VN) is False


# -- plan: create, conflict, nothing ------------------------------------------------


def test_bound_live_pod_without_mirror_is_created() -> None:
    upper = upper_pod()
    assert plan(upper, None) == mirror.Create(mirror.lower_pod(upper, upper_cluster=UP, virtual_node=VN))


def test_failed_create_shown_upstairs_is_retried() -> None:
    upper = upper_pod()
    upper["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "ProviderCreateFailed"}]
    assert isinstance(plan(upper, None), mirror.Create)


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {keys.UPPER_CLUSTER_LABEL: UP, keys.VIRTUAL_NODE_LABEL: "vk-b"},
        {keys.UPPER_CLUSTER_LABEL: "other", keys.VIRTUAL_NODE_LABEL: VN},
    ],
    ids=[
        "plain lower pod of that name -> conflict",
        "mirror of another virtual node -> conflict",
        "mirror of another upper cluster -> conflict",
    ],
)
def test_foreign_lower_pod_is_a_conflict_never_an_action(labels: dict[str, str]) -> None:
    action = plan(upper_pod(), foreign(upper_pod(), labels))
    assert isinstance(action, mirror.Conflict)
    assert "shop/web" in action.reason


@pytest.mark.parametrize(
    "upper",
    [
        None,
        upper_pod(node="elsewhere"),
        {**upper_pod(), "metadata": {**upper_pod()["metadata"], "deletionTimestamp": "2024-05-01T10:05:00Z"}},
        {**upper_pod(), "status": {"phase": "Failed"}},
    ],
    ids=[
        "upper gone + foreign lower -> nothing",
        "upper elsewhere + foreign lower -> nothing",
        "upper deleting + foreign lower -> nothing",
        "upper finished + foreign lower -> nothing",
    ],
)
def test_foreign_lower_pod_is_never_deleted(upper: dict[str, Any] | None) -> None:
    assert isinstance(plan(upper, foreign(upper_pod(), {})), mirror.Nothing)


def deleting(pod: dict[str, Any], grace: int | None = 30) -> dict[str, Any]:
    pod = copy.deepcopy(pod)
    pod["metadata"]["deletionTimestamp"] = "2024-05-01T10:05:00Z"
    if grace is not None:
        pod["metadata"]["deletionGracePeriodSeconds"] = grace
    return pod


def finished(pod: dict[str, Any], phase: str = "Succeeded") -> dict[str, Any]:
    pod = copy.deepcopy(pod)
    pod["status"]["phase"] = phase
    return pod


@pytest.mark.parametrize(
    "upper",
    [None, upper_pod(node=None), upper_pod(node="vk-b"), deleting(upper_pod()), finished(upper_pod(), "Failed")],
    ids=[
        "neither pod -> nothing",
        "upper not bound yet -> nothing",
        "upper bound elsewhere -> nothing",
        "upper deleting, no mirror -> nothing",
        "upper finished, no mirror -> nothing",
    ],
)
def test_no_mirror_is_created_for_pods_that_do_not_want_one(upper: dict[str, Any] | None) -> None:
    assert isinstance(plan(upper, None), mirror.Nothing)


@pytest.mark.parametrize(
    "status",
    [
        {"phase": "Running", "startTime": "2024-05-01T10:00:02Z"},
        {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]},
    ],
    ids=["mirror ran and vanished -> nothing (fail upstairs)", "unschedulable mirror vanished -> nothing"],
)
def test_lost_mirror_is_not_recreated(status: dict[str, Any]) -> None:
    upper = upper_pod()
    upper["status"] = status
    action = plan(upper, None)
    assert isinstance(action, mirror.Nothing)
    assert "lost" in action.reason


# -- plan: delete -------------------------------------------------------------------


def test_mirror_of_a_vanished_upper_pod_is_deleted_with_uid_precondition() -> None:
    assert plan(None, created(upper_pod(), uid="l9")) == mirror.Delete(grace_period_seconds=None, uid="l9")


def test_deleting_upper_pod_passes_its_grace_period_down() -> None:
    lower = created(upper_pod(), uid="l9")
    assert plan(deleting(upper_pod(), grace=45), lower) == mirror.Delete(grace_period_seconds=45, uid="l9")


def test_finished_then_deleted_upper_pod_deletes_its_mirror() -> None:
    lower = created(upper_pod(), uid="l9")
    assert plan(deleting(finished(upper_pod()), grace=0), lower) == mirror.Delete(grace_period_seconds=0, uid="l9")


def test_mirror_of_an_older_pod_with_the_same_name_is_deleted_not_adopted() -> None:
    lower = created(upper_pod(uid="old"), uid="l9")
    assert plan(upper_pod(uid="new"), lower) == mirror.Delete(grace_period_seconds=None, uid="l9")


def test_our_mirror_without_upper_uid_is_deleted_not_adopted() -> None:
    lower = created(upper_pod(), uid="l9")
    del lower["metadata"]["annotations"][keys.UPPER_UID_ANNOTATION]
    assert plan(upper_pod(), lower) == mirror.Delete(grace_period_seconds=None, uid="l9")


def test_mirror_of_a_pod_bound_elsewhere_is_deleted() -> None:
    lower = created(upper_pod(), uid="l9")
    assert plan(upper_pod(node="vk-b"), lower) == mirror.Delete(grace_period_seconds=None, uid="l9")


@pytest.mark.parametrize(
    ("upper_grace", "lower_grace", "expected"),
    [
        (30, 30, mirror.Nothing),
        (60, 30, mirror.Nothing),
        (0, 30, mirror.Delete),
        (None, 30, mirror.Nothing),
    ],
    ids=[
        "same grace -> nothing (already deleting)",
        "longer grace -> nothing",
        "force delete upstairs -> delete again with 0",
        "upper gone -> nothing (already deleting)",
    ],
)
def test_mirror_already_being_deleted_is_deleted_again_only_to_shorten_grace(
    upper_grace: int | None, lower_grace: int, expected: type
) -> None:
    lower = deleting(created(upper_pod(), uid="l9"), grace=lower_grace)
    upper = deleting(upper_pod(), grace=upper_grace) if upper_grace is not None else None
    action = plan(upper, lower)
    assert isinstance(action, expected)
    if isinstance(action, mirror.Delete):
        assert (action.grace_period_seconds, action.uid) == (upper_grace, "l9")


# -- plan: nothing / update ---------------------------------------------------------


def test_finished_upper_pod_leaves_its_mirror_alone() -> None:
    assert isinstance(plan(finished(upper_pod()), created(upper_pod())), mirror.Nothing)


def test_live_upper_pod_leaves_a_terminating_mirror_alone() -> None:
    upper = upper_pod(activeDeadlineSeconds=5)
    action = plan(upper, deleting(created(upper_pod())))
    assert action == mirror.Nothing("the mirror is being deleted")


def test_freshly_created_mirror_plans_nothing_so_a_restart_is_a_no_op() -> None:
    upper = upper_pod()
    assert plan(upper, created(upper)) == mirror.Nothing("the mirror is up to date")


def test_image_change_patches_the_whole_lower_list_with_only_the_image_changed() -> None:
    lower = created(upper_pod())
    upper = upper_pod()
    upper["spec"]["containers"][1]["image"] = "proxy:2"
    action = plan(upper, lower)
    assert isinstance(action, mirror.Update)
    expected = copy.deepcopy(lower["spec"]["containers"])
    expected[1]["image"] = "proxy:2"
    assert action.patch == {"spec": {"containers": expected}}


def test_init_container_image_change_is_patched() -> None:
    lower = created(upper_pod())
    upper = upper_pod()
    upper["spec"]["initContainers"][0]["image"] = "setup:2"
    action = plan(upper, lower)
    assert isinstance(action, mirror.Update)
    assert [c["image"] for c in action.patch["spec"]["initContainers"]] == ["setup:2"]
    assert "containers" not in action.patch["spec"]


def test_active_deadline_change_is_patched() -> None:
    lower = created(upper_pod())
    action = plan(upper_pod(activeDeadlineSeconds=600), lower)
    assert action == mirror.Update({"spec": {"activeDeadlineSeconds": 600}})


def test_label_and_annotation_changes_are_patched_and_removals_are_nulls() -> None:
    lower = created(upper_pod())
    upper = upper_pod()
    upper["metadata"]["labels"] = {"app": "web", "tier": "front"}  # pod-template-hash removed, tier added
    upper["metadata"]["annotations"] = {"team": "red"}
    action = plan(upper, lower)
    assert isinstance(action, mirror.Update)
    meta = action.patch["metadata"]
    assert meta["labels"] == {"tier": "front", "pod-template-hash": None}
    assert meta["annotations"]["team"] == "red"
    assert "spec" not in action.patch


def test_annotations_added_by_lower_controllers_are_kept() -> None:
    lower = created(upper_pod())
    lower["metadata"]["annotations"]["cni.projectcalico.org/podIP"] = "10.1.0.5/32"
    lower["metadata"]["labels"]["security.istio.io/tlsMode"] = "istio"
    assert plan(upper_pod(), lower) == mirror.Nothing("the mirror is up to date")


def test_mirror_without_a_copy_record_gets_one_and_loses_nothing() -> None:
    lower = created(upper_pod())
    del lower["metadata"]["annotations"][mirror.COPIED_KEYS_ANNOTATION]
    upper = upper_pod()
    del upper["metadata"]["labels"]["pod-template-hash"]
    action = plan(upper, lower)
    assert isinstance(action, mirror.Update)
    assert "labels" not in action.patch["metadata"]  # nothing removed without a record
    assert mirror.COPIED_KEYS_ANNOTATION in action.patch["metadata"]["annotations"]


def test_tampered_ownership_and_uid_annotation_cannot_be_removed_by_a_patch() -> None:
    lower = created(upper_pod())
    upper = upper_pod()
    upper["metadata"]["labels"][keys.VIRTUAL_NODE_LABEL] = "vk-b"
    upper["metadata"]["annotations"][keys.UPPER_UID_ANNOTATION] = "forged"
    assert plan(upper, lower) == mirror.Nothing("the mirror is up to date")


def test_applying_the_update_converges() -> None:
    lower = created(upper_pod())
    upper = upper_pod(activeDeadlineSeconds=600)
    upper["metadata"]["labels"] = {"app": "web", "tier": "front"}
    upper["metadata"]["annotations"] = {"team": "red", "new": "yes"}
    upper["spec"]["containers"][0]["image"] = "web:2"
    action = plan(upper, lower)
    assert isinstance(action, mirror.Update)
    patched = merge_patch(lower, action.patch)
    assert plan(upper, patched) == mirror.Nothing("the mirror is up to date")
    assert patched["metadata"]["labels"] == {"app": "web", "tier": "front", **OWNED}
    assert patched["spec"]["containers"][0]["terminationMessagePath"] == "/dev/termination-log"


def test_update_patch_shares_nothing_with_the_cached_lower_pod() -> None:
    lower = created(upper_pod())
    before = copy.deepcopy(lower)
    upper = upper_pod()
    upper["spec"]["containers"][0]["image"] = "web:2"
    action = plan(upper, lower)
    assert isinstance(action, mirror.Update)
    for container in action.patch["spec"]["containers"]:
        container["volumeMounts"].append({"name": "x"})
    assert lower == before


def test_plan_inputs_ignore_status_changes_of_a_mirror_but_not_of_its_upper_pod() -> None:
    upper = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"a": "b"}},
        "spec": {"nodeName": "vk-a", "containers": [{"name": "c", "image": "i:1"}]},
        "status": {"phase": "Pending"},
    }
    running = {**upper, "status": {"phase": "Pending", "podIP": "10.0.0.1", "startTime": "2024-01-01T00:00:00Z"}}
    assert mirror.plan_inputs(running, upper=False) == mirror.plan_inputs(upper, upper=False)
    assert mirror.plan_inputs(running, upper=True) != mirror.plan_inputs(upper, upper=True)  # a mirror reported
    for changed in (
        {**upper, "metadata": {**upper["metadata"], "labels": {"a": "c"}}},
        {**upper, "metadata": {**upper["metadata"], "deletionTimestamp": "2024-01-01T00:00:00Z"}},
        {**upper, "spec": {**upper["spec"], "containers": [{"name": "c", "image": "i:2"}]}},
        {**upper, "spec": {**upper["spec"], "activeDeadlineSeconds": 5}},
    ):
        assert mirror.plan_inputs(changed, upper=False) != mirror.plan_inputs(upper, upper=False)
