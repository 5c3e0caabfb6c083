"""Pairing port-forward streams by request id, as the kubelet does (provider/kubelet/stream_pairs.py)."""

from __future__ import annotations

import pytest

from provider.kubelet import stream_pairs
from provider.kubelet.stream_pairs import Broken, Pair, Pairing, Waiting


def headers(kind: str, port: str | None = "8080", request: str | None = "0") -> dict[str, list[str]]:
    found = {"streamtype": [kind]}
    if port is not None:
        found["port"] = [port]
    if request is not None:
        found["requestid"] = [request]
    return found


def test_an_error_and_a_data_stream_with_one_request_id_make_a_pair() -> None:
    pairing = Pairing()
    assert pairing.opened(1, headers("error"), now=0.0) == Waiting()
    assert pairing.opened(3, headers("data"), now=0.1) == Pair("0", 8080, error_stream=1, data_stream=3)
    assert pairing.waiting() == 0


def test_interleaved_requests_pair_by_request_id_not_by_order() -> None:
    pairing = Pairing()
    assert pairing.opened(1, headers("error", request="0"), now=0) == Waiting()
    assert pairing.opened(3, headers("error", request="1"), now=0) == Waiting()
    assert pairing.opened(5, headers("data", port="81", request="1"), now=0) == Pair("1", 81, 3, 5)
    assert pairing.opened(7, headers("data", port="80", request="0"), now=0) == Pair("0", 80, 1, 7)


def test_the_data_stream_may_come_first() -> None:
    pairing = Pairing()
    assert pairing.opened(1, headers("data"), now=0) == Waiting()
    assert pairing.opened(3, headers("error"), now=0) == Pair("0", 8080, error_stream=3, data_stream=1)


def test_without_request_ids_consecutive_streams_pair_as_older_clients_numbered_them() -> None:
    pairing = Pairing()
    assert pairing.opened(5, headers("error", request=None), now=0) == Waiting()
    assert pairing.opened(7, headers("data", request=None), now=0) == Pair("5", 8080, 5, 7)


@pytest.mark.parametrize(
    "port",
    [
        pytest.param(None, id="no port header -> broken"),
        pytest.param("", id="empty port -> broken"),
        pytest.param("http", id="a name -> broken"),
        pytest.param("0", id="port 0 -> broken"),
        pytest.param("65536", id="above 65535 -> broken"),
        pytest.param("-1", id="negative -> broken"),
        pytest.param("٣", id="a non-ASCII digit -> broken"),
    ],
)
def test_a_bad_or_missing_port_breaks_the_request_with_text_for_its_error_stream(port: str | None) -> None:
    pairing = Pairing()
    pairing.opened(1, headers("error"), now=0)
    outcome = pairing.opened(3, headers("data", port=port), now=0)
    assert isinstance(outcome, Broken)
    assert (outcome.error_stream, outcome.streams) == (1, (1, 3))
    assert "invalid port" in outcome.message and "request 0" in outcome.message


def test_a_second_stream_of_the_same_type_breaks_the_request() -> None:
    pairing = Pairing()
    pairing.opened(1, headers("error"), now=0)
    outcome = pairing.opened(3, headers("error"), now=0)
    assert outcome == Broken("0", 1, (1, 3), "error processing stream for request 0: error stream already assigned")
    assert pairing.waiting() == 0


def test_an_unknown_stream_type_breaks_the_request() -> None:
    pairing = Pairing()
    pairing.opened(1, headers("error"), now=0)
    outcome = pairing.opened(3, headers("stdin"), now=0)
    assert isinstance(outcome, Broken)
    assert (outcome.error_stream, outcome.streams) == (1, (1, 3))
    assert "unknown stream type 'stdin'" in outcome.message


def test_a_stream_without_a_type_alone_is_broken_with_no_error_stream_to_write_on() -> None:
    outcome = Pairing().opened(1, {"requestid": ["9"]}, now=0)
    assert outcome == Broken("9", None, (1,), "error processing stream for request 9: unknown stream type ''")


def test_a_request_never_completed_is_dropped_after_the_timeout() -> None:
    pairing = Pairing(timeout=30)
    pairing.opened(1, headers("error", request="a"), now=0)
    pairing.opened(3, headers("error", request="b"), now=20)
    assert pairing.expired(now=29.9) == []
    late = pairing.expired(now=30)
    assert [(b.request_id, b.error_stream, b.streams) for b in late] == [("a", 1, (1,))]
    assert "timed out" in late[0].message
    assert pairing.waiting() == 1
    assert pairing.opened(5, headers("data", request="a"), now=31) == Waiting(), "a late partner starts over"


def test_a_stream_reset_before_its_partner_came_forgets_the_request() -> None:
    pairing = Pairing()
    pairing.opened(1, headers("error"), now=0)
    pairing.forget(1)
    assert pairing.waiting() == 0
    pairing.forget(99)  # unknown: nothing happens


def test_header_reads_the_first_value_or_nothing() -> None:
    assert stream_pairs.header({"port": ["80", "81"]}, "port") == "80"
    assert stream_pairs.header({"port": []}, "port") == ""
    assert stream_pairs.header({}, "port") == ""
