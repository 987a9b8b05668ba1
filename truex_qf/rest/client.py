"""A typed client for the TrueX REST API: order reconciliation and the cancel-everything deadman.

TrueX documents no cancel-on-disconnect for FIX, so when the order-entry session drops the
program cancels its working orders here, and after every (re)logon it compares its own orders
with :meth:`TruexRestClient.active_orders` (spec §9.5). Everything returned is a frozen
dataclass with :class:`~decimal.Decimal` amounts; every failure is a :class:`RestError` whose
message is one line and never carries a secret.

Choices made where the venue's behaviour is not documented (spec §9, §14), each a constructor
option because it is a fact about the venue rather than about us:

- Paths: the plural forms of REST v1.0.3 (``/api/v1/orders/active``, ``/api/v1/balances``, ...)
  by default; ``path_style=PathStyle.SINGULAR`` selects the deprecated singular forms
  (``/api/v1/order/active``, ``/api/v1/balance``, ``/api/v1/client``,
  ``/api/v1/market/increment``) that the UAT guide and the official tools use. The plural of
  ``market/increment`` is not in the retrievable docs; ``markets/increments`` is our guess.
- Order references in paths: the documented ``id_type`` query parameter (``exchange``, the
  default, or ``client`` for the ``external_id`` = ClOrdID); the query string is not signed.
- Signature: ``timestamp + METHOD + path`` without the body (``include_body_in_signature``
  False, as in the official ``getClientIds.py``). TrueX's docs and the JS client append the
  body; it makes no difference yet, as we only send GET and DELETE.
- ``x-truex-auth-userid`` (the client ID): sent by default (the docs list it as required, the
  official ``getClientIds.py`` omits it and the official ``rest.py`` calls it
  ``x-truex-auth-user-id``); ``send_user_id`` and ``user_id_header`` change that.
- Envelopes: both ``X-Truex-Version`` formats are read whatever was asked for (raw arrays for
  ``v2024_01_01``, ``{data, pagination}`` for ``v2026_01_23``); list endpoints follow
  ``pagination.next_cursor`` with the ``cursor`` query parameter (its name is our guess).
- Executed quantity: ``executed_qty`` as the spec names it, else ``exeuted_qty`` as TrueX's
  own example spells it.
- Trade history (``GET /api/v1/orders/trades``, singular ``/api/v1/order/trade``, spec §9.5):
  the object's fields are not documented; we read ``exec_id`` (else ``id``) as the FIX ExecID,
  ``trade_id``/``trade_match_id`` as TrdMatchID(880), ``timestamp`` (epoch ms) or
  ``created_at``, and send ``since`` in epoch ms (also filtered here).
- Retries: connection errors, timeouts and 5xx answers are retried ``max_attempts`` times in
  all with doubling back-off (re-signed each time); 4xx answers never are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from truex_qf import __version__
from truex_qf.config import Credentials
from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.domain.model import Side

# The venue's values are defined in domain/ (which imports no HTTP); they keep their names
# here for callers of the client, as do the wire facts of rest/wire.py.
from truex_qf.domain.venue_orders import Balance, RestOrderStatus, VenueOrder, VenueTrade
from truex_qf.rest.signing import rest_signature
from truex_qf.rest.wire import (
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    HEADER_TOKEN,
    HEADER_USER_ID,
    HEADER_VERSION,
    ID_TYPE_CLIENT,
    ID_TYPE_EXCHANGE,
    PATHS,
    SUPPORTED_VERSIONS,
    VERSION_RAW,
    PathStyle,
)

log = logging.getLogger("truex_qf.rest")

AUTH_HINT = "check TRUEX_API_KEY/TRUEX_SECRET_KEY and the clock (timestamps are in seconds)"
CLIENT_HINT = "check TRUEX_CLIENT_ID (client IDs expire; GET /api/v1/clients lists yours)"
_MAX_REASON = 200


class RestError(TruexError):
    """A REST call failed: ``status`` is the HTTP status, None when no answer came at all."""

    def __init__(self, status: int | None, reason: str, method: str = "", path: str = "") -> None:
        self.status = status
        self.reason = one_line(reason)
        self.method = method
        self.path = path
        where = f"{method} {path}".strip() or "request"
        code = str(status) if status is not None else "no answer"
        message = f"TrueX REST {where} failed ({code}): {self.reason}"
        if status == 401:
            message += f"; {AUTH_HINT}"
        elif status == 403:
            message += f"; {CLIENT_HINT}"
        super().__init__(message)


def one_line(text: str) -> str:
    """``text`` on one line and at most 200 characters, for error messages and logs."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MAX_REASON else flat[: _MAX_REASON - 3] + "..."


# --------------------------------------------------------------------------- values


class CancelOutcome(str, Enum):
    """What a cancel request achieved; none of these is an error."""

    CANCELED = "canceled"  # the venue took the cancel (status CANCELED or CANCEL_PENDING)
    ALREADY_DONE = "already_done"  # the order had already filled, been cancelled or rejected
    UNKNOWN_ORDER = "unknown_order"  # the venue does not know the reference


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The answer to one cancel: the reference we sent, the outcome and the venue's words."""

    ref_id: str
    id_type: str
    outcome: CancelOutcome
    status: RestOrderStatus | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CancelAllResult:
    """The deadman's report: which orders were cancelled, which were gone, which failed.

    ``failed`` holds (reference, one-line reason) pairs. ``listing_error`` is set when the
    active orders could not be listed; then only the caller's known ClOrdIDs were tried.
    """

    canceled: tuple[str, ...] = ()
    already_done: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    listing_error: str | None = None

    @property
    def complete(self) -> bool:
        """True when the listing worked and no cancel failed: nothing is known to be left."""
        return self.listing_error is None and not self.failed


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """A TrueX client tied to the API key: its ID is the FIX PartyID (448) (spec §9.3)."""

    client_id: str
    status: str
    organization_id: str | None
    mnemonic: str | None
    client_type: str | None


@dataclass(frozen=True, slots=True)
class MarketIncrement:
    """One price bucket of TrueX's grid (spec §7.7); ``upper_price`` None means unbounded."""

    lower_price: Decimal
    upper_price: Decimal | None
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal | None


# --------------------------------------------------------------------------- client


class TruexRestClient:
    """Authenticated calls to TrueX REST over one pooled ``httpx.Client``; thread-safe.

    ``base_url`` is the venue's root (``http://uat.truex.co:9742``); a trailing ``/api/v1`` is
    accepted and dropped. ``transport`` lets tests inject an ``httpx`` transport. Use as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        client_id: str,
        *,
        timeout_s: float = 5.0,
        version: str = VERSION_RAW,
        include_body_in_signature: bool = False,
        transport: httpx.BaseTransport | None = None,
        path_style: PathStyle = PathStyle.PLURAL,
        send_user_id: bool = True,
        user_id_header: str = HEADER_USER_ID,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
        max_backoff_s: float = 2.0,
        max_pages: int = 100,
        cursor_param: str = "cursor",
        instrument_symbols: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if version not in SUPPORTED_VERSIONS:
            known = ", ".join(SUPPORTED_VERSIONS)
            raise ConfigError("version", f"{version!r} is not one of {known}")
        if max_attempts < 1:
            raise ConfigError("max_attempts", "must be at least 1")
        if timeout_s <= 0:
            raise ConfigError("timeout_s", "must be positive")
        root = base_url.rstrip("/")
        if root.endswith("/api/v1"):
            root = root[: -len("/api/v1")]
        parts = urlsplit(root)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("base_url", f"{base_url!r} is not an http(s) URL")
        self.base_url = root
        self.client_id = client_id
        self.version = version
        self.paths = PATHS[PathStyle(path_style)]
        self.include_body_in_signature = include_body_in_signature
        self.send_user_id = send_user_id
        self.user_id_header = user_id_header
        self._credentials = credentials
        self._prefix = parts.path  # a reverse proxy's prefix, if any, is part of what is signed
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._max_pages = max_pages
        self._cursor_param = cursor_param
        self._instrument_symbols = dict(instrument_symbols or {})
        self._clock = clock
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=root,
            timeout=timeout_s,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": f"truex-qf/{__version__}"},
        )

    def __repr__(self) -> str:
        return f"TruexRestClient({self.base_url!r}, client_id={self.client_id!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TruexRestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ orders

    def active_orders(self) -> list[VenueOrder]:
        """Every order the venue holds as active for our API key (all pages)."""
        path = self.paths.active_orders
        return [self._order(item, path) for item in self._get_list(path)]

    def order_status(self, order_id: str, *, id_type: str = ID_TYPE_EXCHANGE) -> VenueOrder:
        """One order by venue ID (or by ClOrdID with ``id_type="client"``); 404 if unknown."""
        path = self._order_path(self.paths.order_status, order_id)
        body = self._request("GET", path, self._id_params(id_type))
        item = _first_object(body)
        if item is None:
            raise RestError(404, "order not found", "GET", path)
        return self._order(item, path)

    def cancel_order(self, order_id: str, *, id_type: str = ID_TYPE_EXCHANGE) -> CancelResult:
        """Cancel one order; idempotent: an unknown or finished order is reported, not raised.

        Raises :class:`RestError` only when the outcome is not known (no answer after the
        retries, an authentication failure, or a refusal of an order that is still working).
        """
        path = self._order_path(self.paths.order, order_id)
        try:
            body = self._request("DELETE", path, self._id_params(id_type))
        except RestError as exc:
            return self._cancel_refused(order_id, id_type, exc)
        item = _first_object(body)
        status = self._order(item, path).status if item is not None else None
        if status is not None and status.is_terminal and status is not RestOrderStatus.CANCELED:
            return CancelResult(order_id, id_type, CancelOutcome.ALREADY_DONE, status)
        return CancelResult(order_id, id_type, CancelOutcome.CANCELED, status)

    def cancel_all_active(self, known_external_ids: Iterable[str] = ()) -> CancelAllResult:
        """The deadman: cancel every active order, one DELETE each, and report per order.

        ``known_external_ids`` are ClOrdIDs the caller believes are working; those the listing
        did not show (or all of them, if listing failed) are cancelled by ``id_type=client``.
        Requests go one after another, to stay inside TrueX's rate limits.
        """
        canceled: list[str] = []
        already_done: list[str] = []
        unknown: list[str] = []
        failed: list[tuple[str, str]] = []
        listing_error = None
        try:
            orders = self.active_orders()
        except RestError as exc:
            listing_error = str(exc)
            orders = []
        targets = [(order.order_id, ID_TYPE_EXCHANGE) for order in orders]
        listed = {order.external_id for order in orders}
        targets += [
            (external_id, ID_TYPE_CLIENT)
            for external_id in dict.fromkeys(known_external_ids)
            if external_id not in listed
        ]
        for ref_id, id_type in targets:
            try:
                result = self.cancel_order(ref_id, id_type=id_type)
            except RestError as exc:
                failed.append((ref_id, str(exc)))
                continue
            if result.outcome is CancelOutcome.CANCELED:
                canceled.append(ref_id)
            elif result.outcome is CancelOutcome.ALREADY_DONE:
                already_done.append(ref_id)
            else:
                unknown.append(ref_id)
        outcome = CancelAllResult(
            tuple(canceled), tuple(already_done), tuple(unknown), tuple(failed), listing_error
        )
        level = logging.INFO if outcome.complete else logging.ERROR
        log.log(
            level,
            "REST cancel-all: %d canceled, %d already done, %d unknown, %d failed%s",
            len(canceled),
            len(already_done),
            len(unknown),
            len(failed),
            f"; listing failed: {listing_error}" if listing_error else "",
        )
        return outcome

    # ------------------------------------------------------------------ account

    def balances(self) -> list[Balance]:
        """Every asset balance, flattened out of TrueX's per-client entries."""
        path = self.paths.balances
        rows: list[Balance] = []
        for entry in self._get_list(path):
            nested = entry.get("balances")
            for row in nested if isinstance(nested, list) else [entry]:
                rows.append(_balance(_as_object(row, path), path))
        return rows

    def trades(self, since_s: float | None = None) -> list[VenueTrade]:
        """Our executions, oldest first, from ``since_s`` (epoch seconds) on (all pages).

        TrueX keeps 28 days (spec §9.5); ``since`` is sent as epoch milliseconds, our guess at
        the parameter's name and unit, and the answer is filtered here too, so a venue that
        ignores it costs a longer answer, not a wrong one.
        """
        path = self.paths.trades
        params = {"since": str(int(since_s * 1000))} if since_s is not None else None
        trades = [self._trade(item, path) for item in self._get_list(path, params)]
        if since_s is not None:
            trades = [t for t in trades if t.at_s is None or t.at_s >= since_s]
        return sorted(trades, key=lambda t: (t.at_s or 0.0))

    def clients(self) -> list[ClientInfo]:
        """The TrueX clients tied to the API key; their IDs go into PartyID (448)."""
        path = self.paths.clients
        return [_client(item, path) for item in self._get_list(path)]

    def increments(self) -> list[MarketIncrement]:
        """The price/quantity grid by price bucket, as the venue serves it today."""
        path = self.paths.increments
        return [_increment(item, path) for item in self._get_list(path)]

    def health(self) -> bool:
        """One authenticated GET with no retry: True when the venue answers it with success."""
        try:
            self._request("GET", self.paths.clients, None, attempts=1)
        except RestError as exc:
            log.warning("REST health check failed: %s", exc)
            return False
        return True

    # ------------------------------------------------------------------ transport

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        *,
        attempts: int | None = None,
    ) -> Any:
        """Send one signed request with retries; the parsed JSON body (None when empty)."""
        attempts = attempts or self._max_attempts
        wire_path = self._prefix + path
        error = RestError(None, "not attempted", method, path)
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(
                    method, path, params=params, headers=self._auth_headers(method, wire_path)
                )
            except httpx.TransportError as exc:
                error = RestError(None, f"{type(exc).__name__}: {exc}", method, path)
            else:
                if response.is_success:
                    return _json(response, method, path)
                error = _error_from(response, method, path)
                if response.status_code < 500:
                    raise error
            if attempt < attempts:
                delay = min(self._backoff_s * 2 ** (attempt - 1), self._max_backoff_s)
                log.warning("REST %s %s attempt %d failed: %s", method, path, attempt, error)
                self._sleep(delay)
        raise error

    def _auth_headers(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        timestamp = int(self._clock())
        signature = rest_signature(
            self._credentials.secret_key,
            timestamp,
            method,
            path,
            body if self.include_body_in_signature else None,
        )
        headers = {
            HEADER_TOKEN: self._credentials.api_key,
            HEADER_TIMESTAMP: str(timestamp),
            HEADER_SIGNATURE: signature,
            HEADER_VERSION: self.version,
        }
        if self.send_user_id:
            headers[self.user_id_header] = self.client_id
        return headers

    def _get_list(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """All items of a list endpoint, following ``pagination.next_cursor``."""
        items: list[dict[str, Any]] = []
        query = dict(params or {})
        for _ in range(self._max_pages):
            page, next_cursor = _unwrap_list(self._request("GET", path, query or None), path)
            items.extend(page)
            if not next_cursor:
                return items
            query[self._cursor_param] = str(next_cursor)
        raise RestError(None, f"more than {self._max_pages} pages", "GET", path)

    def _order_path(self, template: str, ref_id: str) -> str:
        if not ref_id:
            raise ValueError("an order reference is required")
        return template.format(ref_id=quote(ref_id, safe=""))

    @staticmethod
    def _id_params(id_type: str) -> dict[str, str] | None:
        if id_type not in (ID_TYPE_EXCHANGE, ID_TYPE_CLIENT):
            raise ValueError(f"id_type must be {ID_TYPE_EXCHANGE!r} or {ID_TYPE_CLIENT!r}")
        # The venue's default is "exchange"; only the other case is sent.
        return {"id_type": id_type} if id_type == ID_TYPE_CLIENT else None

    def _cancel_refused(self, ref_id: str, id_type: str, error: RestError) -> CancelResult:
        """Turn a refused DELETE into an outcome when the order is unknown or already done."""
        if error.status == 404:
            return CancelResult(ref_id, id_type, CancelOutcome.UNKNOWN_ORDER, None, error.reason)
        if error.status not in (400, 409, 410, 422):
            raise error
        # TrueX's status for "too late" is undocumented: ask for the order before deciding.
        try:
            order = self.order_status(ref_id, id_type=id_type)
        except RestError as status_error:
            if status_error.status == 404:
                unknown = CancelOutcome.UNKNOWN_ORDER
                return CancelResult(ref_id, id_type, unknown, None, error.reason)
            raise error from None
        if order.status.is_terminal:
            return CancelResult(
                ref_id, id_type, CancelOutcome.ALREADY_DONE, order.status, error.reason
            )
        raise error

    def _order(self, item: Mapping[str, Any], path: str) -> VenueOrder:
        info = item.get("order_info") or item.get("order") or {}
        if not isinstance(info, Mapping):
            info = {}
        order_id = item.get("id")
        if order_id is None or order_id == "":
            raise RestError(None, "order without an id in the response", "GET", path)
        status_text = str(item.get("status", ""))
        try:
            status = RestOrderStatus(status_text)
        except ValueError:
            log.warning("unknown REST order status %r for order %s", status_text, order_id)
            status = RestOrderStatus.UNKNOWN
        instrument_id = _text(info.get("instrument_id"))
        symbol = _text(info.get("symbol")) or self._instrument_symbols.get(instrument_id or "")
        executed = item.get("executed_qty", item.get("exeuted_qty"))
        return VenueOrder(
            order_id=str(order_id),
            external_id=_text(item.get("external_id")),
            status=status,
            client_id=_text(info.get("client_id")),
            instrument_id=instrument_id,
            symbol=symbol,
            side=_SIDES.get(str(info.get("side", "")).upper()),
            order_type=_text(info.get("type")),
            time_in_force=_text(info.get("tif")),
            price=_decimal(info.get("price"), "price", path),
            quantity=_decimal(info.get("qty"), "qty", path),
            pending_qty=_decimal(item.get("pending_qty"), "pending_qty", path) or Decimal(0),
            leaves_qty=_decimal(item.get("leaves_qty"), "leaves_qty", path) or Decimal(0),
            executed_qty=_decimal(executed, "executed_qty", path) or Decimal(0),
            executed_vwap=_decimal(item.get("executed_vwap"), "executed_vwap", path),
        )

    def _trade(self, item: Mapping[str, Any], path: str) -> VenueTrade:
        """One trade object: ``exec_id`` (else ``id``), ``trade_id``/``trade_match_id``,
        ``order_id``, ``external_id``, ``symbol`` (else the ``instrument_id`` map), ``side``,
        ``price``, ``qty``, ``fee``, ``liquidity``, ``timestamp`` (epoch ms) or ``created_at``."""
        info = _mapping(item.get("order_info"))
        exec_id = _text(item.get("exec_id")) or _text(item.get("id"))
        instrument_id = _text(item.get("instrument_id")) or _text(info.get("instrument_id"))
        symbol = (
            _text(item.get("symbol"))
            or _text(info.get("symbol"))
            or self._instrument_symbols.get(instrument_id or "")
        )
        side = _SIDES.get(str(item.get("side") or info.get("side") or "").upper())
        quantity = _decimal(item.get("qty", item.get("quantity")), "qty", path)
        price = _decimal(item.get("price"), "price", path)
        if not exec_id or not symbol or side is None or quantity is None or price is None:
            raise RestError(None, "trade without id, symbol, side, qty or price", "GET", path)
        return VenueTrade(
            exec_id=exec_id,
            trade_match_id=_text(item.get("trade_id")) or _text(item.get("trade_match_id")),
            order_id=_text(item.get("order_id")),
            external_id=_text(item.get("external_id")),
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            fee=_decimal(item.get("fee"), "fee", path) or Decimal(0),
            liquidity=_text(item.get("liquidity")),
            at_s=_epoch_s(item.get("timestamp"), item.get("created_at")),
        )


# --------------------------------------------------------------------------- parsing


def _epoch_s(millis: Any, iso: Any) -> float | None:
    """Epoch seconds from epoch milliseconds or an ISO 8601 time; None when neither reads."""
    if millis not in (None, ""):
        try:
            return float(millis) / 1000.0
        except (TypeError, ValueError):
            pass
    if isinstance(iso, str) and iso:
        try:
            return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}


def _json(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise RestError(response.status_code, "the answer is not JSON", method, path) from None


def _error_from(response: httpx.Response, method: str, path: str) -> RestError:
    """A RestError with the venue's reason: RFC 7807 ``detail``/``title``, bare or in ``error``."""
    reason = response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        problem = error if isinstance(error, dict) else body
        for key in ("detail", "title", "message", "error"):
            value = problem.get(key)
            if isinstance(value, str) and value.strip():
                reason = value
                break
    elif response.text.strip() and len(response.text) <= _MAX_REASON:
        reason = response.text
    return RestError(response.status_code, reason, method, path)


def _unwrap_list(body: Any, path: str) -> tuple[list[dict[str, Any]], str | None]:
    """Items and next cursor from either envelope: a raw array or ``{data, pagination}``."""
    next_cursor = None
    if isinstance(body, dict) and "data" in body:
        pagination = body.get("pagination")
        if isinstance(pagination, dict):
            next_cursor = pagination.get("next_cursor") or None
        body = body["data"]
    if body is None:
        return [], next_cursor
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise RestError(None, "expected a list in the response", "GET", path)
    return [_as_object(item, path) for item in body], next_cursor


def _first_object(body: Any) -> dict[str, Any] | None:
    """The object of a single-object answer (raw, enveloped, or a one-element array)."""
    if isinstance(body, dict) and "data" in body:
        body = body["data"]
    if isinstance(body, list):
        body = body[0] if body else None
    return body if isinstance(body, dict) else None


def _as_object(item: Any, path: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise RestError(None, "expected JSON objects in the response", "GET", path)
    return item


def _mapping(value: Any) -> Mapping[str, Any]:
    """A nested JSON object, or an empty one when the field is absent or not an object."""
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _decimal(value: Any, field: str, path: str) -> Decimal | None:
    """A Decimal from TrueX's decimal strings; None when absent or empty."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RestError(None, f"{field} is not a number", "GET", path) from None
    if not number.is_finite():
        raise RestError(None, f"{field} is not a finite number", "GET", path)
    return number


def _balance(row: Mapping[str, Any], path: str) -> Balance:
    def amount(field: str) -> Decimal:
        return _decimal(row.get(field), field, path) or Decimal(0)

    asset_id = _text(row.get("asset_id")) or _text(row.get("asset_name")) or ""
    return Balance(
        asset_id=asset_id,
        asset_name=_text(row.get("asset_name")),
        balance=amount("balance"),
        order_hold=amount("order_hold"),
        transfer_hold=amount("transfer_hold"),
        unsettled=amount("unsettled"),
    )


def _client(item: Mapping[str, Any], path: str) -> ClientInfo:
    info = _mapping(item.get("info"))
    client_id = _text(item.get("id"))
    if client_id is None:
        raise RestError(None, "client without an id in the response", "GET", path)
    return ClientInfo(
        client_id=client_id,
        status=str(item.get("status", "")),
        organization_id=_text(item.get("organization_id")),
        mnemonic=_text(info.get("mnemonic")),
        client_type=_text(info.get("type")),
    )


def _increment(item: Mapping[str, Any], path: str) -> MarketIncrement:
    values = {
        field: _decimal(item.get(field), field, path)
        for field in ("lower_price", "upper_price", "tick_size", "lot_size", "min_notional")
    }
    lower, tick, lot = values["lower_price"], values["tick_size"], values["lot_size"]
    if lower is None or tick is None or lot is None:
        raise RestError(None, "increment without lower_price, tick_size or lot_size", "GET", path)
    return MarketIncrement(lower, values["upper_price"], tick, lot, values["min_notional"])
