"""Inbound FIX text to the typed values of :mod:`truex_qf.domain.model`.

Readers work on the message's raw text (``message.toString()``): one call into the engine and
a split, instead of a SWIG call per tag (about 0.75 µs each, and typed field objects used as
temporaries return garbage — quickfix-python-notes §1.7). The engine has already parsed,
validated and sequenced the message; this only reads it. Readers import nothing from
``quickfix``, so they are unit-tested on plain strings.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from truex_qf.domain.model import (
    BookChange,
    BookEntry,
    BusinessMessageReject,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    Fee,
    InboundEvent,
    ListUpdateAction,
    MarketDataIncrement,
    MarketDataReject,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    OrderCancelReject,
    OrdStatus,
    SecurityInfo,
    SecurityList,
    SecurityListUpdate,
    SecurityUpdate,
    Side,
    TimeInForce,
)

SOH = "\x01"

E = TypeVar("E", bound=Enum)
Fields = list[tuple[int, str]]


class MalformedMessage(ValueError):
    """A message the engine accepted but that lacks what we need to act on it."""

    def __init__(self, msg_type: str, tag: int, problem: str) -> None:
        super().__init__(f"35={msg_type}: tag {tag} {problem}")
        self.tag = tag


def msg_type(raw: str) -> str:
    """MsgType(35) from a message's text: the header's own, not a tag ending in 35."""
    start = raw.find("\x0135=") + 4
    return raw[start : raw.find(SOH, start)]


def split_fields(raw: str) -> Fields:
    """``(tag, value)`` pairs in wire order (repeating groups keep their order)."""
    pairs: Fields = []
    for item in raw.split(SOH):
        if item:
            tag, _, value = item.partition("=")
            pairs.append((int(tag), value))
    return pairs


class _Body:
    """The non-repeating fields of one message, with typed getters that name what is wrong."""

    __slots__ = ("fields", "msg_type")

    def __init__(self, msg_type: str, pairs: Fields) -> None:
        self.msg_type = msg_type
        self.fields: dict[int, str] = {}
        for tag, value in pairs:
            self.fields.setdefault(tag, value)  # first occurrence: header/body, not groups

    def text(self, tag: int) -> str:
        try:
            return self.fields[tag]
        except KeyError:
            raise MalformedMessage(self.msg_type, tag, "is missing") from None

    def optional(self, tag: int) -> str | None:
        value = self.fields.get(tag)
        return value if value else None

    def decimal(self, tag: int) -> Decimal:
        return _to_decimal(self.msg_type, tag, self.text(tag))

    def optional_decimal(self, tag: int) -> Decimal | None:
        value = self.optional(tag)
        return None if value is None else _to_decimal(self.msg_type, tag, value)

    def enum(self, tag: int, kind: type[E]) -> E:
        value = self.text(tag)
        try:
            return kind(value)
        except ValueError:
            raise MalformedMessage(self.msg_type, tag, f"has unknown value {value!r}") from None


def _to_decimal(msg_type: str, tag: int, value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise MalformedMessage(msg_type, tag, f"is not a number: {value!r}") from None
    if not number.is_finite():  # NaN or Infinity would poison every sum downstream
        raise MalformedMessage(msg_type, tag, f"is not a finite number: {value!r}")
    return number


def _fees(pairs: Fields) -> tuple[Fee, ...]:
    fees: list[Fee] = []
    amount: Decimal | None = None
    for tag, value in pairs:
        if tag == 137:
            amount = _to_decimal("8", 137, value)
        elif tag == 139 and amount is not None:
            fees.append(Fee(amount=amount, fee_type=value))
            amount = None
    if amount is not None:
        fees.append(Fee(amount=amount, fee_type=""))
    return tuple(fees)


_EXEC_TYPES = {member.value: member for member in ExecType}
_ORD_STATUSES = {member.value: member for member in OrdStatus}
_SIDES = {member.value: member for member in Side}
# Keyed by str | None so an absent 59 looks up (and misses) like an unknown one.
_TIME_IN_FORCE: dict[str | None, TimeInForce] = {"1": TimeInForce.GTC, "3": TimeInForce.IOC}


def read_execution_report(raw: str, received_ns: int = 0) -> ExecutionReport:
    """35=8: on the order round trip's path, so it walks the text once with string tags (the
    fees group, rare, goes through :func:`split_fields`)."""
    fields: dict[str, str] = {}
    for item in raw.split(SOH):
        tag, _, value = item.partition("=")
        if tag not in fields:  # first occurrence: header/body, not groups
            fields[tag] = value

    def text(tag: str) -> str:
        value = fields.get(tag)
        if value is None:
            raise MalformedMessage("8", int(tag), "is missing")
        return value

    def code(tag: str, members: dict[str, Any]) -> Any:
        member = members.get(text(tag))
        if member is None:
            raise MalformedMessage("8", int(tag), f"has unknown value {fields[tag]!r}")
        return member

    def optional_decimal(tag: str) -> Decimal | None:
        value = fields.get(tag)
        return _to_decimal("8", int(tag), value) if value else None

    get = fields.get
    return ExecutionReport(
        order_id=text("37"),
        cl_ord_id=text("11"),
        exec_id=text("17"),
        exec_type=code("150", _EXEC_TYPES),
        ord_status=code("39", _ORD_STATUSES),
        symbol=text("55"),
        side=code("54", _SIDES),
        order_qty=_to_decimal("8", 38, text("38")),
        leaves_qty=_to_decimal("8", 151, text("151")),
        cum_qty=_to_decimal("8", 14, text("14")),
        price=optional_decimal("44"),
        orig_cl_ord_id=get("41") or None,
        last_qty=optional_decimal("32"),
        last_px=optional_decimal("31"),
        avg_px=optional_decimal("6"),
        time_in_force=_TIME_IN_FORCE.get(get("59")),
        text=get("58") or None,
        transact_time=get("60") or None,
        trade_match_id=get("880") or None,
        liquidity_indicator=get("851") or None,
        fees=_fees(split_fields(raw)) if "136" in fields else (),
        received_ns=received_ns,
    )


def read_cancel_reject(raw: str, received_ns: int = 0) -> OrderCancelReject:
    """35=9."""
    body = _Body("9", split_fields(raw))
    status = body.optional(39)
    return OrderCancelReject(
        order_id=body.text(37),
        cl_ord_id=body.text(11),
        orig_cl_ord_id=body.optional(41),
        response_to=body.enum(434, CxlRejResponseTo),
        ord_status=OrdStatus(status) if status in OrdStatus._value2member_map_ else None,
        reason=body.optional(102),
        text=body.optional(58),
        received_ns=received_ns,
    )


def read_business_reject(raw: str, received_ns: int = 0) -> BusinessMessageReject:
    """35=j."""
    body = _Body("j", split_fields(raw))
    ref_seq = body.optional(45)
    return BusinessMessageReject(
        ref_msg_type=body.fields.get(372, ""),
        reason=body.text(380),
        ref_seq_num=int(ref_seq) if ref_seq and ref_seq.isdigit() else None,
        ref_id=body.optional(379),
        text=body.optional(58),
        received_ns=received_ns,
    )


def read_snapshot(raw: str, received_ns: int = 0) -> MarketDataSnapshot:
    """35=W: entries start at each MDEntryType(269)."""
    pairs = split_fields(raw)
    body = _Body("W", pairs)
    entries: list[BookEntry] = []
    current: dict[int, str] | None = None
    for tag, value in pairs:
        if tag == 269:
            if current is not None:
                entries.append(_book_entry(current))
            current = {269: value}
        elif current is not None:
            current[tag] = value
    if current is not None:
        entries.append(_book_entry(current))
    return MarketDataSnapshot(
        md_req_id=body.optional(262),
        symbol=body.text(55),
        entries=tuple(entries),
        received_ns=received_ns,
    )


def _book_entry(fields: dict[int, str]) -> BookEntry:
    level = fields.get(1023)
    return BookEntry(
        entry_type=MDEntryType(fields[269]),
        price=_to_decimal("W", 270, fields.get(270, "0")),
        size=_to_decimal("W", 271, fields.get(271, "0")),
        level=int(level) if level and level.isdigit() else None,
    )


# Keyed by str | None so an entry without 279 misses like an unknown action.
_ACTIONS: dict[str | None, MDUpdateAction] = {action.value: action for action in MDUpdateAction}
_ENTRY_TYPES = {entry_type.value: entry_type for entry_type in MDEntryType}


def read_increment(raw: str, received_ns: int = 0) -> MarketDataIncrement:
    """35=X: entries start at each MDUpdateAction(279).

    The one reader on the market-data hot path (every message of a busy book), so it walks
    the text once with string tags instead of building the generic ``(int, str)`` pairs, and
    from the body's MDReqID(262) or NoMDEntries(268), whichever comes first: the header's
    fields before them are none of its business.
    """
    md_req_id: str | None = None
    changes: list[BookChange] = []
    entry: list[str | None] | None = None  # 279, 269, 270, 271, 55, 1023, 2446 of an entry
    start = raw.find("\x01262=")
    group = raw.find("\x01268=")
    if start < 0 or 0 <= group < start:
        start = group
    for item in (raw[start + 1 :] if start >= 0 else raw).split(SOH):
        tag, _, value = item.partition("=")
        if tag == "279":
            if entry is not None:
                changes.append(_book_change(entry))
            entry = [value, None, None, None, None, None, None]
        elif entry is None:
            if tag == "262":
                md_req_id = value
        else:
            slot = _ENTRY_SLOTS.get(tag)
            if slot is not None and entry[slot] is None:
                entry[slot] = value
    if entry is not None:
        changes.append(_book_change(entry))
    return MarketDataIncrement(md_req_id=md_req_id, changes=tuple(changes), received_ns=received_ns)


_ENTRY_SLOTS = {"269": 1, "270": 2, "271": 3, "55": 4, "1023": 5, "2446": 6}
_AGGRESSORS: dict[str | None, Side] = {side.value: side for side in Side}

# MDEntryPx text -> its Decimal, so that a price seen before comes back as the same object. A
# book sees the same few hundred prices over and over, and a Decimal computes its hash once:
# a fresh one is hashed again by every dict the price keys (the book's, twice per entry).
# Bounded by emptying it when full; equal text gives an equal Decimal either way.
_PRICES: dict[str, Decimal] = {}
PRICES_KEPT = 4096


def _entry_price(text: str) -> Decimal:
    price = _PRICES.get(text)
    if price is None:
        price = _to_decimal("X", 270, text)
        if len(_PRICES) >= PRICES_KEPT:
            _PRICES.clear()
        _PRICES[text] = price
    return price


def _book_change(entry: list[str | None]) -> BookChange:
    action_text, type_text, price, size, symbol, level, aggressor = entry
    if type_text is None:
        raise MalformedMessage("X", 269, "is missing from an entry")
    action = _ACTIONS.get(action_text)
    if action is None:
        raise MalformedMessage("X", 279, f"has unknown value {action_text!r}")
    entry_type = _ENTRY_TYPES.get(type_text)
    if entry_type is None:
        raise MalformedMessage("X", 269, f"has unknown value {type_text!r}")
    return BookChange(
        action,
        entry_type,
        _entry_price(price or "0"),
        _to_decimal("X", 271, size or "0"),
        symbol,
        int(level) if level and level.isdigit() else None,
        _AGGRESSORS.get(aggressor),  # None when absent (or a value TrueX does not define)
    )


def read_md_reject(raw: str, received_ns: int = 0) -> MarketDataReject:
    """35=Y."""
    body = _Body("Y", split_fields(raw))
    return MarketDataReject(
        md_req_id=body.text(262), text=body.optional(58), received_ns=received_ns
    )


def read_security_list(raw: str, received_ns: int = 0) -> SecurityList:
    """35=y: one SecurityInfo per entry of the NoRelatedSym group (each starts at Symbol(55))."""
    pairs = split_fields(raw)
    body = _Body("y", pairs)
    return SecurityList(
        security_req_id=body.optional(320),
        result=body.optional(560),
        securities=tuple(security for _, security in _security_entries("y", pairs, 55)),
        received_ns=received_ns,
    )


_LIST_UPDATE_ACTIONS = {action.value: action for action in ListUpdateAction}


def read_security_list_update(raw: str, received_ns: int = 0) -> SecurityListUpdate:
    """35=BK: each entry's ListUpdateAction(1324), else the report's SecurityUpdateAction(980).

    Entries start at 1324 (the group's first field), or at a second Symbol(55) when an entry
    leads with its symbol. An entry with neither action is refused: guessing "add" for a
    delisting would keep quoting a symbol the venue removed.
    """
    pairs = split_fields(raw)
    body = _Body("BK", pairs)
    default = body.optional(980)
    updates: list[SecurityUpdate] = []
    for action_text, security in _security_entries("BK", pairs, 1324):
        code = action_text or default
        action = _LIST_UPDATE_ACTIONS.get(code or "")
        if action is None:
            problem = f"has unknown value {code!r}" if code else "is missing from an entry"
            raise MalformedMessage("BK", 1324, f"{problem} ({security.symbol})")
        updates.append(SecurityUpdate(action, security))
    return SecurityListUpdate(
        security_req_id=body.optional(320), updates=tuple(updates), received_ns=received_ns
    )


# InstrAttribType(871) -> the SecurityInfo field its InstrAttribValue(872) fills.
_INSTRUMENT_ATTRIBUTES = {"40": "average_daily_notional", "41": "average_daily_trades"}
_ENTRY_TAGS = frozenset({1324, 55, 167, 15, 871, 872})


def _security_entries(
    msg_type: str, pairs: Fields, first_tag: int
) -> list[tuple[str | None, SecurityInfo]]:
    """The NoRelatedSym(146) entries of a y or BK: (their 1324 if any, the instrument)."""
    entries: list[dict[int | str, str]] = []
    in_group = False
    attribute: str | None = None
    for tag, value in pairs:
        if tag == 146:
            in_group = True
            continue
        if not in_group or tag not in _ENTRY_TAGS:
            continue
        if tag == first_tag or not entries or (tag == 55 and 55 in entries[-1]):
            entries.append({})
        entry = entries[-1]
        if tag == 871:
            attribute = _INSTRUMENT_ATTRIBUTES.get(value)
        elif tag == 872:
            if attribute is not None:
                entry.setdefault(attribute, value)
            attribute = None
        else:
            entry.setdefault(tag, value)
    result = []
    for entry in entries:
        symbol = entry.get(55)
        if not symbol:
            raise MalformedMessage(msg_type, 55, "is missing from an entry")
        security = SecurityInfo(
            symbol,
            entry.get(167),
            entry.get(15),
            _statistic(entry.get("average_daily_notional")),
            _statistic(entry.get("average_daily_trades")),
        )
        result.append((entry.get(1324), security))
    return result


def _statistic(text: str | None) -> Decimal | None:
    """A venue statistic, None when absent or not a finite number: it informs, never blocks."""
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


Reader = Callable[[str, int], InboundEvent]

# One reader per application message type: Python's stand-in for a MessageCracker.
READERS: dict[str, Reader] = {
    "8": read_execution_report,
    "9": read_cancel_reject,
    "j": read_business_reject,
    "W": read_snapshot,
    "X": read_increment,
    "Y": read_md_reject,
    "y": read_security_list,
    "BK": read_security_list_update,
}
