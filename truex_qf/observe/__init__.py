"""Observability off the trading path: live state on Redis, Prometheus metrics, and alerts.

Everything here is called from the trading loop through cheap, non-blocking methods (a queue
append, a metric update, a float store); the I/O (Redis, the HTTP exposition server, webhooks)
runs on threads of its own, and a failure there is logged and counted, never raised.
"""

from __future__ import annotations

from truex_qf.observe.alerts import Alert, AlertManager, AlertSettings
from truex_qf.observe.live_state import (
    LiveSnapshot,
    LiveStatePublisher,
    PublisherStats,
    QuoteView,
    SessionHealth,
    SymbolView,
    build_snapshot,
    read_live_state,
)
from truex_qf.observe.metrics import Metrics

__all__ = [
    "Alert",
    "AlertManager",
    "AlertSettings",
    "LiveSnapshot",
    "LiveStatePublisher",
    "Metrics",
    "PublisherStats",
    "QuoteView",
    "SessionHealth",
    "SymbolView",
    "build_snapshot",
    "read_live_state",
]
