"""TrueX's REST API on the simulated exchange: the endpoints the deadman and reconciliation use.

:class:`SimulatorRestServer` serves, over the stdlib ``ThreadingHTTPServer`` on a daemon thread,
the paths :class:`~truex_qf.rest.client.TruexRestClient` calls, in both the plural (v1.0.3) and
the deprecated singular forms, checking TrueX's HMAC headers the way the client makes them
(spec §9). What it serves comes from the running venue:

- active orders: the account's working orders in the matching engine, as REST order objects
  with status ACTIVE, ``external_id`` = ClOrdID and quantities as decimal strings;
- order status by venue ID or ClOrdID (``id_type``), finished orders included;
- DELETE cancels through the matching engine with a fresh ClOrdID (``R`` + 17 characters) and
  publishes the events, so a logged-on FIX client also gets the cancel ExecutionReport
  (150=4, 41 = the order's ClOrdID, 11 = the REST cancel's ClOrdID);
- balances: the matching engine's balance book (:mod:`truex_qf.sim.balances`, the one
  the venue refuses orders against: PYUSD 1,000,000 and BTC 10 by default, moved by the
  account's trades), with ``order_hold`` from its working orders (fees are ignored);
- clients: the account's client ID, ACTIVE; market increments: the engine's price grid;
- without authentication, as TrueX (spec §15 #9): health, ``/api/v1/versions`` and
  ``/api/v1/market/quote?instrument_id=`` (the best bid and offer); their shapes are ours.

Where TrueX's answer is unknown the choices are ours: an unknown order is 404, cancelling a
finished order is 409 with the engine's "too late" text, errors are RFC 7807 problem details
(wrapped in ``{"error": ...}`` for ``v2026_01_23``), and order objects carry ``symbol`` next
to the numeric ``instrument_id`` as a convenience TrueX's objects may not have. Both
``executed_qty`` and TrueX's documented spelling ``exeuted_qty`` are sent. Timestamps follow
TrueX's REST docs (spec §15 #8): at most ``max_age_s`` (15 s) old and ``max_ahead_s`` (1 s) in
the future of the server's clock, else 401.

Threading: each request runs on its own thread; everything that reads or changes the engine
runs under ``venue.application.lock``, and cancel events are published while it is held, so
the FIX session sees them in order with everything else (lock order: venue lock, then the FIX
engine's session mutex, as in :mod:`truex_qf.sim.fix_acceptor`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.errors import TruexError
from truex_qf.domain.increments import PriceGrid
from truex_qf.domain.model import CancelOrder, OrderCancelReject, OrdStatus, OrdType, Side
from truex_qf.fix.signing import signature_matches
from truex_qf.rest.signing import rest_signature
from truex_qf.rest.wire import (
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    HEADER_TOKEN,
    HEADER_USER_ID,
    HEADER_USER_ID_ALT,
    HEADER_VERSION,
    ID_TYPE_CLIENT,
    ID_TYPE_EXCHANGE,
    PLURAL_PATHS,
    SINGULAR_PATHS,
    SUPPORTED_VERSIONS,
    VERSION_ENVELOPE,
    VERSION_RAW,
    RestPaths,
)
from truex_qf.sim.matching import TOO_LATE_TEXTS, MatchingEngine, ToClient

if TYPE_CHECKING:
    from truex_qf.sim.order_book import VenueOrder
    from truex_qf.sim.server import SimulatedVenue

log = logging.getLogger("truex_qf.sim.rest")

DEFAULT_ORGANIZATION_ID = "5e1f0c2a-7b7d-4c1e-9a51-000000000001"
_FIRST_INSTRUMENT_ID = 78873627520000001  # TrueX-like 17-digit IDs (our invention)
_FIRST_ASSET_ID = 78873627519877101
# Answered without authentication (spec §15 #9); the health path is our guess.
PUBLIC_HEALTH_PATHS = frozenset({"/health", "/api/v1/health"})
PUBLIC_VERSIONS_PATH = "/api/v1/versions"
PUBLIC_QUOTE_PATH = "/api/v1/market/quote"

# FIX OrdStatus of the engine's orders -> TrueX REST order status.
REST_STATUS = {
    OrdStatus.PENDING_NEW: "NEW_PENDING",
    OrdStatus.NEW: "ACTIVE",
    OrdStatus.PARTIALLY_FILLED: "ACTIVE",
    OrdStatus.PENDING_CANCEL: "CANCEL_PENDING",
    OrdStatus.PENDING_REPLACE: "MODIFY_PENDING",
    OrdStatus.REPLACED: "ACTIVE",
    OrdStatus.SUSPENDED: "ACTIVE",
    OrdStatus.FILLED: "FILLED",
    OrdStatus.CANCELED: "CANCELED",
    OrdStatus.EXPIRED: "CANCELED",
    OrdStatus.REJECTED: "REJECTED",
}

Reply = tuple[int, Any]  # HTTP status and the JSON body


class _Problem(Exception):
    """An error answer: HTTP status and TrueX-like problem detail."""

    def __init__(self, status: HTTPStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class SimulatorRestServer:
    """TrueX's REST endpoints for one :class:`SimulatedVenue`'s account, on a daemon thread.

    ``port`` 0 lets the kernel pick; :attr:`url` is the root to give the client after
    :meth:`start`. Balances are the engine's book (set with
    :attr:`SimulatorSettings.balances`); ``page_size`` is the default page length of
    ``v2026_01_23`` list answers; ``clock`` (epoch seconds) is what request timestamps are
    checked against.
    """

    def __init__(
        self,
        venue: SimulatedVenue,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_age_s: float = 15.0,
        max_ahead_s: float = 1.0,
        page_size: int = 100,
        organization_id: str = DEFAULT_ORGANIZATION_ID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.venue = venue
        self.host = host
        self.port = port
        self.max_age_s = max_age_s
        self.max_ahead_s = max_ahead_s
        self.page_size = page_size
        self.organization_id = organization_id
        self._clock = clock
        symbols = sorted(venue.settings.symbols)
        self.instrument_ids = {
            symbol: str(_FIRST_INSTRUMENT_ID + index) for index, symbol in enumerate(symbols)
        }
        self._cl_ord_ids = ClOrdIdGenerator(prefix="R")
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The root URL (``http://host:port``); the port is known once started."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and serve on a daemon thread; returns at once."""
        if self._server is not None:
            return
        try:
            server = _HTTPServer((self.host, self.port), _Handler)
        except OSError as exc:
            raise TruexError(
                f"cannot start the simulated REST API on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        server.daemon_threads = True
        server.rest = self
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sim-rest-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("simulated REST API listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving and close the socket; requests in flight finish on their threads."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimulatorRestServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ one request

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Any, bool]:
        """Answer one request: (HTTP status, JSON body, whether it is an error body).

        ``target`` is the request target as sent (path and query); ``headers`` must have
        lower-case names. Plain Python, so the routing can be driven without a socket.
        """
        version = headers.get(HEADER_VERSION.lower(), "") or VERSION_RAW
        if version not in SUPPORTED_VERSIONS:
            # Answered in the default format, since the asked-for one is unknown.
            return self._error(HTTPStatus.BAD_REQUEST, "Unsupported API version", VERSION_RAW)
        parts = urlsplit(target)
        path = parts.path
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            reply = self._route_public(method, path, query, version)
            if reply is None:
                self._authenticate(method, path, headers, body)
                reply = self._route(method, path, query, version)
            status, payload = reply
        except _Problem as problem:
            return self._error(problem.status, problem.detail, version)
        except Exception:
            log.exception("simulated REST API failed on %s %s", method, path)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error", version)
        return status, payload, False

    def _error(self, status: HTTPStatus, detail: str, version: str) -> tuple[int, Any, bool]:
        problem = {
            "type": "about:blank",
            "title": status.phrase,
            "status": int(status),
            "detail": detail,
        }
        return int(status), {"error": problem} if version == VERSION_ENVELOPE else problem, True

    def _authenticate(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        """TrueX's HMAC check; any failure is a 401 (a foreign client ID is a 403)."""
        credentials = self.venue.settings.account.credentials
        token = headers.get(HEADER_TOKEN, "")
        timestamp = headers.get(HEADER_TIMESTAMP, "")
        signature = headers.get(HEADER_SIGNATURE, "")
        if not (token and timestamp and signature):
            raise _Problem(HTTPStatus.UNAUTHORIZED, "Missing authentication headers")
        if not signature_matches(credentials.api_key, token):
            raise _Problem(HTTPStatus.UNAUTHORIZED, "Invalid API key")
        if not timestamp.isdigit():
            raise _Problem(HTTPStatus.UNAUTHORIZED, "Invalid timestamp (epoch seconds expected)")
        age_s = self._clock() - int(timestamp)
        if age_s > self.max_age_s or -age_s > self.max_ahead_s:
            raise _Problem(HTTPStatus.UNAUTHORIZED, "Timestamp outside the allowed window")
        # Accept the payload with and without the body: TrueX's sources disagree (spec §9.2).
        candidates = [rest_signature(credentials.secret_key, timestamp, method, path)]
        if body:
            candidates.append(rest_signature(credentials.secret_key, timestamp, method, path, body))
        if not any(signature_matches(expected, signature) for expected in candidates):
            raise _Problem(HTTPStatus.UNAUTHORIZED, "Invalid signature")
        user_id = headers.get(HEADER_USER_ID) or headers.get(HEADER_USER_ID_ALT)
        if user_id and user_id != self.venue.settings.account.client_id:
            raise _Problem(HTTPStatus.FORBIDDEN, "Invalid client")

    def _route_public(
        self, method: str, path: str, query: Mapping[str, str], version: str
    ) -> Reply | None:
        """The endpoints TrueX serves without authentication (spec §15 #9), or None.

        Auth headers sent anyway are not checked. The paths ``/api/v1/versions`` and
        ``/api/v1/market/quote`` are TrueX's; the health path (``/health``, also
        ``/api/v1/health``) and all three JSON shapes are ours, as the spec records none.
        """
        if path in PUBLIC_HEALTH_PATHS:
            _require(method, "GET")
            return HTTPStatus.OK, {"status": "OK"}
        if path == PUBLIC_VERSIONS_PATH:
            _require(method, "GET")
            versions = {"versions": list(SUPPORTED_VERSIONS), "default": VERSION_RAW}
            return HTTPStatus.OK, _one(versions, version)
        if path == PUBLIC_QUOTE_PATH:
            _require(method, "GET")
            return HTTPStatus.OK, _one(self._quote(query.get("instrument_id", "")), version)
        return None

    def _route(self, method: str, path: str, query: Mapping[str, str], version: str) -> Reply:
        for paths in (PLURAL_PATHS, SINGULAR_PATHS):
            reply = self._route_in(paths, method, path, query, version)
            if reply is not None:
                return reply
        raise _Problem(HTTPStatus.NOT_FOUND, "Not found")

    def _route_in(
        self, paths: RestPaths, method: str, path: str, query: Mapping[str, str], version: str
    ) -> Reply | None:
        listings: dict[str, Callable[[Mapping[str, str]], list[dict[str, Any]]]] = {
            paths.active_orders: self._active_orders,
            paths.balances: self._balances,
            paths.clients: self._clients,
            paths.increments: self._increments,
            paths.trades: self._trades,  # RECON's endpoint (trade history, spec §9.5)
        }
        if path in listings:
            _require(method, "GET")
            return HTTPStatus.OK, self._page(listings[path](query), query, version)
        status_prefix = paths.order_status.split("{", 1)[0]
        if path.startswith(status_prefix):
            _require(method, "GET")
            order = self._order_status(_ref_id(path, status_prefix), _id_type(query))
            return HTTPStatus.OK, self._page([order], {}, version)
        order_prefix = paths.order.split("{", 1)[0]
        if path.startswith(order_prefix):
            _require(method, "DELETE")
            order = self._cancel(_ref_id(path, order_prefix), _id_type(query))
            return HTTPStatus.OK, _one(order, version)
        return None

    def _page(self, items: list[dict[str, Any]], query: Mapping[str, str], version: str) -> Any:
        """A raw array for ``v2024_01_01``; one page and its cursor for ``v2026_01_23``."""
        if version != VERSION_ENVELOPE:
            return items
        try:
            limit = int(query.get("limit", self.page_size))
            start = int(query.get("cursor", "0"))
        except ValueError:
            raise _Problem(HTTPStatus.BAD_REQUEST, "Invalid limit or cursor") from None
        if limit < 1 or start < 0:
            raise _Problem(HTTPStatus.BAD_REQUEST, "Invalid limit or cursor")
        end = start + limit
        next_cursor = str(end) if end < len(items) else None
        pagination = {"limit": limit, "next_cursor": next_cursor}
        return {"data": items[start:end], "pagination": pagination}

    # ------------------------------------------------------------------ orders

    @property
    def _engine(self) -> MatchingEngine:
        return self.venue.engine

    @property
    def _client_id(self) -> str:
        return self.venue.settings.account.client_id

    def _active_orders(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        wanted = query.get("id")
        with self.venue.application.lock:
            views = self._engine.working_orders(self._client_id)
            records = {view.order_id: self._record(view.cl_ord_id) for view in views}
        orders = [
            self._order_object(view, records[view.order_id])
            for view in views
            if wanted is None or view.order_id == wanted
        ]
        return orders

    def _order_status(self, ref_id: str, id_type: str) -> dict[str, Any]:
        with self.venue.application.lock:
            record = self._find(ref_id, id_type)
            if record is None:
                raise _Problem(HTTPStatus.NOT_FOUND, "Order not found")
            return self._order_object(record, record)

    def _cancel(self, ref_id: str, id_type: str) -> dict[str, Any]:
        application = self.venue.application
        with application.lock:
            record = self._find(ref_id, id_type)
            if record is None:
                raise _Problem(HTTPStatus.NOT_FOUND, "Order not found")
            if record.ord_status.is_terminal:
                text = TOO_LATE_TEXTS.get(record.ord_status, "Order is done")
                raise _Problem(HTTPStatus.CONFLICT, text)
            request = CancelOrder(self._cl_ord_ids.next_id(), record.cl_ord_id)
            events = self._engine.cancel(self._client_id, request)
            application.publish(events)
            refusal = _cancel_refusal(events)
            if refusal is not None:
                raise _Problem(HTTPStatus.CONFLICT, refusal.text or "Cancel rejected")
            log.info("REST cancel of order %s (%s)", record.order_id, record.cl_ord_id)
            return self._order_object(record, record)

    def _find(self, ref_id: str, id_type: str) -> VenueOrder | None:
        """The account's order by venue ID or ClOrdID, finished ones included (lock held)."""
        if id_type == ID_TYPE_CLIENT:
            return self._record(ref_id)
        for (owner, _), record in _known_orders(self._engine).items():
            if owner == self._client_id and record.order_id == ref_id:
                return record
        return None

    def _record(self, cl_ord_id: str) -> VenueOrder | None:
        return _known_orders(self._engine).get((self._client_id, cl_ord_id))

    def _order_object(self, order: Any, record: VenueOrder | None) -> dict[str, Any]:
        """TrueX's REST order object for an engine order (a working view or a record)."""
        ord_type = record.ord_type if record is not None else OrdType.LIMIT
        avg_px = record.avg_px if record is not None else None
        info: dict[str, Any] = {
            "client_id": order.owner,
            "instrument_id": self.instrument_ids.get(order.symbol, order.symbol),
            "symbol": order.symbol,
            "side": "BUY" if order.side is Side.BUY else "SELL",
            "type": "MARKET" if ord_type is OrdType.MARKET else "LIMIT",
            "tif": order.time_in_force.name,
            "qty": _text(order.order_qty),
        }
        if order.price is not None:
            info["price"] = _text(order.price)
        if order.post_only:
            info["exec_inst_flags"] = ["ALO"]
        executed = _text(order.cum_qty)
        return {
            "id": order.order_id,
            "status": REST_STATUS.get(order.ord_status, "ACTIVE"),
            "order_info": info,
            "external_id": order.cl_ord_id,
            "pending_qty": "0",
            "leaves_qty": _text(order.leaves_qty),
            "executed_qty": executed,
            "exeuted_qty": executed,  # TrueX's documented spelling
            "executed_vwap": _text(avg_px) if avg_px is not None else "0",
        }

    # ------------------------------------------------------------------ market

    def _quote(self, instrument_id: str) -> dict[str, Any]:
        """The best bid and offer of one instrument (by its ID, or its symbol as a convenience).

        Our shape: ``instrument_id``, ``symbol``, ``bid_price``/``bid_qty`` and
        ``ask_price``/``ask_qty`` as decimal strings (null for an empty side), ``timestamp`` in
        epoch milliseconds.
        """
        if not instrument_id:
            raise _Problem(HTTPStatus.BAD_REQUEST, "instrument_id is required")
        symbols = {number: symbol for symbol, number in self.instrument_ids.items()}
        symbol = symbols.get(instrument_id) or (
            instrument_id if instrument_id in self.instrument_ids else None
        )
        if symbol is None:
            raise _Problem(HTTPStatus.NOT_FOUND, "Unknown instrument")
        with self.venue.application.lock:
            depth = self._engine.depth(symbol, 1)
        quote: dict[str, Any] = {
            "instrument_id": self.instrument_ids[symbol],
            "symbol": symbol,
            "timestamp": int(self._clock() * 1000),
        }
        for side, levels in (("bid", depth.bids), ("ask", depth.offers)):
            best = levels[0] if levels else None
            quote[f"{side}_price"] = _text(best.price) if best is not None else None
            quote[f"{side}_qty"] = _text(best.size) if best is not None else None
        return quote

    # ------------------------------------------------------------------ account

    def _balances(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        client_id = self._client_id
        with self.venue.application.lock:
            assets = self._engine.balances(client_id)
        asset_ids = {
            asset.asset: str(_FIRST_ASSET_ID + index) for index, asset in enumerate(assets)
        }
        rows = [
            {
                "asset_id": asset_ids[asset.asset],
                "asset_name": asset.asset,
                "balance": _text(asset.balance),
                "unsettled": "0",
                "order_hold": _text(asset.order_hold),
                "transfer_hold": _text(asset.transfer_hold),
                "state": "ACTIVE",
            }
            for asset in assets
            if query.get("asset_name") in (None, asset.asset)
            and query.get("asset_id") in (None, asset_ids[asset.asset])
        ]
        entry = {
            "id": client_id,
            "status": "INVALID",  # TrueX: "exchange only status value, will always be INVALID"
            "unsettled_fees": "0",
            "fees_hold": "0",
            "balances": rows,
        }
        return [entry]

    def _trades(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """The account's executions, oldest first; ``since`` (epoch ms) filters them.

        One object per side of ours (both, for a trade with ourselves): ``id`` and
        ``exec_id`` are the ExecID (17) the FIX report of that side carried, ``trade_id``
        the TrdMatchID (880), so a client can tell which it already has. The field names
        are ours: TrueX's trade object is not documented beyond its endpoint.
        """
        try:
            since_ms = int(query["since"]) if query.get("since") else None
        except ValueError:
            raise _Problem(HTTPStatus.BAD_REQUEST, "since must be epoch milliseconds") from None
        client_id = self._client_id
        with self.venue.application.lock:
            trades = self._engine.trades()
        items = []
        for trade in trades:
            at_ms = _epoch_ms(trade.transact_time)
            if since_ms is not None and at_ms is not None and at_ms < since_ms:
                continue
            sides = (
                (trade.buy_owner, Side.BUY, trade.buy_exec_id, trade.buy_order_id,
                 trade.buy_cl_ord_id, trade.buy_fee, trade.buy_liquidity),
                (trade.sell_owner, Side.SELL, trade.sell_exec_id, trade.sell_order_id,
                 trade.sell_cl_ord_id, trade.sell_fee, trade.sell_liquidity),
            )  # fmt: skip
            for owner, side, exec_id, order_id, cl_ord_id, fee, liquidity in sides:
                if owner != client_id:
                    continue
                items.append(
                    {
                        "id": exec_id,
                        "exec_id": exec_id,
                        "trade_id": trade.trade_match_id,
                        "order_id": order_id,
                        "external_id": cl_ord_id,
                        "instrument_id": self.instrument_ids.get(trade.symbol, trade.symbol),
                        "symbol": trade.symbol,
                        "side": side.name,
                        "price": _text(trade.price),
                        "qty": _text(trade.quantity),
                        "fee": _text(fee),
                        "liquidity": {"1": "MAKER", "2": "TAKER"}.get(liquidity, liquidity),
                        "timestamp": at_ms,
                    }
                )
        return items

    def _clients(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        account = self.venue.settings.account
        client = {
            "id": account.client_id,
            "status": "ACTIVE",
            "organization_id": self.organization_id,
            "info": {
                "mnemonic": account.sender_comp_id,
                "type": "INSTITUTION",
                "self_trade_prevention": "CANCEL_AGGRESSIVE",
            },
        }
        if query.get("id") not in (None, account.client_id):
            return []
        if query.get("mnemonic") not in (None, account.sender_comp_id):
            return []
        return [client]

    def _increments(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        return increment_objects(self._engine.grid)


# --------------------------------------------------------------------------- helpers


def _one(item: dict[str, Any], version: str) -> Any:
    """A single object: as it is for ``v2024_01_01``, ``{"data": ...}`` for ``v2026_01_23``."""
    return {"data": item} if version == VERSION_ENVELOPE else item


def increment_objects(grid: PriceGrid) -> list[dict[str, Any]]:
    """The grid's buckets, highest first as on TrueX's page; the field names are ours."""
    rows = []
    next_floor: Decimal | None = None  # the floor of the bucket above; None for the top one
    for number, bucket in enumerate(grid.buckets, start=1):
        upper = None if next_floor is None else next_floor - bucket.tick
        rows.append(
            {
                "bucket": number,
                "lower_price": _text(bucket.floor_price),
                "upper_price": None if upper is None else _text(upper),
                "tick_size": _text(bucket.tick),
                "lot_size": _text(bucket.lot),
                "min_notional": _text(grid.min_notional),
            }
        )
        next_floor = bucket.floor_price
    return rows


def _known_orders(engine: MatchingEngine) -> Mapping[tuple[str, str], VenueOrder]:
    """Every order the engine remembers, finished ones included, by (owner, ClOrdID).

    The engine has no public lookup of finished orders; reading its index here lets the REST
    view report FILLED and CANCELED truthfully. Replace with a public accessor when the engine
    gets one. Call with the venue lock held.
    """
    return getattr(engine, "_orders_by_cl_ord_id", {})


def _cancel_refusal(events: Iterable[object]) -> OrderCancelReject | None:
    for event in events:
        if isinstance(event, ToClient) and isinstance(event.message, OrderCancelReject):
            return event.message
    return None


def _require(method: str, allowed: str) -> None:
    if method != allowed:
        raise _Problem(HTTPStatus.METHOD_NOT_ALLOWED, f"Use {allowed}")


def _ref_id(path: str, prefix: str) -> str:
    ref_id = unquote(path[len(prefix) :])
    if not ref_id or "/" in ref_id:
        raise _Problem(HTTPStatus.NOT_FOUND, "Not found")
    return ref_id


def _id_type(query: Mapping[str, str]) -> str:
    id_type = query.get("id_type", ID_TYPE_EXCHANGE)
    if id_type not in (ID_TYPE_EXCHANGE, ID_TYPE_CLIENT):
        raise _Problem(HTTPStatus.BAD_REQUEST, "id_type must be 'client' or 'exchange'")
    return id_type


def _epoch_ms(transact_time: str) -> int | None:
    """Epoch milliseconds of a TransactTime (``%Y%m%d-%H:%M:%S.%f``, UTC); None if unreadable."""
    try:
        moment = datetime.strptime(transact_time, "%Y%m%d-%H:%M:%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def _text(value: Decimal) -> str:
    """A decimal string without exponent (``0.0001``, never ``1E-4``)."""
    return format(value, "f")


class _HTTPServer(ThreadingHTTPServer):
    """The stdlib server, carrying the simulated API its request handlers answer from."""

    rest: SimulatorRestServer


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets :meth:`SimulatorRestServer.handle` answer it, writes JSON.

    HTTP/1.0, so every connection closes after its answer and nothing lingers after stop.
    """

    server: _HTTPServer

    server_version = "SimulatedTrueX/1.0"
    # Each connection has a thread; one that sends no request would keep it for ever, so a
    # flood of silent connections piled up threads (issue 17 item 7). Idle for this long, the
    # connection is closed and its thread ends.
    timeout = 10

    def do_GET(self) -> None:
        self._serve("GET")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        rest: SimulatorRestServer = self.server.rest
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, payload, is_error = rest.handle(method, self.path, headers, body)
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        content_type = "application/problem+json" if is_error else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Never the headers: only the request line and status, at debug level.
        log.debug("%s " + format, self.address_string(), *args)
