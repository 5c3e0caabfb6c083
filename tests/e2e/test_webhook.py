"""The admission webhook as a real process behind the real upper kube-apiserver.

Pods created by a ReplicaSet that carries an avoidance record are kept off the avoided virtual
node; expired entries add nothing; with the process killed, pods are still created (failurePolicy
Ignore); in ``--tls-secret`` mode two replicas share one Secret and fill in the configuration's
caBundle, running as the ServiceAccount of cronjobs/webhook/rbac.yaml; replicas racing on the Secret
or the configuration (a write injected between our read and our write) converge.

Virtual nodes are plain Node objects created with kubectl (kwok on the upper cluster manages only
annotated nodes, so they stay as created). Every test uses its own namespace and configuration
name and removes the cluster-scoped objects it made, also on failure.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from descheduler import avoidance, keys
from descheduler.kube.client import Kube, load_configuration
from provider.serving import certs, tls
from provider.webhook import ca_bundle
from tests.cluster import clusters
from tests.e2e.support import webhooks
from tests.e2e.support.providers import wait_for

ROOT = Path(__file__).resolve().parents[2]
RBAC = ROOT / "cronjobs" / "webhook" / "rbac.yaml"
VIRTUAL = {"type": "virtual-kubelet"}


@dataclass(frozen=True)
class Env:
    namespace: str
    vk_a: str
    vk_b: str
    suffix: str


@pytest.fixture(scope="module")
def env(upper: clusters.Cluster) -> Iterator[Env]:
    """A namespace and two virtual nodes, vk-a-* and vk-b-*, both labelled type=virtual-kubelet."""
    suffix = uuid.uuid4().hex[:6]
    made = Env(f"webhook-{suffix}", f"vk-a-{suffix}", f"vk-b-{suffix}", suffix)
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {**VIRTUAL, "kubernetes.io/hostname": name, "tensile.io/test": group}},
        }
        for name, group in ((made.vk_a, f"{suffix}-a"), (made.vk_b, f"{suffix}-b"))
    ]
    try:
        upper.kubectl("create", "namespace", made.namespace)
        upper.kubectl("create", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}))
        wait_for(
            lambda: bool(upper.kubectl("get", "sa", "default", "-n", made.namespace, "--ignore-not-found").strip()),
            what="the namespace's default ServiceAccount",
        )
        yield made
    finally:
        upper.kubectl("delete", "node", made.vk_a, made.vk_b, "--ignore-not-found", "--wait=false")
        upper.kubectl("delete", "namespace", made.namespace, "--ignore-not-found", "--wait=false")


@pytest.fixture
def processes() -> Iterator[list[webhooks.WebhookProcess]]:
    """Webhook processes a test starts; killed afterwards whatever happened."""
    started: list[webhooks.WebhookProcess] = []
    yield started
    for process in started:
        process.kill()


@pytest.fixture
def config_name(upper: clusters.Cluster) -> Iterator[str]:
    """A unique MutatingWebhookConfiguration name, deleted after the test."""
    name = f"tensile-test-{uuid.uuid4().hex[:8]}"
    yield name
    webhooks.unregister(upper, name)


def start(
    upper: clusters.Cluster, processes: list[webhooks.WebhookProcess], tmp_path: Path, name: str, *args: str
) -> webhooks.WebhookProcess:
    """A webhook process (debug logging: tests read its "no change" lines), ready to serve."""
    process = webhooks.WebhookProcess(upper, name, tmp_path, ["-v", *args])
    processes.append(process)
    process.start()
    process.wait_ready()
    return process


def replica_set(name: str, namespace: str, record: avoidance.Record, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {keys.AVOID_NODES_ANNOTATION: avoidance.encode(record)},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}], "terminationGracePeriodSeconds": 0},
            },
        },
    }


def create_owner(upper: clusters.Cluster, rs: dict[str, Any]) -> str:
    """Create the ReplicaSet; returns its uid."""
    out = upper.kubectl("create", "-o", "json", "-f", "-", input_text=json.dumps(rs))
    return str(json.loads(out)["metadata"]["uid"])


def probe(namespace: str, name: str, owner: str, uid: str) -> dict[str, Any]:
    """A pod controlled by ReplicaSet ``owner``, for server-side dry runs."""
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": uid, "controller": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [ref]},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def wait_until_mutating(upper: clusters.Cluster, pod: dict[str, Any], expected: list[list[str]]) -> None:
    """Until the apiserver calls the webhook for ``pod`` (configurations take effect asynchronously)."""
    wait_for(
        lambda: (found := webhooks.admitted(upper, pod)) is not None and webhooks.not_in_hostnames(found) == expected,
        timeout=30,
        what=f"the webhook to add NotIn {expected} to {pod['metadata']['name']}",
    )


def owned_pods(upper: clusters.Cluster, namespace: str, app: str, count: int) -> list[dict[str, Any]]:
    def listed() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            upper.kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json")
        )["items"]
        return items

    wait_for(lambda: len(listed()) == count, timeout=60, what=f"{count} pods of {app}")
    return listed()


def live(*nodes: str) -> avoidance.Record:
    return {node: time.time() + 3600 for node in nodes}


def test_pods_of_an_owner_with_a_live_avoidance_get_hostname_not_in(
    upper: clusters.Cluster, env: Env, processes: list[webhooks.WebhookProcess], tmp_path: Path, config_name: str
) -> None:
    process = start(upper, processes, tmp_path, "live")
    webhooks.register(upper, config_name, url=process.url, ca_bundle=process.ca_bundle(), namespaces=[env.namespace])
    gone = f"vk-gone-{env.suffix}"
    record = {**live(env.vk_a), gone: time.time() - 60}  # the expired entry must add nothing
    uid = create_owner(upper, replica_set("avoiding", env.namespace, record, replicas=0))
    wait_until_mutating(upper, probe(env.namespace, "probe-live", "avoiding", uid), [[env.vk_a]])

    upper.kubectl("scale", "replicaset", "avoiding", "-n", env.namespace, "--replicas=2")
    pods = owned_pods(upper, env.namespace, "avoiding", 2)
    assert [webhooks.not_in_hostnames(p) for p in pods] == [[[env.vk_a]], [[env.vk_a]]]
    assert f"admission: pod {env.namespace}/avoiding-: added kubernetes.io/hostname NotIn [{env.vk_a}]" in (
        process.logs()
    )

    create_owner(upper, replica_set("expired", env.namespace, {env.vk_a: time.time() - 60}, replicas=1))
    [pod] = owned_pods(upper, env.namespace, "expired", 1)
    assert "affinity" not in pod["spec"]
    wait_for(lambda: f"pod {env.namespace}/expired-: no change" in process.logs(), what="the webhook saw the pod")
    assert process.terminate() == 0, "SIGTERM stops it cleanly"


def test_an_avoidance_never_excludes_every_virtual_node(
    upper: clusters.Cluster, env: Env, processes: list[webhooks.WebhookProcess], tmp_path: Path, config_name: str
) -> None:
    # With this selector vk-a is the only virtual node: avoiding it would leave none.
    process = start(upper, processes, tmp_path, "only-a", "--virtual-node-selector", f"tensile.io/test={env.suffix}-a")
    webhooks.register(upper, config_name, url=process.url, ca_bundle=process.ca_bundle(), namespaces=[env.namespace])
    uid_b = create_owner(upper, replica_set("avoid-b", env.namespace, live(env.vk_b), replicas=0))
    wait_until_mutating(upper, probe(env.namespace, "probe-b", "avoid-b", uid_b), [[env.vk_b]])

    uid_a = create_owner(upper, replica_set("avoid-a", env.namespace, live(env.vk_a), replicas=0))
    pod = webhooks.admitted(upper, probe(env.namespace, "probe-a", "avoid-a", uid_a))
    assert pod is not None and "affinity" not in pod["spec"]
    assert f"pod {env.namespace}/probe-a: no change" in process.logs()


def test_pods_are_created_unchanged_while_the_webhook_is_down(
    upper: clusters.Cluster, env: Env, processes: list[webhooks.WebhookProcess], tmp_path: Path, config_name: str
) -> None:
    process = start(upper, processes, tmp_path, "down")
    webhooks.register(upper, config_name, url=process.url, ca_bundle=process.ca_bundle(), namespaces=[env.namespace])
    uid = create_owner(upper, replica_set("orphaned", env.namespace, live(env.vk_a), replicas=0))
    wait_until_mutating(upper, probe(env.namespace, "probe-down", "orphaned", uid), [[env.vk_a]])

    process.kill()
    upper.kubectl("scale", "replicaset", "orphaned", "-n", env.namespace, "--replicas=2")
    pods = owned_pods(upper, env.namespace, "orphaned", 2)
    assert [webhooks.not_in_hostnames(p) for p in pods] == [[], []]


# -- --tls-secret mode, as the manifests' ServiceAccount ----------------------------------------


def rbac_for(namespace: str, *, secret: str, config: str, suffix: str) -> list[dict[str, Any]]:
    """cronjobs/webhook/rbac.yaml moved into ``namespace``, its names made unique, its resourceNames ours."""
    renames = {
        '"tensile-webhook-tls"': json.dumps(secret),
        '"tensile-pod-webhook"': json.dumps(config),
        '"tensile-system"': json.dumps(namespace),
        '"tensile-webhook"': json.dumps(f"tensile-webhook-{suffix}"),
    }
    text = json.dumps([d for d in yaml.safe_load_all(RBAC.read_text()) if d])
    for old, new in renames.items():
        text = text.replace(old, new)
    docs: list[dict[str, Any]] = json.loads(text)
    return docs


def secret_cert(upper: clusters.Cluster, namespace: str, name: str) -> tuple[str, bytes]:
    secret = json.loads(upper.kubectl("get", "secret", name, "-n", namespace, "-o", "json"))
    return secret["type"], base64.b64decode(secret["data"]["tls.crt"])


def test_replicas_share_the_tls_secret_and_fill_in_the_ca_bundle(
    upper: clusters.Cluster, env: Env, processes: list[webhooks.WebhookProcess], tmp_path: Path, config_name: str
) -> None:
    secret = f"webhook-tls-{env.suffix}"
    docs = rbac_for(env.namespace, secret=secret, config=config_name, suffix=env.suffix)
    cluster_scoped = [(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"].startswith("Cluster")]
    try:
        upper.apply(docs)
        account = next(d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount")
        kubeconfig = webhooks.service_account_kubeconfig(upper, env.namespace, account, tmp_path / "sa.kubeconfig")
        run_tls_secret_scenario(upper, env, processes, tmp_path, config_name, secret, kubeconfig)
    finally:
        for kind, name in cluster_scoped:
            upper.kubectl("delete", kind.lower(), name, "--ignore-not-found", "--wait=false")


def run_tls_secret_scenario(
    upper: clusters.Cluster,
    env: Env,
    processes: list[webhooks.WebhookProcess],
    tmp_path: Path,
    config_name: str,
    secret: str,
    kubeconfig: Path,
) -> None:
    flags = [
        "--tls-secret",
        secret,
        "--service-namespace",
        env.namespace,
        "--service-name",
        "hook",
        "--webhook-config-name",
        config_name,
    ]
    first = webhooks.WebhookProcess(upper, "shared-1", tmp_path, ["-v", *flags], kubeconfig=kubeconfig)
    # The configuration exists without a caBundle and points at the first replica.
    webhooks.register(upper, config_name, url=first.url, ca_bundle=None, namespaces=[env.namespace])

    # Both replicas start at once: they race to create the Secret and must end up with one certificate.
    second = webhooks.WebhookProcess(upper, "shared-2", tmp_path, ["-v", *flags], kubeconfig=kubeconfig)
    processes.extend([first, second])
    first.start()
    second.start()
    first.wait_ready()
    second.wait_ready()
    kind, stored = secret_cert(upper, env.namespace, secret)
    assert kind == "kubernetes.io/tls"
    assert webhooks.same_cert(first.serving_cert(), stored) and webhooks.same_cert(second.serving_cert(), stored)
    names = x509.load_pem_x509_certificate(stored).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert set(names.value.get_values_for_type(x509.DNSName)) == {
        f"hook.{env.namespace}.svc",
        f"hook.{env.namespace}.svc.cluster.local",
    }
    wait_for(
        lambda: webhooks.configured_ca_bundles(upper, config_name) == [webhooks.ca_bundle(stored)],
        timeout=30,
        what="the caBundle to be filled in",
    )
    uid = create_owner(upper, replica_set("shared", env.namespace, live(env.vk_a), replicas=0))
    wait_until_mutating(upper, probe(env.namespace, "probe-shared", "shared", uid), [[env.vk_a]])
    assert "Forbidden" not in first.logs() + second.logs()
    assert "PRIVATE KEY" not in first.logs() + second.logs(), "the key is never logged"

    # A certificate expiring within 30 days is renewed on restart, and the caBundle follows it.
    short_cert, short_key = tls.self_signed(
        f"hook.{env.namespace}.svc",
        ip_addresses=["127.0.0.1"],
        dns_names=[f"hook.{env.namespace}.svc", f"hook.{env.namespace}.svc.cluster.local"],
        days=10,
    )
    patch = {
        "data": {"tls.crt": base64.b64encode(short_cert).decode(), "tls.key": base64.b64encode(short_key).decode()}
    }
    upper.kubectl("patch", "secret", secret, "-n", env.namespace, "--type=merge", "-p", json.dumps(patch))
    first.terminate()
    first.start()
    first.wait_ready()
    _kind, renewed = secret_cert(upper, env.namespace, secret)
    assert not webhooks.same_cert(renewed, short_cert) and not webhooks.same_cert(renewed, stored)
    expires = x509.load_pem_x509_certificate(renewed).not_valid_after_utc
    assert expires - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=300)
    assert webhooks.same_cert(first.serving_cert(), renewed)
    wait_for(
        lambda: webhooks.configured_ca_bundles(upper, config_name) == [webhooks.ca_bundle(renewed)],
        timeout=30,
        what="the caBundle to follow the renewed certificate",
    )
    wait_until_mutating(upper, probe(env.namespace, "probe-renewed", "shared", uid), [[env.vk_a]])


# -- races between replicas, injected between our read and our write ---------------------------


class RacingKube(Kube):
    """Runs ``before_write`` just ahead of the first POST or PUT (another replica writing in between);
    records the method of every call."""

    def __init__(self, kubeconfig: Path, before_write: Callable[[], None]) -> None:
        super().__init__(load_configuration(str(kubeconfig)))
        self._before_write: Callable[[], None] | None = before_write
        self.methods: list[str] = []

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if method in ("POST", "PUT") and self._before_write is not None:
            before, self._before_write = self._before_write, None
            before()
        self.methods.append(method)
        return super().call(method, path, **kwargs)


def write_secret(upper: clusters.Cluster, namespace: str, name: str, pair: tuple[bytes, bytes]) -> None:
    upper.kubectl(
        "apply", "-f", "-", input_text=json.dumps(certs.secret_body(name, namespace, pair, app="tensile-webhook"))
    )


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_replicas_racing_on_the_secret_converge_on_the_winners_certificate(upper: clusters.Cluster, env: Env) -> None:
    name = f"race-tls-{env.suffix}"
    names = certs.subject_names("hook", env.namespace, ["127.0.0.1"])
    created_first = certs.generate(names)
    kube = RacingKube(upper.kubeconfig, lambda: write_secret(upper, env.namespace, name, created_first))
    source = certs.SecretCerts(
        kube, name=name, namespace=env.namespace, names=names, app="tensile-webhook", clock=utc_now
    )
    assert source.load() == created_first, "our create got 409 AlreadyExists: the winner's pair is used"
    assert kube.methods == ["GET", "POST", "GET"]

    expiring = tls.self_signed(names.common_name, ip_addresses=["127.0.0.1"], dns_names=list(names.dns_names), days=5)
    write_secret(upper, env.namespace, name, expiring)
    renewed_first = certs.generate(names)
    kube = RacingKube(upper.kubeconfig, lambda: write_secret(upper, env.namespace, name, renewed_first))
    source = certs.SecretCerts(
        kube, name=name, namespace=env.namespace, names=names, app="tensile-webhook", clock=utc_now
    )
    assert source.load() == renewed_first, "our renewal got 409 Conflict: the other replica's renewal is used"
    assert kube.methods == ["GET", "PUT", "GET"]
    stored = json.loads(upper.kubectl("get", "secret", name, "-n", env.namespace, "-o", "json"))
    assert certs.pair_from_secret(stored) == renewed_first
    kube.close()


def test_the_ca_bundle_update_retries_a_conflict_and_keeps_other_changes(
    upper: clusters.Cluster, env: Env, config_name: str
) -> None:
    webhooks.register(
        upper, config_name, url="https://127.0.0.1:1/mutate-pods", ca_bundle=None, namespaces=[env.namespace]
    )
    other_change = [{"op": "replace", "path": "/webhooks/0/timeoutSeconds", "value": 3}]
    kube = RacingKube(
        upper.kubeconfig,
        lambda: upper.kubectl(
            "patch", "mutatingwebhookconfiguration", config_name, "--type=json", "-p", json.dumps(other_change)
        ),
    )
    cert_pem, _key = certs.generate(certs.subject_names("hook", env.namespace))
    assert ca_bundle.CaBundleSync(kube, config_name).sync(cert_pem) is True
    assert kube.methods == ["GET", "PUT", "GET", "PUT"]
    config = json.loads(upper.kubectl("get", "mutatingwebhookconfiguration", config_name, "-o", "json"))
    assert config["webhooks"][0]["clientConfig"]["caBundle"] == webhooks.ca_bundle(cert_pem)
    assert config["webhooks"][0]["timeoutSeconds"] == 3, "the concurrent change survives"
    kube.methods.clear()
    assert ca_bundle.CaBundleSync(kube, config_name).sync(cert_pem) is False
    assert kube.methods == ["GET"], "equal: nothing written"
    kube.close()
