"""Who may use the kubelet API with --authorize: the kubelet's attribute mapping, the Authorization
header, certificate subjects, the answer caches, and the decision over a fake of the upper cluster's
reviews (tests/e2e/test_kubelet_api_access.py asks a real one)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from descheduler.kube import errors
from provider.kubelet import access
from provider.kubelet.access import Access, Attributes, TtlCache, User
from tests.provider.kubelet import fakes

NODE = "vk-lower-a"


# -- attributes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param("GET", "/containerLogs/ns/p/c", Attributes("get", ("proxy",)), id="GET logs -> get nodes/proxy"),
        pytest.param("POST", "/exec/ns/p/c", Attributes("create", ("proxy",)), id="POST exec -> create nodes/proxy"),
        pytest.param("GET", "/exec/ns/p/c", Attributes("get", ("proxy",)), id="GET (WebSocket) exec -> get proxy"),
        pytest.param("POST", "/attach/ns/p/c", Attributes("create", ("proxy",)), id="attach -> proxy"),
        pytest.param("POST", "/portForward/ns/p", Attributes("create", ("proxy",)), id="portForward -> proxy"),
        pytest.param("POST", "/run/ns/p/c", Attributes("create", ("proxy",)), id="run -> proxy"),
        pytest.param("GET", "/stats/summary", Attributes("get", ("stats",)), id="/stats/summary -> stats"),
        pytest.param("GET", "/stats", Attributes("get", ("stats",)), id="/stats -> stats"),
        pytest.param("GET", "/metrics/resource", Attributes("get", ("metrics",)), id="/metrics/resource -> metrics"),
        pytest.param("GET", "/metrics", Attributes("get", ("metrics",)), id="/metrics -> metrics"),
        pytest.param("GET", "/metricsx", Attributes("get", ("proxy",)), id="/metricsx is not under /metrics -> proxy"),
        pytest.param("GET", "/logs/kube.log", Attributes("get", ("log",)), id="/logs/ -> log"),
        pytest.param("GET", "/pods", Attributes("get", ("pods", "proxy")), id="/pods -> pods, else proxy"),
        pytest.param("GET", "/healthz", Attributes("get", ("healthz", "proxy")), id="/healthz -> healthz, else proxy"),
        pytest.param("GET", "/%73tats/summary", Attributes("get", ("stats",)), id="encoded as the router decodes it"),
        pytest.param("GET", "/", Attributes("get", ("proxy",)), id="/ -> proxy"),
        pytest.param("HEAD", "/pods", Attributes("get", ("pods", "proxy")), id="HEAD -> get"),
        pytest.param("PUT", "/x", Attributes("update", ("proxy",)), id="PUT -> update"),
        pytest.param("PATCH", "/x", Attributes("patch", ("proxy",)), id="PATCH -> patch"),
        pytest.param("DELETE", "/x", Attributes("delete", ("proxy",)), id="DELETE -> delete"),
    ],
)
def test_attributes_map_method_and_path_as_the_kubelet(method: str, path: str, expected: Attributes) -> None:
    assert access.attributes(method, path) == expected


# -- the Authorization header --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "token"),
    [
        pytest.param(["Bearer abc.def-ghi_jkl"], "abc.def-ghi_jkl", id="Bearer x -> x"),
        pytest.param(["bearer abc"], "abc", id="scheme is case-insensitive"),
        pytest.param(["  Bearer   abc  "], "abc", id="surrounding spaces ignored"),
        pytest.param([], None, id="no header -> none"),
        pytest.param([""], None, id="empty header -> none"),
        pytest.param(["Bearer"], None, id="no token -> none"),
        pytest.param(["Bearer "], None, id="blank token -> none"),
        pytest.param(["Basic dXNlcjpwYXNz"], None, id="another scheme -> none"),
        pytest.param(["Bearer a b"], None, id="something after the token -> none"),
        pytest.param(["abc"], None, id="a bare token -> none"),
        pytest.param(["Bearer a", "Bearer b"], None, id="two headers -> none"),
        pytest.param(["Bearer t\u00f6ken"], None, id="non-ASCII token -> none"),
    ],
)
def test_bearer_token_reads_exactly_one_bearer_header(values: list[str], token: str | None) -> None:
    assert access.bearer_token(values) == token


# -- certificate subjects ------------------------------------------------------------------


def _peer(*rdns: tuple[str, str]) -> dict[str, Any]:
    return {"subject": tuple(((key, value),) for key, value in rdns)}


@pytest.mark.parametrize(
    ("certificate", "user"),
    [
        pytest.param(
            _peer(("organizationName", "system:masters"), ("commonName", "kwok-admin")),
            User("kwok-admin", groups=("system:masters",)),
            id="CN -> name, O -> group",
        ),
        pytest.param(
            _peer(("commonName", "a"), ("organizationName", "g1"), ("organizationName", "g2")),
            User("a", groups=("g1", "g2")),
            id="every O is a group",
        ),
        pytest.param(_peer(("organizationName", "g")), None, id="no CN -> nobody"),
        pytest.param({}, None, id="not verified ({}) -> nobody"),
        pytest.param(None, None, id="none presented -> nobody"),
    ],
)
def test_a_verified_certificate_is_the_user_of_its_subject(certificate: dict[str, Any] | None, user: User) -> None:
    assert access.certificate_user(certificate) == user


# -- the cache -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(10, clock=clock)
    cache.put("a", 1, 30.0)
    clock.now += 29.9
    assert cache.get("a") == 1
    clock.now += 0.1
    assert cache.get("a") is None
    assert len(cache) == 0


def test_a_full_cache_drops_expired_entries_then_the_oldest() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(3, clock=clock)
    cache.put("short", 0, 1.0)
    cache.put("old", 1, 100.0)
    cache.put("mid", 2, 100.0)
    clock.now += 2.0
    cache.put("new", 3, 100.0)  # "short" has expired: it goes, the others stay
    assert [cache.get(k) for k in ("short", "old", "mid", "new")] == [None, 1, 2, 3]
    cache.put("newer", 4, 100.0)  # nothing expired: the oldest goes
    assert [cache.get(k) for k in ("old", "mid", "new", "newer")] == [None, 2, 3, 4]
    assert len(cache) == 3


# -- the decision --------------------------------------------------------------------------


ALICE = User("alice", uid="u-1", groups=("devs", "system:authenticated"), extra=(("scopes", ("a", "b")),))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reviews() -> fakes.FakeReviews:
    return fakes.FakeReviews(tokens={"alice-token": ALICE}, allowed={("alice", "get", "proxy")})


@pytest.fixture
def guard(reviews: fakes.FakeReviews, clock: Clock) -> Access:
    return Access(reviews, node_name=NODE, clock=clock)


def _check(guard: Access, method: str = "GET", path: str = "/containerLogs/ns/p/c", **kw: Any) -> access.Verdict:
    return guard.check(method, path, authorization=kw.get("authorization", []), certificate=kw.get("certificate"))


@pytest.mark.parametrize(
    "authorization",
    [[], ["Bearer"], ["Basic dXNlcjpwYXNz"], ["Bearer a", "Bearer b"], ["Bearer unknown-token"]],
    ids=["no header", "no token", "another scheme", "two headers", "a token the upper cluster does not know"],
)
def test_a_caller_who_is_nobody_gets_401(guard: Access, reviews: fakes.FakeReviews, authorization: list[str]) -> None:
    assert _check(guard, authorization=authorization) == access.Verdict(401, "Unauthorized")
    assert reviews.access_calls == []


def test_an_allowed_token_passes_as_its_user(guard: Access, reviews: fakes.FakeReviews) -> None:
    verdict = _check(guard, authorization=["Bearer alice-token"])
    assert verdict.allowed and verdict.user == ALICE
    assert reviews.access_calls == [(ALICE, "get", "proxy", NODE)]


def test_a_denied_user_gets_403_naming_user_verb_and_subresource(guard: Access) -> None:
    verdict = _check(guard, "POST", "/exec/ns/p/c", authorization=["Bearer alice-token"])
    assert verdict == access.Verdict(
        403, "Forbidden (user=alice, verb=create, resource=nodes, subresource=proxy)", ALICE
    )


def test_pods_passes_with_nodes_pods_or_nodes_proxy(guard: Access, reviews: fakes.FakeReviews) -> None:
    assert _check(guard, "GET", "/pods", authorization=["Bearer alice-token"]).allowed  # via proxy
    assert [call[2] for call in reviews.access_calls] == ["pods", "proxy"]
    reviews.allowed = set()
    bob = User("bob", groups=("system:authenticated",))
    reviews.tokens["bob-token"] = bob
    verdict = _check(guard, "GET", "/pods", authorization=["Bearer bob-token"])
    assert verdict.message == "Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=pods,proxy)"


def test_a_certificate_caller_is_reviewed_as_its_subject_without_a_token_review(
    guard: Access, reviews: fakes.FakeReviews
) -> None:
    reviews.allowed.add(("kwok-admin", "get", "proxy"))
    peer = _peer(("organizationName", "system:masters"), ("commonName", "kwok-admin"))
    verdict = _check(guard, certificate=peer, authorization=["Bearer alice-token"])
    assert verdict.allowed
    assert verdict.user == User("kwok-admin", groups=("system:masters", "system:authenticated"))
    assert reviews.token_calls == []


def test_answers_are_cached_for_the_kubelet_default_times(
    guard: Access, reviews: fakes.FakeReviews, clock: Clock
) -> None:
    for _ in range(3):
        assert _check(guard, authorization=["Bearer alice-token"]).allowed
        assert not _check(guard, "POST", "/exec/ns/p/c", authorization=["Bearer alice-token"]).allowed
    assert len(reviews.token_calls) == 1
    assert len(reviews.access_calls) == 2
    clock.now += access.UNAUTHORIZED_TTL  # the denial expires, the rest holds
    _check(guard, "POST", "/exec/ns/p/c", authorization=["Bearer alice-token"])
    _check(guard, authorization=["Bearer alice-token"])
    assert (len(reviews.token_calls), len(reviews.access_calls)) == (1, 3)
    clock.now += access.AUTHENTICATION_TTL - access.UNAUTHORIZED_TTL  # the token's answer expires
    _check(guard, authorization=["Bearer alice-token"])
    assert (len(reviews.token_calls), len(reviews.access_calls)) == (2, 3)
    clock.now += access.AUTHORIZED_TTL  # and the allowing answer
    _check(guard, authorization=["Bearer alice-token"])
    assert (len(reviews.token_calls), len(reviews.access_calls)) == (3, 4)


def test_an_unknown_token_is_remembered_too(guard: Access, reviews: fakes.FakeReviews, clock: Clock) -> None:
    for _ in range(3):
        assert _check(guard, authorization=["Bearer nope"]).status == 401
    assert reviews.token_calls == ["nope"]
    clock.now += access.AUTHENTICATION_TTL
    _check(guard, authorization=["Bearer nope"])
    assert reviews.token_calls == ["nope", "nope"]


def test_the_caches_are_bounded_and_forget_the_oldest(reviews: fakes.FakeReviews, clock: Clock) -> None:
    guard = Access(reviews, node_name=NODE, clock=clock, max_entries=4)
    for i in range(20):
        _check(guard, authorization=[f"Bearer token-{i}"])
    reviews.token_calls.clear()
    _check(guard, authorization=["Bearer token-19"])  # among the last four: still known
    _check(guard, authorization=["Bearer token-0"])  # long gone: asked again
    assert reviews.token_calls == ["token-0"]


def test_an_upper_cluster_that_cannot_answer_gives_503_and_is_asked_again(
    guard: Access, reviews: fakes.FakeReviews, caplog: pytest.LogCaptureFixture
) -> None:
    reviews.error = errors.ConnectionFailedError.saying(
        "cannot reach the API server https://127.0.0.1:1: connection refused"
    )
    with caplog.at_level(logging.DEBUG):
        verdict = _check(guard, authorization=["Bearer alice-token"])
    assert verdict.status == 503
    assert verdict.message == (
        "cannot check the caller with the upper cluster: cannot reach the API server https://127.0.0.1:1:"
        " connection refused"
    )
    assert "alice-token" not in caplog.text
    reviews.error = None
    assert _check(guard, authorization=["Bearer alice-token"]).allowed  # errors are not cached


def test_the_token_is_never_logged(guard: Access, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        _check(guard, "POST", "/exec/ns/p/c", authorization=["Bearer alice-token"])
        _check(guard, authorization=["Bearer secret-unknown"])
    assert "Forbidden (user=alice" in caplog.text
    assert "alice-token" not in caplog.text and "secret-unknown" not in caplog.text
