"""What fair value reads of an external reference price, and how sources are combined.

Fair value (:class:`~truex_qf.strategy.fair_value.FairValueModel`) reads one thing: the latest
:class:`ReferencePrice` of a :class:`PriceSource`, stamped with *our* receive time on the
trading clock (``time.monotonic()``), which is what staleness is measured from. Where the
price comes from (a websocket stream, a REST poll, a simulator) lives above this package, in
:mod:`truex_qf.feeds`; strategy/ imports no network code.

A :class:`ReferenceFeed` is a source that runs (its own thread) and tells the trading side
when its price moved, so a reference move triggers a requote as a TrueX book move does.
:class:`FreshestOf` puts a preferred source (the stream) in front of fallbacks (the REST
poll): the preferred one while it is fresh, else the freshest fallback. :class:`MedianOf`
prices off several venues (Coinbase and Kraken): the median of those that are fresh, each
source's staleness judged on its own. Both read each source's latest value, an atomic
reference, so no lock is taken on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from truex_qf.strategy.fair_value import PriceSource, ReferencePrice

__all__ = [
    "KRAKEN",
    "MEDIAN",
    "FreshestOf",
    "Listener",
    "MedianOf",
    "PriceSource",
    "ReferenceFeed",
    "ReferencePrice",
    "age_s",
    "median",
]

KRAKEN = "kraken"
MEDIAN = "median"
"""Reference names beside ``coinbase`` (:mod:`truex_qf.strategy.coinbase`): Kraken's stream
alone, or the median of Coinbase (stream and poll) and Kraken."""

Listener = Callable[[], None]
"""Called (on the feed's thread) after the feed's latest price changed; must be quick and
never raise into the feed (feeds guard it)."""


@runtime_checkable
class ReferenceFeed(PriceSource, Protocol):
    """A running :class:`PriceSource`: started and stopped by the program, and telling a
    listener when its price moved."""

    name: str

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 5.0) -> None: ...

    def set_listener(self, listener: Listener | None) -> None: ...


def age_s(observation: ReferencePrice | None, now_s: float) -> float | None:
    """How old ``observation`` is at ``now_s`` on its clock (None without one)."""
    return None if observation is None else now_s - observation.timestamp_s


class FreshestOf:
    """``preferred``'s price while it is at most ``fresh_s`` old, else the newest fallback's.

    A :class:`PriceSource` itself. ``fresh_s`` should be below fair value's
    ``reference_stale_s`` so a fallback takes over before fair value calls the reference
    stale. Reads only: each source keeps its own latest value.
    """

    def __init__(
        self,
        preferred: PriceSource,
        fallbacks: Sequence[PriceSource],
        *,
        fresh_s: float,
        clock: Callable[[], float],
    ) -> None:
        if fresh_s <= 0:
            raise ValueError("fresh_s: must be positive")
        self.preferred = preferred
        self.fallbacks = tuple(fallbacks)
        self.fresh_s = fresh_s
        self._clock = clock

    def preferred_fresh(self) -> bool:
        """Whether the preferred source has a price at most ``fresh_s`` old (fallbacks idle)."""
        age = age_s(self.preferred.latest(), self._clock())
        return age is not None and age <= self.fresh_s

    def latest(self) -> ReferencePrice | None:
        best = self.preferred.latest()
        if best is not None and self._clock() - best.timestamp_s <= self.fresh_s:
            return best
        for source in self.fallbacks:
            candidate = source.latest()
            if candidate is not None and (best is None or candidate.timestamp_s > best.timestamp_s):
                best = candidate
        return best


def median(values: Sequence[Decimal]) -> Decimal:
    """The median of ``values`` (the mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class MedianOf:
    """The median price of the sources at most ``stale_s`` old; a :class:`PriceSource`.

    The answer is stamped with the oldest receive time among the sources it used, so fair
    value's staleness check holds for every one of them; with no fresh source it is the most
    recent observation there is (stale: fair value treats it so). :meth:`ages_s` reports each
    source's age for logs and the status view. One venue's outlier cannot move the median
    of three; with two it moves it halfway, and the divergence guard still applies.
    """

    def __init__(
        self,
        sources: Sequence[PriceSource],
        *,
        stale_s: float,
        clock: Callable[[], float],
        name: str = "median",
    ) -> None:
        if not sources:
            raise ValueError("sources: at least one is needed")
        if stale_s <= 0:
            raise ValueError("stale_s: must be positive")
        self.sources = tuple(sources)
        self.stale_s = stale_s
        self.name = name
        self._clock = clock

    def ages_s(self) -> dict[str, float | None]:
        """Each source's age (None: no price yet), keyed by its observations' source name or
        its position."""
        now = self._clock()
        ages: dict[str, float | None] = {}
        for index, source in enumerate(self.sources):
            observation = source.latest()
            key = observation.source if observation is not None else f"source{index}"
            ages[key] = age_s(observation, now)
        return ages

    def latest(self) -> ReferencePrice | None:
        now = self._clock()
        observations = [o for o in (s.latest() for s in self.sources) if o is not None]
        fresh = [o for o in observations if now - o.timestamp_s <= self.stale_s]
        if not fresh:
            return max(observations, key=lambda o: o.timestamp_s, default=None)
        if len(fresh) == 1:
            return fresh[0]
        return ReferencePrice(
            source=self.name,
            symbol=fresh[0].symbol,
            price=median([o.price for o in fresh]),
            timestamp_s=min(o.timestamp_s for o in fresh),
        )
