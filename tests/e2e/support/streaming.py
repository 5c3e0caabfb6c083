"""Driving the stock kubectl's streaming verbs in e2e tests: exec with bytes in and out, a command left running
in the background, a real pseudo-terminal for ``exec -t``, and the API server's own count of how it routed
each session (``apiserver_websocket_streaming_requests_total``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from tests.cluster import clusters

KUBECTL_OVERRIDE = "TENSILE_STREAMING_KUBECTL"
"""A kubectl binary of another version for the streaming tests (e.g. one built from k8s.io/kubernetes v1.34.4);
unset: the test environment's own."""


def kubectl_binary(cluster: clusters.Cluster) -> str:
    return os.environ.get(KUBECTL_OVERRIDE) or str(cluster.bins.kubectl)


ROUTED = re.compile(r"^apiserver_websocket_streaming_requests_total\{([^}]*)\} (\d+)", re.MULTILINE)


def websocket_requests(cluster: clusters.Cluster, subresource: str) -> dict[str, int]:
    """How the API server routed ``subresource`` sessions so far: proxy_type -> count."""
    counts: dict[str, int] = {}
    for labels, value in ROUTED.findall(cluster.kubectl("get", "--raw", "/metrics")):
        if f'subresource="{subresource}"' in labels:
            kind = re.search(r'proxy_type="([^"]*)"', labels)
            counts[kind.group(1) if kind else ""] = int(value)
    return counts


class Kubectl:
    """The upper cluster's kubectl with a given environment (e.g. KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)."""

    def __init__(self, cluster: clusters.Cluster, *, env: Mapping[str, str] | None = None) -> None:
        self.cluster = cluster
        self.env = dict(os.environ, **(env or {}))

    def command(self, *args: str) -> list[str]:
        return [kubectl_binary(self.cluster), "--kubeconfig", str(self.cluster.kubeconfig), *args]

    def run(self, *args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.command(*args), input=stdin, capture_output=True, env=self.env, timeout=timeout)

    def exec(
        self, pod: tuple[str, str], *command: str, stdin: bytes | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        namespace, name = pod
        interactive = ["-i"] if stdin is not None else []
        return self.run("exec", *interactive, "-n", namespace, name, "--", *command, stdin=stdin, timeout=timeout)

    @contextlib.contextmanager
    def background(self, *args: str) -> Iterator[Background]:
        proc = subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env)
        running = Background(proc)
        try:
            yield running
        finally:
            proc.kill()
            proc.wait(10)
            running.reader.join(5)
            if proc.stdout is not None:
                proc.stdout.close()


class Background:
    """A kubectl left running; :meth:`output` is what it printed so far."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._out = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):
            self._out += chunk

    def output(self, wait: float = 0.0) -> bytes:
        time.sleep(wait)
        return bytes(self._out)


class Terminal:
    """A pseudo-terminal for ``kubectl exec -t``: kubectl sees a real TTY, its size, and SIGWINCH on resize."""

    def __init__(self, *, rows: int, cols: int) -> None:
        self.master, self.slave = os.openpty()
        self._set_size(rows, cols)
        self.seen = bytearray()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)
        with contextlib.suppress(OSError):
            os.close(self.slave)

    def _set_size(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def run(self, command: list[str], *, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen(
            command,
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            env=dict(os.environ, **env),
            start_new_session=True,
        )
        return self.proc

    def resize(self, *, rows: int, cols: int, pid: int) -> None:
        self._set_size(rows, cols)
        os.kill(pid, signal.SIGWINCH)

    def settle(self, seconds: float = 1.0) -> None:
        """Give kubectl time to send the new size before the next keystroke."""
        self._drain(seconds)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, pattern: bytes, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen on the terminal; it showed {bytes(self.seen)!r}")
            self._drain(min(left, 0.5))

    def _drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk
