"""Memory and capacity-settle time of the provider's lower caches on a large lower cluster.

    python tests/bench/bench_provider_large.py                    # 5,000 nodes, 150,000 pods
    python tests/bench/bench_provider_large.py --nodes 500 --pods 15000

A kwok cluster of 150,000 pods does not fit this machine, so this process plays the lower
API server: it generates nodes and pods shaped like a real server's (managedFields, token
volumes, full status; tests/bench/gen_snapshot.py's mix of sizes, phases and placements) and
serves them over plain HTTP as paginated LISTs and watches. A child process runs the
provider's own code against it: a :class:`~provider.app.VirtualNode` whose lower pod and
node informers (the real client, list-then-watch, codec, caches and event routing into the
node controller's capacity, the fit rooms and the pod controller) are started, nothing else.
Per run the child reports:
- its RSS before the informers start (interpreter + imports) and at its peak;
- the time from start until the advertised capacity equals what this process computed from
  the generated objects (the LIST);
- then a watch burst (new pods bound, running pods finished, pods deleted) sent at once:
  the time from the last event written to the socket until the capacity is right again.
The same child runs with the lower pods cached as the API sent them (``raw``, main's
behaviour) and slim (``slim``): the first is the reference for the second.
Goal: <= 600 MiB and capacity settled within 10 s of the last event.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from descheduler import quantity  # noqa: E402
from tests.bench import gen_snapshot  # noqa: E402

LIST_VERSION = 1_000_000
FIELDS_V1 = {f"f:{k}": {} for k in ("metadata", "spec", "status", "containers", "volumes", "tolerations")}


def api_shaped_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """``pod`` with what a real API server adds: managedFields, token volume, defaults, full status."""
    meta, spec = pod["metadata"], pod["spec"]
    meta["managedFields"] = [
        {"manager": m, "operation": "Update", "apiVersion": "v1", "time": meta["creationTimestamp"],
         "fieldsType": "FieldsV1", "fieldsV1": FIELDS_V1}
        for m in ("kube-controller-manager", "kwok")
    ]  # fmt: skip
    meta["generateName"] = meta["name"].rsplit("-", 1)[0] + "-"
    volume = {"name": "kube-api-access-x1y2z", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}  # fmt: skip
    spec.setdefault("volumes", []).append(volume)
    for container in spec["containers"]:
        container.update(
            imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log",
            terminationMessagePolicy="File",
            volumeMounts=[{"name": volume["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                           "readOnly": True}],
        )  # fmt: skip
    spec.update(dnsPolicy="ClusterFirst", restartPolicy="Always", serviceAccountName="default",
                terminationGracePeriodSeconds=30, enableServiceLinks=True,
                preemptionPolicy="PreemptLowerPriority")  # fmt: skip
    status = pod["status"]
    if status.get("phase") == "Running":
        status["hostIP"] = "10.0.0.1"
        status["podIPs"] = [{"ip": status["podIP"]}]
        status["conditions"] += [
            {"type": t, "status": "True", "lastTransitionTime": status["startTime"]}
            for t in ("PodReadyToStartContainers", "Initialized", "ContainersReady")
        ]
    return pod


def api_shaped_node(node: dict[str, Any]) -> dict[str, Any]:
    meta, status = node["metadata"], node["status"]
    meta.update(uid=f"uid-{meta['name']}", resourceVersion="1", managedFields=[
        {"manager": "kwok", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": FIELDS_V1, "subresource": "status"}])  # fmt: skip
    ready = status["conditions"][0]
    status["conditions"] = [
        {"type": t, "status": "False", "reason": f"Kubelet{t}", "message": "ok"}
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
    ] + [{**ready, "reason": "KubeletReady", "message": "kubelet is posting ready status"}]
    status["addresses"] = [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": meta["name"]}]
    status["nodeInfo"] = {"kubeletVersion": "v1.35.0", "kubeProxyVersion": "v1.35.0", "operatingSystem": "linux",
                          "architecture": "amd64", "containerRuntimeVersion": "kwok", "osImage": "",
                          "kernelVersion": ""}  # fmt: skip
    return node


class World:
    """The lower cluster's objects, the watch burst, and the capacity each should give."""

    def __init__(self, nodes: int, pods: int, burst: int, seed: int = 7) -> None:
        snapshot = gen_snapshot.generate(nodes, pods, seed=seed, now=1_700_000_000.0)
        items = snapshot["items"]
        self.nodes = [api_shaped_node(o) for o in items if o["kind"] == "Node"]
        pod_objs = [api_shaped_pod(o) for o in items if o["kind"] == "Pod"]
        rng = random.Random(seed)
        self.pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pod_objs}
        self.node_pages = [orjson.dumps(n) for n in self.nodes]
        self.pod_items = [orjson.dumps(p) for p in pod_objs]
        self.listed = expected_free(self.nodes, self.pods.values())
        self.events = self._burst(rng, burst)
        self.settled = expected_free(self.nodes, self.pods.values())

    def _burst(self, rng: random.Random, count: int) -> list[bytes]:
        """A third new bound pods, a third finishing, a third deleted; applied to ``self.pods``."""
        events: list[bytes] = []
        version = LIST_VERSION
        running = [k for k, p in self.pods.items() if p["status"].get("phase") == "Running"]
        rng.shuffle(running)
        names = [n["metadata"]["name"] for n in self.nodes]
        template = next(iter(self.pods.values()))
        for i in range(count):
            version += 1
            kind = i % 3
            if kind == 0:
                pod = orjson.loads(orjson.dumps(template))
                pod["metadata"].update(name=f"burst-{i:06d}", namespace="burst", uid=f"uid-burst-{i}")
                pod["spec"]["nodeName"] = rng.choice(names)
                pod["status"]["phase"] = "Running"
                key, event_type = ("burst", pod["metadata"]["name"]), "ADDED"
            else:
                key = running.pop()
                pod = orjson.loads(orjson.dumps(self.pods[key]))
                event_type = "MODIFIED" if kind == 1 else "DELETED"
                if kind == 1:
                    pod["status"]["phase"] = "Succeeded"
            pod["metadata"]["resourceVersion"] = str(version)
            if event_type == "DELETED":
                del self.pods[key]
            else:
                self.pods[key] = pod
            events.append(orjson.dumps({"type": event_type, "object": pod}) + b"\n")
        return events


def expected_free(nodes: list[dict[str, Any]], pods: Any) -> dict[str, str]:
    """Capacity by the rule in DESIGN.md §3, computed here without the provider's code."""
    counted = {
        n["metadata"]["name"]: n["status"]["allocatable"]
        for n in nodes
        if not n["spec"].get("unschedulable")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    }
    free: dict[str, int] = {}
    for allocatable in counted.values():
        for name, value in allocatable.items():
            free[name] = free.get(name, 0) + quantity.to_int(value, name)
    for pod in pods:
        node = pod["spec"].get("nodeName")
        if node not in counted or pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        free["pods"] -= 1
        for container in pod["spec"]["containers"]:
            for name, value in container["resources"]["requests"].items():
                free[name] -= quantity.to_int(value, name)
    return {k: f"{max(0, v)}m" if k == "cpu" else str(max(0, v)) for k, v in sorted(free.items())}


class LowerServer(ThreadingHTTPServer):
    """Serves ``world`` as a lower API server would: paginated LISTs, watches, /burst to send the events."""

    daemon_threads = True

    def __init__(self, world: World) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.world = world
        self.released = threading.Event()
        self.last_written = 0.0
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LowerServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        world = self.server.world
        if url.path == "/burst":
            self.server.released.set()
            return self._send(b"{}")
        if url.path == "/burst-written":
            self.server.released.wait()
            while not self.server.last_written:
                time.sleep(0.01)
            return self._send(orjson.dumps({"at": self.server.last_written}))
        items = {"/api/v1/nodes": world.node_pages, "/api/v1/pods": world.pod_items}.get(url.path, [])
        if query.get("watch"):
            return self._watch(url.path == "/api/v1/pods" and not query.get("labelSelector"))
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 500)
        page = items[start : start + limit]
        more = str(start + limit) if start + limit < len(items) else ""
        meta = orjson.dumps({"resourceVersion": str(LIST_VERSION), "continue": more})
        self._send(b'{"kind":"List","apiVersion":"v1","metadata":' + meta + b',"items":[' + b",".join(page) + b"]}")

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _watch(self, pods: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for chunk in self._watch_chunks(pods):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _watch_chunks(self, pods: bool) -> Iterator[bytes]:
        if not pods:
            time.sleep(100)
            return
        self.server.released.wait()
        events = self.server.world.events
        for start in range(0, len(events), 100):
            yield b"".join(events[start : start + 100])
        self.wfile.flush()
        self.server.last_written = time.monotonic()
        time.sleep(100)


def child(args: argparse.Namespace) -> int:
    """The measured process: the provider's lower informers against the server at ``args.server``."""
    import psutil

    from descheduler.kube.client import Kube
    from provider.app import Clusters, VirtualNode, collect_garbage_less_often
    from provider.config import ProviderConfig
    from provider.kube import informer

    expected = json.loads(Path(args.expected).read_text())
    me = psutil.Process()
    peak = [me.memory_info().rss]
    base = peak[0]
    kube = Kube.from_kubeconfig(args.kubeconfig)
    cfg = ProviderConfig(lower_kubeconfig=args.kubeconfig, node_name="vk-large", upper_cluster="upper")
    node = VirtualNode(cfg, Clusters(upper=kube, lower=kube))
    if args.cache == "raw":
        node.lower_pods.codec = informer.RAW_OBJECTS
    collect_garbage_less_often()  # as run_virtual_node does
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], me.memory_info().rss)

    def settle(want: dict[str, str], since: float, limit: float = 300.0) -> float:
        while node.node.advertised() != want:
            if time.monotonic() - since > limit:
                raise SystemExit(f"capacity never settled: {node.node.advertised()} != {want}")
            time.sleep(0.01)
        return time.monotonic() - since

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.monotonic()
    node.lower_nodes.start(stop)
    node.lower_pods.start(stop)
    listed = settle(expected["listed"], t0)
    rss_listed = me.memory_info().rss
    kube.get("/burst")
    written = float(kube.get("/burst-written")["at"])
    after_last = settle(expected["settled"], written)
    consumed = time.monotonic() - t0 - listed
    stop.set()
    print(json.dumps({"base": base, "peak": max(peak[0], me.memory_info().rss), "listed_rss": rss_listed,
                      "listed": listed, "after_last": after_last, "burst": consumed}))  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=150_000)
    parser.add_argument("--burst", type=int, default=15_000, help="watch events sent at once after the LIST")
    parser.add_argument("--caches", default="raw,slim", help="which lower pod caches to run, in order")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", default="slim", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    parser.add_argument("--expected", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    t0 = time.monotonic()
    world = World(args.nodes, args.pods, args.burst)
    size = sum(map(len, world.pod_items)) / len(world.pod_items)
    print(f"generated {len(world.nodes)} nodes, {len(world.pod_items)} pods ({size:.0f} bytes of JSON each), "
          f"{len(world.events)} burst events in {time.monotonic() - t0:.0f}s", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tensile-bench-large-") as tmp:
        expected = Path(tmp, "expected.json")
        expected.write_text(json.dumps({"listed": world.listed, "settled": world.settled}))
        for cache in args.caches.split(","):
            server = LowerServer(world)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            kubeconfig = Path(tmp, "kubeconfig")
            kubeconfig.write_text(json.dumps({
                "apiVersion": "v1", "kind": "Config", "current-context": "lower",
                "clusters": [{"name": "lower", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "lower", "user": {}}],
                "contexts": [{"name": "lower", "context": {"cluster": "lower", "user": "lower"}}],
            }))  # fmt: skip
            command = [sys.executable, __file__, "--child", "--cache", cache,
                       "--kubeconfig", str(kubeconfig), "--expected", str(expected)]  # fmt: skip
            out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
            found = json.loads(out.stdout.strip().splitlines()[-1])
            server.shutdown()
            mib = 1 << 20
            print(
                f"lower pods cached {cache:4}: RSS {found['base'] / mib:5.0f} MiB before the informers "
                f"(interpreter + imports), {found['listed_rss'] / mib:5.0f} MiB listed, "
                f"peak {found['peak'] / mib:5.0f} MiB; "
                f"capacity right {found['listed']:5.1f}s after start (LIST), "
                f"{found['after_last']:5.2f}s after the last of {len(world.events)} watch events "
                f"(burst consumed in {found['burst']:.1f}s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
