"""The kubelet API's resource usage endpoints, for ``kubectl top`` (through metrics-server) and
whoever reads a kubelet's summary: ``GET /metrics/resource`` (Prometheus text) and
``GET /stats/summary`` (JSON), both from one :class:`MetricsSource` report of the mirrored pods.

Routed by :mod:`provider.kubelet.server`; the production source is
:class:`~provider.kubelet.lower_metrics.LowerMetrics`. A source that fails answers as a kubelet
whose scrape failed (``resource_scrape_error 1``, no pods), never with a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

import orjson

from provider.kubelet import exchange, prometheus_text, usage_rendering
from provider.kubelet import resource_usage as usage

logger = logging.getLogger(__name__)


class MetricsSource(Protocol):
    """Where the virtual node's resource usage comes from: one report per request."""

    def report(self) -> usage.Report: ...


class Sources(Protocol):
    """What the endpoints take from the server's app."""

    @property
    def metrics_source(self) -> MetricsSource | None: ...


def serve_resource(request: exchange.Exchange, app: Sources, params: Mapping[str, str], query: exchange.Query) -> None:
    """``/metrics/resource``: the kubelet's resource metrics of the mirrored pods and their sum."""
    report = _report(request, app)
    if report is not None:
        body = usage_rendering.metrics_text(report).encode()
        request.send_body(200, body, prometheus_text.CONTENT_TYPE)


def serve_summary(request: exchange.Exchange, app: Sources, params: Mapping[str, str], query: exchange.Query) -> None:
    """``/stats/summary``: the node and its pods' CPU and memory as the kubelet's Summary API."""
    report = _report(request, app)
    if report is not None:
        request.send_body(200, orjson.dumps(usage_rendering.summary(report)), "application/json")


def _report(request: exchange.Exchange, app: Sources) -> usage.Report | None:
    source = app.metrics_source
    if source is None:
        request.send_text(501, "resource metrics are not served by this virtual node")
        return None
    try:
        return source.report()
    except Exception:  # a scrape that failed is an answer, as from a kubelet
        logger.exception("kubelet API: resource metrics could not be gathered")
        return usage.Report("", usage.NodeUsage(0.0, 0.0, 0), failed_nodes=("*",))
