"""Reaching an API server, on real sockets: a server that never answers, a closed port, bad
kubeconfigs (nothing is sent), an untrusted certificate, an outage after the server answered,
and a merged KUBECONFIG list against a real kube-apiserver.

The CLI runs as users run it (``python -m descheduler`` in a subprocess). The time bounds are
behaviour bounds (the deadline holds), generous for a loaded 2-core machine, not benchmarks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from descheduler.kube import client, errors, retry
from provider.serving import tls
from tests.cluster import clusters
from tests.e2e.support import failing_servers

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "policy.yaml"
STARTUP = 5.0
"""Seconds a cold ``python -m descheduler`` may take before its first request, on a loaded machine."""


def deschedule(*args: str, kubeconfig_env: str = "") -> tuple[int, str, str, float]:
    """Run the CLI; returns exit status, stdout, stderr and the seconds it took."""
    env = {**os.environ, "KUBECONFIG": kubeconfig_env}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    cmd = [sys.executable, "-m", "descheduler", "--policy-config-file", str(POLICY), "--dry-run", *args]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def write_kubeconfig(path: Path, server: str, *, cluster_extra: str = "", user: str = "    token: t\n") -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: c\n  cluster:\n    server: {server}\n{cluster_extra}"
        f"users:\n- name: u\n  user:\n{user}"
        "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
    )
    return path


# -- a server that accepts connections and never answers --------------------------------------


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_silent_server_fails_the_cycle_at_its_deadline_in_one_line(tmp_path: Path, scheme: str) -> None:
    with failing_servers.SilentServer() as silent:
        url = f"{scheme}://127.0.0.1:{silent.port}"
        kubeconfig = write_kubeconfig(tmp_path / "kc", url, cluster_extra="    insecure-skip-tls-verify: true\n")
        code, out, err, took = deschedule("--kubeconfig", str(kubeconfig), "--cycle-timeout", "3s")
    assert (code, err) == (1, f"error: API server {url} did not answer within 3s (GET /api/v1/nodes)\n")
    assert out == ""
    assert took < 3 + STARTUP
    assert silent.accepted == 1  # no retry after the deadline


def test_without_a_cycle_deadline_a_request_still_times_out(tmp_path: Path) -> None:
    """The provider runs without a deadline: its requests are bounded by their own timeouts."""
    with failing_servers.SilentServer() as silent:
        configuration = client.load_configuration(
            str(write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{silent.port}"))
        )
        kube = client.Kube(configuration, timeout=(1.0, 0.5))
        started = time.monotonic()
        with pytest.raises(errors.UnreachableError) as caught:
            kube.get("/version")
    assert str(caught.value) == f"API server http://127.0.0.1:{silent.port} did not answer within 0.5s (GET /version)"
    assert time.monotonic() - started < 3


def test_a_body_that_trickles_in_cannot_stretch_an_attempt_past_the_deadline(tmp_path: Path) -> None:
    with failing_servers.TricklingServer() as trickling:
        url = f"http://127.0.0.1:{trickling.port}"
        kube = client.Kube(client.load_configuration(str(write_kubeconfig(tmp_path / "kc", url))))
        started = time.monotonic()
        with retry.deadline(1.5), pytest.raises(errors.DeadlineExceededError) as caught:
            kube.get("/api/v1/pods")
    assert str(caught.value) == f"API server {url} did not answer within 1.5s (GET /api/v1/pods)"
    assert time.monotonic() - started < 3


def test_no_request_starts_once_the_deadline_has_passed(tmp_path: Path) -> None:
    with failing_servers.SilentServer() as silent:
        url = f"http://127.0.0.1:{silent.port}"
        kube = client.Kube(client.load_configuration(str(write_kubeconfig(tmp_path / "kc", url))))
        with retry.deadline(0.0), pytest.raises(errors.DeadlineExceededError) as caught:
            kube.post("/api/v1/namespaces/ns/pods/p/eviction", {}, policy=retry.EVICTIONS)
    assert (
        str(caught.value)
        == f"POST /api/v1/namespaces/ns/pods/p/eviction on {url} not started: the 0s deadline has passed"
    )
    assert silent.accepted == 0


# -- a closed port ------------------------------------------------------------------------------


def test_a_closed_port_fails_at_once_in_one_line(tmp_path: Path) -> None:
    port = failing_servers.closed_port()
    kubeconfig = write_kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{port}")
    code, out, err, took = deschedule("--kubeconfig", str(kubeconfig))
    assert (code, err) == (1, f"error: cannot reach the API server https://127.0.0.1:{port}: connection refused\n")
    assert out == ""
    assert took < 8


# -- kubeconfig problems: exit 2 before anything is sent -----------------------------------------


@pytest.mark.parametrize(
    ("server", "user", "flags", "expected"),
    [
        pytest.param(
            "'not a url'",
            "    token: t\n",
            (),
            "cluster \"c\": server 'not a url' is not a valid URL (it contains spaces); want e.g. https://HOST:6443",
            id="server not a URL",
        ),
        pytest.param(
            "https://127.0.0.1:99999",
            "    token: t\n",
            (),
            "cluster \"c\": server 'https://127.0.0.1:99999' is not a valid URL "
            "(the port must be a number from 1 to 65535); want e.g. https://HOST:6443",
            id="port out of range",
        ),
        pytest.param(
            "LISTENER",
            "    token: t\n",
            ("--context", "prod"),
            'no context "prod" (contexts: x)',
            id="unknown --context",
        ),
        pytest.param(
            "LISTENER",
            "    client-certificate: /nowhere/me.crt\n    client-key: /nowhere/me.key\n",
            (),
            'user "u": client-certificate /nowhere/me.crt: file not found',
            id="missing client certificate",
        ),
    ],
)
def test_a_bad_kubeconfig_is_exit_2_in_one_line_and_sends_nothing(
    tmp_path: Path, server: str, user: str, flags: tuple[str, ...], expected: str
) -> None:
    with failing_servers.SilentServer() as listener:
        url = server.replace("LISTENER", f"https://127.0.0.1:{listener.port}")
        kubeconfig = write_kubeconfig(tmp_path / "kc", url, user=user)
        code, out, err, took = deschedule("--kubeconfig", str(kubeconfig), *flags)
    assert (code, out, err) == (2, "", f"error: kubeconfig {kubeconfig}: {expected}\n")
    assert listener.accepted == 0
    assert took < STARTUP


# -- a real kube-apiserver --------------------------------------------------------------------------


def entries(kubeconfig: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The current context of a kwok cluster's kubeconfig, with its cluster entry."""
    doc = yaml.safe_load(kubeconfig.read_text())
    context = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c for c in doc["clusters"] if c["name"] == context["context"]["cluster"])
    return context, cluster


def test_a_merged_kubeconfig_list_reaches_the_real_server_as_kubectl_would(
    upper: clusters.Cluster, tmp_path: Path
) -> None:
    context, cluster = entries(upper.kubeconfig)
    # First file: only the current-context and a context that uses the cluster's file's entries.
    chooser = tmp_path / "chooser.yaml"
    chooser.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "via-merge",
                "contexts": [{"name": "via-merge", "context": dict(context["context"])}],
            }
        )
    )
    # Last file: a decoy of the same cluster name at a closed port; the earlier entry wins.
    decoy = write_kubeconfig(tmp_path / "decoy.yaml", f"https://127.0.0.1:{failing_servers.closed_port()}")
    decoy.write_text(decoy.read_text().replace("name: c\n", f"name: {cluster['name']}\n", 1))
    listed = os.pathsep.join([str(tmp_path / "missing.yaml"), str(chooser), str(upper.kubeconfig), str(decoy)])
    code, out, err, took = deschedule("-o", "json", kubeconfig_env=listed)
    assert code == 0, err
    nodes = json.loads(upper.kubectl("get", "nodes", "-o", "json"))["items"]
    assert json.loads(out)["summary"]["nodes"] == len(nodes)
    assert "error" not in err
    assert took < 40


def test_an_untrusted_server_certificate_fails_at_once_in_one_line(upper: clusters.Cluster, tmp_path: Path) -> None:
    stranger, _key = tls.self_signed("stranger", ip_addresses=["127.0.0.1"], dns_names=[])
    (tmp_path / "stranger.crt").write_bytes(stranger)
    doc = yaml.safe_load(upper.kubeconfig.read_text())
    for entry in doc["clusters"]:
        entry["cluster"].pop("certificate-authority-data", None)
        entry["cluster"].pop("insecure-skip-tls-verify", None)
        entry["cluster"]["certificate-authority"] = str(tmp_path / "stranger.crt")
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(yaml.safe_dump(doc))
    code, _out, err, took = deschedule("--kubeconfig", str(kubeconfig))
    assert code == 1
    assert err.startswith(f"error: cannot reach the API server {upper.apiserver_url}: TLS: server certificate ")
    assert err.count("\n") == 1
    assert took < 8


def test_an_outage_after_the_server_answered_is_retried_not_refused_outright(
    upper: clusters.Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = urlsplit(upper.apiserver_url)
    assert api.hostname is not None and api.port is not None
    with failing_servers.Forwarder((api.hostname, api.port)) as forwarder:
        doc = yaml.safe_load(upper.kubeconfig.read_text())
        for entry in doc["clusters"]:
            entry["cluster"]["server"] = f"https://127.0.0.1:{forwarder.port}"
        kubeconfig = tmp_path / "kc"
        kubeconfig.write_text(yaml.safe_dump(doc))
        kube = client.Kube(client.load_configuration(str(kubeconfig)))
        assert kube.get("/version")["gitVersion"]
    kube.close()  # drop pooled connections: the next request must connect anew, and is refused
    sleeps: list[float] = []
    with pytest.raises(errors.ConnectionFailedError) as caught:
        retry.call_with_retry(
            lambda: kube.request("GET", "/api/v1/nodes"),
            policy=retry.READS,
            what="GET /api/v1/nodes",
            sleep=sleeps.append,
        )
    assert not isinstance(caught.value, errors.UnreachableError)
    assert str(caught.value) == f"cannot reach the API server https://127.0.0.1:{forwarder.port}: connection refused"
    assert sleeps == list(retry.READS.backoffs)
    assert [r.levelname for r in caplog.records if r.name == "descheduler.kube.retry"] == ["WARNING"]
