"""The quote diff's shortcut (one resting order a level) agrees with its level-by-level walk.

``diff_quotes`` first checks whether exactly one resting order sits at each proposed level,
the case of nearly every requote, where the walk reduces to one tolerance check a level and
the self-cross guard. Seeded random proposals and working orders (missing, extra, duplicated
and in-flight orders, prices and sizes either side of the tolerances, orders resting beyond
fair value) must give the same actions both ways; the shortcut must be taken often and reach
every outcome.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from truex_qf.domain.model import Side
from truex_qf.strategy import quoting
from truex_qf.strategy.quoting import (
    AWAITING_CANCEL,
    SELF_CROSS,
    Proposal,
    Quote,
    RequoteMode,
    WorkingQuote,
    diff_quotes,
    diff_walk,
)

FAIR = D(60000)


def random_case(rng: random.Random) -> tuple[Proposal, list[WorkingQuote], D, D]:
    levels = rng.randint(0, 3)
    quotes = []
    for side in (Side.BUY, Side.SELL):
        for level in range(1, levels + 1):
            if rng.random() < 0.1:
                continue  # a level the pipeline dropped
            sign = -1 if side is Side.BUY else 1
            price = FAIR + sign * D(10 * level) + D(rng.randint(-20, 20)) / 10
            quotes.append(Quote(side, level, price, D(rng.randint(1, 20)) / 1000))
    working = []
    for n, quote in enumerate(quotes):
        roll = rng.random()
        if roll < 0.08:
            continue  # nothing resting at this level
        price = quote.price + D(rng.randint(-30, 30)) / 10  # either side of 2 bps (12)
        if rng.random() < 0.08:  # resting beyond fair value: what moves may cross it
            price = FAIR + (D(15) if quote.side is Side.BUY else D(-15))
        size = quote.size * (1 + D(rng.randint(-15, 15)) / 100)  # either side of 10 %
        working.append(
            WorkingQuote(f"W{n}", quote.side, quote.level, price, size, rng.random() < 0.05)
        )
        if roll > 0.95:  # a second order at the level
            working.append(WorkingQuote(f"X{n}", quote.side, quote.level, quote.price, quote.size))
    if rng.random() < 0.05:  # an order at a level no longer proposed
        working.append(WorkingQuote("Z", Side.SELL, 9, FAIR + 500, D("0.01")))
    rng.shuffle(working)
    tolerance = rng.choice((D(0), D(2), D(5)))
    return Proposal(tuple(quotes), FAIR, D(0), (), True), working, tolerance, D("0.1")


@pytest.mark.parametrize("mode", list(RequoteMode))
def test_the_shortcut_gives_what_the_walk_gives(mode, monkeypatch):
    taken = []
    outcomes = set()
    one_per_level = quoting._one_per_level

    def counted(*args):
        actions = one_per_level(*args)
        taken.append(actions is not None)
        if actions is not None:
            outcomes.update(("keep",) * bool(actions.keep) + ("cancel",) * bool(actions.cancel))
            outcomes.update(("replace",) * bool(actions.replace))
            outcomes.update(held.reason for held in actions.held)
        return actions

    monkeypatch.setattr(quoting, "_one_per_level", counted)
    rng = random.Random(20261125)
    for _ in range(4000):
        proposal, working, tolerance, size_tolerance = random_case(rng)
        expected = diff_walk(proposal, working, tolerance, size_tolerance, mode)
        assert diff_quotes(proposal, working, tolerance, size_tolerance, mode) == expected
    assert 400 < sum(taken) < 3600  # both roads were taken often
    if mode is RequoteMode.REPLACE:
        assert outcomes == {"keep", "replace", SELF_CROSS}
    else:
        assert outcomes == {"keep", "cancel", AWAITING_CANCEL}


def test_the_shortcut_keeps_in_the_walks_order():
    buy = WorkingQuote("B", Side.BUY, 1, D(59990), D("0.01"))
    sell = WorkingQuote("S", Side.SELL, 1, D(60010), D("0.01"))
    proposal = Proposal(
        (Quote(Side.SELL, 1, D(60010), D("0.01")), Quote(Side.BUY, 1, D(59990), D("0.01"))),
        FAIR,
        D(0),
        (),
        True,
    )
    actions = diff_quotes(proposal, [sell, buy], D(2), D("0.1"))
    assert actions.keep == (buy, sell)
    assert not actions.has_orders
