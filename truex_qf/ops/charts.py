"""``truex-qf report RUN --html FILE``: one self-contained HTML page of a run's charts.

No dependency and nothing fetched: each chart is an inline SVG drawn here from the store, so
the file opens offline, in a mail, years later. Charts:

- net PnL (realized + unrealized - fees, quote currency) over time, from the PnL snapshots;
- inventory (position, base) over time, from the position snapshots and every fill;
- fair value over time with our fills marked by side (buys green, sells red);
- markouts: for each fill, the fair value move 1 s, 10 s and 60 s later, signed so that
  positive is in our favour (up after a buy, down after a sell), averaged per side.

The store keeps fair value only in the position snapshots (every 5 s and at the end), so a
markout reads the first snapshot at or after fill time + horizon: at 1 s it is really "the
next snapshot", which the page says. Quotes over time are not stored; the page has none.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from truex_qf.ops.reports import fetch_rows
from truex_qf.ops.runs import StoredRun
from truex_qf.storage.schema import executions, pnl_snapshots, position_snapshots

MARKOUT_HORIZONS_S = (1, 10, 60)
WIDTH, HEIGHT, PAD = 900, 260, 48
BUY_COLOUR, SELL_COLOUR, LINE_COLOUR = "#1a8f3c", "#c62828", "#1f4e9c"

Point = tuple[float, float]  # (epoch seconds, value)


@dataclass
class RunSeries:
    """What the charts draw, per symbol, read from the store."""

    pnl: dict[str, list[Point]] = field(default_factory=dict)
    inventory: dict[str, list[Point]] = field(default_factory=dict)
    fair_value: dict[str, list[Point]] = field(default_factory=dict)
    buys: dict[str, list[Point]] = field(default_factory=dict)
    sells: dict[str, list[Point]] = field(default_factory=dict)


def read_series(engine: Engine, run_id: str) -> RunSeries:
    series = RunSeries()
    for row in _rows(engine, pnl_snapshots, run_id):
        net = (
            Decimal(row["realized_pnl_quote"])
            + Decimal(row["unrealized_pnl_quote"] or 0)
            - Decimal(row["fees_quote"])
        )
        series.pnl.setdefault(row["symbol"], []).append((_epoch(row["at"]), float(net)))
    inventory: list[tuple[float, str, float]] = []
    for row in _rows(engine, position_snapshots, run_id):
        at = _epoch(row["at"])
        inventory.append((at, row["symbol"], float(row["quantity_base"])))
        if row["fair_value"] is not None:
            series.fair_value.setdefault(row["symbol"], []).append((at, float(row["fair_value"])))
    running: dict[str, float] = {}
    for row in _rows(engine, executions, run_id, order=executions.c.at):
        at, symbol = _epoch(row["at"]), row["symbol"]
        quantity, price = float(row["quantity"]), float(row["price"])
        buy = str(row["side"]).upper() in ("BUY", "1")
        (series.buys if buy else series.sells).setdefault(symbol, []).append((at, price))
        running[symbol] = running.get(symbol, 0.0) + (quantity if buy else -quantity)
        inventory.append((at, symbol, running[symbol]))
    for at, symbol, quantity in sorted(inventory):
        series.inventory.setdefault(symbol, []).append((at, quantity))
    return series


def markouts(fills: Sequence[Point], fair: Sequence[Point], sign: int) -> dict[int, float | None]:
    """Average fair value move after the fills, in bps of the fill price, ``sign`` = +1 for
    buys (a rise is good) and -1 for sells; None when no snapshot came after a horizon."""
    result: dict[int, float | None] = {}
    for horizon in MARKOUT_HORIZONS_S:
        moves = []
        for at, price in fills:
            later = next((value for t, value in fair if t >= at + horizon), None)
            if later is not None and price:
                moves.append(sign * (later - price) / price * 10_000)
        result[horizon] = sum(moves) / len(moves) if moves else None
    return result


def render_html(run: StoredRun, series: RunSeries) -> str:
    """The page: a header, then each symbol's four charts (module docstring)."""
    symbols = sorted(
        set(series.pnl) | set(series.inventory) | set(series.fair_value) | set(series.buys)
    )
    body = [
        f"<h1>truex-qf run {html.escape(run.run_id)}</h1>",
        f"<p>{html.escape(run.mode)}, {html.escape(run.sender_comp_id)}, started "
        f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC</p>",
    ]
    if not symbols:
        body.append("<p>Nothing to draw: no fills and no snapshots in this run.</p>")
    for symbol in symbols:
        quote = symbol.rpartition("-")[2]
        buys, sells = series.buys.get(symbol, []), series.sells.get(symbol, [])
        fair = series.fair_value.get(symbol, [])
        body.append(f"<h2>{html.escape(symbol)}</h2>")
        body.append(_chart(f"Net PnL ({quote})", "pnl", [series.pnl.get(symbol, [])]))
        body.append(_chart("Inventory (base)", "inventory", [series.inventory.get(symbol, [])]))
        body.append(_chart("Fair value and our fills", "fills", [fair], buys=buys, sells=sells))
        body.append(_markout_table(markouts(buys, fair, 1), markouts(sells, fair, -1)))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>truex-qf run {html.escape(run.run_id[:8])}</title>"
        "<style>body{font-family:sans-serif;margin:24px}svg{border:1px solid #ccc;"
        "display:block;margin:8px 0 24px}td,th{padding:2px 12px;text-align:right}</style>"
        "</head><body>" + "\n".join(body) + "</body></html>\n"
    )


def _chart(
    title: str,
    kind: str,
    lines: Sequence[Sequence[Point]],
    buys: Sequence[Point] = (),
    sells: Sequence[Point] = (),
) -> str:
    points = [p for line in lines for p in line] + list(buys) + list(sells)
    svg = [
        f"<svg class='chart' data-kind='{kind}' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' xmlns='http://www.w3.org/2000/svg'>",
        f"<text x='{PAD}' y='18' font-size='14'>{html.escape(title)}</text>",
    ]
    if not points:
        svg.append(f"<text x='{PAD}' y='{HEIGHT // 2}' font-size='12'>no data</text></svg>")
        return "".join(svg)
    scale = _Scale(points)
    svg += scale.axes()
    for line in lines:
        if line:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(scale.xy, line))
            svg.append(
                f"<polyline class='series' fill='none' stroke='{LINE_COLOUR}' "
                f"stroke-width='1.5' points='{coords}'/>"
            )
    for marks, colour, side in ((buys, BUY_COLOUR, "buy"), (sells, SELL_COLOUR, "sell")):
        for point in marks:
            x, y = scale.xy(point)
            svg.append(
                f"<circle class='fill {side}' cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colour}'/>"
            )
    svg.append("</svg>")
    return "".join(svg)


class _Scale:
    """Data to pixels, with a margin for the axes' labels."""

    def __init__(self, points: Sequence[Point]) -> None:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        self.x0, self.x1 = min(xs), max(xs)
        self.y0, self.y1 = min(ys), max(ys)
        if self.x1 == self.x0:
            self.x1 = self.x0 + 1
        if self.y1 == self.y0:
            self.y0, self.y1 = self.y0 - 1, self.y1 + 1

    def xy(self, point: Point) -> Point:
        x = PAD + (point[0] - self.x0) / (self.x1 - self.x0) * (WIDTH - 2 * PAD)
        y = HEIGHT - PAD + (self.y0 - point[1]) / (self.y1 - self.y0) * (HEIGHT - 2 * PAD)
        return x, y

    def axes(self) -> list[str]:
        bottom, right = HEIGHT - PAD, WIDTH - PAD
        start = datetime.fromtimestamp(self.x0, UTC).strftime("%H:%M:%S")
        end = datetime.fromtimestamp(self.x1, UTC).strftime("%H:%M:%S")
        return [
            f"<line x1='{PAD}' y1='{bottom}' x2='{right}' y2='{bottom}' stroke='#888'/>",
            f"<line x1='{PAD}' y1='{PAD}' x2='{PAD}' y2='{bottom}' stroke='#888'/>",
            f"<text x='{PAD}' y='{bottom + 16}' font-size='11'>{start}</text>",
            f"<text x='{right - 50}' y='{bottom + 16}' font-size='11'>{end}</text>",
            f"<text x='2' y='{PAD + 4}' font-size='11'>{self.y1:.6g}</text>",
            f"<text x='2' y='{bottom}' font-size='11'>{self.y0:.6g}</text>",
        ]


def _markout_table(buys: Mapping[int, float | None], sells: Mapping[int, float | None]) -> str:
    head = "".join(f"<th>+{h} s</th>" for h in MARKOUT_HORIZONS_S)

    def row(name: str, values: Mapping[int, float | None]) -> str:
        cells = "".join(
            f"<td>{'n/a' if values[h] is None else f'{values[h]:.1f}'}</td>"
            for h in MARKOUT_HORIZONS_S
        )
        return f"<tr><th>{name}</th>{cells}</tr>"

    return (
        "<h3>Markouts (bps, positive: the market moved our way; fair value from the 5 s "
        "snapshots, so +1 s reads the next one)</h3>"
        f"<table class='markouts'><tr><th></th>{head}</tr>"
        f"{row('buys', buys)}{row('sells', sells)}</table>"
    )


def _rows(engine: Engine, table: Any, run_id: str, order: Any = None) -> list[Mapping[str, Any]]:
    query = select(table).where(table.c.run_id == run_id)
    query = query.order_by(order if order is not None else table.c.id)
    return fetch_rows(engine, query, table.name)


def _epoch(value: datetime) -> float:
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.timestamp()
