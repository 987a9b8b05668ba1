"""Domain commands to outbound FIX messages in TrueX's dialect.

Messages start from a bare ``fix.Message`` rather than the ``quickfix50sp2`` classes, whose
base puts ApplVerID(1128) in every header: TrueX wants the application version only on the
Logon (1137). QuickFIX orders header fields first and body fields by tag, which is the layout
TrueX accepted; the Parties group (453 → 448, 452) is attached to every order-entry message
because TrueX rejects orders without it (``Invalid client``).
"""

from __future__ import annotations

import quickfix as fix
import quickfix50sp2 as fix50

from truex_qf.domain.decimals import plain_decimal
from truex_qf.domain.model import (
    CancelOrder,
    NewOrder,
    ReplaceOrder,
    RequestSecurityList,
    SubscribeMarketData,
)

PARTY_ROLE_CLIENT_ID = "3"
ADD_LIQUIDITY_ONLY = "6"


def _message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    return message


def _add_client(message: fix.Message, group: fix.Group, client_id: str) -> None:
    group.setField(448, client_id)
    group.setField(452, PARTY_ROLE_CLIENT_ID)
    message.addGroup(group)


def new_order_single(order: NewOrder, client_id: str) -> fix.Message:
    """35=D."""
    message = _message("D")
    message.setField(11, order.cl_ord_id)
    if order.post_only:
        message.setField(18, ADD_LIQUIDITY_ONLY)
    if order.self_match_prevention is not None:
        message.setField(2964, order.self_match_prevention.value)
    message.setField(38, plain_decimal(order.quantity))
    message.setField(40, order.ord_type.value)
    if order.price is not None:
        message.setField(44, plain_decimal(order.price))
    message.setField(54, order.side.value)
    message.setField(55, order.symbol)
    message.setField(59, order.time_in_force.value)
    _add_client(message, fix50.NewOrderSingle.NoPartyIDs(), client_id)
    return message


def order_cancel_request(cancel: CancelOrder, client_id: str) -> fix.Message:
    """35=F: TrueX takes only 11, 41 and Parties."""
    message = _message("F")
    message.setField(11, cancel.cl_ord_id)
    message.setField(41, cancel.orig_cl_ord_id)
    _add_client(message, fix50.OrderCancelRequest.NoPartyIDs(), client_id)
    return message


def order_cancel_replace_request(replace: ReplaceOrder, client_id: str) -> fix.Message:
    """35=G: new total quantity and price."""
    message = _message("G")
    message.setField(11, replace.cl_ord_id)
    message.setField(38, plain_decimal(replace.quantity))
    message.setField(40, replace.ord_type.value)
    message.setField(41, replace.orig_cl_ord_id)
    message.setField(44, plain_decimal(replace.price))
    _add_client(message, fix50.OrderCancelReplaceRequest.NoPartyIDs(), client_id)
    return message


def market_data_request(request: SubscribeMarketData) -> fix.Message:
    """35=V: 262, 263, 264 and the symbol group, as TrueX's own client sends it."""
    message = _message("V")
    message.setField(262, request.md_req_id)
    message.setField(263, request.subscription.value)
    message.setField(264, str(request.depth))
    for symbol in request.symbols:
        group = fix50.MarketDataRequest.NoRelatedSym()
        group.setField(55, symbol)
        message.addGroup(group)
    return message


def security_list_request(request: RequestSecurityList) -> fix.Message:
    """35=x: one symbol (559=0) or all securities (559=4)."""
    message = _message("x")
    message.setField(320, request.security_req_id)
    if request.symbol is None:
        message.setField(559, "4")
    else:
        message.setField(559, "0")
        message.setField(55, request.symbol)
    message.setField(263, "0")
    return message
