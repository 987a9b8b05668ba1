"""The text a Prometheus scrape of a Metrics registry gets, read in process."""

from __future__ import annotations

from prometheus_client import generate_latest

from truex_qf.observe.metrics import Metrics


def exposition(metrics: Metrics) -> str:
    """The registry in the text exposition format, as the /metrics endpoint serves it."""
    return generate_latest(metrics.registry).decode("utf-8")
