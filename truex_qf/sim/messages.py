"""Messages the simulated exchange sends, built the way TrueX's captures show them (spec §12)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

import quickfix as fix

from truex_qf.domain.decimals import plain_decimal
from truex_qf.domain.model import ExecutionReport, MDEntryType, MDUpdateAction, OrderCancelReject
from truex_qf.fix.builders import PARTY_ROLE_CLIENT_ID, MessageFactory
from truex_qf.fix.readers import SOH
from truex_qf.sim.dictionaries import venue_spec_dir

SECURITY_TYPE_SPOT = "CSPOT"
EMPTY_BOOK_TIME = "19700101-00:00:00.000000000"  # TrueX's sentinel on an empty snapshot
INSTR_ATTRIB_DAILY_NOTIONAL = "40"
INSTR_ATTRIB_DAILY_TRADES = "41"


@functools.cache
def _messages() -> MessageFactory:
    """The simulator's text-to-message factory, loaded on first use, with the simulator's copy
    of the dictionaries (it fixes the order of a snapshot entry's fields as TrueX sends them)."""
    return MessageFactory(venue_spec_dir())


def _message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    return message


def _set_optional(message: fix.Message, tag: int, value: object | None) -> None:
    if value is None:
        return
    message.setField(tag, plain_decimal(value) if isinstance(value, Decimal) else str(value))


def _code(value: object) -> str:
    """An enum's FIX code, or a raw code echoed back as received (e.g. an invalid Side)."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def execution_report(report: ExecutionReport, client_id: str) -> fix.Message:
    """35=8, echoing Parties as TrueX does (written as text: see :mod:`truex_qf.fix.builders`)."""
    fields = [
        f"37={report.order_id}",
        f"11={report.cl_ord_id}",
        f"17={report.exec_id}",
        f"150={report.exec_type.value}",
        f"39={report.ord_status.value}",
        f"55={report.symbol}",
        f"54={_code(report.side)}",
        f"40={'2' if report.price is not None else '1'}",
        f"38={plain_decimal(report.order_qty)}",
        f"151={plain_decimal(report.leaves_qty)}",
        f"14={plain_decimal(report.cum_qty)}",
    ]
    for tag, value in (
        (41, report.orig_cl_ord_id),
        (44, report.price),
        (59, _code(report.time_in_force) if report.time_in_force else None),
        (32, report.last_qty),
        (31, report.last_px),
        (6, report.avg_px),
        (60, report.transact_time),
        (58, report.text),
        (851, report.liquidity_indicator),
        (880, report.trade_match_id),
    ):
        if value is not None:
            fields.append(f"{tag}={plain_decimal(value) if isinstance(value, Decimal) else value}")
    if report.fees:
        fields.append(f"136={len(report.fees)}")
        for fee in report.fees:
            fields.append(f"137={plain_decimal(fee.amount)}{SOH}139={fee.fee_type}")
    if client_id:
        fields.append(f"453=1{SOH}448={client_id}{SOH}452={PARTY_ROLE_CLIENT_ID}")
    return _messages().message("8", SOH.join(fields) + SOH)


def cancel_reject(reject: OrderCancelReject) -> fix.Message:
    """35=9."""
    message = _message("9")
    message.setField(37, reject.order_id)
    message.setField(11, reject.cl_ord_id)
    _set_optional(message, 41, reject.orig_cl_ord_id)
    message.setField(39, (reject.ord_status.value if reject.ord_status else "8"))
    message.setField(434, reject.response_to.value)
    _set_optional(message, 102, reject.reason)
    _set_optional(message, 58, reject.text)
    return message


def business_reject(ref_seq_num: str, ref_msg_type: str, reason: str, text: str) -> fix.Message:
    """35=j."""
    message = _message("j")
    message.setField(45, ref_seq_num)
    message.setField(372, ref_msg_type)
    message.setField(380, reason)
    message.setField(58, text)
    return message


def snapshot(
    md_req_id: str,
    symbol: str,
    bids: Sequence[tuple[Decimal, Decimal]],
    offers: Sequence[tuple[Decimal, Decimal]],
    entry_time: str | None = None,
) -> fix.Message:
    """35=W as recorded (spec §12): 55 and 167 in the body; every entry 269, 270, 271, 1023
    (the level's number from the top), 273. An empty side is one entry with 270=0, 271=0 and
    TrueX's 1970 sentinel time; a level's time is ``entry_time`` (the simulator does not keep
    when each level last changed, so the snapshot's own time, default now, stands in)."""
    entry_time = entry_time or md_entry_time(time.time_ns())
    entries = []
    for entry_type, levels in ((MDEntryType.BID, bids), (MDEntryType.OFFER, offers)):
        if not levels:
            entries.append(
                f"269={entry_type.value}{SOH}270=0{SOH}271=0{SOH}1023=1{SOH}"
                f"273={EMPTY_BOOK_TIME}{SOH}"
            )
            continue
        for number, (price, size) in enumerate(levels, start=1):
            entries.append(
                f"269={entry_type.value}{SOH}270={plain_decimal(price)}{SOH}"
                f"271={plain_decimal(size)}{SOH}1023={number}{SOH}273={entry_time}{SOH}"
            )
    body = (
        f"262={md_req_id}{SOH}55={symbol}{SOH}167={SECURITY_TYPE_SPOT}{SOH}"
        f"268={len(entries)}{SOH}{''.join(entries)}"
    )
    return _messages().message("W", body)


MDChange = tuple[MDUpdateAction, MDEntryType, str, Decimal, Decimal, str | None]


def incremental(md_req_id: str, changes: Iterable[MDChange]) -> fix.Message:
    """35=X: ``changes`` are (action, entry type, symbol, price, size, aggressor side)."""
    entries = []
    for action, entry_type, symbol, price, size, aggressor in changes:
        entries.append(
            f"279={action.value}{SOH}269={entry_type.value}{SOH}55={symbol}{SOH}"
            f"270={plain_decimal(price)}{SOH}271={plain_decimal(size)}{SOH}"
            + (f"2446={aggressor}{SOH}" if aggressor is not None else "")
        )
    body = f"262={md_req_id}{SOH}268={len(entries)}{SOH}{''.join(entries)}"
    return _messages().message("X", body)


def md_reject(md_req_id: str, text: str) -> fix.Message:
    """35=Y."""
    message = _message("Y")
    message.setField(262, md_req_id)
    message.setField(58, text)
    return message


@dataclass(frozen=True)
class ListedSymbol:
    """One SecurityList entry: the symbol, its currency and TrueX's two daily statistics."""

    symbol: str
    currency: str
    daily_notional: Decimal  # 871=40, average daily notional amount
    daily_trades: int  # 871=41, average daily number of trades


def _listed_entry(entry: ListedSymbol) -> str:
    """55, 167, InstrumentExtension (870 with 871=40 and 871=41, values as strings), 15."""
    return (
        f"55={entry.symbol}{SOH}167={SECURITY_TYPE_SPOT}{SOH}870=2{SOH}"
        f"871={INSTR_ATTRIB_DAILY_NOTIONAL}{SOH}872={plain_decimal(entry.daily_notional)}{SOH}"
        f"871={INSTR_ATTRIB_DAILY_TRADES}{SOH}872={entry.daily_trades}{SOH}"
        f"15={entry.currency}{SOH}"
    )


def security_list(security_req_id: str, entries: Sequence[ListedSymbol]) -> fix.Message:
    """35=y, one fragment with every entry (spec §8.2)."""
    body = (
        f"320={security_req_id}{SOH}322={security_req_id}{SOH}560={'0' if entries else '2'}{SOH}"
        f"393={len(entries)}{SOH}893=Y{SOH}"
    )
    if entries:
        body += f"146={len(entries)}{SOH}" + "".join(_listed_entry(entry) for entry in entries)
    return _messages().message("y", body)


def security_list_update(
    security_req_id: str, changes: Sequence[tuple[str, ListedSymbol]]
) -> fix.Message:
    """35=BK (spec §8.3): ``changes`` are (ListUpdateAction 1324: A, D or M, entry)."""
    body = (
        f"320={security_req_id}{SOH}322={security_req_id}{SOH}560=0{SOH}"
        f"393={len(changes)}{SOH}893=Y{SOH}146={len(changes)}{SOH}"
    )
    body += "".join(f"1324={action}{SOH}{_listed_entry(entry)}" for action, entry in changes)
    return _messages().message("BK", body)


def md_entry_time(epoch_ns: int) -> str:
    """MDEntryTime (273) as TrueX writes it: date, time and nanoseconds (spec §8.6)."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}"
