"""``truex-qf summary``: what one run did, in a trader's terms (Hummingbot's ``history``).

Read from the store alone, after the fact: per symbol the fills and their maker share, the
volume (base) and notional (quote), the spread captured, realized and unrealized PnL and fees
in the quote currency (the last PnL snapshot; fees summed over the executions), the largest
position held and the deepest drawdown; for the run, the share of its time spent quoting
(trading state ACTIVE) and the rejects and risk denials by reason.

Definitions, so that the figures can be checked by hand:

- spread captured (bps): average sell price minus average buy price, over their mean, times
  10 000: what a round trip of the matched volume earned before fees. Empty unless the run
  both bought and sold the symbol.
- max inventory: the largest absolute position, from the position snapshots and from the
  running sum of the fills (whichever is larger: a snapshot includes a carried position,
  the fills see every step between two snapshots).
- max drawdown: the largest fall of net PnL (realized + unrealized - fees) from a previous
  high, over the PnL snapshots (every 5 s and at the end).
- quoting uptime: the time in state ACTIVE over the run's length (start to end; a run that
  has not ended counts to its last recorded event).
- quoted both sides: per symbol, the share of the quote snapshots (every 5 s with the position
  snapshot, and at the end) that found both a bid and an ask of ours working. ACTIVE says the
  market maker may quote; this says it did (a spent message budget, a position limit or a
  stale book leave a side empty while the state stays ACTIVE).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

from sqlalchemy import Engine, select

from truex_qf.ops.amounts import Amounts, bps, liquidity_name, percent
from truex_qf.ops.reports import fetch_rows
from truex_qf.ops.runs import StoredRun, duration_text
from truex_qf.storage.schema import (
    executions,
    order_events,
    pnl_snapshots,
    position_snapshots,
    quote_snapshots,
    risk_events,
    session_events,
)

ZERO = Decimal(0)
_WIDE = Context(prec=100)
WIDTH = 100


def net_pnl(
    realized_quote: Decimal, unrealized_quote: Decimal | None, fees_quote: Decimal
) -> Decimal:
    """Net PnL: realized + unrealized (none known: 0) - fees, the figure the summary shows and
    its max drawdown falls from."""
    return realized_quote + (unrealized_quote or ZERO) - fees_quote


@dataclass
class SymbolSummary:
    """The figures of one symbol (exact; :meth:`fields` formats them)."""

    symbol: str
    fills: int = 0
    maker_fills: int = 0
    bought_base: Decimal = ZERO
    sold_base: Decimal = ZERO
    bought_quote: Decimal = ZERO
    sold_quote: Decimal = ZERO
    fees_quote: Decimal = ZERO
    realized_pnl_quote: Decimal | None = None
    unrealized_pnl_quote: Decimal | None = None
    max_inventory_base: Decimal = ZERO
    max_drawdown_quote: Decimal = ZERO
    fair_value: Decimal | None = None
    quote_snapshots: int = 0
    two_sided_snapshots: int = 0

    @property
    def two_sided_share(self) -> Decimal | None:
        if not self.quote_snapshots:
            return None
        return Decimal(self.two_sided_snapshots) / self.quote_snapshots

    @property
    def volume_base(self) -> Decimal:
        return self.bought_base + self.sold_base

    @property
    def notional_quote(self) -> Decimal:
        return self.bought_quote + self.sold_quote

    @property
    def maker_share(self) -> Decimal | None:
        return Decimal(self.maker_fills) / self.fills if self.fills else None

    @property
    def spread_captured_bps(self) -> Decimal | None:
        if not (self.bought_base and self.sold_base):
            return None
        buy = self.bought_quote / self.bought_base
        sell = self.sold_quote / self.sold_base
        return (sell - buy) / ((sell + buy) / 2) * 10_000

    @property
    def net_pnl_quote(self) -> Decimal | None:
        if self.realized_pnl_quote is None:
            return None
        return net_pnl(self.realized_pnl_quote, self.unrealized_pnl_quote, self.fees_quote)

    def amounts(self) -> Amounts:
        reference = self.notional_quote / self.volume_base if self.volume_base else self.fair_value
        return Amounts(self.symbol, reference)

    def fields(self) -> dict[str, str]:
        """Formatted at the instrument's precision, keyed by a name with its unit."""
        a = self.amounts()
        return {
            "fills": str(self.fills),
            "maker_share_pct": percent(self.maker_share),
            f"volume_{a.base.lower()}": a.quantity(self.volume_base),
            f"bought_{a.base.lower()}": a.quantity(self.bought_base),
            f"sold_{a.base.lower()}": a.quantity(self.sold_base),
            f"notional_{a.quote.lower()}": a.money(self.notional_quote),
            "spread_captured_bps": bps(self.spread_captured_bps),
            f"realized_pnl_{a.quote.lower()}": a.money(self.realized_pnl_quote),
            f"unrealized_pnl_{a.quote.lower()}": a.money(self.unrealized_pnl_quote),
            f"fees_{a.quote.lower()}": a.money(self.fees_quote),
            f"net_pnl_{a.quote.lower()}": a.money(self.net_pnl_quote),
            f"max_inventory_{a.base.lower()}": a.quantity(self.max_inventory_base),
            f"max_drawdown_{a.quote.lower()}": a.money(self.max_drawdown_quote),
            "two_sided_quotes_pct": percent(self.two_sided_share),
        }


@dataclass
class RunReport:
    """A run's summary: per symbol figures and the run-wide ones."""

    run: StoredRun
    symbols: dict[str, SymbolSummary] = field(default_factory=dict)
    quoting_s: float = 0.0
    length_s: float = 0.0
    rejects: Counter[str] = field(default_factory=Counter)
    denials: Counter[str] = field(default_factory=Counter)
    session_rejects: int = 0

    @property
    def uptime(self) -> Decimal | None:
        if self.length_s <= 0:
            return None
        return Decimal(str(min(1.0, self.quoting_s / self.length_s)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "mode": self.run.mode,
            "sender_comp_id": self.run.sender_comp_id,
            "started_at": _iso(self.run.started_at),
            "ended_at": _iso(self.run.ended_at) if self.run.ended_at else None,
            "quoting_uptime_pct": percent(self.uptime),
            "rejects": dict(sorted(self.rejects.items())),
            "session_rejects": self.session_rejects,
            "denials": dict(sorted(self.denials.items())),
            "symbols": {name: s.fields() for name, s in sorted(self.symbols.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_csv(self) -> str:
        """One row per figure: ``symbol,figure,value`` (run-wide figures have no symbol)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["symbol", "figure", "value"])
        data = self.to_dict()
        for key in ("run_id", "mode", "sender_comp_id", "started_at", "ended_at"):
            writer.writerow(["", key, data[key] or ""])
        writer.writerow(["", "quoting_uptime_pct", data["quoting_uptime_pct"]])
        writer.writerow(["", "session_rejects", self.session_rejects])
        for reason, count in sorted(self.rejects.items()):
            writer.writerow(["", f"rejects:{reason}", count])
        for reason, count in sorted(self.denials.items()):
            writer.writerow(["", f"denials:{reason}", count])
        for name, figures in data["symbols"].items():
            for key, value in figures.items():
                writer.writerow([name, key, value])
        return buffer.getvalue()

    def lines(self) -> list[str]:
        """The text view, every line within :data:`WIDTH` columns."""
        run = self.run
        end = _clock(run.ended_at) if run.ended_at else "not ended"
        out = [
            f"run {run.run_id} ({run.mode}, {run.sender_comp_id})",
            f"  {_clock(run.started_at)} -> {end} ({duration_text(run)})",
        ]
        uptime = percent(self.uptime)
        out.append(_pair("quoting uptime", f"{uptime}% of the run in ACTIVE" if uptime else "n/a"))
        total_rejects = sum(self.rejects.values())
        out.append(_pair("rejects", f"{total_rejects}{_reasons(self.rejects)}"))
        if self.session_rejects:
            out.append(_pair("session rejects", str(self.session_rejects)))
        out.append(_pair("denials", f"{sum(self.denials.values())}{_reasons(self.denials)}"))
        if not self.symbols:
            out.append("no fills and no snapshots in this run")
        for name, s in sorted(self.symbols.items()):
            a = s.amounts()
            maker = percent(s.maker_share)
            out += [
                name,
                _pair("fills", f"{s.fills}" + (f" ({maker}% maker)" if maker else "")),
                _pair(
                    "volume",
                    f"{a.quantity(s.volume_base)} {a.base} (bought {a.quantity(s.bought_base)}, "
                    f"sold {a.quantity(s.sold_base)})",
                ),
                _pair("notional", f"{a.money(s.notional_quote)} {a.quote}"),
                _pair("spread captured", f"{bps(s.spread_captured_bps) or 'n/a'} bps"),
                _pair("realized pnl", _money(a, s.realized_pnl_quote)),
                _pair("unrealized pnl", _money(a, s.unrealized_pnl_quote)),
                _pair("fees", _money(a, s.fees_quote)),
                _pair("net pnl", _money(a, s.net_pnl_quote)),
                _pair("max inventory", f"{a.quantity(s.max_inventory_base)} {a.base}"),
                _pair("max drawdown", _money(a, s.max_drawdown_quote)),
            ]
            if s.quote_snapshots:
                both = percent(s.two_sided_share)
                out.append(
                    _pair("quoted both sides", f"{both}% of {s.quote_snapshots} quote snapshots")
                )
        return [line[:WIDTH] for line in out]


def _pair(name: str, value: str) -> str:
    return f"  {name:<18}{value}"


def _money(a: Amounts, value: Decimal | None) -> str:
    return "n/a" if value is None else f"{a.money(value)} {a.quote}"


def _reasons(counts: Counter[str]) -> str:
    if not counts:
        return ""
    text = ", ".join(f"{reason} {count}" for reason, count in counts.most_common())
    return f" ({text[: WIDTH - 30]})"


def _clock(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M:%SZ")


def _iso(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --------------------------------------------------------------------------- reading


def summarize_run(engine: Engine, run: StoredRun) -> RunReport:
    """Every figure of the module docstring for ``run``, read from ``engine``."""
    report = RunReport(run)
    run_id = run.run_id
    last_at = run.started_at

    def symbol(name: str) -> SymbolSummary:
        return report.symbols.setdefault(name, SymbolSummary(name))

    fills = fetch_rows(
        engine,
        select(executions).where(executions.c.run_id == run_id).order_by(executions.c.at),
        "executions",
    )
    running: dict[str, Decimal] = {}
    for fill in fills:
        s = symbol(fill["symbol"])
        quantity, price = Decimal(fill["quantity"]), Decimal(fill["price"])
        notional = _WIDE.multiply(quantity, price)
        s.fills += 1
        s.maker_fills += liquidity_name(fill["liquidity"]) == "maker"
        s.fees_quote += Decimal(fill["fee"])
        buy = str(fill["side"]).upper() in ("BUY", "1")
        if buy:
            s.bought_base += quantity
            s.bought_quote = _WIDE.add(s.bought_quote, notional)
        else:
            s.sold_base += quantity
            s.sold_quote = _WIDE.add(s.sold_quote, notional)
        position = running.get(s.symbol, ZERO) + (quantity if buy else -quantity)
        running[s.symbol] = position
        s.max_inventory_base = max(s.max_inventory_base, abs(position))
        last_at = max(last_at, _utc(fill["at"]))

    positions = _ordered(engine, position_snapshots, run_id)
    for row in positions:
        s = symbol(row["symbol"])
        s.max_inventory_base = max(s.max_inventory_base, abs(Decimal(row["quantity_base"])))
        if row["fair_value"] is not None:
            s.fair_value = Decimal(row["fair_value"])
        last_at = max(last_at, _utc(row["at"]))

    peaks: dict[str, Decimal] = {}
    for row in _ordered(engine, pnl_snapshots, run_id):
        s = symbol(row["symbol"])
        s.realized_pnl_quote = Decimal(row["realized_pnl_quote"])
        unrealized = row["unrealized_pnl_quote"]
        s.unrealized_pnl_quote = Decimal(unrealized) if unrealized is not None else None
        net = net_pnl(s.realized_pnl_quote, s.unrealized_pnl_quote, Decimal(row["fees_quote"]))
        peak = max(peaks.get(s.symbol, net), net)
        peaks[s.symbol] = peak
        s.max_drawdown_quote = max(s.max_drawdown_quote, peak - net)
        last_at = max(last_at, _utc(row["at"]))

    for row in _ordered(engine, quote_snapshots, run_id):
        s = symbol(row["symbol"])
        s.quote_snapshots += 1
        both = row["bid_quote_price"] is not None and row["ask_quote_price"] is not None
        s.two_sided_snapshots += both
        last_at = max(last_at, _utc(row["at"]))

    for row in _ordered(engine, risk_events, run_id):
        last_at = max(last_at, _utc(row["at"]))
        if row["kind"] == "DENIAL":
            report.denials[row["reason_code"]] += 1
    rejected = fetch_rows(
        engine,
        select(order_events.c.reason, order_events.c.text).where(
            order_events.c.run_id == run_id, order_events.c.state == "REJECTED"
        ),
        "order_events",
    )
    for row in rejected:
        report.rejects[_reason(row)] += 1
    session_rejects = fetch_rows(
        engine,
        select(session_events.c.id).where(
            session_events.c.run_id == run_id, session_events.c.kind == "REJECT"
        ),
        "session_events",
    )
    report.session_rejects = len(session_rejects)

    end = run.ended_at or last_at
    report.length_s = max(0.0, (end - run.started_at).total_seconds())
    report.quoting_s = _active_seconds(engine, run, end)
    return report


def _reason(row: Mapping[str, Any]) -> str:
    text = " ".join(str(row["text"] or row["reason"] or "unknown").split())
    return text[:40]


def _ordered(engine: Engine, table: Any, run_id: str) -> list[Mapping[str, Any]]:
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    return fetch_rows(engine, query, table.name)


def _active_seconds(engine: Engine, run: StoredRun, end: datetime) -> float:
    """Seconds in ACTIVE between the run's start and ``end`` (the state starts non-ACTIVE)."""
    query = (
        select(risk_events.c.reason_code, risk_events.c.at)
        .where(risk_events.c.run_id == run.run_id, risk_events.c.kind == "STATE")
        .order_by(risk_events.c.id)
    )
    active_since: datetime | None = None
    total = 0.0
    for row in fetch_rows(engine, query, "risk_events"):
        at = min(_utc(row["at"]), end)
        if row["reason_code"] == "ACTIVE":
            if active_since is None:
                active_since = at
        elif active_since is not None:
            total += (at - active_since).total_seconds()
            active_since = None
    if active_since is not None:
        total += max(0.0, (end - active_since).total_seconds())
    return total
