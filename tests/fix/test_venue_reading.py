"""How the simulator reads a NewOrderSingle: known codes become members, others stay raw so
the matching engine refuses them with TrueX's texts (tests/venue/test_validation.py)."""

from __future__ import annotations

from decimal import Decimal

from truex_qf.domain.model import OrdType, Side, TimeInForce
from truex_qf.sim.fix_acceptor import _read_new_order

FIELDS = {11: "C1", 55: "BTC-PYUSD", 54: "1", 38: "0.5", 44: "100", 40: "2", 59: "1"}


def test_known_codes_become_members():
    order = _read_new_order(FIELDS)
    assert order.side is Side.BUY
    assert order.ord_type is OrdType.LIMIT
    assert order.time_in_force is TimeInForce.GTC
    assert (order.quantity, order.price) == (Decimal("0.5"), Decimal("100"))


def test_unknown_codes_stay_raw():
    order = _read_new_order({**FIELDS, 54: "3", 40: "Z", 59: "9"})
    assert (order.side, order.ord_type, order.time_in_force) == ("3", "Z", "9")


def test_a_missing_time_in_force_is_good_till_cancel():
    fields = {tag: value for tag, value in FIELDS.items() if tag != 59}
    assert _read_new_order(fields).time_in_force is TimeInForce.GTC
