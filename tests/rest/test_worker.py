"""The REST worker against the simulator's REST API: one reconciliation, off the caller's thread."""

from __future__ import annotations

import queue
from decimal import Decimal

from truex_qf.app.demo import DEMO_SYMBOL
from truex_qf.domain.model import NewOrder, Side
from truex_qf.domain.netutil import free_port
from truex_qf.rest.client import TruexRestClient
from truex_qf.rest.worker import RestWorker
from truex_qf.sim.rest_server import SimulatorRestServer
from truex_qf.trading.reconcile import ReconcileRequest, ReconcileResult

TIMEOUT_S = 30.0


def reconcile(client: TruexRestClient, request: ReconcileRequest) -> ReconcileResult:
    results: queue.SimpleQueue[object] = queue.SimpleQueue()
    worker = RestWorker(client, results.put)
    worker.start()
    try:
        worker.reconcile(request)
        result = results.get(timeout=TIMEOUT_S)
    finally:
        worker.stop()
    assert isinstance(result, ReconcileResult)
    return result


def test_a_reconciliation_brings_orders_trades_and_balances(local_venue):
    venue, account = local_venue.venue, local_venue.client_settings
    with venue.application.lock:
        best_bid = venue.engine.depth(DEMO_SYMBOL, 1).bids[0].price
        for order in (
            NewOrder("W1", DEMO_SYMBOL, Side.SELL, Decimal("0.001"), best_bid + 5000),
            NewOrder("T1", DEMO_SYMBOL, Side.SELL, Decimal("0.002"), best_bid),
        ):
            venue.application.publish(venue.engine.submit(account.client_id, order))
    server = SimulatorRestServer(venue)
    server.start()
    try:
        client = TruexRestClient(server.url, account.credentials, account.client_id)
        result = reconcile(client, ReconcileRequest(("W1", "GONE1"), trades_since_s=None))
        # the periodic listing: the trades alone (the worker closed the first client)
        client = TruexRestClient(server.url, account.credentials, account.client_id)
        listing = reconcile(client, ReconcileRequest((), trades_since_s=0.0, trades_only=True))
    finally:
        server.stop()
    assert listing.trades_only and listing.error is None
    assert listing.trades == result.trades and listing.active == () and listing.balances == ()
    assert result.error is None
    assert [o.external_id for o in result.active] == ["W1"]
    assert result.statuses == {"GONE1": None}  # asked about, unknown to the venue
    (trade,) = result.trades
    assert (trade.external_id, trade.side, trade.quantity) == ("T1", Side.SELL, Decimal("0.002"))
    balances = {b.asset_name: b for b in result.balances}
    assert balances["BTC"].balance == Decimal("9.998")


def test_an_unreachable_venue_is_an_error_result(local_venue):
    account = local_venue.client_settings
    closed = f"http://127.0.0.1:{free_port()}"
    client = TruexRestClient(closed, account.credentials, account.client_id, backoff_s=0.01)
    result = reconcile(client, ReconcileRequest(()))
    assert result.error is not None and "no answer" in result.error
    assert result.active == () and result.trades == ()
    client = TruexRestClient(closed, account.credentials, account.client_id, backoff_s=0.01)
    listing = reconcile(client, ReconcileRequest((), trades_only=True))
    assert listing.trades_only and listing.error is not None
