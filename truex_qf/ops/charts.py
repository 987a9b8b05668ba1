"""``truex-qf report RUN --html FILE``: one self-contained HTML page of a run's charts.

No dependency and nothing fetched: each chart is an inline SVG drawn here from the store, so
the file opens offline, in a mail, years later. Charts:

- net PnL (realized + unrealized - fees, quote currency) over time, from the PnL snapshots;
- inventory (position, base) over time, from the position snapshots and every fill;
- our quotes against the market: our best bid and ask as step lines (each holds until the
  next snapshot; a gap where none was working), the TrueX price fair value read (the mid of
  others' orders) and the reference price (absent when the run had none), with our fills
  marked by side (buys green, pointing up; sells red, pointing down);
- markouts: for each fill, the fair value move 1 s, 10 s and 60 s later, signed so that
  positive is in our favour (up after a buy, down after a sell), averaged per side.

The store keeps fair value only in the position snapshots (every 5 s and at the end), so a
markout reads the first snapshot at or after fill time + horizon: at 1 s it is really "the
next snapshot", which the page says. Quotes are snapshotted with the positions, so a quote
that lived less than 5 s may not show. A run recorded before quotes were stored (schema
revision 0001) has the fair value line in their place.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from truex_qf.ops.reports import fetch_rows
from truex_qf.ops.runs import StoredRun
from truex_qf.storage.schema import (
    executions,
    pnl_snapshots,
    position_snapshots,
    quote_snapshots,
)

MARKOUT_HORIZONS_S = (1, 10, 60)
WIDTH, HEIGHT, PAD = 900, 260, 48
BUY_COLOUR, SELL_COLOUR, LINE_COLOUR = "#1a8f3c", "#c62828", "#1f4e9c"
REFERENCE_COLOUR = "#e07b00"

Point = tuple[float, float]  # (epoch seconds, value)
Mark = tuple[float, float | None]  # (epoch seconds, value or None: nothing then)


@dataclass(frozen=True)
class Line:
    """One series of a chart: ``css`` names it in the page (``series <css>``)."""

    points: Sequence[Mark]
    css: str
    label: str
    colour: str = LINE_COLOUR
    step: bool = False  # hold each value until the next point
    dashed: bool = False


@dataclass
class RunSeries:
    """What the charts draw, per symbol, read from the store."""

    pnl: dict[str, list[Point]] = field(default_factory=dict)
    inventory: dict[str, list[Point]] = field(default_factory=dict)
    fair_value: dict[str, list[Point]] = field(default_factory=dict)
    buys: dict[str, list[Point]] = field(default_factory=dict)
    sells: dict[str, list[Point]] = field(default_factory=dict)
    bid_quotes: dict[str, list[Mark]] = field(default_factory=dict)
    ask_quotes: dict[str, list[Mark]] = field(default_factory=dict)
    truex: dict[str, list[Mark]] = field(default_factory=dict)
    reference: dict[str, list[Mark]] = field(default_factory=dict)


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
    for row in _rows(engine, quote_snapshots, run_id):
        at, symbol = _epoch(row["at"]), row["symbol"]
        for marks, name in (
            (series.bid_quotes, "bid_quote_price"),
            (series.ask_quotes, "ask_quote_price"),
            (series.truex, "truex_price"),
            (series.reference, "reference_price"),
        ):
            value = row[name]
            marks.setdefault(symbol, []).append((at, None if value is None else float(value)))
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
        set(series.pnl)
        | set(series.inventory)
        | set(series.fair_value)
        | set(series.buys)
        | set(series.sells)
        | set(series.bid_quotes)
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
        pnl = Line(series.pnl.get(symbol, []), "pnl", f"net PnL ({quote})")
        body.append(_chart(f"Net PnL ({quote})", "pnl", [pnl]))
        inventory = Line(series.inventory.get(symbol, []), "inventory", "position (base)")
        body.append(_chart("Inventory (base)", "inventory", [inventory]))
        body.append(_quotes_chart(series, symbol, quote, buys, sells))
        body.append(_markout_table(markouts(buys, fair, 1), markouts(sells, fair, -1)))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>truex-qf run {html.escape(run.run_id[:8])}</title>"
        "<style>body{font-family:sans-serif;margin:24px}svg{border:1px solid #ccc;"
        "display:block;margin:8px 0 24px}td,th{padding:2px 12px;text-align:right}</style>"
        "</head><body>" + "\n".join(body) + "</body></html>\n"
    )


def _quotes_chart(
    series: RunSeries, symbol: str, quote: str, buys: Sequence[Point], sells: Sequence[Point]
) -> str:
    """Our bid and ask (step lines), the TrueX price and the reference, and our fills; a run
    stored without quotes gets its fair value line instead. A line with no value at all (no
    reference configured) is left out, legend included."""
    if symbol not in series.bid_quotes:
        fair = Line(series.fair_value.get(symbol, []), "fair-value", "fair value")
        title = f"Fair value and our fills ({quote}; this run stored no quotes)"
        return _chart(title, "quotes", [fair], buys=buys, sells=sells)
    lines = [
        Line(series.bid_quotes[symbol], "quote-bid", "our bid", BUY_COLOUR, step=True),
        Line(series.ask_quotes.get(symbol, []), "quote-ask", "our ask", SELL_COLOUR, step=True),
        Line(series.truex.get(symbol, []), "truex-mid", "TrueX mid (others' orders)"),
        Line(
            series.reference.get(symbol, []),
            "reference",
            "reference",
            REFERENCE_COLOUR,
            dashed=True,
        ),
    ]
    drawn = [line for line in lines if any(value is not None for _, value in line.points)]
    title = f"Our quotes against the TrueX mid and the reference, and our fills ({quote})"
    return _chart(title, "quotes", drawn, buys=buys, sells=sells)


def _segments(line: Line) -> list[list[Point]]:
    """The runs of points with a value, as drawn: a step line holds each value until the next
    point (and a gap begins where a value is missing)."""
    segments: list[list[Point]] = []
    current: list[Point] = []
    for index, (at, value) in enumerate(line.points):
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        if line.step and current:
            current.append((at, current[-1][1]))  # held until now, then moves
        current.append((at, value))
        following = line.points[index + 1] if index + 1 < len(line.points) else None
        if line.step and following is not None and following[1] is None:
            current.append((following[0], value))  # held until it stopped
    if current:
        segments.append(current)
    return segments


def _chart(
    title: str,
    kind: str,
    lines: Sequence[Line],
    buys: Sequence[Point] = (),
    sells: Sequence[Point] = (),
) -> str:
    drawn = [(line, _segments(line)) for line in lines]
    points = [p for _, segments in drawn for segment in segments for p in segment]
    points += list(buys) + list(sells)
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
    if len(lines) > 1 or buys or sells:
        svg += _legend([line for line, segments in drawn if segments], bool(buys), bool(sells))
    for line, segments in drawn:
        dash = " stroke-dasharray='6 3'" if line.dashed else ""
        for segment in segments:
            pixels = [scale.xy(point) for point in segment]
            if len(pixels) == 1:  # a lone value: a short dash, since a point draws nothing
                (x, y), half = pixels[0], 4.0
                pixels = [(x - half, y), (x + half, y)]
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pixels)
            svg.append(
                f"<polyline class='series {line.css}' fill='none' stroke='{line.colour}' "
                f"stroke-width='1.5'{dash} points='{coords}'/>"
            )
    sides = ((buys, BUY_COLOUR, "buy", -1), (sells, SELL_COLOUR, "sell", 1))
    for marks, colour, side, tip in sides:
        for point in marks:
            x, y = scale.xy(point)
            # a triangle pointing up for a buy, down for a sell: the side without the colour
            shape = f"M{x:.1f},{y + 5 * tip:.1f} L{x - 4:.1f},{y - 3 * tip:.1f} "
            shape += f"L{x + 4:.1f},{y - 3 * tip:.1f} Z"
            svg.append(f"<path class='fill {side}' d='{shape}' fill='{colour}'/>")
    svg.append("</svg>")
    return "".join(svg)


def _legend(lines: Sequence[Line], buys: bool, sells: bool) -> list[str]:
    """Labels along the top right, each in its series' colour."""
    entries = [(line.label, line.colour) for line in lines]
    entries += [("our buys \u25b2", BUY_COLOUR)] if buys else []
    entries += [("our sells \u25bc", SELL_COLOUR)] if sells else []
    text = [f"<text class='legend' y='34' font-size='11' text-anchor='end' x='{WIDTH - PAD}'>"]
    for index, (label, colour) in enumerate(entries):
        gap = "  \u00b7  " if index else ""
        text.append(f"<tspan fill='{colour}'>{gap}{html.escape(label)}</tspan>")
    text.append("</text>")
    return ["".join(text)]


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
        margin = (self.y1 - self.y0) * 0.05  # lines clear of the axes
        self.y0, self.y1 = self.y0 - margin, self.y1 + margin

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
            *(
                f"<text class='y-label' x='{PAD - 4}' y='{y}' font-size='11' "
                f"text-anchor='end'>{self.label(value)}</text>"
                for y, value in ((PAD + 4, self.y1), (bottom, self.y0))
            ),
        ]

    def label(self, value: float) -> str:
        """``value`` to three significant digits of the axis' span (2.96, not 2.96438; 0.0146,
        100334): the labels end at the axis, and a long one would run off the chart's left."""
        span = self.y1 - self.y0
        decimals = max(0, 2 - math.floor(math.log10(span)))
        text = f"{value:.{decimals}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text


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
