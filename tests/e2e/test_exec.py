"""kubectl exec, attach and cp on the upper cluster reaching the mirrored pod in its lower cluster, with the
stock kubectl, over each way a session may reach the virtual node's kubelet API:

- ``websocket``: the node declares ExtendWebSocketsToKubelet, so the upper API server (v1.36) passes
  kubectl's ``v5.channel.k8s.io`` WebSocket through unchanged;
- ``translated``: the provider runs with ``--streaming spdy`` (the node declares nothing), so the upper API
  server translates kubectl's WebSocket into SPDY/3.1 (what every API server before 1.36 does);
- ``kubectl-spdy``: kubectl itself speaks SPDY (``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``), which every
  API server passes through.

- ``gate-off``: a private upper cluster whose API server runs with ``ExtendWebSocketsToKubelet=false``: the node
  declares the feature, the API server translates all the same.

The lower leg is a WebSocket
to the lower API server, which reaches kwok (ClusterExec runs the command on this machine, ClusterAttach
follows a file; kwok is built with the exec fixes of tests/cluster/kwok_patches.py).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import clusters
from tests.e2e.support import streaming
from tests.e2e.support.providers import ProviderProcess, pods, ready_provider, running, virtual_deployment, wait_for

ROUTES = {
    # route: (provider flags, kubectl environment, upper transport the provider sees, apiserver proxy_type)
    "websocket": ([], {}, "websocket v5.channel.k8s.io", "proxied_to_kubelet"),
    "translated": (["--streaming", "spdy"], {}, "spdy v4.channel.k8s.io", "translated_at_apiserver"),
    "kubectl-spdy": ([], {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}, "spdy v4.channel.k8s.io", None),
    "gate-off": ([], {}, "spdy v4.channel.k8s.io", "translated_at_apiserver"),
}
GATE_OFF = clusters.ClusterSpec(
    "upper-gate-off", apiserver_args=(("feature-gates", "ExtendWebSocketsToKubelet=false"),)
)


class Route:
    """One way of reaching the pod: its provider, its kubectl, the mirrored pod."""

    def __init__(self, name: str, provider: ProviderProcess, upper: clusters.Cluster, pod: tuple[str, str]) -> None:
        self.name, self.provider, self.upper, self.pod = name, provider, upper, pod
        _flags, self.env, self.transport, self.proxy_type = ROUTES[name]

    def kubectl(self) -> streaming.Kubectl:
        return streaming.Kubectl(self.upper, env=self.env)


@pytest.fixture(scope="module", params=list(ROUTES))
def route(
    request: pytest.FixtureRequest,
    upper: clusters.Cluster,
    lower_a: clusters.Cluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Route]:
    name: str = request.param
    if name == "gate-off":
        with clusters.running(GATE_OFF, root=tmp_path_factory.mktemp("gate-off")) as gate_off:
            yield from _route(name, gate_off, lower_a, tmp_path_factory)
    else:
        yield from _route(name, upper, lower_a, tmp_path_factory)


def _route(
    name: str, upper: clusters.Cluster, lower_a: clusters.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Route]:
    node = f"vk-exec-{name}"
    try:
        with ready_provider(
            upper, lower_a, node, tmp_path_factory.mktemp(f"exec-{name}"), extra_args=ROUTES[name][0]
        ) as proc:
            namespace = f"exec-{name}-{uuid.uuid4().hex[:6]}"
            upper.kubectl("create", "namespace", namespace)
            upper.apply([virtual_deployment("shell", namespace, 1, node)])
            wait_for(lambda: len(running(pods(upper, namespace))) == 1, timeout=90, what="the mirrored pod running")
            yield Route(name, proc, upper, (namespace, running(pods(upper, namespace))[0]["metadata"]["name"]))
            upper.kubectl("delete", "namespace", namespace, "--wait=false")
    finally:
        upper.kubectl("delete", "node", node, "--ignore-not-found")


def test_the_node_declares_websockets_unless_told_spdy(route: Route) -> None:
    node = route.provider.node()
    assert node is not None
    declared = node["status"].get("declaredFeatures") or []
    assert declared == ([] if route.name == "translated" else ["ExtendWebSocketsToKubelet"])
    if route.name == "gate-off":
        gates = route.upper.kubectl("get", "--raw", "/metrics")
        assert 'kubernetes_feature_enabled{name="ExtendWebSocketsToKubelet",stage="BETA"} 0' in gates


def test_exec_shows_stdout_and_stderr_apart_and_the_exit_code(route: Route) -> None:
    before = streaming.websocket_requests(route.upper, "exec")
    done = route.kubectl().exec(route.pod, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.returncode, done.stdout) == (3, b"out\n"), done
    assert done.stderr == b"err\ncommand terminated with exit code 3\n", "kubectl adds its own line"
    assert f"over {route.transport}" in route.provider.logs(), "the transport the provider saw"
    if route.proxy_type:
        after = streaming.websocket_requests(route.upper, "exec")
        assert after.get(route.proxy_type, 0) > before.get(route.proxy_type, 0), (before, after)


def test_exec_passes_arguments_as_they_are(route: Route) -> None:
    done = route.kubectl().exec(route.pod, "printf", "%s|", "two words", "--flag", "*", "")
    assert (done.returncode, done.stdout) == (0, b"two words|--flag|*||"), done


def test_exec_i_pipes_10_mib_of_stdin_through_sha256sum(route: Route) -> None:
    data = os.urandom(10 * 1024 * 1024)
    done = route.kubectl().exec(route.pod, "sha256sum", stdin=data, timeout=120)
    assert done.returncode == 0, done
    assert done.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_exec_t_reports_the_terminal_size_and_follows_a_resize(route: Route) -> None:
    # The command waits for a line before each look at its size: kubectl sends the size just after the
    # session opens, and a command that asks sooner sees 0x0 (on a real kubelet too).
    with streaming.Terminal(rows=24, cols=80) as terminal:
        session = terminal.run(route.kubectl().command("exec", "-it", "-n", route.pod[0], route.pod[1], "--",
                               "sh", "-c", "read a; stty size; read b; stty size"), env=route.env)  # fmt: skip
        terminal.settle(2.0)
        terminal.write(b"one\r")
        terminal.expect(rb"24 80", timeout=30)
        terminal.resize(rows=40, cols=120, pid=session.pid)
        terminal.settle()
        terminal.write(b"two\r")
        terminal.expect(rb"40 120", timeout=30)
        assert session.wait(30) == 0


def test_attach_follows_what_the_container_writes(route: Route, lower_a: clusters.Cluster) -> None:
    marker = f"attached-{route.name}-{uuid.uuid4().hex[:6]}"
    with route.kubectl().background("attach", "-n", route.pod[0], route.pod[1], "-c", "app") as attach:
        wait_for(lambda: f"attach in {route.pod[0]}/{route.pod[1]}" in route.provider.logs(), timeout=30,
                 what="the attach session open")  # fmt: skip
        wait_for(lambda: _append_and_seen(lower_a.attach_file, marker, attach), timeout=30, what=f"{marker} seen")


def _append_and_seen(path: Path, marker: str, attach: streaming.Background) -> bool:
    with path.open("a") as out:
        out.write(f"{marker}\n")
    return marker.encode() in attach.output(wait=1.0)


def test_cp_copies_5_mib_both_ways(route: Route, tmp_path: Path) -> None:
    # kwok's exec runs on this machine, so the "container's" file system is this one.
    data = os.urandom(5 * 1024 * 1024)
    source, inside, back = tmp_path / "up.bin", tmp_path / "inside", tmp_path / "back.bin"
    source.write_bytes(data)
    inside.mkdir()
    namespace, name = route.pod
    kubectl = route.kubectl()
    done = kubectl.run("cp", str(source), f"{namespace}/{name}:{inside}/up.bin", timeout=120)
    assert done.returncode == 0, done
    assert hashlib.sha256((inside / "up.bin").read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    done = kubectl.run("cp", f"{namespace}/{name}:{inside}/up.bin", str(back), timeout=120)
    assert done.returncode == 0, done
    assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_exec_in_a_pod_without_a_mirror_is_a_clear_error(route: Route, lower_a: clusters.Cluster) -> None:
    # The lower namespace allows no pods, so the mirror is never created (tests/e2e/test_rejected_mirror.py).
    namespace = f"nomirror-{route.name}-{uuid.uuid4().hex[:6]}"
    lower_a.kubectl("create", "namespace", namespace)
    lower_a.kubectl("create", "quota", "no-pods", "-n", namespace, "--hard=pods=0")
    route.upper.kubectl("create", "namespace", namespace)
    route.upper.apply([virtual_deployment("orphan", namespace, 1, route.provider.node_name)])
    wait_for(lambda: any(p["spec"].get("nodeName") for p in pods(route.upper, namespace)), timeout=60,
             what="the upper pod bound to the virtual node")  # fmt: skip
    name = pods(route.upper, namespace)[0]["metadata"]["name"]
    done = route.kubectl().exec((namespace, name), "true", timeout=60)
    route.upper.kubectl("delete", "namespace", namespace, "--wait=false")
    lower_a.kubectl("delete", "namespace", namespace, "--wait=false")
    message = done.stderr.decode()
    assert done.returncode != 0
    assert f'pod not found in the lower cluster: pods "{name}" not found' in message, message
    assert "Traceback" not in message
