"""Synthetic captures for the backtest bench and tests, written through the capture format's
own writer.

The market is a random walk of a few levels a side with trades at the touch, built from a
seed (``random.Random``): the same seed writes the same file. Messages are the FIX text
TrueX (and the simulator) send: 35=W snapshots and 35=X increments with Symbol on every
entry and AggressorSide on trades.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from truex_qf.capture.format import CaptureWriter

SYMBOL = "BTC-PYUSD"
SOH = "\x01"
START_NS = 1_796_601_600 * 1_000_000_000  # 2026-12-07 00:00:00 UTC
TICK = Decimal("0.5")

# A strategy quoting one tick either side of the mid: inside or at the touch of the walk's
# book, so the captured trades reach its quotes (the backtest bench's and tests' strategy).
AT_THE_TOUCH = """
[symbols.BTC-PYUSD]
levels_per_side = 1
spread_bps = 0.05
level_size_base = "0.01"
min_edge_bps = 0
inventory_skew_bps = 0
max_skew_bps = 0
"""


def fix(msg_type: str, body: str, seq: int) -> str:
    """A raw FIX message as the engine hands it over (checksum not checked by readers)."""
    text = f"35={msg_type}{SOH}49=TRUEX{SOH}56=CLIENT{SOH}34={seq}{SOH}{body}"
    return f"8=FIXT.1.1{SOH}9={len(text)}{SOH}{text}10=000{SOH}"


def snapshot_body(bids: dict[Decimal, Decimal], offers: dict[Decimal, Decimal]) -> str:
    entries = []
    for entry_type, levels, best_first in (("0", bids, True), ("1", offers, False)):
        for number, price in enumerate(sorted(levels, reverse=best_first), start=1):
            entries.append(
                f"269={entry_type}{SOH}270={price}{SOH}271={levels[price]}{SOH}1023={number}{SOH}"
            )
    return f"262=MD1{SOH}55={SYMBOL}{SOH}268={len(entries)}{SOH}{''.join(entries)}"


def increment_body(changes: list[tuple[str, str, Decimal, Decimal, str | None]]) -> str:
    """(action 279, entry type 269, price, size, aggressor 2446 or None) per entry."""
    entries = [
        f"279={action}{SOH}269={entry_type}{SOH}55={SYMBOL}{SOH}270={price}{SOH}271={size}{SOH}"
        + (f"2446={aggressor}{SOH}" if aggressor else "")
        for action, entry_type, price, size, aggressor in changes
    ]
    return f"262=MD1{SOH}268={len(entries)}{SOH}{''.join(entries)}"


def write_walk_capture(
    directory: Path,
    *,
    seed: int = 7,
    seconds: int = 60,
    messages_per_s: int = 4,
    mid: Decimal = Decimal(100000),
    reference_source: str | None = None,
) -> Path:
    """A capture of a market that moves a tick now and then and trades at the touch."""
    rng = random.Random(seed)
    bids = {mid - TICK * (i + 1): Decimal("0.05") * (i + 1) for i in range(5)}
    offers = {mid + TICK * (i + 1): Decimal("0.05") * (i + 1) for i in range(5)}
    step_ns = 1_000_000_000 // messages_per_s
    seq = 1
    with CaptureWriter(
        directory,
        symbols=[SYMBOL],
        venue="test-walk",
        source="sim",
        prefix="walk",
        clock_ns=lambda: START_NS,
    ) as writer:
        writer.write_fix(START_NS, "MD", fix("W", snapshot_body(bids, offers), seq))
        for n in range(1, seconds * messages_per_s):
            seq += 1
            now = START_NS + n * step_ns
            changes: list[tuple[str, str, Decimal, Decimal, str | None]] = []
            roll = rng.random()
            if roll < 0.35:  # a trade at the touch, then the level it took from
                buy = rng.random() < 0.5
                side_levels = offers if buy else bids
                best = min(side_levels) if buy else max(side_levels)
                size = min(side_levels[best], Decimal(rng.randint(1, 6)) / 100)
                changes.append(("0", "2", best, size, "1" if buy else "2"))
                left = side_levels[best] - size
                if left > 0:
                    side_levels[best] = left
                    changes.append(("1", "1" if buy else "0", best, left, None))
                else:
                    del side_levels[best]
                    changes.append(("2", "1" if buy else "0", best, Decimal(0), None))
            elif roll < 0.7:  # size comes or goes at some level
                buy = rng.random() < 0.5
                side_levels = bids if buy else offers
                price = rng.choice(sorted(side_levels))
                size = max(Decimal("0.01"), side_levels[price] + Decimal(rng.randint(-3, 3)) / 100)
                side_levels[price] = size
                changes.append(("1", "0" if buy else "1", price, size, None))
            else:  # the touch moves: a new best level on one side
                buy = rng.random() < 0.5
                if buy:
                    price = max(bids) + TICK
                    if price < min(offers):
                        bids[price] = Decimal("0.03")
                        changes.append(("0", "0", price, Decimal("0.03"), None))
                else:
                    price = min(offers) - TICK
                    if price > max(bids):
                        offers[price] = Decimal("0.03")
                        changes.append(("0", "1", price, Decimal("0.03"), None))
            for levels, buy in ((bids, True), (offers, False)):  # keep depth
                while len(levels) < 3:
                    far = (min(levels) - TICK) if buy else (max(levels) + TICK)
                    levels[far] = Decimal("0.1")
                    changes.append(("0", "0" if buy else "1", far, Decimal("0.1"), None))
            if changes:
                writer.write_fix(now, "MD", fix("X", increment_body(changes), seq))
            if reference_source is not None and n % messages_per_s == 0:
                reference = (max(bids) + min(offers)) / 2
                writer.write_reference(now, reference_source, SYMBOL, reference)
    return directory
