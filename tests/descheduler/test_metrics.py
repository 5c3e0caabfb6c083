"""Metrics from a cycle's Report, rendered in the Prometheus text format."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from pathlib import Path

import pytest

from descheduler import addresses, serving
from descheduler import metrics as metering
from descheduler.report import Decision, Report, Result


def decision(result: Result, *, pod: str = "web-1", node: str = "n1") -> Decision:
    return Decision("shop", pod, node, "RemoveDuplicates", "dedupe", "duplicate", result)


def samples(metrics: metering.Metrics) -> dict[str, float]:
    rows = {}
    for line in metrics.render().decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            rows[name] = float(value)
    return rows


def test_decisions_are_counted_by_result_strategy_profile_namespace_and_node() -> None:
    metrics = metering.Metrics()
    report = Report(
        dry_run=False,
        decisions=[
            decision(Result.EVICTED),
            decision(Result.EVICTED, pod="web-2"),
            decision(Result.BLOCKED, node="n2"),
        ],
        duration_seconds=0.3,
    )
    metrics.record_report(report)
    rows = samples(metrics)
    labels = 'namespace="shop",node="{node}",profile="dedupe",result="{result}",strategy="RemoveDuplicates"'
    assert rows["descheduler_pods_evicted_total{" + labels.format(node="n1", result="evicted") + "}"] == 2
    assert rows["descheduler_pods_evicted_total{" + labels.format(node="n2", result="blocked") + "}"] == 1
    assert rows["descheduler_loop_duration_seconds_count"] == 1
    assert rows["descheduler_loop_duration_seconds_sum"] == pytest.approx(0.3)
    assert rows['descheduler_loop_duration_seconds_bucket{le="0.5"}'] == 1


def test_strategy_durations_and_build_info() -> None:
    metrics = metering.Metrics()
    metrics.observe_strategy("dedupe", "RemoveDuplicates", 0.02)
    rows = samples(metrics)
    assert rows['descheduler_strategy_duration_seconds_count{profile="dedupe",strategy="RemoveDuplicates"}'] == 1
    assert [v for k, v in rows.items() if k.startswith("descheduler_build_info{version=")] == [1.0]


def test_a_cycle_without_decisions_still_counts_the_loop() -> None:
    metrics = metering.Metrics()
    metrics.record_report(Report(dry_run=True))
    rows = samples(metrics)
    assert rows["descheduler_loop_duration_seconds_count"] == 1
    assert not [k for k in rows if k.startswith("descheduler_pods_evicted_total")]


def test_the_textfile_holds_the_same_text(tmp_path: Path) -> None:
    metrics = metering.Metrics()
    metrics.record_report(Report(dry_run=False, decisions=[decision(Result.EVICTED)]))
    path = tmp_path / "descheduler.prom"
    metrics.write_file(str(path))
    assert path.read_bytes() == metrics.render()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (":10258", ("", 10258)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("[::1]:80", ("::1", 80)),
        ("[::]:10255", ("::", 10255)),
        ("localhost:0", ("localhost", 0)),
        ("metrics.tensile-system.svc:65535", ("metrics.tensile-system.svc", 65535)),
    ],
    ids=[
        "all interfaces -> empty host",
        "IPv4 and port",
        "IPv6 loopback in brackets -> host without them",
        "IPv6 any in brackets",
        "name, port 0 (any free port)",
        "dotted name, highest port",
    ],
)
def test_listen_addresses(address: str, expected: tuple[str, int]) -> None:
    assert addresses.parse_address(address) == expected


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("10258", "is not HOST:PORT"),
        ("host:", "is not HOST:PORT"),
        ("host:http", "is not HOST:PORT"),
        (":70000", "is not HOST:PORT"),
        (":-1", "is not HOST:PORT"),
        (":\u0661\u0662", "is not HOST:PORT"),
        ("999.1.1.1:80", "neither an IPv4 address nor a DNS name"),
        ("1.2.3:80", "neither an IPv4 address nor a DNS name"),
        ("under_score:80", "neither an IPv4 address nor a DNS name"),
        ("-lead.example:80", "neither an IPv4 address nor a DNS name"),
        ("::1:80", "IPv6 address goes in brackets"),
        ("[::1:80", "not an IPv6 address in brackets"),
        ("[127.0.0.1]:80", "not an IPv6 address in brackets"),
        ("[::g]:80", "not an IPv6 address in brackets"),
    ],
    ids=[
        "no colon",
        "no port",
        "port not a number",
        "port above 65535",
        "negative port",
        "non-ASCII digits as port",
        "IPv4 with an octet above 255",
        "IPv4 with three octets",
        "underscore in a name",
        "label starting with a dash",
        "bare IPv6 with port",
        "unclosed bracket",
        "IPv4 in brackets",
        "bad IPv6 in brackets",
    ],
)
def test_bad_listen_addresses_are_refused_with_the_reason(address: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        addresses.parse_address(address)


def test_the_server_listens_on_an_ipv6_address() -> None:
    server = serving.MetricsServer(metering.Metrics(), "[::1]:0")
    server.start()
    try:
        with urllib.request.urlopen(f"http://[::1]:{server.port}/healthz", timeout=10) as response:
            assert response.read() == b"ok"
    finally:
        server.stop()


def test_push_sends_the_registry_to_a_pushgateway_job() -> None:
    received: list[tuple[str, str, bytes]] = []

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.command, self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        metrics = metering.Metrics()
        metrics.record_report(Report(dry_run=False, decisions=[decision(Result.EVICTED)]))
        metrics.push(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        thread.join(10)
        server.server_close()
    [(method, path, body)] = received
    assert (method, path) == ("PUT", "/metrics/job/descheduler")
    assert b"descheduler_pods_evicted_total" in body
