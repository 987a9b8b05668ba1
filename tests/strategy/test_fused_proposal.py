"""The fused quoting pass equals the stepwise pipeline, on random inputs across the grid.

:func:`build_proposal` runs the eight steps of :mod:`truex_qf.strategy.quoting` fused into
one pass per side, for speed; :func:`build_proposal_stepwise` runs them one at a time, as the
module documents them and the hand-worked tests check them. Any difference in the quotes,
the suppressed levels (their order included), the fair value or the skew fails here, with
the seed of the case to replay it.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from tests.strategy.test_quoting import book
from truex_qf.domain.increments import PriceGrid
from truex_qf.marketdata.book import OrderBook
from truex_qf.strategy.quoting import QuoteParams, build_proposal, build_proposal_stepwise

CASES = 4000


def _decimal(rng: random.Random, low: float, high: float, places: int = 4) -> D:
    return round(D(rng.uniform(low, high)), places)


def _params(rng: random.Random) -> QuoteParams:
    return QuoteParams(
        levels_per_side=rng.randint(0, 4),
        spread_bps=rng.choice([_decimal(rng, 0.1, 300), _decimal(rng, 9000, 12000)]),
        level_spacing_bps=rng.choice([D(0), _decimal(rng, 0, 60)]),
        level_size_base=rng.choice([D("0.00001"), D("0.001"), _decimal(rng, 0.0001, 5, 6)]),
        size_decay=rng.choice([D(1), _decimal(rng, 0.3, 2)]),
        max_position_base=rng.choice([D("0.001"), D("0.05"), _decimal(rng, 0.001, 10, 6)]),
        inventory_skew_bps=rng.choice([D(0), _decimal(rng, 0, 400)]),
        max_skew_bps=rng.choice([D(0), _decimal(rng, 0, 400), D(20000)]),
        maker_fee_bps=_decimal(rng, -5, 5),
        min_edge_bps=rng.choice([D(0), _decimal(rng, 0, 50)]),
        post_only=rng.random() < 0.8,
    )


def _book(rng: random.Random, fair_value: D) -> OrderBook | None:
    """None, or a book whose best prices sit anywhere from far away to crossing our quotes."""
    if rng.random() < 0.15:
        return None
    if rng.random() < 0.05:  # the best offer on the grid's smallest tick: no bid fits below it
        return book("0.00000000001", "0.0000000001")
    bid = fair_value * (1 - D(rng.uniform(-0.01, 0.03)))
    offer = max(bid * (1 + D(rng.uniform(0.00001, 0.04))), fair_value * D("0.5"))
    if offer <= bid:
        offer = bid * D("1.001")
    return book(str(round(bid, 10)), str(round(offer, 10)))


def _case(seed: int) -> tuple:
    """The arguments of one random build_proposal call."""
    rng = random.Random(seed)
    # fair values spread over the grid's buckets, edges included
    fair_value = rng.choice(
        [
            round(D(10) ** D(rng.uniform(-6, 6.2)), 8),
            round(D(10) ** D(rng.uniform(-10, -8)), 12),
            D("10000"),
            D("100000.25"),
            D("0.1"),
            D("1000"),
        ]
    )
    position = rng.choice([D(0), _decimal(rng, -12, 12, 6), D("0.05"), D("-0.05")])
    params = _params(rng)
    grid = PriceGrid(min_notional=rng.choice([D(0), D(1), D(100)]))
    market = _book(rng, fair_value)
    extra = rng.choice([D(0), _decimal(rng, 0, 80)])
    return fair_value, position, params, grid, market, extra


@pytest.mark.parametrize("chunk", range(4))
def test_fused_pass_equals_the_stepwise_pipeline(chunk):
    for case in range(chunk * CASES // 4, (chunk + 1) * CASES // 4):
        arguments = _case(case)
        assert build_proposal(*arguments) == build_proposal_stepwise(*arguments), f"case {case}"


def test_the_random_cases_reach_every_suppression_reason():
    """The comparison above is only as good as its cases: they must exercise every drop."""
    reasons = set()
    for case in range(CASES):
        proposal = build_proposal_stepwise(*_case(case))
        reasons.update(s.reason for s in proposal.suppressed)
    assert reasons == {
        "POSITION_LIMIT",
        "WOULD_CROSS",
        "LEVEL_COLLISION",
        "ZERO_SIZE",
        "NON_POSITIVE_PRICE",
        "BELOW_MIN_NOTIONAL",
    }


def test_a_quote_pushed_into_another_bucket_takes_that_buckets_lot():
    """The random cases above seldom push a quote across a bucket's floor; this one does.

    The bid, 10,008.9, sits in the 10,000 bucket (lot 0.0001) where its 0.0015 is on the lot;
    the best offer, 9,999.99, pushes it to 9,999.98, in the 1,000 bucket (lot 0.001), where
    the size must be rounded down again.
    """
    params = QuoteParams(levels_per_side=1, spread_bps=D(1), level_size_base=D("0.0015"))
    arguments = (D(10010), D(0), params, PriceGrid(), book("9000", "9999.99"), D(0))
    proposal = build_proposal(*arguments)
    assert [(q.side.name, q.price, q.size) for q in proposal.quotes] == [
        ("BUY", D("9999.98"), D("0.001")),
        ("SELL", D("10011.1"), D("0.0015")),
    ]
    assert proposal == build_proposal_stepwise(*arguments)
