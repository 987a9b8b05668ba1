"""The market-data stream both senders push: a deterministic L2 book and its 35=W/35=X text."""

from __future__ import annotations

import gc
import random
import time
from decimal import Decimal
from typing import Any

import quickfix as fix

from bench.common import BURST_S, MD_LOT, MD_MID_TICKS, MD_SYMBOL, MD_TICK, BenchError
from truex_qf.domain.model import (
    MDEntryType,
    MDUpdateAction,
    Side,
)
from truex_qf.fix.builders import plain_decimal
from truex_qf.fix.settings import SPEC_DIR
from truex_qf.sim import messages as venue_messages

Change = tuple[str, str, int, int, str | None]  # action, entry type, ticks, lots, aggressor


class BookStream:
    """A deterministic L2 feed for one symbol: a snapshot, then incremental changes.

    Prices and sizes are whole ticks and lots of TrueX's grid, so every message is valid on
    the venue's grid. The book never crosses or locks; deletes and changes name only levels
    that exist; each side keeps about MIN_DEPTH to MAX_DEPTH levels.
    """

    MIN_DEPTH = 8
    MAX_DEPTH = 20

    def __init__(self, seed: int, mid_ticks: int = MD_MID_TICKS, depth: int = 14) -> None:
        self._rng = random.Random(seed)
        self.bids: dict[int, int] = {}
        self.offers: dict[int, int] = {}
        price = mid_ticks - 1
        for _ in range(depth):
            self.bids[price] = self._size()
            price -= self._rng.randint(1, 3)
        price = mid_ticks + 1
        for _ in range(depth):
            self.offers[price] = self._size()
            price += self._rng.randint(1, 3)

    def _size(self) -> int:
        return self._rng.randint(1, 500)

    def snapshot(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best first, offers best first) as (ticks, lots)."""
        bids = sorted(self.bids.items(), reverse=True)
        offers = sorted(self.offers.items())
        return bids, offers

    def next_message(self, move_mid: bool) -> list[Change]:
        """The entries of one 35=X; with ``move_mid`` the first one moves the top of book."""
        rng = self._rng
        changes: list[Change] = []
        if move_mid or rng.random() < 0.25:
            changes.append(self._move_top(rng.random() < 0.5))
        extra = rng.choice((0, 1, 1, 2)) if changes else rng.randint(1, 3)
        for _ in range(extra):
            changes.append(self._random_change())
        if rng.random() < 0.05:
            aggressor_buys = rng.random() < 0.5
            price = min(self.offers) if aggressor_buys else max(self.bids)
            side = Side.BUY.value if aggressor_buys else Side.SELL.value
            changes.append((MDUpdateAction.NEW.value, MDEntryType.TRADE.value, price, 5, side))
        return changes

    def _side(self, bid: bool) -> tuple[dict[int, int], str]:
        if bid:
            return self.bids, MDEntryType.BID.value
        return self.offers, MDEntryType.OFFER.value

    def _move_top(self, bid: bool) -> Change:
        """Improve the best price inside the spread, or delete the best level."""
        levels, entry = self._side(bid)
        best_bid, best_offer = max(self.bids), min(self.offers)
        spread = best_offer - best_bid
        depth = len(levels)
        if spread < 2 or depth >= self.MAX_DEPTH:
            improve = False
        elif depth <= self.MIN_DEPTH:
            improve = True
        else:
            improve = self._rng.random() < 0.5
        if improve:
            step = self._rng.randint(1, spread - 1)
            price = best_bid + step if bid else best_offer - step
            size = self._size()
            levels[price] = size
            return (MDUpdateAction.NEW.value, entry, price, size, None)
        price = best_bid if bid else best_offer
        del levels[price]
        return (MDUpdateAction.DELETE.value, entry, price, 0, None)

    def _random_change(self) -> Change:
        """A change away from the top: mostly size changes, some adds and deletes."""
        rng = self._rng
        bid = rng.random() < 0.5
        levels, entry = self._side(bid)
        best = max(levels) if bid else min(levels)
        depth = len(levels)
        draw = rng.random()
        if draw < 0.6:
            action = MDUpdateAction.CHANGE
        elif depth >= self.MAX_DEPTH:
            action = MDUpdateAction.DELETE
        elif depth <= self.MIN_DEPTH or draw < 0.8:
            action = MDUpdateAction.NEW
        else:
            action = MDUpdateAction.DELETE
        if action is MDUpdateAction.NEW:
            for _ in range(5):
                distance = rng.randint(1, 60)
                price = best - distance if bid else best + distance
                if price not in levels:
                    size = self._size()
                    levels[price] = size
                    return (action.value, entry, price, size, None)
            action = MDUpdateAction.CHANGE
        if action is MDUpdateAction.DELETE:
            price = rng.choice([p for p in levels if p != best])
            del levels[price]
            return (action.value, entry, price, 0, None)
        price = rng.choice(list(levels))
        size = levels[price] % 500 + 1  # always a different size
        levels[price] = size
        return (MDUpdateAction.CHANGE.value, entry, price, size, None)


def _price(ticks: int) -> Decimal:
    return Decimal(ticks) * MD_TICK


def _size(lots: int) -> Decimal:
    return Decimal(lots) * MD_LOT


def build_snapshot(stream: BookStream, md_req_id: str) -> fix.Message:
    bids, offers = stream.snapshot()
    return venue_messages.snapshot(
        md_req_id,
        MD_SYMBOL,
        [(_price(p), _size(s)) for p, s in bids],
        [(_price(p), _size(s)) for p, s in offers],
    )


def increment_text(md_req_id: str, changes: list[Change]) -> str:
    """One 35=X as wire text (no 8=, which the engine adds), field for field what
    :func:`truex_qf.sim.messages.incremental` produces (checked at start)."""
    parts = [f"35=X\x01262={md_req_id}\x01268={len(changes)}\x01"]
    for action, entry, ticks, lots, aggressor in changes:
        parts.append(
            f"279={action}\x01269={entry}\x0155={MD_SYMBOL}\x01"
            f"270={plain_decimal(_price(ticks))}\x01271={plain_decimal(_size(lots))}\x01"
        )
        if aggressor is not None:
            parts.append(f"2446={aggressor}\x01")
    body = "".join(parts)
    head = f"9={len(body)}\x01"
    checksum = sum((head + body).encode("ascii")) % 256
    return f"{head}{body}10={checksum:03d}\x01"


class IncrementFactory:
    """Builds 35=X messages fast: wire text parsed with the TrueX dictionaries.

    The simulator's builder spends about 70 us per entry constructing the quickfix50sp2 group
    class (it fills a field-order array of the whole NoMDEntries definition); parsing text
    with the dictionaries takes about 3 us a message and yields the same message.
    """

    def __init__(self) -> None:
        self.transport = fix.DataDictionary(str(SPEC_DIR / "TrueX_FIXT11.xml"))
        self.application = fix.DataDictionary(str(SPEC_DIR / "TrueX_FIX50SP2.xml"))
        self._check_same_as_simulator()

    def message(self, text: str) -> fix.Message:
        return fix.Message(text, self.transport, self.application, False)

    def build(
        self, stream: BookStream, md_req_id: str, count: int, move_mid: bool
    ) -> list[fix.Message]:
        return [
            self.message(increment_text(md_req_id, stream.next_message(move_mid)))
            for _ in range(count)
        ]

    def _check_same_as_simulator(self) -> None:
        stream = BookStream(seed=1)
        for _ in range(50):
            changes = stream.next_message(move_mid=False)
            ours = self.message(increment_text("MD9", changes)).toString()
            simulator = venue_messages.incremental(
                "MD9",
                [
                    (MDUpdateAction(a), MDEntryType(e), MD_SYMBOL, _price(t), _size(n), g)
                    for a, e, t, n, g in changes
                ],
            ).toString()
            if ours != simulator:
                raise BenchError(f"stream text differs from the simulator's:\n{ours}\n{simulator}")


def send_stream(
    session_id: fix.SessionID, messages: list[fix.Message], rate: float | None
) -> dict[str, Any]:
    """Send ``messages``: all at once (``rate`` None) or in bursts every BURST_S at ``rate``."""
    send = fix.Session.sendToTarget
    gc.collect()
    count = len(messages)
    accepted = 0
    if rate is None:
        first = time.perf_counter_ns()
        for message in messages:
            accepted += send(message, session_id)
        last = time.perf_counter_ns()
        per_burst = count
    else:
        per_burst = max(1, round(rate * BURST_S))
        interval_ns = int(per_burst / rate * 1e9)
        first = time.perf_counter_ns()
        due = first
        last = first
        for start in range(0, count, per_burst):
            for message in messages[start : start + per_burst]:
                accepted += send(message, session_id)
            last = time.perf_counter_ns()
            due += interval_ns
            delay = due - last
            if delay > 0 and start + per_burst < count:
                time.sleep(delay / 1e9)
    elapsed = max(last - first, 1)
    return {
        "n": count,
        "accepted": accepted,
        "first_ns": first,
        "last_ns": last,
        "per_burst": per_burst,
        "send_rate": count / (elapsed / 1e9) if count > 1 else 0.0,
    }
