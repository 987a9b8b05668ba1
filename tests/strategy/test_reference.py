"""Combining reference sources: the stream in front of its fallback, the median of venues."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from truex_qf.strategy.reference import FreshestOf, MedianOf, ReferencePrice, median


class Source:
    """A price source the test sets by hand."""

    def __init__(self, observation: ReferencePrice | None = None) -> None:
        self.observation = observation

    def latest(self) -> ReferencePrice | None:
        return self.observation


def price(source: str, value: str, at_s: float) -> ReferencePrice:
    return ReferencePrice(source=source, symbol="BTC-USD", price=D(value), timestamp_s=at_s)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_median() -> None:
    assert median([D(3), D(1), D(2)]) == D(2)
    assert median([D(4), D(1), D(2), D(3)]) == D("2.5")
    assert median([D(7)]) == D(7)
    with pytest.raises(ValueError):
        median([])


def test_freshest_of_prefers_the_fresh_stream_then_the_newest_fallback() -> None:
    clock = Clock(100.0)
    stream, poll, other = Source(), Source(), Source()
    combined = FreshestOf(stream, (poll, other), fresh_s=2.0, clock=clock)
    assert combined.latest() is None and not combined.preferred_fresh()

    poll.observation = price("coinbase", "10", 99.0)
    assert combined.latest() == poll.observation  # no stream yet: the fallback

    stream.observation = price("coinbase", "11", 99.5)
    assert combined.preferred_fresh() and combined.latest() == stream.observation
    poll.observation = price("coinbase", "12", 100.0)  # newer, but the stream is fresh
    assert combined.latest() == stream.observation

    clock.now = 101.6  # the stream is 2.1 s old
    assert not combined.preferred_fresh()
    assert combined.latest() == poll.observation
    other.observation = price("coinbase", "13", 101.0)
    assert combined.latest() == other.observation  # the newest fallback

    poll.observation = other.observation = None
    assert combined.latest() == stream.observation  # stale, but the only one: fair value decides


def test_median_of_fresh_sources_with_per_source_staleness() -> None:
    clock = Clock(100.0)
    coinbase, kraken, third = Source(), Source(), Source()
    combined = MedianOf((coinbase, kraken, third), stale_s=5.0, clock=clock)
    assert combined.latest() is None

    coinbase.observation = price("coinbase", "100", 99.0)
    assert combined.latest() == coinbase.observation  # one fresh source: its own price

    kraken.observation = price("kraken", "102", 98.0)
    third.observation = price("bitstamp", "130", 99.5)  # an outlier
    latest = combined.latest()
    assert latest is not None and latest.price == D("102") and latest.source == "median"
    assert latest.timestamp_s == 98.0  # the oldest price it used

    clock.now = 103.5  # kraken is 5.5 s old: out; the median of the other two
    latest = combined.latest()
    assert latest is not None and latest.price == D("115") and latest.timestamp_s == 99.0
    assert combined.ages_s() == {"coinbase": 4.5, "kraken": 5.5, "bitstamp": 4.0}

    clock.now = 200.0  # all stale: the most recent, for fair value to call stale
    assert combined.latest() == third.observation


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        MedianOf((), stale_s=1.0, clock=Clock(0.0))
    with pytest.raises(ValueError):
        FreshestOf(Source(), (), fresh_s=0.0, clock=Clock(0.0))
