"""The venue's balance book and TrueX's "Insufficient balance" (spec §7.3, §9.5, §13.2 #16)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.support.matching import (
    ALICE,
    BOB,
    D,
    cancel_rejects,
    exec_types,
    limit,
    make_engine,
    market,
    reports,
)
from truex_qf.config import Credentials
from truex_qf.domain.model import (
    CancelOrder,
    CxlRejReason,
    ExecType,
    OrdStatus,
    ReplaceOrder,
    Side,
    TimeInForce,
)
from truex_qf.rest.signing import rest_signature
from truex_qf.rest.wire import HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_TOKEN
from truex_qf.sim.balances import DEFAULT_BALANCES, AssetBalance, BalanceBook, hold_of
from truex_qf.sim.fix_acceptor import VenueAccount
from truex_qf.sim.matching import INSUFFICIENT_BALANCE
from truex_qf.sim.rest_server import SimulatorRestServer
from truex_qf.sim.server import SimulatedVenue, SimulatorSettings

# ALICE can spend 1000 PYUSD or sell 2 BTC; prices near 100 keep the arithmetic readable.
STARTING = {"PYUSD": D(1000), "BTC": D(2)}
SIM_TRADER = "SIM-MAKER"


def engine_with_funds(starting: dict[str, Decimal] = STARTING):  # type: ignore[no-untyped-def]
    return make_engine(balances=BalanceBook(starting), price_band=None)


def texts(events) -> list[str | None]:  # type: ignore[no-untyped-def]
    return [report.text for report in reports(events)]


# --------------------------------------------------------------------------- the book


def test_a_new_account_starts_with_the_starting_balances_and_trades_move_them() -> None:
    book = BalanceBook(STARTING)
    assert book.balances(ALICE) == STARTING
    book.settle(ALICE, BOB, "BTC", "PYUSD", D("0.5"), D(100))
    assert book.balance(ALICE, "BTC") == D("2.5") and book.balance(ALICE, "PYUSD") == D(950)
    assert book.balance(BOB, "BTC") == D("1.5") and book.balance(BOB, "PYUSD") == D(1050)
    assert book.balance(ALICE, "ETH") == 0


def test_simulated_traders_are_neither_limited_nor_recorded() -> None:
    book = BalanceBook(STARTING)
    book.settle(SIM_TRADER, ALICE, "BTC", "PYUSD", D(1), D(100))
    assert not book.is_limited(SIM_TRADER) and book.is_limited(ALICE)
    assert book.balance(ALICE, "BTC") == D(1)
    assert book.balances(SIM_TRADER) == STARTING  # untouched by the trade


def test_an_unenforced_book_limits_nobody_and_the_default_is_large() -> None:
    assert not BalanceBook(enforced=False).is_limited(ALICE)
    assert BalanceBook().starting == DEFAULT_BALANCES
    assert {"PYUSD": D(1_000_000), "BTC": D(10)} == DEFAULT_BALANCES


@pytest.mark.parametrize("amount", [D(-1), D("NaN"), D("Infinity"), 5])
def test_a_starting_balance_must_be_a_decimal_not_below_zero(amount: object) -> None:
    with pytest.raises(ValueError, match="BTC"):
        BalanceBook({"BTC": amount})  # type: ignore[dict-item]


def test_a_buy_holds_quote_and_a_sell_holds_base_and_available_subtracts_holds() -> None:
    assert hold_of(Side.BUY, D(2), D(100), "BTC", "PYUSD") == ("PYUSD", D(200))
    assert hold_of(Side.SELL, D(2), D(100), "BTC", "PYUSD") == ("BTC", D(2))
    assert AssetBalance("PYUSD", D(1000), D(300), D(100)).available == D(600)


# --------------------------------------------------------------------------- new orders


def test_a_buy_beyond_the_balance_is_rejected_after_pending_new() -> None:
    engine = engine_with_funds()
    events = engine.submit(ALICE, limit("B1", Side.BUY, "10.01", "100"))  # 1001 > 1000 PYUSD
    assert exec_types(events) == ["A/A", "8/8"]
    assert texts(events)[-1] == INSUFFICIENT_BALANCE
    assert reports(events)[-1].order_id != "NONE"  # accepted first, then refused
    assert engine.working_orders(ALICE) == [] and engine.depth("BTC-PYUSD").bids == ()


def test_exactly_the_balance_is_accepted() -> None:
    engine = engine_with_funds()
    assert exec_types(engine.submit(ALICE, limit("B1", Side.BUY, "10", "100"))) == ["A/A", "0/0"]


def test_resting_holds_count_against_a_new_order() -> None:
    engine = engine_with_funds()
    engine.submit(ALICE, limit("B1", Side.BUY, "6", "100"))  # holds 600 of 1000
    events = engine.submit(ALICE, limit("B2", Side.BUY, "5", "99"))  # 495 > 400 left
    assert texts(events)[-1] == INSUFFICIENT_BALANCE
    assert exec_types(engine.submit(ALICE, limit("B3", Side.BUY, "4", "100"))) == ["A/A", "0/0"]
    (pyusd,) = [row for row in engine.balances(ALICE) if row.asset == "PYUSD"]
    assert (pyusd.balance, pyusd.order_hold, pyusd.available) == (D(1000), D(1000), D(0))


def test_a_sell_needs_the_base_currency_and_a_buy_does_not_use_it() -> None:
    engine = engine_with_funds()
    engine.submit(ALICE, limit("S1", Side.SELL, "1.5", "110"))
    assert texts(engine.submit(ALICE, limit("S2", Side.SELL, "0.6", "111")))[-1] == (
        INSUFFICIENT_BALANCE
    )
    assert exec_types(engine.submit(ALICE, limit("B1", Side.BUY, "9", "100"))) == ["A/A", "0/0"]


def test_a_cancel_gives_its_hold_back() -> None:
    engine = engine_with_funds()
    engine.submit(ALICE, limit("B1", Side.BUY, "10", "100"))
    assert texts(engine.submit(ALICE, limit("B2", Side.BUY, "1", "100")))[-1] == (
        INSUFFICIENT_BALANCE
    )
    engine.cancel(ALICE, CancelOrder("C1", "B1"))
    assert exec_types(engine.submit(ALICE, limit("B3", Side.BUY, "10", "100"))) == ["A/A", "0/0"]


def test_a_fill_moves_the_balance_the_next_order_is_checked_against() -> None:
    engine = engine_with_funds()
    engine.submit(BOB, limit("S1", Side.SELL, "2", "100"))
    engine.submit(ALICE, limit("B1", Side.BUY, "2", "100"))  # ALICE: 2 more BTC, 200 less PYUSD
    alice = {row.asset: row.balance for row in engine.balances(ALICE)}
    bob = {row.asset: row.balance for row in engine.balances(BOB)}
    assert alice == {"BTC": D(4), "PYUSD": D(800)} and bob == {"BTC": D(0), "PYUSD": D(1200)}
    assert exec_types(engine.submit(ALICE, limit("S2", Side.SELL, "4", "120")))[-1] == "0/0"
    assert texts(engine.submit(ALICE, limit("B2", Side.BUY, "9", "90")))[-1] == (
        INSUFFICIENT_BALANCE
    )
    assert texts(engine.submit(BOB, limit("S3", Side.SELL, "0.01", "120")))[-1] == (
        INSUFFICIENT_BALANCE
    )


def test_a_partly_filled_order_holds_only_its_leaves() -> None:
    engine = engine_with_funds()
    engine.submit(ALICE, limit("B1", Side.BUY, "10", "100"))
    engine.submit(SIM_TRADER, limit("S1", Side.SELL, "4", "100"))  # ALICE pays 400, holds 600
    (pyusd,) = [row for row in engine.balances(ALICE) if row.asset == "PYUSD"]
    assert (pyusd.balance, pyusd.order_hold) == (D(600), D(600))
    assert texts(engine.submit(ALICE, limit("B2", Side.BUY, "0.01", "100")))[-1] == (
        INSUFFICIENT_BALANCE
    )


def test_a_market_buy_needs_what_walking_the_offers_costs() -> None:
    engine = engine_with_funds()
    engine.submit(SIM_TRADER, limit("S1", Side.SELL, "5", "100"))
    engine.submit(SIM_TRADER, limit("S2", Side.SELL, "5", "110"))
    refused = engine.submit(ALICE, market("M1", Side.BUY, "9.6"))  # 500 + 4.6 x 110 = 1006
    assert texts(refused)[-1] == INSUFFICIENT_BALANCE
    taken = engine.submit(ALICE, market("M2", Side.BUY, "9.5"))  # 500 + 495 = 995
    assert [r.exec_type for r in reports(taken, ALICE)][-1] is ExecType.TRADE
    assert reports(taken, ALICE)[-1].ord_status is OrdStatus.FILLED


def test_a_market_sell_needs_its_quantity() -> None:
    engine = engine_with_funds()
    engine.submit(BOB, limit("B1", Side.BUY, "5", "100"))
    assert texts(engine.submit(ALICE, market("M1", Side.SELL, "2.01")))[-1] == (
        INSUFFICIENT_BALANCE
    )


def test_simulated_traders_and_an_engine_without_a_book_are_not_limited() -> None:
    engine = engine_with_funds()
    events = engine.submit(SIM_TRADER, limit("B1", Side.BUY, "1000", "100"))
    assert exec_types(events) == ["A/A", "0/0"]
    plain = make_engine(price_band=None)
    assert exec_types(plain.submit(ALICE, limit("B1", Side.BUY, "1000", "100000")))[-1] == "0/0"


def test_an_ioc_is_checked_like_a_limit() -> None:
    engine = engine_with_funds()
    order = limit("B1", Side.BUY, "11", "100", time_in_force=TimeInForce.IOC)
    assert texts(engine.submit(ALICE, order))[-1] == INSUFFICIENT_BALANCE


# --------------------------------------------------------------------------- replace


def test_a_replace_that_holds_more_than_is_available_is_refused_and_the_order_stays() -> None:
    engine = engine_with_funds()
    engine.submit(ALICE, limit("B1", Side.BUY, "8", "100"))  # holds 800, 200 left
    events = engine.replace(ALICE, ReplaceOrder("B2", "B1", D("10.01"), D(100)))
    (reject,) = cancel_rejects(events)
    assert reject.reason == CxlRejReason.OTHER.value and reject.text == INSUFFICIENT_BALANCE
    (working,) = engine.working_orders(ALICE)
    assert (working.cl_ord_id, working.order_qty) == ("B1", D(8))


def test_a_replace_within_the_balance_or_holding_less_passes() -> None:
    engine = engine_with_funds()
    engine.submit(ALICE, limit("B1", Side.BUY, "8", "100"))
    grown = engine.replace(ALICE, ReplaceOrder("B2", "B1", D(10), D(100)))  # 1000: all of it
    assert cancel_rejects(grown) == []
    lower = engine.replace(ALICE, ReplaceOrder("B3", "B2", D(10), D(99)))
    assert cancel_rejects(lower) == []
    (working,) = engine.working_orders(ALICE)
    assert (working.cl_ord_id, working.price) == ("B3", D(99))


# --------------------------------------------------------------------------- one book


def test_the_rest_api_reads_the_book_the_venue_refuses_orders_against() -> None:
    """SimulatorSettings.balances is what the engine enforces and what GET /balances reports."""
    credentials = Credentials(api_key="00000000-0000-4000-8000-000000000001", secret_key="s")
    account = VenueAccount("BALANCE_TEST", ALICE, credentials)
    # Never started: no port is bound, the engine and the REST routing are called directly.
    settings = SimulatorSettings(account, 0, 0, balances={"PYUSD": D(500), "BTC": D(1)})
    venue = SimulatedVenue(settings)
    rest = SimulatorRestServer(venue)
    venue.engine.submit(ALICE, limit("B1", Side.BUY, "4", "100"))
    refused = venue.engine.submit(ALICE, limit("B2", Side.BUY, "1.01", "100"))
    assert texts(refused)[-1] == INSUFFICIENT_BALANCE

    now = str(int(time.time()))
    path = "/api/v1/balances"
    headers = {
        HEADER_TOKEN: credentials.api_key,
        HEADER_TIMESTAMP: now,
        HEADER_SIGNATURE: rest_signature(credentials.secret_key, now, "GET", path),
    }
    status, body, is_error = rest.handle("GET", path, headers)
    assert (status, is_error) == (200, False)
    rows = {row["asset_name"]: row for row in body[0]["balances"]}
    assert (rows["PYUSD"]["balance"], rows["PYUSD"]["order_hold"]) == ("500", "400")
    assert (rows["BTC"]["balance"], rows["BTC"]["order_hold"]) == ("1", "0")
