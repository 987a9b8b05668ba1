"""Messages the simulated exchange sends, built the way TrueX's captures show them (spec §12)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import Enum

import quickfix as fix
import quickfix50sp2 as fix50

from truex_qf.domain.decimals import plain_decimal
from truex_qf.domain.model import ExecutionReport, MDEntryType, MDUpdateAction, OrderCancelReject
from truex_qf.fix.builders import PARTY_ROLE_CLIENT_ID

SECURITY_TYPE_SPOT = "CSPOT"
EMPTY_BOOK_TIME = "19700101-00:00:00.000000000"  # TrueX's sentinel on an empty snapshot


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
    """35=8, echoing Parties as TrueX does."""
    message = _message("8")
    message.setField(37, report.order_id)
    message.setField(11, report.cl_ord_id)
    _set_optional(message, 41, report.orig_cl_ord_id)
    message.setField(17, report.exec_id)
    message.setField(150, report.exec_type.value)
    message.setField(39, report.ord_status.value)
    message.setField(55, report.symbol)
    message.setField(54, _code(report.side))
    message.setField(40, "2" if report.price is not None else "1")
    message.setField(38, plain_decimal(report.order_qty))
    _set_optional(message, 44, report.price)
    _set_optional(message, 59, _code(report.time_in_force) if report.time_in_force else None)
    _set_optional(message, 32, report.last_qty)
    _set_optional(message, 31, report.last_px)
    message.setField(151, plain_decimal(report.leaves_qty))
    message.setField(14, plain_decimal(report.cum_qty))
    _set_optional(message, 6, report.avg_px)
    _set_optional(message, 60, report.transact_time)
    _set_optional(message, 58, report.text)
    _set_optional(message, 851, report.liquidity_indicator)
    _set_optional(message, 880, report.trade_match_id)
    for fee in report.fees:
        group = fix50.ExecutionReport.NoMiscFees()
        group.setField(137, plain_decimal(fee.amount))
        group.setField(139, fee.fee_type)
        message.addGroup(group)
    if client_id:
        parties = fix50.ExecutionReport.NoPartyIDs()
        parties.setField(448, client_id)
        parties.setField(452, PARTY_ROLE_CLIENT_ID)
        message.addGroup(parties)
    return message


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
) -> fix.Message:
    """35=W. An empty side is sent as TrueX does: one entry with 270=0, 271=0."""
    message = _message("W")
    message.setField(262, md_req_id)
    message.setField(55, symbol)
    message.setField(167, SECURITY_TYPE_SPOT)
    for entry_type, levels in ((MDEntryType.BID, bids), (MDEntryType.OFFER, offers)):
        for number, (price, size) in enumerate(levels or [(Decimal(0), Decimal(0))], start=1):
            group = fix50.MarketDataSnapshotFullRefresh.NoMDEntries()
            group.setField(269, entry_type.value)
            group.setField(270, plain_decimal(price))
            group.setField(271, plain_decimal(size))
            if not levels:
                group.setField(273, EMPTY_BOOK_TIME)
            group.setField(1023, str(number))
            message.addGroup(group)
    return message


MDChange = tuple[MDUpdateAction, MDEntryType, str, Decimal, Decimal, str | None]


def incremental(md_req_id: str, changes: Iterable[MDChange]) -> fix.Message:
    """35=X: ``changes`` are (action, entry type, symbol, price, size, aggressor side)."""
    message = _message("X")
    message.setField(262, md_req_id)
    for action, entry_type, symbol, price, size, aggressor in changes:
        group = fix50.MarketDataIncrementalRefresh.NoMDEntries()
        group.setField(279, action.value)
        group.setField(269, entry_type.value)
        group.setField(55, symbol)
        group.setField(270, plain_decimal(price))
        group.setField(271, plain_decimal(size))
        if aggressor is not None:
            group.setField(2446, aggressor)
        message.addGroup(group)
    return message


def md_reject(md_req_id: str, text: str) -> fix.Message:
    """35=Y."""
    message = _message("Y")
    message.setField(262, md_req_id)
    message.setField(58, text)
    return message


def security_list(security_req_id: str, symbols: dict[str, str]) -> fix.Message:
    """35=y, one fragment with every symbol."""
    message = _message("y")
    message.setField(320, security_req_id)
    message.setField(322, security_req_id)
    message.setField(560, "0" if symbols else "2")
    message.setField(393, str(len(symbols)))
    message.setField(893, "Y")
    for symbol, currency in symbols.items():
        group = fix50.SecurityList.NoRelatedSym()
        group.setField(55, symbol)
        group.setField(167, SECURITY_TYPE_SPOT)
        group.setField(15, currency)
        message.addGroup(group)
    return message
