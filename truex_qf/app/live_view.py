"""The live view of ``run`` and ``demo``: a footer redrawn under the log, or a periodic line.

On a terminal the footer (uptime, trading state and why, then per symbol the book, fair value,
our quotes and their spread, position, PnL in the quote currency, fills and volume) is a
:class:`rich.live.Live` region on the log's console (:func:`truex_qf.app.logsetup.log_console`).
Every log line is printed through that same console, and rich prints it above the region and
redraws the region under it, so no line is ever overwritten. (The hand-written version moved
the cursor up over the last lines and erased log lines printed in between.) Elsewhere (a pipe,
a file, a dumb terminal) the same content is one log line every ``plain_interval_s`` seconds
and at each change of trading state. A paper run (``run --paper``) says PAPER at the start of
every frame and of every line (:attr:`LiveView.label`), and its order-entry side shows as
PAPER, not "up": no order-entry session exists.

The trading loop only builds the footer's text (under the trading lock, a few dictionary
reads) and swaps a reference; rich's refresh thread writes to the terminal, so a slow terminal
never holds the trading lock.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.rule import Rule
from rich.text import Text

from truex_qf.app.logsetup import flush_logging, log_console
from truex_qf.domain.decimals import plain_decimal
from truex_qf.observe.live_state import state_detail
from truex_qf.observe.metrics import quoted_spread_bps
from truex_qf.ops.status_view import duration_text
from truex_qf.trading.risk import TradingState

if TYPE_CHECKING:
    from truex_qf.trading.market_maker import MarketMaker

log = logging.getLogger("truex_qf.app.live_view")

DISPLAY_QUANTUM = Decimal("0.00000001")
REFRESH_PER_S = 2.0
PLAIN_INTERVAL_S = 10.0
_STATE_STYLES = {
    TradingState.ACTIVE.value: "bold green",
    TradingState.WAITING.value: "bold yellow",
    TradingState.HALTED.value: "bold red",
}
LABEL_STYLE = "bold reverse magenta"


def shown(value: Decimal | None) -> str:
    """Money and quantities for people: at most 8 decimals (the books keep full precision)."""
    if value is None:
        return "n/a"
    return plain_decimal(value.quantize(DISPLAY_QUANTUM))


def state_text(mm: MarketMaker) -> str:
    """The trading state with what it waits for (see
    :func:`~truex_qf.observe.live_state.state_detail`) or why it is as it is."""
    detail = state_detail(mm) or mm.risk.state_reason
    return f"{mm.risk.state.value} ({detail})" if detail else mm.risk.state.value


def currencies(symbol: str) -> tuple[str, str]:
    """``BTC-PYUSD`` -> (``BTC``, ``PYUSD``): TrueX names a pair base-quote."""
    base, _, quote = symbol.partition("-")
    return base, quote or "quote"


def status_lines(mm: MarketMaker, uptime_s: float, label: str | None = None) -> list[str]:
    """The footer's lines: two for the run (uptime and state; sessions and counts), two per
    symbol (the market and our quotes; our position and PnL). Call holding the trading lock.
    ``label`` (PAPER) starts the first line and stands for the order-entry session."""
    oe, md = mm.sessions_up
    bases = {currencies(symbol)[0] for symbol in mm.symbols}
    unit = bases.pop() if len(bases) == 1 else "base"
    oe_text = label if label and oe else "up" if oe else "DOWN"
    lines = [
        f"{label + ' | ' if label else ''}up {duration_text(uptime_s)} | {state_text(mm)}",
        f"OE {oe_text} MD {'up' if md else 'DOWN'} | orders "
        f"{mm.stats.orders_sent} repl {mm.stats.replaces_sent} cxl {mm.stats.cancels_sent} | "
        f"fills {mm.stats.fills} vol {shown(mm.stats.filled_base)} {unit} | denials "
        f"{sum(mm.risk.denial_counts().values())} rejects {mm.stats.venue_rejects}",
    ]
    fair_values = mm.fair_values()
    for symbol in mm.symbols:
        base, quote = currencies(symbol)
        book = mm.books.book(symbol)
        bid = book.best_bid_price() if book else None
        ask = book.best_offer_price() if book else None
        working = mm.orders.working_orders(symbol)
        bids = [o.price for o in working if o.side.name == "BUY" and o.price is not None]
        asks = [o.price for o in working if o.side.name == "SELL" and o.price is not None]
        our_bid, our_ask = (max(bids) if bids else None), (min(asks) if asks else None)
        spread = quoted_spread_bps(our_bid, our_ask)
        spread_text = "no spread" if spread != spread else f"{spread:.1f} bps"  # NaN: one side
        fair = fair_values.get(symbol)
        position = mm.positions.get(symbol)
        realized = position.realized_pnl_quote if position else Decimal(0)
        unrealized = position.unrealized_pnl_quote(fair) if position and fair is not None else None
        total = realized + unrealized if unrealized is not None else None
        lines.append(
            f"{symbol}  book {shown(bid)} / {shown(ask)}  fv {shown(fair)}  ours "
            f"{shown(our_bid)} / {shown(our_ask)} ({len(working)} working, {spread_text})"
        )
        lines.append(
            f"{' ' * len(symbol)}  pos {shown(position.quantity_base if position else Decimal(0))} "
            f"{base}  pnl {shown(total)} {quote} (realized {shown(realized)}, unrealized "
            f"{shown(unrealized)})"
        )
    return lines


def footer(lines: Sequence[str], state: str | None = None, label: str | None = None) -> Group:
    """The region rich redraws: a rule, then each line cut (never wrapped) to the width, so
    the region's height is its number of lines whatever the terminal's width."""
    texts = []
    for index, line in enumerate(lines):
        text = Text(line, no_wrap=True, overflow="ellipsis")
        if index == 0 and state in _STATE_STYLES:
            text.highlight_words([state], _STATE_STYLES[state])
        if index == 0 and label and line.startswith(label):
            text.stylize(LABEL_STYLE, 0, len(label))
        texts.append(text)
    return Group(Rule(style="dim"), *texts)


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (OSError, ValueError):  # closed or detached
        return False


class LiveView:
    """The status of a running market maker: a live footer on a terminal, log lines elsewhere.

    ``console`` is where the log goes (by default the log's own console: the footer must be
    drawn by the console the log lines are printed through, or rich cannot keep them above it).
    The runner calls :meth:`maybe_render` from its loop and :meth:`close` when it ends.
    """

    def __init__(
        self,
        console: Console | None = None,
        plain_interval_s: float = PLAIN_INTERVAL_S,
        refresh_per_s: float = REFRESH_PER_S,
    ) -> None:
        self.console = console if console is not None else log_console()
        self.in_place = self.console.is_terminal and not self.console.is_dumb_terminal
        self.interval_s = 1.0 / refresh_per_s if self.in_place else plain_interval_s
        self.refresh_per_s = refresh_per_s
        self.started_s = time.monotonic()
        self._last = float("-inf")
        self._last_state: tuple[object, str] | None = None
        self._footer: Group = footer([])
        self._live: Live | None = None
        self.label: str | None = None  # PAPER for a paper run: the runner sets it

    def maybe_render(self, mm: MarketMaker, now: float) -> None:
        """Every ``interval_s``, and at once when the trading state changes (so a log shows
        each WAITING, HALTED or return to ACTIVE when it happens). Trading lock held."""
        state = (mm.risk.state, mm.risk.state_reason)
        if now - self._last < self.interval_s and state == self._last_state:
            return
        self._last = now
        self._last_state = state
        lines = status_lines(mm, time.monotonic() - self.started_s, self.label)
        self.show(lines, mm.risk.state.value)

    def show(self, lines: Sequence[str], state: str | None = None) -> None:
        """Show these status lines: as the footer on a terminal, else as one log line."""
        if not self.in_place:
            log.info(" | ".join(line.strip() for line in lines))
            return
        self._footer = footer(lines, state, self.label)  # a reference swap: rich draws it
        if self._live is None:
            self._live = Live(
                console=self.console,
                get_renderable=lambda: self._footer,
                refresh_per_second=self.refresh_per_s,
                # what another part writes to the terminal meanwhile goes above the footer too;
                # stdout sent to a file or a pipe stays there
                redirect_stdout=_is_terminal(sys.stdout),
                redirect_stderr=True,
                transient=False,
            )
            self._live.start()

    def close(self) -> None:
        """Draw the footer a last time and leave it above what follows; safe twice."""
        if self._live is not None:
            flush_logging()  # the run's last lines above the footer, not under it
            live, self._live = self._live, None
            live.stop()
