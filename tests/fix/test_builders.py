"""Outbound messages: the exact text each command becomes.

The expected strings are what the field-by-field builders (``setField`` and the
``quickfix50sp2`` group classes) produced before the builders moved to parsing text; the
simulator's strict acceptor checks the same messages over the wire in the integration tests.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from truex_qf.domain.model import (
    CancelOrder,
    NewOrder,
    OrdType,
    ReplaceOrder,
    RequestSecurityList,
    SelfMatchPrevention,
    Side,
    SubscribeMarketData,
    TimeInForce,
)
from truex_qf.fix.builders import MessageFactory

CLIENT_ID = "123"


@pytest.fixture(scope="module")
def factory() -> MessageFactory:
    return MessageFactory()


def wire(message) -> str:
    """The message as text without BeginString, BodyLength and CheckSum (the engine's)."""
    fields = message.toString().split("\x01")
    return "|".join(f for f in fields if f and not f.startswith(("8=", "9=", "10=")))


CASES = [
    (
        "new_order_single",
        NewOrder(
            "C1", "BTC-PYUSD", Side.BUY, Decimal("0.0010"), Decimal("60000.50"), post_only=True
        ),
        "35=D|11=C1|18=6|38=0.001|40=2|44=60000.5|54=1|55=BTC-PYUSD|59=1|453=1|448=123|452=3",
    ),
    (
        "new_order_single",
        NewOrder(
            "C2",
            "ETH-PYUSD",
            Side.SELL,
            Decimal("2"),
            None,
            ord_type=OrdType.MARKET,
            time_in_force=TimeInForce.IOC,
            self_match_prevention=SelfMatchPrevention("1"),
        ),
        "35=D|11=C2|38=2|40=1|54=2|55=ETH-PYUSD|59=3|453=1|448=123|452=3|2964=1",
    ),
    ("order_cancel_request", CancelOrder("C3", "C1"), "35=F|11=C3|41=C1|453=1|448=123|452=3"),
    (
        "order_cancel_replace_request",
        ReplaceOrder("C4", "C1", Decimal("0.002"), Decimal("60001")),
        "35=G|11=C4|38=0.002|40=2|41=C1|44=60001|453=1|448=123|452=3",
    ),
]

MD_CASES = [
    (
        "market_data_request",
        SubscribeMarketData("MD1", ("BTC-PYUSD", "ETH-PYUSD"), 0),
        "35=V|146=2|55=BTC-PYUSD|55=ETH-PYUSD|262=MD1|263=1|264=0",
    ),
    ("security_list_request", RequestSecurityList("SL1", None), "35=x|263=0|320=SL1|559=4"),
    (
        "security_list_request",
        RequestSecurityList("SL2", "BTC-PYUSD"),
        "35=x|55=BTC-PYUSD|263=0|320=SL2|559=0",
    ),
]


@pytest.mark.parametrize(("builder", "command", "expected"), CASES)
def test_order_entry_messages(factory, builder, command, expected):
    assert wire(getattr(factory, builder)(command, CLIENT_ID)) == expected


@pytest.mark.parametrize(("builder", "command", "expected"), MD_CASES)
def test_market_data_messages(factory, builder, command, expected):
    assert wire(getattr(factory, builder)(command)) == expected


def test_parties_is_a_group_the_engine_knows(factory):
    message = factory.new_order_single(CASES[0][1], CLIENT_ID)
    assert message.groupCount(453) == 1  # parsed as a repeating group, not loose fields
    assert not message.getHeader().isSetField(1128)  # TrueX wants 1137 on the Logon only
