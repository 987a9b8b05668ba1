#!/usr/bin/env python3
"""Where one message's and one tick's time goes, hot, without the engine (issue "Performance").

Usage, from the repository root with the venv's python::

    python -m bench.hot_path [--messages N] [--stages] [--json FILE]

``make bench`` measures the whole system against bare QuickFIX, and on a small shared VM its
figures carry the cost of threads waking and of other processes. This script measures the
trading code alone, in one process, one call after another: a ``MarketMaker`` with the bench's
strategy, fed ``make bench``'s stream as 35=X text, with orders "sent" to a list and answered
at once. So the figures are the trading code's own cost, the lower bound of what the bench can
show, and they are stable enough to compare code changes in one run.

``market data``
    the bench's market-data phases: the default requote tolerance, messages that move the mid
    only as the stream does. Per message, on average: ``Message.toString``, reading the 35=X,
    applying it (the book and the top-of-book check), and the requote pass; and how many passes
    ran a full requote, at what cost each.
``market data, coalesced``
    the same, with the quote decision once per ``--burst`` messages (after the last of each),
    as the runner coalesces a burst (issue 19, ``truex_qf.app.decision_gate``): what deciding
    on every message costs, per message, against deciding once per burst.
``tick``
    the bench's tick-to-quote phase: tolerance 0, every message moving the top of book, so every
    pass replaces both quotes (the "venue" answers each replace with Replaced before the next
    message). Medians of reading, applying, the requote up to its first order, the whole
    requote. ``--stages`` also times the requote's steps up to the first order (each wrapped,
    which adds a little to each).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import gc
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bench.common import DEFAULT_SEED
from bench.instant_venue import MD_REQ_ID, InstantVenue, settle_quotes
from bench.receivers import bench_strategy
from bench.report import machine_facts
from bench.stream import BookStream, IncrementFactory
from truex_qf.fix.readers import read_increment
from truex_qf.strategy.settings import StrategySettings, default_strategy
from truex_qf.trading import market_maker as market_maker_module
from truex_qf.trading.market_maker import MarketMaker, _QuoteInputs

MM = TypeVar("MM", bound=MarketMaker)


class CountingMarketMaker(MarketMaker):
    """A market maker that counts and times its full requotes (the requote pass's cheap
    checks call :meth:`requote` only when the quote inputs moved)."""

    full_requotes = 0
    full_requote_ns = 0

    def requote(self, symbol: str, seen: _QuoteInputs | None = None) -> None:
        start = time.perf_counter_ns()
        super().requote(symbol, seen)
        self.full_requote_ns += time.perf_counter_ns() - start
        self.full_requotes += 1


def quoting(strategy: StrategySettings, maker: type[MM]) -> tuple[MM, InstantVenue, BookStream]:
    """A market maker (a ``maker``) with the bench's book and its two quotes resting,
    acknowledged."""
    venue = InstantVenue()
    mm = maker(strategy, venue.send)
    stream = settle_quotes(mm, venue.answer, DEFAULT_SEED)
    venue.sent.clear()
    return mm, venue, stream


def timed_pass(mm: MarketMaker, raw: str, decide: bool = True) -> tuple[int, int, int, int]:
    """Read, apply and requote (``decide``) one 35=X: the clock before each step and after
    the last."""
    clock = time.perf_counter_ns
    read_at = clock()
    event = read_increment(raw, read_at)
    applied_at = clock()
    mm.handle(event)
    requoted_at = clock()
    if decide:
        mm.requote_dirty()
    return read_at, applied_at, requoted_at, clock()


def _us(total_ns: float, n: int) -> float:
    return round(total_ns / max(n, 1) / 1000, 2)


def _median_us(samples: list[int]) -> float | None:
    return round(statistics.median(samples) / 1000, 1) if samples else None


def market_data(n: int, burst: int = 1) -> dict[str, Any]:
    strategy = dataclasses.replace(
        bench_strategy(),
        requote_tolerance_bps=default_strategy().requote_tolerance_bps,
    )
    mm, venue, stream = quoting(strategy, CountingMarketMaker)
    mm.full_requotes = mm.full_requote_ns = 0  # from here: settling the quotes is not counted
    messages = IncrementFactory().build(stream, MD_REQ_ID, n, move_mid=False)
    totals = dict.fromkeys(("to_string", "read", "apply", "requote_pass"), 0)
    for index, message in enumerate(messages):
        start = time.perf_counter_ns()
        raw = message.toString()
        decide = (index + 1) % burst == 0 or index == n - 1
        read_at, applied_at, requoted_at, done_at = timed_pass(mm, raw, decide)
        totals["to_string"] += read_at - start
        totals["read"] += applied_at - read_at
        totals["apply"] += requoted_at - applied_at
        totals["requote_pass"] += done_at - requoted_at
        if venue.sent:
            venue.answer(mm)
    per_message = {key: _us(value, n) for key, value in totals.items()}
    per_message["total"] = round(sum(per_message.values()), 2)
    return {
        "messages": n,
        "burst": burst,
        "per_message_us": per_message,
        "full_requotes": mm.full_requotes,
        "full_requote_us": _us(mm.full_requote_ns, mm.full_requotes),
    }


def _time_calls(
    obj: object, name: str, label: str, venue: InstantVenue, into: dict[str, list[int]]
) -> None:
    """Wrap ``obj.name`` to record its duration while no order has gone out yet."""
    function: Callable[..., Any] = getattr(obj, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        result = function(*args, **kwargs)
        if not venue.first_send_ns:
            into[label].append(time.perf_counter_ns() - start)
        return result

    setattr(obj, name, timed)


def tick(n: int, stages: bool) -> dict[str, Any]:
    mm, venue, stream = quoting(bench_strategy(), MarketMaker)
    raws = [m.toString() for m in IncrementFactory().build(stream, MD_REQ_ID, n, True)]
    steps: dict[str, list[int]] = collections.defaultdict(list)
    if stages:
        for obj, name, label in (
            (mm, "_quote_inputs", "quote_inputs"),
            (mm, "_proposal", "proposal"),
            (market_maker_module, "diff_quotes", "diff"),
            (market_maker_module, "exposure_for", "exposure"),
            (mm.risk, "check_replace", "risk_check_replace"),
            (mm.orders, "replace", "order_manager_replace"),
        ):
            _time_calls(obj, name, label, venue, steps)
        for state in mm.symbols.values():
            _time_calls(state.fair_value, "decide", "fair_value", venue, steps)
    samples: dict[str, list[int]] = collections.defaultdict(list)
    orders = 0
    for raw in raws:
        venue.first_send_ns = 0
        read_at, applied_at, requoted_at, done_at = timed_pass(mm, raw)
        if venue.first_send_ns:
            samples["read"].append(applied_at - read_at)
            samples["apply"].append(requoted_at - applied_at)
            samples["requote_to_first_order"].append(venue.first_send_ns - requoted_at)
            samples["whole_requote"].append(done_at - requoted_at)
            orders += len(venue.sent)
        venue.first_send_ns = 1  # answering is not part of any stage
        venue.answer(mm)
    result: dict[str, Any] = {
        "messages": n,
        "ticks_with_orders": len(samples["read"]),
        "orders": orders,
        "p50_us": {key: _median_us(values) for key, values in samples.items()},
    }
    if stages:
        result["stages_p50_us"] = {key: _median_us(values) for key, values in steps.items()}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages per phase")
    parser.add_argument("--stages", action="store_true", help="time the requote's steps too")
    parser.add_argument(
        "--burst", type=int, default=10, help="messages per quote decision, coalesced phase"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.messages < 10:
        parser.error("--messages must be at least 10")
    logging.disable(logging.WARNING)  # the market maker's info lines are not the subject
    gc.collect()
    gc.freeze()  # as the Runner does once trading starts
    figures = {
        "machine": machine_facts(),
        "market_data": market_data(args.messages),
        "market_data_coalesced": market_data(args.messages, max(1, args.burst)),
        "tick": tick(args.messages, args.stages),
    }
    md, tk = figures["market_data"], figures["tick"]
    print(
        "market data, per message, mean us: "
        + ", ".join(f"{key} {value}" for key, value in md["per_message_us"].items())
    )
    print(
        f"  full requotes: {md['full_requotes']} of {md['messages']} messages, "
        f"{md['full_requote_us']} us each"
    )
    coalesced = figures["market_data_coalesced"]
    print(
        f"market data, one decision per {coalesced['burst']} messages, per message, mean us: "
        + ", ".join(f"{key} {value}" for key, value in coalesced["per_message_us"].items())
    )
    print(
        f"tick, {tk['ticks_with_orders']} ticks with orders, p50 us: "
        + ", ".join(f"{key} {value}" for key, value in tk["p50_us"].items())
    )
    if "stages_p50_us" in tk:
        print(
            "  requote steps before the first order, p50 us: "
            + ", ".join(f"{key} {value}" for key, value in tk["stages_p50_us"].items())
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
