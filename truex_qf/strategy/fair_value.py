"""Fair value: the TrueX book's mid or micro-price, checked against an optional reference.

:class:`FairValueModel` turns the TrueX book and an external :class:`PriceSource` (e.g. the
Coinbase ticker) into a :class:`PricingDecision`: a fair value plus QUOTE, WIDEN (quote with
extra spread) or PULL (quote nothing), with a reason code that goes to logs and metrics
unchanged.

Decision table (first matching row wins):

====================================  ==========================  =================
situation                             primary ``truex``           primary ``reference``
====================================  ==========================  =================
no book yet (no snapshot)             PULL ``NO_BOOK``            PULL ``NO_BOOK``
book crossed                          PULL ``CROSSED_BOOK``       PULL ``CROSSED_BOOK``
book otherwise inconsistent           PULL ``INCONSISTENT_BOOK``  PULL ``INCONSISTENT_BOOK``
primary source stale                  PULL ``STALE_BOOK``         PULL ``STALE_REFERENCE``
primary source has no price           PULL ``NO_PRICE``           PULL ``NO_PRICE``
secondary source stale                WIDEN ``STALE_REFERENCE``   WIDEN ``STALE_BOOK``
divergence > ``divergence_limit_bps`` PULL ``DIVERGENCE``         PULL ``DIVERGENCE``
divergence > ``divergence_widen_bps`` WIDEN ``DIVERGENCE``        WIDEN ``DIVERGENCE``
otherwise                             QUOTE                       QUOTE
====================================  ==========================  =================

The book's health is checked whatever the primary source, because the quoting pipeline uses
it to avoid crossing and a broken book means market data was lost. With primary
``reference`` a one-sided or empty TrueX book is normal (that is when a market maker is
needed): there is then no TrueX mid to compare and the decision is QUOTE. Without a reference
source the secondary rows are skipped.

Staleness is measured on the caller's clock: ``now_s`` passed to :meth:`FairValueModel.decide`,
the ``now_s`` given to the book, and :attr:`ReferencePrice.timestamp_s` must all come from the
same clock (``time.monotonic()`` in the application; the Coinbase client uses it by default).
Book age counts any market-data message for the symbol; TrueX sends nothing on a quiet book,
so ``book_stale_s`` may be set to None to switch the book timer off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Protocol, runtime_checkable

from truex_qf.marketdata.book import CROSSED_BOOK, BookView

log = logging.getLogger(__name__)

_BPS = Decimal(10000)
_ZERO = Decimal(0)

# Reason codes.
STALE_BOOK = "STALE_BOOK"
STALE_REFERENCE = "STALE_REFERENCE"
DIVERGENCE = "DIVERGENCE"
# CROSSED_BOOK is shared with the book module.
INCONSISTENT_BOOK = "INCONSISTENT_BOOK"
NO_BOOK = "NO_BOOK"
NO_PRICE = "NO_PRICE"

__all__ = [
    "CROSSED_BOOK",
    "DIVERGENCE",
    "INCONSISTENT_BOOK",
    "NO_BOOK",
    "NO_PRICE",
    "STALE_BOOK",
    "STALE_REFERENCE",
    "FairValue",
    "FairValueConfig",
    "FairValueModel",
    "PriceSource",
    "PricingDecision",
    "PricingState",
    "ReferencePrice",
    "divergence_bps",
    "micro_price",
    "truex_mid",
]


@dataclass(frozen=True, slots=True)
class FairValue:
    """A price we consider fair, where it came from, and when that data was received."""

    price: Decimal
    source: str
    timestamp_s: float


@dataclass(frozen=True, slots=True)
class ReferencePrice:
    """One observation of an external venue's price for the instrument we quote.

    ``timestamp_s`` is when we received it (caller's clock), the basis of staleness checks;
    ``venue_time`` is the venue's own time stamp, kept for logs only.
    """

    source: str
    symbol: str
    price: Decimal
    timestamp_s: float
    bid: Decimal | None = None
    ask: Decimal | None = None
    venue_time: datetime | None = None


@runtime_checkable
class PriceSource(Protocol):
    """Anything that can report its latest reference price; must never raise or block."""

    def latest(self) -> ReferencePrice | None: ...


class PricingState(str, Enum):
    """What the quoting pipeline should do with a fair value."""

    QUOTE = "QUOTE"
    WIDEN = "WIDEN"
    PULL = "PULL"


@dataclass(frozen=True, slots=True)
class PricingDecision:
    """The fair value to quote around (None when PULL) and how to quote it."""

    state: PricingState
    fair_value: FairValue | None
    extra_spread_bps: Decimal = _ZERO
    reason: str | None = None
    truex_price: Decimal | None = None
    reference_price: Decimal | None = None
    divergence_bps: Decimal | None = None

    @property
    def should_quote(self) -> bool:
        return self.state is not PricingState.PULL and self.fair_value is not None


def truex_mid(book: BookView) -> FairValue | None:
    """The book's mid-point, or None unless both sides have a level."""
    mid = book.mid()
    if mid is None:
        return None
    return FairValue(mid, "truex_mid", book.updated_s or 0.0)


def micro_price(book: BookView) -> FairValue | None:
    """Size-weighted mid (micro-price) of the top of book, or None unless two-sided.

    ``(bid * offer_size + offer * bid_size) / (bid_size + offer_size)``: leans toward the side
    with less size, where the next trade is more likely to move the price.
    """
    bid = book.best_bid()
    offer = book.best_offer()
    if bid is None or offer is None:
        return None
    total = bid.size + offer.size
    price = (bid.price * offer.size + offer.price * bid.size) / total
    return FairValue(price, "truex_micro", book.updated_s or 0.0)


def divergence_bps(price: Decimal, reference: Decimal) -> Decimal:
    """``|price - reference|`` in basis points of ``reference``."""
    return abs(price - reference) / reference * _BPS


_PRIMARIES = ("truex", "reference")
_TRUEX_METHODS = ("mid", "micro")


@dataclass(frozen=True, slots=True)
class FairValueConfig:
    """How :class:`FairValueModel` chooses and checks fair value.

    ``primary``: ``"truex"`` prices off the TrueX book and uses the reference only as a guard;
    ``"reference"`` prices off the reference and uses the TrueX book as the guard.
    ``truex_method``: ``"mid"`` or ``"micro"`` (size-weighted mid).
    ``book_stale_s`` / ``reference_stale_s``: a source older than this is stale (None turns
    the book timer off). ``divergence_limit_bps``: PULL above this divergence between the
    TrueX price and the reference; ``divergence_widen_bps`` (optional, lower): WIDEN above it.
    ``widen_bps``: the extra half-spread a WIDEN decision asks for.
    """

    primary: str = "truex"
    truex_method: str = "mid"
    book_stale_s: float | None = 30.0
    reference_stale_s: float = 5.0
    divergence_limit_bps: Decimal = Decimal(50)
    divergence_widen_bps: Decimal | None = None
    widen_bps: Decimal = Decimal(10)

    def __post_init__(self) -> None:
        if self.primary not in _PRIMARIES:
            raise ValueError(f"primary: {self.primary!r} is not one of {_PRIMARIES}")
        if self.truex_method not in _TRUEX_METHODS:
            raise ValueError(f"truex_method: {self.truex_method!r} is not one of {_TRUEX_METHODS}")
        if self.book_stale_s is not None and self.book_stale_s <= 0:
            raise ValueError("book_stale_s: must be positive or None")
        if self.reference_stale_s <= 0:
            raise ValueError("reference_stale_s: must be positive")
        if self.divergence_limit_bps <= 0:
            raise ValueError("divergence_limit_bps: must be positive")
        if self.divergence_widen_bps is not None and not (
            0 < self.divergence_widen_bps < self.divergence_limit_bps
        ):
            raise ValueError("divergence_widen_bps: must be positive and below the limit")
        if self.widen_bps < 0:
            raise ValueError("widen_bps: must not be negative")


class FairValueModel:
    """Combines the TrueX book with an optional reference :class:`PriceSource`.

    Holds no state besides its configuration and source, so :meth:`decide` can be called as
    often as the quoting loop likes.
    """

    def __init__(self, config: FairValueConfig, reference: PriceSource | None = None) -> None:
        if config.primary == "reference" and reference is None:
            raise ValueError("primary: 'reference' needs a reference price source")
        self.config = config
        self.reference = reference

    def _truex_price(self, book: BookView) -> FairValue | None:
        if self.config.truex_method == "micro":
            return micro_price(book)
        return truex_mid(book)

    def _latest_reference(self) -> ReferencePrice | None:
        if self.reference is None:
            return None
        try:
            return self.reference.latest()
        except Exception:  # a broken source must not stop the trading loop
            log.exception("reference price source %r failed", self.reference)
            return None

    def reference_seen(self) -> ReferencePrice | None:
        """The reference observation a decision made now would use (None without one)."""
        return self._latest_reference()

    @property
    def reads_top_size(self) -> bool:
        """Whether a decision reads the size at the top of the book, not only its prices.

        Only the micro-price does (as the price or, with a reference primary, as the guard);
        with the mid, a change of size alone at others' best cannot move the decision, so the
        market maker need not requote for it.
        """
        return self.config.truex_method == "micro"

    def decide(self, book: BookView | None, now_s: float) -> PricingDecision:
        """The pricing decision for ``book``'s symbol at time ``now_s``."""
        config = self.config
        pull = PricingState.PULL
        if book is None or not book.has_snapshot:
            return PricingDecision(pull, None, reason=NO_BOOK)
        if book.inconsistency == CROSSED_BOOK or book.is_crossed():
            return PricingDecision(pull, None, reason=CROSSED_BOOK)
        if book.inconsistency is not None:
            return PricingDecision(pull, None, reason=INCONSISTENT_BOOK)

        truex = self._truex_price(book)
        book_stale = config.book_stale_s is not None and book.age_s(now_s) > config.book_stale_s
        has_reference = self.reference is not None
        reference = self._latest_reference()
        reference_stale = (
            reference is None or now_s - reference.timestamp_s > config.reference_stale_s
        )
        truex_px = truex.price if truex is not None else None
        reference_px = reference.price if reference is not None else None

        if config.primary == "truex":
            if book_stale:
                return PricingDecision(pull, None, reason=STALE_BOOK, truex_price=truex_px)
            if truex is None:
                return PricingDecision(pull, None, reason=NO_PRICE)
            fair_value = truex
            if not has_reference:
                return PricingDecision(PricingState.QUOTE, fair_value, truex_price=truex_px)
            if reference_stale:
                return PricingDecision(
                    PricingState.WIDEN,
                    fair_value,
                    config.widen_bps,
                    STALE_REFERENCE,
                    truex_px,
                    reference_px,
                )
        else:
            if reference is None:
                return PricingDecision(pull, None, reason=NO_PRICE, truex_price=truex_px)
            if reference_stale:
                return PricingDecision(
                    pull,
                    None,
                    reason=STALE_REFERENCE,
                    truex_price=truex_px,
                    reference_price=reference_px,
                )
            fair_value = FairValue(reference.price, reference.source, reference.timestamp_s)
            if truex is None:
                # Empty or one-sided TrueX book: nothing to compare, quote into it.
                return PricingDecision(PricingState.QUOTE, fair_value, reference_price=reference_px)
            if book_stale:
                return PricingDecision(
                    PricingState.WIDEN,
                    fair_value,
                    config.widen_bps,
                    STALE_BOOK,
                    truex_px,
                    reference_px,
                )

        # Both prices fresh: guard on their divergence.
        assert truex_px is not None and reference_px is not None
        divergence = divergence_bps(truex_px, reference_px)
        if divergence > config.divergence_limit_bps:
            return PricingDecision(
                pull, None, _ZERO, DIVERGENCE, truex_px, reference_px, divergence
            )
        if config.divergence_widen_bps is not None and divergence > config.divergence_widen_bps:
            return PricingDecision(
                PricingState.WIDEN,
                fair_value,
                config.widen_bps,
                DIVERGENCE,
                truex_px,
                reference_px,
                divergence,
            )
        return PricingDecision(
            PricingState.QUOTE, fair_value, _ZERO, None, truex_px, reference_px, divergence
        )
