"""The operator's status view: what the running program publishes, and what its run stored.

Two sources, either of which may be missing or down:

- the live state on Redis (:func:`truex_qf.observe.live_state.read_live_state`): sessions,
  trading state, and per symbol the top of book, fair value, our working quotes, position and
  PnL, about once a second, expiring when the program stops;
- the database (:func:`read_db_summary`): the run, and its latest ``risk_events`` and
  ``session_events``. Alerts themselves are only logged (there is no alert table); the events
  behind them (denials, trading-state changes, logons and logouts, rejects) are these rows.
  When Redis has no symbol to show (none configured, down, or nothing published), also the
  run's latest stored snapshot per symbol (``position_snapshots``, ``pnl_snapshots``,
  ``quote_snapshots``, written every 5 s and at the end), each labelled with its time and age
  so that it is never taken for the live figures.

:func:`render_status` turns both into lines, never raising on missing or odd data;
:func:`watch` redraws them every interval, in place on a terminal (a rich Live region).
Nothing here needs the FIX engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text
from sqlalchemy import Engine, select

from truex_qf.domain.errors import TruexError
from truex_qf.observe.live_state import DEFAULT_PREFIX, read_live_state
from truex_qf.ops.amounts import Amounts
from truex_qf.ops.reports import fetch_rows, last_by_symbol, latest_run_id
from truex_qf.ops.runs import RUN_ID_SHOWN
from truex_qf.storage.schema import (
    pnl_snapshots,
    position_snapshots,
    quote_snapshots,
    risk_events,
    runs,
    session_events,
)

ERROR_KEY = "error"
"""Set in a live dict (by :func:`live_unavailable`) when reading Redis failed, with the reason."""
STALE_AFTER_S = 5.0
"""A live snapshot older than this is marked STALE (the program publishes about once a second)."""
_ROLES = (("order_entry", "OE"), ("market_data", "MD"))


@dataclass(frozen=True, slots=True)
class EventLine:
    """One stored event for the view: a ``risk_events`` or ``session_events`` row, in short.

    ``source`` is ``RISK`` or ``SESSION``; ``kind`` is the row's kind (DENIAL, STATE,
    KILL_SWITCH; LOGON, LOGOUT, ...); ``subject`` the reason code and symbol, or the role.
    """

    at: datetime
    source: str
    kind: str
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class StoredSymbol:
    """A symbol's latest stored snapshot: its ``position_snapshots``, ``pnl_snapshots`` and
    ``quote_snapshots`` rows (None: no such row). ``at`` dates the position and PnL (the older
    of the two), ``quotes_at`` our best bid and ask (None: none working)."""

    symbol: str
    at: datetime | None = None
    position_base: Decimal | None = None
    avg_entry_price: Decimal | None = None
    fair_value: Decimal | None = None
    realized_pnl_quote: Decimal | None = None
    unrealized_pnl_quote: Decimal | None = None
    quotes_at: datetime | None = None
    bid_quote_price: Decimal | None = None
    ask_quote_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DbSummary:
    """A run as the view shows it: which run, its latest stored events, newest first, and
    (when read) its latest stored snapshot per symbol, by symbol."""

    run_id: str | None
    mode: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    events: tuple[EventLine, ...] = ()
    error: str | None = None
    """Why the database could not be read (then the other fields are empty)."""
    stored: tuple[StoredSymbol, ...] = ()


def live_unavailable(reason: str) -> dict[str, Any]:
    """A live dict saying that Redis could not be read, and why."""
    return {"state": None, "sessions": None, "symbols": {}, ERROR_KEY: reason}


def read_db_summary(
    engine: Engine, run_id: str | None = None, events: int = 8, *, snapshots: bool = True
) -> DbSummary:
    """The run (the latest when ``run_id`` is None) and its last ``events`` risk events and last
    ``events`` session events, merged newest first, and with ``snapshots`` its latest stored
    snapshot per symbol. Raises :class:`TruexError` (one line, URL masked) when the database
    cannot be read."""
    run = run_id if run_id is not None else latest_run_id(engine)
    if run is None:
        return DbSummary(run_id=None)
    run_rows = fetch_rows(engine, select(runs).where(runs.c.run_id == run), "runs")
    run_row: Mapping[str, Any] = run_rows[0] if run_rows else {}
    lines: list[EventLine] = []
    if events > 0:
        risk_rows = fetch_rows(
            engine,
            select(risk_events)
            .where(risk_events.c.run_id == run)
            .order_by(risk_events.c.id.desc())
            .limit(events),
            "risk_events",
        )
        session_rows = fetch_rows(
            engine,
            select(session_events)
            .where(session_events.c.run_id == run)
            .order_by(session_events.c.id.desc())
            .limit(events),
            "session_events",
        )
        lines += [
            EventLine(
                at=_as_utc(row["at"]),
                source="RISK",
                kind=row["kind"],
                subject=" ".join(part for part in (row["reason_code"], row["symbol"]) if part),
                text=row["detail"] or "",
            )
            for row in risk_rows
        ]
        lines += [
            EventLine(
                at=_as_utc(row["at"]),
                source="SESSION",
                kind=row["kind"],
                subject=row["role"],
                text=row["text"] or "",
            )
            for row in session_rows
        ]
    lines.sort(key=lambda line: line.at, reverse=True)  # stable: same time keeps id order
    return DbSummary(
        run_id=run,
        mode=run_row.get("mode"),
        started_at=_as_utc(run_row["started_at"]) if run_row.get("started_at") else None,
        ended_at=_as_utc(run_row["ended_at"]) if run_row.get("ended_at") else None,
        events=tuple(lines),
        stored=read_stored_symbols(engine, run) if snapshots else (),
    )


def read_stored_symbols(engine: Engine, run_id: str) -> tuple[StoredSymbol, ...]:
    """The run's last ``position_snapshots``, ``pnl_snapshots`` and ``quote_snapshots`` row per
    symbol (as ``pnl`` and ``replay`` pick them: the last written), by symbol."""
    positions = last_by_symbol(engine, position_snapshots, run_id)
    pnl = last_by_symbol(engine, pnl_snapshots, run_id)
    quotes = last_by_symbol(engine, quote_snapshots, run_id)
    stored = []
    for symbol in sorted(set(positions) | set(pnl) | set(quotes)):
        position, money, quote = positions.get(symbol, {}), pnl.get(symbol, {}), quotes.get(symbol)
        times = [_as_utc(row["at"]) for row in (position, money) if row.get("at") is not None]
        stored.append(
            StoredSymbol(
                symbol=symbol,
                at=min(times) if times else None,
                position_base=position.get("quantity_base"),
                avg_entry_price=position.get("avg_entry_price"),
                fair_value=position.get("fair_value"),
                realized_pnl_quote=money.get("realized_pnl_quote"),
                unrealized_pnl_quote=money.get("unrealized_pnl_quote"),
                quotes_at=_as_utc(quote["at"]) if quote else None,
                bid_quote_price=quote["bid_quote_price"] if quote else None,
                ask_quote_price=quote["ask_quote_price"] if quote else None,
            )
        )
    return tuple(stored)


def status_reader(
    engine: Engine | None,
    *,
    redis_url: str | None,
    namespace: str | None,
    prefix: str = DEFAULT_PREFIX,
    run_id: str | None = None,
    events: int = 8,
) -> Callable[[], tuple[dict[str, Any] | None, DbSummary | None]]:
    """A ``read`` for :func:`watch`: each source read on its own, a failure kept as its reason.

    Without ``redis_url`` and ``namespace`` there is no live part (None); without ``engine``
    no database part (None). The stored snapshots are read only when the live part has no
    symbol to show.
    """

    def read() -> tuple[dict[str, Any] | None, DbSummary | None]:
        live: dict[str, Any] | None = None
        if redis_url and namespace:
            try:
                live = read_live_state(redis_url, prefix, namespace)
            except TruexError as error:
                live = live_unavailable(str(error))
        summary: DbSummary | None = None
        if engine is not None:
            try:
                summary = read_db_summary(engine, run_id, events, snapshots=not _live_symbols(live))
            except TruexError as error:
                summary = DbSummary(run_id=run_id, error=str(error))
        return live, summary

    return read


# --------------------------------------------------------------------------- rendering


def render_status(
    live: Mapping[str, Any] | None,
    db_summary: DbSummary | None,
    width: int = 100,
    *,
    now_s: float | None = None,
) -> list[str]:
    """The lines of the view, each at most ``width`` characters; never raises on odd data.

    ``live`` is shaped like :func:`read_live_state`'s answer (or :func:`live_unavailable`'s);
    ``now_s`` (epoch seconds, default now) dates the ages shown.
    """
    now = time.time() if now_s is None else now_s
    lines = [_title(db_summary, now)]
    try:
        ended_at = db_summary.ended_at if db_summary is not None else None
        lines += _live_lines(live, now, ended_at)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        lines.append(f"live state unreadable: {type(error).__name__}: {error}")
    if not _live_symbols(live):
        lines += _stored_lines(db_summary, now)
    lines += _event_lines(db_summary, now)
    return [_fit(line, width) for line in lines]


def _live_symbols(live: Mapping[str, Any] | None) -> bool:
    """Whether the live state has symbols to show (then the stored snapshots are not shown)."""
    if not isinstance(live, Mapping) or live.get(ERROR_KEY):
        return False
    symbols = live.get("symbols")
    return isinstance(symbols, Mapping) and bool(symbols)


def _title(summary: DbSummary | None, now: float) -> str:
    title = f"truex-qf status  {_clock(now, now)}"
    if summary is not None and summary.run_id is not None:
        run = f"run {summary.run_id[:RUN_ID_SHOWN]}"  # as `runs` shows it; leaves room for the end
        if summary.mode:
            run += f" ({summary.mode})"
        if summary.started_at is not None:
            run += f" started {_clock(summary.started_at.timestamp(), now)}"
        if summary.ended_at is not None:
            run += f", ended {_clock(summary.ended_at.timestamp(), now)}"
        title += f"  {run}"
    return title


def _live_lines(
    live: Mapping[str, Any] | None, now: float, ended_at: datetime | None = None
) -> list[str]:
    if live is None:
        return ["live state unavailable: not read (no Redis configured)"]
    if live.get(ERROR_KEY):
        return [f"live state unavailable: {live[ERROR_KEY]}"]
    state = live.get("state")
    sessions = live.get("sessions")
    symbols = live.get("symbols") or {}
    if not state and not sessions and not symbols:
        return ["live state: nothing published (the program is not running, or just started)"]
    if ended_at is not None:  # what Redis still holds is the run's last word, not the present
        ended = ended_at.timestamp()
        sessions_line = (
            f"sessions  closed: the run ended {_clock(ended, now)} "
            f"({duration_text(now - ended)} ago); its last published state:"
        )
    else:
        sessions_line = _sessions_line(sessions, now)
    return [sessions_line, _state_line(state, now), *_symbol_lines(symbols)]


def _sessions_line(sessions: Mapping[str, Any] | None, now: float) -> str:
    if not sessions:
        return "sessions  unknown"
    parts = []
    for role, label in _ROLES:
        health = sessions.get(role)
        if not isinstance(health, Mapping):
            parts.append(f"{label} unknown")
            continue
        text = f"{label} {'UP' if health.get('up') else 'DOWN'}"
        changed_at = _number(health.get("changed_at"))
        if changed_at is not None:
            text += f" since {_clock(changed_at, now)} ({duration_text(now - changed_at)})"
        parts.append(text)
    return "sessions  " + "   ".join(parts)


def _state_line(state: Mapping[str, Any] | None, now: float) -> str:
    if not state:
        return "trading   unknown"
    text = f"trading   {state.get('state') or '?'}"
    if state.get("kill_switch"):
        text += "  KILL SWITCH ENGAGED"
    if state.get("detail"):
        text += f"  {state['detail']}"
    if state.get("reason"):
        text += f"  reason: {state['reason']}"
    taken_at = _number(state.get("taken_at", state.get("published_at")))
    if taken_at is not None:
        age = now - taken_at
        text += f"  (as of {_clock(taken_at, now)}, {duration_text(age)} ago"
        text += ", STALE)" if age > STALE_AFTER_S else ")"
    return text


_SYMBOL_HEADER = ("symbol", "bid", "ask", "fair", "position", "realized", "unrealized")
_STORED_HEADER = ("symbol", "our bid", "our ask", "fair", "position", "realized", "unrealized")


def _symbol_lines(symbols: Mapping[str, Any]) -> list[str]:
    if not symbols:
        return ["symbols   none published"]
    rows = [list(_SYMBOL_HEADER)]
    quotes: list[str] = []
    for name in sorted(symbols):
        view = symbols[name] or {}
        # at the instrument's precision, as summary shows them: the live state keeps every digit
        amounts = Amounts(
            str(name),
            _reference(view.get("fair_value"), view.get("bid_price"), view.get("ask_price")),
        )
        rows.append(
            [
                str(name),
                _level(view.get("bid_price"), view.get("bid_size")),
                _level(view.get("ask_price"), view.get("ask_size")),
                _amount(amounts.price, view.get("fair_value")),
                _amount(amounts.quantity, view.get("position_base")),
                _amount(amounts.money, view.get("realized_pnl_quote")),
                _amount(amounts.money, view.get("unrealized_pnl_quote")),
            ]
        )
        quotes.append(f"  quotes: {_quotes_text(view.get('working_quotes') or [])}")
    return _table(rows, quotes)


def _table(rows: list[list[str]], under: list[str]) -> list[str]:
    """``rows`` (the header first) in aligned columns, each row but the header followed by its
    line of ``under``."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index > 0:
            lines.append(under[index - 1])
    return lines


def _stored_lines(summary: DbSummary | None, now: float) -> list[str]:
    """The run's latest stored snapshot per symbol, each dated, for a view without live ones."""
    if summary is None or summary.error is not None or summary.run_id is None:
        return []
    if not summary.stored:
        return ["stored    no position or PnL snapshot yet (a run writes one every 5 s)"]
    rows = [list(_STORED_HEADER)]
    dates = []
    for s in summary.stored:
        amounts = Amounts(
            s.symbol,
            _reference(s.fair_value, s.avg_entry_price, s.bid_quote_price, s.ask_quote_price),
        )
        rows.append(
            [
                s.symbol,
                _amount(amounts.price, s.bid_quote_price),
                _amount(amounts.price, s.ask_quote_price),
                _amount(amounts.price, s.fair_value),
                _amount(amounts.quantity, s.position_base),
                _amount(amounts.money, s.realized_pnl_quote),
                _amount(amounts.money, s.unrealized_pnl_quote),
            ]
        )
        date = f"  stored {_stored_at(s.at, now)}" if s.at else "  no position or PnL stored"
        if s.quotes_at is not None and (s.at is None or _seconds(s.quotes_at) != _seconds(s.at)):
            date += f"; our quotes stored {_stored_at(s.quotes_at, now)}"
        dates.append(date)
    title = "stored    NOT LIVE: the run's last snapshots (every 5 s and at its end)"
    return [title, *_table(rows, dates)]


def _stored_at(at: datetime, now: float) -> str:
    """``10:00:20Z, 4m40s ago``."""
    return f"{_clock(at.timestamp(), now)}, {duration_text(now - at.timestamp())} ago"


def _seconds(at: datetime) -> int:
    return int(at.timestamp())


def _level(price: object, size: object) -> str:
    if price is None:
        return "-"
    return f"{price} x {_text(size)}" if size is not None else str(price)


def _quotes_text(working: list[Any]) -> str:
    if not working:
        return "none"
    parts = []
    for quote in working:
        if not isinstance(quote, Mapping):
            continue
        price = quote.get("price")
        at = f" @ {price}" if price is not None else " MKT"
        side, size, state = quote.get("side", "?"), _text(quote.get("size")), quote.get("state")
        parts.append(f"{side} {size}{at} {state or ''}")
    return ", ".join(part.rstrip() for part in parts) or "none"


def _event_lines(summary: DbSummary | None, now: float) -> list[str]:
    if summary is None:
        return []
    if summary.error is not None:
        return [f"database unavailable: {summary.error}"]
    if summary.run_id is None:
        return ["events    no run stored"]
    if not summary.events:
        return ["events    none stored for this run"]
    lines = ["recent events (newest first)"]
    for event in summary.events:
        text = f"  {_clock(event.at.timestamp(), now)}  {event.source:<7}  {event.kind}"
        if event.subject:
            text += f" {event.subject}"
        if event.text:
            text += f": {event.text}"
        lines.append(text)
    return lines


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    """A published amount (a plain string, or a number) or a stored one (a Decimal) as a finite
    Decimal, else None."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _reference(*prices: object) -> Decimal | None:
    """The first of ``prices`` that is a price (finite, not zero): what sets a symbol's
    precision (:class:`~truex_qf.ops.amounts.Amounts`) when the row has no trade price."""
    return next((p for p in map(_decimal, prices) if p), None)


def _amount(show: Callable[[Decimal], str], value: object) -> str:
    number = _decimal(value)
    return _text(value) if number is None else show(number)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _clock(epoch_s: float, now: float) -> str:
    """``HH:MM:SSZ`` when on today's UTC date, else with the date."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    if moment.date() == datetime.fromtimestamp(now, UTC).date():
        return moment.strftime("%H:%M:%SZ")
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def duration_text(seconds: float) -> str:
    """``4s``, ``2m05s``, ``3h02m``, ``2d03h``; a negative age (clock skew) reads as ``0s``."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600:02d}h"


def _fit(line: str, width: int) -> str:
    line = line.replace("\r", " ").replace("\n", " ")
    if width <= 0 or len(line) <= width:
        return line
    return line[: max(width - 1, 0)] + "…"


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --------------------------------------------------------------------------- the loop


def watch(
    read: Callable[[], tuple[Mapping[str, Any] | None, DbSummary | None]],
    stream: TextIO,
    interval_s: float,
    iterations: int | None = None,
    *,
    width: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> None:
    """Read and draw the view every ``interval_s`` seconds, ``iterations`` times (None: forever).

    On a terminal the view is redrawn in place, as a :class:`rich.live.Live` region (rich
    moves the cursor; no escape code is written here), each line cut to the terminal's width
    so that none wraps; elsewhere each view is printed in full, followed by a blank line. A
    ``read`` that raises shows as ``live state unavailable: <reason>``: a monitoring loop must
    outlive the thing it watches.
    """
    console = Console(file=stream, width=width, highlight=False)
    if not (console.is_terminal and not console.is_dumb_terminal):

        def write(text: str) -> None:
            stream.write(text)
            stream.flush()

        _watch_lines(read, interval_s, iterations, width or 100, sleep, clock, write)
        return
    # one column short of the edge: a line filling the last column wraps on some terminals
    columns = width if width is not None else max(20, console.width - 1)
    with Live(
        console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
    ) as live:

        def draw(text: str) -> None:
            lines = [
                Text(line, no_wrap=True, overflow="ellipsis")
                for line in text.rstrip("\n").splitlines()
            ]
            live.update(Group(*lines), refresh=True)

        _watch_lines(read, interval_s, iterations, columns, sleep, clock, draw)


def _watch_lines(
    read: Callable[[], tuple[Mapping[str, Any] | None, DbSummary | None]],
    interval_s: float,
    iterations: int | None,
    columns: int,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    draw: Callable[[str], object],
) -> None:
    count = 0
    while iterations is None or count < iterations:
        started = time.monotonic()
        try:
            live, summary = read()
        except Exception as error:  # any failure of a source is shown, never fatal
            live, summary = live_unavailable(f"{type(error).__name__}: {error}"), None
        draw("\n".join(render_status(live, summary, columns, now_s=clock())) + "\n\n")
        count += 1
        if iterations is not None and count >= iterations:
            break
        sleep(max(0.0, interval_s - (time.monotonic() - started)))
