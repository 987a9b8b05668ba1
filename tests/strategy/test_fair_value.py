"""Fair value: mid, micro-price, and the QUOTE / WIDEN / PULL decision table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from truex_qf.domain.model import (
    BookChange,
    BookEntry,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
)
from truex_qf.marketdata.book import OrderBook
from truex_qf.strategy.fair_value import (
    CROSSED_BOOK,
    DIVERGENCE,
    INCONSISTENT_BOOK,
    NO_BOOK,
    NO_PRICE,
    STALE_BOOK,
    STALE_REFERENCE,
    FairValueConfig,
    FairValueModel,
    PriceSource,
    PricingState,
    ReferencePrice,
    divergence_bps,
    micro_price,
    truex_mid,
)

SYMBOL = "BTC-PYUSD"


def make_book(
    bid: str | None = "100000", offer: str | None = "100010", now_s: float = 100.0
) -> OrderBook:
    entries = []
    if bid is not None:
        entries.append(BookEntry(MDEntryType.BID, D(bid), D("1")))
    if offer is not None:
        entries.append(BookEntry(MDEntryType.OFFER, D(offer), D("3")))
    book = OrderBook(SYMBOL)
    book.apply_snapshot(MarketDataSnapshot("MD-1", SYMBOL, tuple(entries)), now_s)
    return book


@dataclass
class FixedSource:
    """A PriceSource returning whatever the test put in it."""

    value: ReferencePrice | None

    def latest(self) -> ReferencePrice | None:
        return self.value


class BrokenSource:
    def latest(self) -> ReferencePrice | None:
        raise RuntimeError("boom")


def ref(price: str, at_s: float) -> FixedSource:
    return FixedSource(ReferencePrice("coinbase", "BTC-USD", D(price), at_s))


CONFIG = FairValueConfig(
    primary="truex",
    book_stale_s=10.0,
    reference_stale_s=5.0,
    divergence_limit_bps=D(20),
    widen_bps=D(15),
)


def test_mid_and_micro_price() -> None:
    book = make_book("100000", "100010")
    mid = truex_mid(book)
    assert mid is not None and mid.price == D("100005") and mid.source == "truex_mid"
    assert mid.timestamp_s == 100.0
    # bid size 1, offer size 3: (100000*3 + 100010*1) / 4 = 100002.5 (leans to the thin bid).
    micro = micro_price(book)
    assert micro is not None and micro.price == D("100002.5")
    assert truex_mid(make_book(bid=None)) is None
    assert micro_price(make_book(offer=None)) is None


def test_divergence_bps() -> None:
    assert divergence_bps(D("100100"), D("100000")) == D("10")
    assert divergence_bps(D("99900"), D("100000")) == D("10")


def test_fixed_source_satisfies_protocol() -> None:
    assert isinstance(ref("1", 0.0), PriceSource)


def test_truex_only_quotes_fresh_book() -> None:
    model = FairValueModel(CONFIG)
    decision = model.decide(make_book(now_s=100.0), now_s=105.0)
    assert decision.state is PricingState.QUOTE
    assert decision.fair_value is not None and decision.fair_value.price == D("100005")
    assert decision.reason is None and decision.extra_spread_bps == 0


def test_stale_book_pulls() -> None:
    model = FairValueModel(CONFIG)
    decision = model.decide(make_book(now_s=100.0), now_s=110.5)
    assert decision.state is PricingState.PULL
    assert decision.reason == STALE_BOOK
    assert decision.fair_value is None


def test_book_timer_can_be_switched_off() -> None:
    model = FairValueModel(FairValueConfig(book_stale_s=None))
    assert model.decide(make_book(now_s=0.0), now_s=1e6).state is PricingState.QUOTE


def test_fresh_reference_within_divergence_quotes() -> None:
    # TrueX mid 100005 vs 100000: 0.5 bps.
    model = FairValueModel(CONFIG, ref("100000", at_s=104.0))
    decision = model.decide(make_book(now_s=100.0), now_s=105.0)
    assert decision.state is PricingState.QUOTE
    assert decision.fair_value is not None and decision.fair_value.price == D("100005")
    assert decision.divergence_bps == D("0.5")
    assert decision.reference_price == D("100000")


def test_stale_reference_widens_when_secondary() -> None:
    model = FairValueModel(CONFIG, ref("100000", at_s=99.0))
    decision = model.decide(make_book(now_s=100.0), now_s=105.0)  # reference 6 s old
    assert decision.state is PricingState.WIDEN
    assert decision.reason == STALE_REFERENCE
    assert decision.extra_spread_bps == D(15)
    assert decision.fair_value is not None and decision.fair_value.price == D("100005")


def test_missing_reference_widens_when_secondary() -> None:
    model = FairValueModel(CONFIG, FixedSource(None))
    decision = model.decide(make_book(), now_s=101.0)
    assert (decision.state, decision.reason) == (PricingState.WIDEN, STALE_REFERENCE)


def test_broken_reference_does_not_raise() -> None:
    model = FairValueModel(CONFIG, BrokenSource())
    decision = model.decide(make_book(), now_s=101.0)
    assert (decision.state, decision.reason) == (PricingState.WIDEN, STALE_REFERENCE)


def test_divergence_beyond_limit_pulls() -> None:
    # TrueX mid 100005 vs reference 99700: 305/99700 = 30.6 bps > 20.
    model = FairValueModel(CONFIG, ref("99700", at_s=100.0))
    decision = model.decide(make_book(), now_s=101.0)
    assert decision.state is PricingState.PULL
    assert decision.reason == DIVERGENCE
    assert decision.divergence_bps is not None and D("30.5") < decision.divergence_bps < D("30.6")


def test_divergence_widen_band() -> None:
    config = FairValueConfig(divergence_limit_bps=D(50), divergence_widen_bps=D(20), widen_bps=D(7))
    model = FairValueModel(config, ref("99700", at_s=100.0))  # 30.6 bps: between 20 and 50
    decision = model.decide(make_book(), now_s=101.0)
    assert (decision.state, decision.reason) == (PricingState.WIDEN, DIVERGENCE)
    assert decision.extra_spread_bps == D(7)


def test_one_sided_book_without_reference_has_no_price() -> None:
    decision = FairValueModel(CONFIG).decide(make_book(offer=None), now_s=101.0)
    assert (decision.state, decision.reason) == (PricingState.PULL, NO_PRICE)


def test_book_problems_pull_whatever_the_primary() -> None:
    for config, source in (
        (CONFIG, None),
        (FairValueConfig(primary="reference"), ref("100000", at_s=100.0)),
    ):
        model = FairValueModel(config, source)
        assert model.decide(None, 101.0).reason == NO_BOOK
        assert model.decide(OrderBook(SYMBOL), 101.0).reason == NO_BOOK

        crossed = make_book()
        crossed.apply_increment(
            [BookChange(MDUpdateAction.NEW, MDEntryType.BID, D("100020"), D("1"))], 100.0
        )
        decision = model.decide(crossed, 101.0)
        assert (decision.state, decision.reason) == (PricingState.PULL, CROSSED_BOOK)

        broken = make_book()
        broken.apply_increment(
            [BookChange(MDUpdateAction.DELETE, MDEntryType.BID, D("1"), D("0"))], 100.0
        )
        decision = model.decide(broken, 101.0)
        assert (decision.state, decision.reason) == (PricingState.PULL, INCONSISTENT_BOOK)


REF_CONFIG = FairValueConfig(
    primary="reference",
    book_stale_s=10.0,
    reference_stale_s=5.0,
    divergence_limit_bps=D(20),
    widen_bps=D(15),
)


def test_reference_primary_prices_off_reference() -> None:
    model = FairValueModel(REF_CONFIG, ref("100001", at_s=100.0))
    decision = model.decide(make_book(), now_s=101.0)
    assert decision.state is PricingState.QUOTE
    assert decision.fair_value is not None
    assert decision.fair_value.price == D("100001")
    assert decision.fair_value.source == "coinbase"
    assert decision.truex_price == D("100005")


def test_reference_primary_stale_reference_pulls() -> None:
    model = FairValueModel(REF_CONFIG, ref("100001", at_s=100.0))
    decision = model.decide(make_book(), now_s=105.5)
    assert (decision.state, decision.reason) == (PricingState.PULL, STALE_REFERENCE)
    none_yet = FairValueModel(REF_CONFIG, FixedSource(None)).decide(make_book(), now_s=101.0)
    assert (none_yet.state, none_yet.reason) == (PricingState.PULL, NO_PRICE)


def test_reference_primary_stale_book_widens() -> None:
    model = FairValueModel(REF_CONFIG, ref("100001", at_s=115.0))
    decision = model.decide(make_book(now_s=100.0), now_s=115.0)
    assert (decision.state, decision.reason) == (PricingState.WIDEN, STALE_BOOK)
    assert decision.fair_value is not None and decision.fair_value.price == D("100001")


def test_reference_primary_quotes_into_empty_book() -> None:
    empty = OrderBook(SYMBOL)
    empty.apply_snapshot(
        MarketDataSnapshot(
            "MD-1",
            SYMBOL,
            (
                BookEntry(MDEntryType.BID, D(0), D(0)),
                BookEntry(MDEntryType.OFFER, D(0), D(0)),
            ),
        ),
        100.0,
    )
    model = FairValueModel(REF_CONFIG, ref("100001", at_s=499.0))
    decision = model.decide(empty, now_s=500.0)  # an empty book is never "stale"
    assert decision.state is PricingState.QUOTE
    assert decision.fair_value is not None and decision.fair_value.price == D("100001")


def test_reference_primary_divergence_pulls() -> None:
    model = FairValueModel(REF_CONFIG, ref("100300", at_s=100.0))  # 29.5 bps from 100005
    decision = model.decide(make_book(), now_s=101.0)
    assert (decision.state, decision.reason) == (PricingState.PULL, DIVERGENCE)


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="primary"):
        FairValueConfig(primary="kraken")
    with pytest.raises(ValueError, match="divergence_widen_bps"):
        FairValueConfig(divergence_limit_bps=D(10), divergence_widen_bps=D(10))
    with pytest.raises(ValueError, match="primary"):
        FairValueModel(FairValueConfig(primary="reference"))
