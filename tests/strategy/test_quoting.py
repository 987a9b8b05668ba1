"""The quoting pipeline and the order diff, with expected numbers worked out by hand.

Grid reminders (TrueX defaults): prices 10 000-99 999.9 tick 0.1 / lot 0.0001; prices
1 000-9 999.99 tick 0.01; prices 10-999.999 tick 0.001 / lot 0.01; min notional 1.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from truex_qf.domain.increments import PriceGrid
from truex_qf.domain.model import BookEntry, MarketDataSnapshot, MDEntryType, Side
from truex_qf.marketdata.book import OrderBook
from truex_qf.strategy.fair_value import FairValue, PricingDecision, PricingState
from truex_qf.strategy.quoting import (
    AWAITING_CANCEL,
    BELOW_MIN_NOTIONAL,
    IN_FLIGHT,
    LEVEL_COLLISION,
    NON_POSITIVE_PRICE,
    OUT_OF_BUDGET,
    POSITION_LIMIT,
    SELF_CROSS,
    WOULD_CROSS,
    ZERO_SIZE,
    HeldLevel,
    Proposal,
    Quote,
    QuoteParams,
    QuoteReplace,
    RequoteMode,
    Suppressed,
    WorkingQuote,
    apply_min_edge,
    apply_position_budget,
    apply_skew,
    base_proposal,
    build_proposal,
    diff_quotes,
    enforce_level_order,
    filter_min_notional,
    filter_takers,
    inventory_skew_bps,
    level_distance_bps,
    propose,
    round_to_grid,
)

GRID = PriceGrid()
BUY, SELL = Side.BUY, Side.SELL


def prices(proposal: Proposal) -> dict[tuple[Side, int], tuple[D, D]]:
    return {(q.side, q.level): (q.price, q.size) for q in proposal.quotes}


def book(bid: str, offer: str) -> OrderBook:
    b = OrderBook("BTC-PYUSD")
    b.apply_snapshot(
        MarketDataSnapshot(
            "MD-1",
            "BTC-PYUSD",
            (
                BookEntry(MDEntryType.BID, D(bid), D("1")),
                BookEntry(MDEntryType.OFFER, D(offer), D("1")),
            ),
        ),
        0.0,
    )
    return b


TWO_LEVELS = QuoteParams(
    levels_per_side=2,
    spread_bps=D(10),
    level_spacing_bps=D(5),
    level_size_base=D("0.01"),
    size_decay=D("0.5"),
    max_position_base=D(1),
)


def test_worked_example_two_levels() -> None:
    # fv 50000.03; level 1 is 10 bps away: 50000.03 * 0.001 = 50.00003
    #   bid 49950.02997 -> floor to 0.1 -> 49950.0 ; offer 50050.03003 -> ceil -> 50050.1
    # level 2 is 15 bps away: 75.000045
    #   bid 49925.029955 -> 49925.0 ; offer 50075.030045 -> 50075.1
    # sizes: 0.01 then 0.01 * 0.5 = 0.005 (on the 0.0001 lot)
    proposal = build_proposal(D("50000.03"), D(0), TWO_LEVELS, GRID, None)
    assert prices(proposal) == {
        (BUY, 1): (D("49950.0"), D("0.01")),
        (BUY, 2): (D("49925.0"), D("0.005")),
        (SELL, 1): (D("50050.1"), D("0.01")),
        (SELL, 2): (D("50075.1"), D("0.005")),
    }
    assert proposal.suppressed == ()
    assert proposal.post_only is True
    assert proposal.fair_value == D("50000.03")


def test_accepts_fair_value_object() -> None:
    fv = FairValue(D("50000.03"), "truex_mid", 1.0)
    assert prices(build_proposal(fv, D(0), TWO_LEVELS, GRID, None))[(BUY, 1)][0] == D("49950.0")


def test_rounding_directions() -> None:
    # fv 100 (tick 0.001, lot 0.01), spread 10.03 bps -> offset 0.1003:
    # bid 99.8997 -> floor 99.899 (nearest would be 99.900);
    # offer 100.1003 -> ceil 100.101 (nearest would be 100.100); size 0.019 -> 0.01.
    params = QuoteParams(levels_per_side=1, spread_bps=D("10.03"), level_size_base=D("0.019"))
    proposal = build_proposal(D(100), D(0), params, PriceGrid(min_notional=D("0.5")), None)
    assert prices(proposal) == {
        (BUY, 1): (D("99.899"), D("0.01")),
        (SELL, 1): (D("100.101"), D("0.01")),
    }


def test_min_notional_and_zero_size_are_dropped() -> None:
    # Same quotes with min notional 1: bid 99.899 * 0.01 = 0.99899 < 1 is dropped,
    # offer 100.101 * 0.01 = 1.00101 stays.
    params = QuoteParams(levels_per_side=1, spread_bps=D("10.03"), level_size_base=D("0.019"))
    proposal = build_proposal(D(100), D(0), params, GRID, None)
    assert prices(proposal) == {(SELL, 1): (D("100.101"), D("0.01"))}
    assert proposal.suppressed == (Suppressed(BUY, 1, BELOW_MIN_NOTIONAL),)
    # 0.00001 BTC at 50 000 rounds to 0 on the 0.0001 lot.
    tiny = QuoteParams(levels_per_side=1, spread_bps=D(10), level_size_base=D("0.00001"))
    proposal = build_proposal(D(50000), D(0), tiny, GRID, None)
    assert proposal.quotes == ()
    assert set(proposal.suppressed) == {
        Suppressed(BUY, 1, ZERO_SIZE),
        Suppressed(SELL, 1, ZERO_SIZE),
    }


ONE_LEVEL = QuoteParams(
    levels_per_side=1,
    spread_bps=D(10),
    level_size_base=D("0.01"),
    max_position_base=D(1),
    inventory_skew_bps=D(20),
    max_skew_bps=D(8),
)


@pytest.mark.parametrize(
    ("position", "skew", "bid", "offer"),
    [
        # fv 50000: unskewed bid 49950, offer 50050; 1 bps of fv = 5.
        ("0", "0", "49950.0", "50050.0"),
        ("0.25", "5", "49925.0", "50025.0"),  # long: 20 * 0.25 = 5 bps, both down 25
        ("-0.25", "-5", "49975.0", "50075.0"),  # short: both up 25
        ("0.8", "8", "49910.0", "50010.0"),  # 16 bps capped at 8: both down 40
        ("-0.8", "-8", "49990.0", "50090.0"),  # capped at -8: both up 40
    ],
)
def test_skew_moves_both_sides_against_inventory(
    position: str, skew: str, bid: str, offer: str
) -> None:
    assert inventory_skew_bps(D(position), ONE_LEVEL) == D(skew)
    proposal = build_proposal(D(50000), D(position), ONE_LEVEL, GRID, None)
    assert proposal.skew_bps == D(skew)
    assert prices(proposal) == {(BUY, 1): (D(bid), D("0.01")), (SELL, 1): (D(offer), D("0.01"))}


def test_min_edge_keeps_quotes_away_from_fair_value() -> None:
    # spread 2 bps alone would give 49990 / 50010; fee 1 + edge 2 = 3 bps = 15 -> 49985 / 50015.
    params = QuoteParams(
        levels_per_side=1,
        spread_bps=D(2),
        level_size_base=D("0.01"),
        maker_fee_bps=D(1),
        min_edge_bps=D(2),
    )
    proposal = build_proposal(D(50000), D(0), params, GRID, None)
    assert prices(proposal) == {
        (BUY, 1): (D("49985.0"), D("0.01")),
        (SELL, 1): (D("50015.0"), D("0.01")),
    }


def test_min_edge_limits_skew_on_the_near_side() -> None:
    # Long 0.8 with skew 10 bps at max -> 8 bps = 40 down. Offer 50050 - 40 = 50010 is inside
    # the 1 + 4 = 5 bps (25) edge, so it is clamped to 50025; the bid 49910 is farther anyway.
    params = QuoteParams(
        levels_per_side=1,
        spread_bps=D(10),
        level_size_base=D("0.01"),
        max_position_base=D(1),
        inventory_skew_bps=D(10),
        max_skew_bps=D(50),
        maker_fee_bps=D(1),
        min_edge_bps=D(4),
    )
    proposal = build_proposal(D(50000), D("0.8"), params, GRID, None)
    assert prices(proposal) == {
        (BUY, 1): (D("49910.0"), D("0.01")),
        (SELL, 1): (D("50025.0"), D("0.01")),
    }


def test_never_crosses_book_offer_pushed_above_best_bid() -> None:
    # Our offers 50050 / 50075; TrueX best bid 50060: level 1 goes to 50060 + 0.1.
    proposal = build_proposal(D(50000), D(0), TWO_LEVELS, GRID, book("50060", "50070"))
    quotes = prices(proposal)
    assert quotes[(SELL, 1)] == (D("50060.1"), D("0.01"))
    assert quotes[(SELL, 2)] == (D("50075.0"), D("0.005"))
    assert quotes[(BUY, 1)] == (D("49950.0"), D("0.01"))
    for q in proposal.quotes:
        assert q.price > D("50060") if q.side is SELL else q.price < D("50070")


def test_never_crosses_book_bid_pushed_below_best_offer_and_collision_dropped() -> None:
    # Our bids 49950 / 49925; TrueX best offer 49930: level 1 -> 49929.9, level 2 (49925)
    # already below it stays. Best offer 49920: both would go to 49919.9; level 2 is dropped.
    proposal = build_proposal(D(50000), D(0), TWO_LEVELS, GRID, book("49900", "49930"))
    assert prices(proposal)[(BUY, 1)] == (D("49929.9"), D("0.01"))
    assert prices(proposal)[(BUY, 2)] == (D("49925.0"), D("0.005"))
    proposal = build_proposal(D(50000), D(0), TWO_LEVELS, GRID, book("49900", "49920"))
    assert prices(proposal)[(BUY, 1)] == (D("49919.9"), D("0.01"))
    assert (BUY, 2) not in prices(proposal)
    assert Suppressed(BUY, 2, LEVEL_COLLISION) in proposal.suppressed


def test_push_back_at_bucket_boundary_uses_finer_tick() -> None:
    # fv 10050, 10 bps: bid 10039.95 -> 10039.9; best offer 10000.0 opens the 0.1-tick
    # bucket, the price below it is on the 0.01 grid: 9999.99.
    params = QuoteParams(levels_per_side=1, spread_bps=D(10), level_size_base=D("0.01"))
    proposal = build_proposal(D(10050), D(0), params, GRID, book("9990", "10000"))
    assert prices(proposal)[(BUY, 1)] == (D("9999.99"), D("0.01"))


def test_position_budget_cuts_and_stops_the_accumulating_side() -> None:
    # Long 0.995 of max 1: bids may add 0.005 -> level 1 cut to 0.005, level 2 dropped.
    proposal = build_proposal(D(50000), D("0.995"), TWO_LEVELS, GRID, None)
    quotes = prices(proposal)
    assert quotes[(BUY, 1)] == (D("49950.0"), D("0.005"))
    assert (BUY, 2) not in quotes
    assert Suppressed(BUY, 2, POSITION_LIMIT) in proposal.suppressed
    assert quotes[(SELL, 1)][1] == D("0.01") and quotes[(SELL, 2)][1] == D("0.005")
    # Short at the limit: no offers at all.
    proposal = build_proposal(D(50000), D(-1), TWO_LEVELS, GRID, None)
    assert {q.side for q in proposal.quotes} == {BUY}


def test_propose_follows_the_pricing_decision() -> None:
    fv = FairValue(D(50000), "truex_mid", 0.0)
    params = QuoteParams(levels_per_side=1, spread_bps=D(10), level_size_base=D("0.01"))
    pulled = propose(PricingDecision(PricingState.PULL, None, reason="X"), D(0), params, GRID, None)
    assert pulled.quotes == ()
    # WIDEN by 5 bps: 15 bps = 75 -> 49925 / 50075.
    widened = propose(PricingDecision(PricingState.WIDEN, fv, D(5)), D(0), params, GRID, None)
    assert prices(widened) == {
        (BUY, 1): (D("49925.0"), D("0.01")),
        (SELL, 1): (D("50075.0"), D("0.01")),
    }


def test_params_validation() -> None:
    with pytest.raises(ValueError, match="spread_bps"):
        QuoteParams(spread_bps=D(0))
    with pytest.raises(ValueError, match="max_position_base"):
        QuoteParams(max_position_base=D(0))


# --------------------------------------------------------------------------- diff

PROPOSAL = Proposal(
    quotes=(
        Quote(BUY, 1, D("49950.0"), D("0.01")),
        Quote(BUY, 2, D("49925.0"), D("0.005")),
        Quote(SELL, 1, D("50050.0"), D("0.01")),
        Quote(SELL, 2, D("50075.0"), D("0.005")),
    ),
    fair_value=D(50000),
)
TOL_BPS = D(1)  # 1 bps of 50 000 = 5
SIZE_TOL = D("0.1")


def w(cid: str, side: Side, level: int, price: str, size: str, in_flight: bool = False):
    return WorkingQuote(cid, side, level, D(price), D(size), in_flight)


def test_diff_keep_replace_create_cancel_and_in_flight() -> None:
    working = [
        w("b1", BUY, 1, "49951.0", "0.01"),  # 0.2 bps off: keep
        w("b2", BUY, 2, "49900.0", "0.005", in_flight=True),  # off, but in flight: hold
        w("s1", SELL, 1, "50060.0", "0.01"),  # 2 bps off: move
        w("s3", SELL, 3, "50100.0", "0.005"),  # level no longer proposed: cancel
    ]
    actions = diff_quotes(PROPOSAL, working, TOL_BPS, SIZE_TOL, "replace")
    assert [o.cl_ord_id for o in actions.keep] == ["b1"]
    assert actions.replace == (QuoteReplace(working[2], PROPOSAL.quotes[2]),)
    assert [o.cl_ord_id for o in actions.cancel] == ["s3"]
    assert actions.create == (Quote(SELL, 2, D("50075.0"), D("0.005")),)
    assert actions.held == (HeldLevel(BUY, 2, IN_FLIGHT),)
    # Nothing at all for the in-flight level.
    touched = {r.working.cl_ord_id for r in actions.replace} | {o.cl_ord_id for o in actions.cancel}
    assert "b2" not in touched
    assert all(q.key != (BUY, 2) for q in actions.create)


def test_diff_lists_actions_top_down_the_bid_before_the_ask_at_each_level() -> None:
    # The market maker sends a diff's actions in order until the message budget is spent:
    # with two to spare of four, both sides' best level must be the two that go.
    actions = diff_quotes(PROPOSAL, [], TOL_BPS, SIZE_TOL, "replace")
    assert [q.key for q in actions.create] == [(BUY, 1), (SELL, 1), (BUY, 2), (SELL, 2)]


def test_diff_cancel_new_mode_cancels_and_waits() -> None:
    working = [
        w("b1", BUY, 1, "49951.0", "0.01"),
        w("s1", SELL, 1, "50060.0", "0.01"),
    ]
    actions = diff_quotes(PROPOSAL, working, TOL_BPS, SIZE_TOL, RequoteMode.CANCEL_NEW)
    assert [o.cl_ord_id for o in actions.cancel] == ["s1"]
    assert actions.replace == ()
    # SELL 1 is re-placed only once its cancel is acknowledged; the empty levels are created.
    assert {q.key for q in actions.create} == {(BUY, 2), (SELL, 2)}
    assert HeldLevel(SELL, 1, AWAITING_CANCEL) in actions.held
    # Next round: the cancel is in flight -> still nothing for SELL 1.
    pending = [working[0], w("s1", SELL, 1, "50060.0", "0.01", in_flight=True)]
    actions = diff_quotes(PROPOSAL, pending, TOL_BPS, SIZE_TOL, RequoteMode.CANCEL_NEW)
    assert all(q.key != (SELL, 1) for q in actions.create)
    assert actions.cancel == ()
    assert HeldLevel(SELL, 1, IN_FLIGHT) in actions.held
    # Cancel acknowledged (order gone): now it is created.
    actions = diff_quotes(PROPOSAL, [working[0]], TOL_BPS, SIZE_TOL, RequoteMode.CANCEL_NEW)
    assert Quote(SELL, 1, D("50050.0"), D("0.01")) in actions.create


def test_diff_without_budget_holds_passive_moves_and_cancels_aggressive_ones() -> None:
    mode = RequoteMode.CANCEL_NEW
    working = [
        w("b1", BUY, 1, "49940.0", "0.01"),  # 2 bps below the wanted 49950: passive, stays
        w("b2", BUY, 2, "49935.0", "0.005"),  # 2 bps above the wanted 49925: a taker's gift
        w("s1", SELL, 1, "50050.0", "0.02"),  # the right price, twice the size: stays
        w("s2", SELL, 2, "50090.0", "0.005"),  # 3 bps above the wanted 50075: passive, stays
    ]
    actions = diff_quotes(PROPOSAL, working, TOL_BPS, SIZE_TOL, mode, budget=False)
    assert [o.cl_ord_id for o in actions.cancel] == ["b2"]
    assert actions.replace == () and actions.create == ()
    assert set(actions.held) == {
        HeldLevel(BUY, 1, OUT_OF_BUDGET),
        HeldLevel(BUY, 2, AWAITING_CANCEL),
        HeldLevel(SELL, 1, OUT_OF_BUDGET),
        HeldLevel(SELL, 2, OUT_OF_BUDGET),
    }
    # With budget, every one of them moves.
    actions = diff_quotes(PROPOSAL, working, TOL_BPS, SIZE_TOL, mode)
    assert sorted(o.cl_ord_id for o in actions.cancel) == ["b1", "b2", "s1", "s2"]
    # REPLACE: every move is a replace, which the market maker sends when the budget allows.
    actions = diff_quotes(PROPOSAL, working, TOL_BPS, SIZE_TOL, RequoteMode.REPLACE, budget=False)
    assert sorted(r.working.cl_ord_id for r in actions.replace) == ["b1", "b2", "s1", "s2"]


def test_diff_tolerance_edges() -> None:
    # 1 bps of the quoted 49950 is 4.995: a difference of exactly that is within, 5.0 is not.
    inside = w("b1", BUY, 1, "49945.005", "0.01")
    outside = w("b1", BUY, 1, "49945.0", "0.01")
    only_b1 = Proposal((PROPOSAL.quotes[0],), D(50000))
    assert diff_quotes(only_b1, [inside], TOL_BPS, SIZE_TOL).keep == (inside,)
    assert diff_quotes(only_b1, [outside], TOL_BPS, SIZE_TOL).replace[0].working == outside
    # Size: 10 % of 0.01 = 0.001. Leaves 0.0091 kept, 0.0089 replaced.
    assert diff_quotes(only_b1, [w("b", BUY, 1, "49950", "0.0091")], TOL_BPS, SIZE_TOL).keep
    assert diff_quotes(only_b1, [w("b", BUY, 1, "49950", "0.0089")], TOL_BPS, SIZE_TOL).replace


def test_diff_pull_cancels_resting_and_leaves_in_flight() -> None:
    working = [w("b1", BUY, 1, "49950", "0.01"), w("s1", SELL, 1, "50050", "0.01", True)]
    actions = diff_quotes(Proposal.empty(), working, TOL_BPS, SIZE_TOL)
    assert [o.cl_ord_id for o in actions.cancel] == ["b1"]
    assert actions.create == () and actions.replace == ()
    assert actions.held == (HeldLevel(SELL, 1, IN_FLIGHT),)


def test_diff_duplicate_orders_at_a_level() -> None:
    working = [w("b1", BUY, 1, "49900", "0.01"), w("b1b", BUY, 1, "49950", "0.01")]
    only_b1 = Proposal((PROPOSAL.quotes[0],), D(50000))
    actions = diff_quotes(only_b1, working, TOL_BPS, SIZE_TOL)
    assert [o.cl_ord_id for o in actions.keep] == ["b1b"]
    assert [o.cl_ord_id for o in actions.cancel] == ["b1"]


def test_diff_holds_orders_that_would_cross_our_own_other_side() -> None:
    # The market jumped: new bid 50010 but our old offer still rests at 50005.
    moved = Proposal(
        (Quote(BUY, 1, D("50010.0"), D("0.01")), Quote(SELL, 1, D("50060.0"), D("0.01"))),
        D(50035),
    )
    working = [w("b1", BUY, 1, "49950", "0.01"), w("s1", SELL, 1, "50005", "0.01")]
    actions = diff_quotes(moved, working, TOL_BPS, SIZE_TOL, RequoteMode.REPLACE)
    assert actions.replace == (QuoteReplace(working[1], moved.quotes[1]),)
    assert actions.held == (HeldLevel(BUY, 1, SELF_CROSS),)
    # cancel_new: the old offer's cancel is in flight, so the empty bid level must wait too.
    pending = [w("s1", SELL, 1, "50005", "0.01", in_flight=True)]
    actions = diff_quotes(moved, pending, TOL_BPS, SIZE_TOL, RequoteMode.CANCEL_NEW)
    assert actions.create == ()
    assert set(actions.held) == {HeldLevel(BUY, 1, SELF_CROSS), HeldLevel(SELL, 1, IN_FLIGHT)}
    # Once the offer has moved up, the bid follows.
    after = [w("b1", BUY, 1, "49950", "0.01"), w("s1", SELL, 1, "50060", "0.01")]
    actions = diff_quotes(moved, after, TOL_BPS, SIZE_TOL)
    assert actions.replace == (QuoteReplace(after[0], moved.quotes[0]),)


# --------------------------------------------------------------------------- each step alone
#
# build_proposal is the chain of these steps; each is driven here on a hand-made proposal.

FV = D(50000)


def hand_made(*quotes: Quote, skew_bps: D = D(0)) -> Proposal:
    return Proposal(tuple(quotes), FV, skew_bps)


def test_level_distance_is_spread_plus_spacing_plus_widening() -> None:
    assert level_distance_bps(TWO_LEVELS, 1) == D(10)
    assert level_distance_bps(TWO_LEVELS, 2) == D(15)
    assert level_distance_bps(TWO_LEVELS, 2, D(5)) == D(20)


def test_base_proposal_lists_buys_then_sells_level_one_outward() -> None:
    proposal = base_proposal(FV, TWO_LEVELS)
    assert proposal.quotes == (
        Quote(BUY, 1, D("49950.000"), D("0.01")),
        Quote(BUY, 2, D("49925.000"), D("0.005")),
        Quote(SELL, 1, D("50050.000"), D("0.01")),
        Quote(SELL, 2, D("50075.000"), D("0.005")),
    )
    assert proposal.fair_value == FV and proposal.suppressed == ()


def test_apply_skew_moves_both_sides_and_records_the_skew() -> None:
    proposal = hand_made(Quote(BUY, 1, D(49950), D(1)), Quote(SELL, 1, D(50050), D(1)))
    skewed = apply_skew(proposal, D(4))  # long: 4 bps of 50 000 = 20 down
    assert [q.price for q in skewed.quotes] == [D(49930), D(50030)]
    assert skewed.skew_bps == D(4)
    assert apply_skew(proposal, D(0)) is proposal  # nothing to move: the same proposal


def test_apply_min_edge_clamps_only_what_is_too_close() -> None:
    params = QuoteParams(maker_fee_bps=D(2), min_edge_bps=D(3))  # 5 bps = 25
    proposal = hand_made(
        Quote(BUY, 1, D(49990), D(1)),  # 2 bps away: clamped to 49 975
        Quote(BUY, 2, D(49950), D(1)),
        Quote(SELL, 1, D(50100), D(1)),
    )
    clamped = apply_min_edge(proposal, params)
    assert [q.price for q in clamped.quotes] == [D(49975), D(49950), D(50100)]
    assert apply_min_edge(hand_made(Quote(SELL, 1, D(50100), D(1))), params).quotes == (
        Quote(SELL, 1, D(50100), D(1)),
    )


def test_round_to_grid_rounds_away_from_the_market_and_drops_zero_sizes() -> None:
    proposal = hand_made(
        Quote(BUY, 1, D("49950.07"), D("0.01239")),
        Quote(BUY, 2, D("-1"), D("0.01")),
        Quote(SELL, 1, D("50050.01"), D("0.00001")),
    )
    rounded = round_to_grid(proposal, GRID)
    assert rounded.quotes == (Quote(BUY, 1, D("49950.0"), D("0.0123")),)
    assert rounded.suppressed == (
        Suppressed(BUY, 2, NON_POSITIVE_PRICE),
        Suppressed(SELL, 1, ZERO_SIZE),
    )


def test_filter_takers_pushes_back_behind_the_opposite_best() -> None:
    proposal = hand_made(Quote(BUY, 1, D("50070.0"), D(1)), Quote(SELL, 1, D("49990.0"), D(1)))
    pushed = filter_takers(proposal, book("50000", "50060"), GRID)
    assert [q.price for q in pushed.quotes] == [D("50059.9"), D("50000.1")]
    resting = hand_made(Quote(BUY, 1, D("49950.0"), D(1)))
    assert filter_takers(resting, book("50000", "50060"), GRID) is resting
    # pushed below 10 000, where the lot is 0.001 (0.0001 above): the size follows
    across = hand_made(Quote(BUY, 1, D("10000.0"), D("0.1234")))
    (moved,) = filter_takers(across, book("9990", "10000"), GRID).quotes
    assert moved.price == D("9999.99")
    assert moved.size == D("0.123")  # on the 0.001 lot there
    assert filter_takers(resting, None, GRID) is resting


def test_filter_takers_drops_a_bid_that_cannot_go_below_the_lowest_tick() -> None:
    # an offer at the grid's lowest tick (1E-10 below a price of 1): no bid fits below it
    proposal = hand_made(Quote(BUY, 1, D("1E-9"), D(1000000)))
    tiny_offer = OrderBook("BTC-PYUSD")
    tiny_offer.apply_snapshot(
        MarketDataSnapshot(
            "MD-1", "BTC-PYUSD", (BookEntry(MDEntryType.OFFER, D("1E-10"), D("1")),)
        ),
        0.0,
    )
    assert filter_takers(proposal, tiny_offer, GRID).suppressed == (
        Suppressed(BUY, 1, WOULD_CROSS),
    )


def test_enforce_level_order_drops_levels_not_worse_than_the_one_before() -> None:
    proposal = hand_made(
        Quote(BUY, 1, D(49950), D(1)),
        Quote(BUY, 2, D(49950), D(1)),  # collides with level 1
        Quote(BUY, 3, D(49940), D(1)),
        Quote(SELL, 1, D(50050), D(1)),
        Quote(SELL, 2, D(50040), D(1)),  # better than level 1
    )
    ordered = enforce_level_order(proposal)
    assert [q.key for q in ordered.quotes] == [(BUY, 1), (BUY, 3), (SELL, 1)]
    assert ordered.suppressed == (
        Suppressed(BUY, 2, LEVEL_COLLISION),
        Suppressed(SELL, 2, LEVEL_COLLISION),
    )


def test_apply_position_budget_fills_from_level_one_outward() -> None:
    params = QuoteParams(max_position_base=D(1))
    proposal = hand_made(
        Quote(BUY, 1, D(49950), D("0.3")),
        Quote(BUY, 2, D(49940), D("0.3")),
        Quote(SELL, 1, D(50050), D("0.3")),
    )
    # long 0.5: bids may add 0.5 (0.3 then 0.2), offers 1.5
    budgeted = apply_position_budget(proposal, D("0.5"), params, GRID)
    assert [q.size for q in budgeted.quotes] == [D("0.3"), D("0.2"), D("0.3")]
    # long 1: no bid fits
    full = apply_position_budget(proposal, D(1), params, GRID)
    assert [q.key for q in full.quotes] == [(SELL, 1)]
    assert full.suppressed == (
        Suppressed(BUY, 1, POSITION_LIMIT),
        Suppressed(BUY, 2, POSITION_LIMIT),
    )
    assert apply_position_budget(proposal, D(0), params, GRID) is proposal
    # long 0.99995: 0.00005 left for bids, down to the 0.0001 lot: 0, dropped
    cut = apply_position_budget(proposal, D("0.99995"), params, GRID)
    assert [q.key for q in cut.quotes] == [(SELL, 1)]
    assert cut.suppressed == (Suppressed(BUY, 1, ZERO_SIZE), Suppressed(BUY, 2, POSITION_LIMIT))
    # long 0.99987: 0.00013 left for bids -> 0.0001
    assert apply_position_budget(proposal, D("0.99987"), params, GRID).quotes[0].size == D("0.0001")


def test_filter_min_notional_drops_small_orders() -> None:
    proposal = hand_made(
        Quote(BUY, 1, D("49950.0"), D("0.0002")),  # 9.99 notional: kept
        Quote(SELL, 1, D("50050.0"), D("0.0001")),  # 5.005 notional
    )
    assert filter_min_notional(proposal, PriceGrid(min_notional=D(5))) is proposal
    small = filter_min_notional(proposal, PriceGrid(min_notional=D(6)))
    assert small.quotes == proposal.quotes[:1]
    assert small.suppressed == (Suppressed(SELL, 1, BELOW_MIN_NOTIONAL),)


def test_build_proposal_is_the_chain_of_steps() -> None:
    params = QuoteParams(
        levels_per_side=2,
        spread_bps=D(10),
        level_spacing_bps=D(5),
        level_size_base=D("0.3"),
        max_position_base=D(1),
        inventory_skew_bps=D(10),
        max_skew_bps=D(5),
        min_edge_bps=D(8),
    )
    position, top = D("0.6"), book("49900", "49960")
    chained = base_proposal(FV, params)
    chained = apply_skew(chained, inventory_skew_bps(position, params))
    chained = apply_min_edge(chained, params)
    chained = round_to_grid(chained, GRID)
    chained = filter_takers(chained, top, GRID)
    chained = enforce_level_order(chained)
    chained = apply_position_budget(chained, position, params, GRID)
    chained = filter_min_notional(chained, GRID)
    assert build_proposal(FV, position, params, GRID, top) == chained
    assert chained.skew_bps == D(5)  # 10 * 0.6 capped at 5
