"""Runs REST calls off the trading thread and posts their results back as events.

Trading must never wait on HTTP: it asks (reconcile: active orders, statuses, the trades since
the last known fill and the balances, or the trades alone for the periodic listing; deadman
cancel; cancel unknown orders)
and carries on; this worker's thread does the calls and puts a result event on the queue the
FIX session events arrive on, which the trading lock's next holder applies in order.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from truex_qf.rest.client import (
    ID_TYPE_CLIENT,
    Balance,
    RestError,
    TruexRestClient,
    VenueOrder,
    VenueTrade,
)
from truex_qf.trading.reconcile import DeadmanResult, ReconcileRequest, ReconcileResult

log = logging.getLogger("truex_qf.rest")

_STOP = object()


class RestWorker:
    """One thread, one job at a time (REST rate limits apply to us too)."""

    def __init__(
        self, client: TruexRestClient, post: Callable[[ReconcileResult | DeadmanResult], None]
    ) -> None:
        self.client = client
        self._post = post
        self._jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="truex-rest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the job in hand, then stop; safe when never started."""
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join(timeout_s)
        self.client.close()

    # ------------------------------------------------------------------ requests (any thread)

    def reconcile(self, request: ReconcileRequest) -> None:
        self._jobs.put(request)

    def deadman(self, known_cl_ord_ids: tuple[str, ...]) -> None:
        self._jobs.put(("deadman", known_cl_ord_ids))

    def cancel_orders(self, order_ids: tuple[str, ...]) -> None:
        self._jobs.put(("cancel", order_ids))

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while (job := self._jobs.get()) is not _STOP:
            try:
                self._do(job)
            except Exception:  # a failed job must not end the worker
                log.exception("REST job %r failed", job)

    def _do(self, job: object) -> None:
        if isinstance(job, ReconcileRequest):
            self._post(self._reconcile(job))
        elif isinstance(job, tuple) and job[0] == "deadman":
            self._post(self._deadman(job[1]))
        elif isinstance(job, tuple) and job[0] == "cancel":
            for order_id in job[1]:
                try:
                    result = self.client.cancel_order(order_id)
                    log.warning(
                        "cancelled unknown venue order %s: %s", order_id, result.outcome.value
                    )
                except RestError as exc:
                    log.error("could not cancel unknown venue order %s: %s", order_id, exc)

    def _reconcile(self, request: ReconcileRequest) -> ReconcileResult:
        if request.trades_only:
            try:
                return ReconcileResult(
                    trades=self._trades(request.trades_since_s), trades_only=True
                )
            except RestError as exc:
                return ReconcileResult(error=str(exc), trades_only=True)
        try:
            active = tuple(self.client.active_orders())
            listed = {order.external_id for order in active}
            statuses: dict[str, VenueOrder | None] = {}
            for cl_ord_id in request.working_cl_ord_ids:
                if cl_ord_id in listed:
                    continue
                try:
                    statuses[cl_ord_id] = self.client.order_status(
                        cl_ord_id, id_type=ID_TYPE_CLIENT
                    )
                except RestError as exc:
                    if exc.status != 404:
                        raise
                    statuses[cl_ord_id] = None
            # after the statuses: every fill they show is in the trades listed next
            trades = self._trades(request.trades_since_s)
            balances = self._balances()
            return ReconcileResult(
                active=active, statuses=statuses, trades=trades, balances=balances
            )
        except RestError as exc:
            return ReconcileResult(error=str(exc))

    def _balances(self) -> tuple[Balance, ...]:
        """The balances, for the log and the status: informational, so a failure is logged
        and reconciliation goes on without them."""
        try:
            return tuple(self.client.balances())
        except RestError as exc:
            log.warning("could not read the balances: %s", exc)
            return ()

    def _trades(self, since_s: float | None) -> tuple[VenueTrade, ...] | None:
        """The venue's trades since ``since_s``; None when it serves no trade history (404),
        and reconciliation then falls back on each order's executed quantity."""
        try:
            return tuple(self.client.trades(since_s))
        except RestError as exc:
            if exc.status != 404:
                raise
            log.warning(
                "the venue serves no trade history (%s): missed fills of orders "
                "from earlier runs cannot be recovered",
                exc,
            )
            return None

    def _deadman(self, known: tuple[str, ...]) -> DeadmanResult:
        try:
            result = self.client.cancel_all_active(known_external_ids=known)
        except RestError as exc:
            return DeadmanResult(canceled=0, failed=(), error=str(exc))
        error = result.listing_error
        return DeadmanResult(
            canceled=len(result.canceled), failed=tuple(result.failed), error=error
        )
