"""Reconciliation's decisions as journal rows, so that ``replay`` reproduces them.

What reconciliation learns over REST changes orders and positions as surely as a FIX report
does, but crosses no FIX session, so the engine log never journals it. Each decision is
journaled here, at the moment the market maker applies it, as a FIX-like message in the
session ``REST`` (the hash chain covers these rows like any other):

- ``IN 35=8``: a report fed to the order manager on the venue's word (a missed fill under the
  venue's ExecID, a New never seen, an order marked canceled, an adopted venue order). Replay
  applies it like any 35=8; an unknown ClOrdID with ExecType New is an adoption;
- ``IN 35=AE``: a venue trade of an order this run did not place (an earlier run's): a fill
  for the position only;
- ``IN 35=AP``: the position the run started from (53 signed quantity, 381 its cost);
- ``OUT 35=F``: a cancel of a venue order this run did not place, asked over REST (37 the
  venue's OrderID); replay reads it as information only.

The texts use FIX tags so that ``journal show`` prints them like the rest and the ordinary
readers parse the 35=8 rows. The message types AE and AP are not in TrueX's dictionary and
never go on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from truex_qf.domain.model import ExecutionReport
from truex_qf.trading.orders import Fill

REST_SESSION = "REST"
SOH = "\x01"
BEGIN = "8=FIXT.1.1"
EXCHANGE_FEE = "4"
ADOPTED_TEXT = "adopted venue order"


def _text(pairs: Iterable[tuple[int, object]]) -> str:
    body = SOH.join(f"{tag}={_value(value)}" for tag, value in pairs if value is not None)
    return f"{BEGIN}{SOH}{body}{SOH}"


def _value(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(getattr(value, "value", value))


def report_text(report: ExecutionReport, adopted: bool = False) -> str:
    """A 35=8 that :func:`~truex_qf.fix.readers.read_execution_report` reads back as ``report``."""
    pairs: list[tuple[int, object]] = [
        (35, "8"),
        (37, report.order_id),
        (11, report.cl_ord_id),
        (41, report.orig_cl_ord_id),
        (17, report.exec_id),
        (150, report.exec_type),
        (39, report.ord_status),
        (55, report.symbol),
        (54, report.side),
        (38, report.order_qty),
        (44, report.price),
        (59, report.time_in_force),
        (32, report.last_qty),
        (31, report.last_px),
        (151, report.leaves_qty),
        (14, report.cum_qty),
        (6, report.avg_px),
        (880, report.trade_match_id),
        (851, report.liquidity_indicator),
        (58, ADOPTED_TEXT if adopted else report.text),
    ]
    if report.fees:
        pairs.append((136, len(report.fees)))
        for fee in report.fees:
            pairs += [(137, fee.amount), (139, fee.fee_type)]
    return _text(pairs)


def trade_text(fill: Fill) -> str:
    """35=AE: a venue trade of an order this run did not place."""
    pairs: list[tuple[int, object]] = [
        (35, "AE"),
        (17, fill.exec_id),
        (11, fill.cl_ord_id),
        (37, fill.order_id),
        (55, fill.symbol),
        (54, fill.side),
        (32, fill.qty),
        (31, fill.price),
        (880, fill.trade_match_id),
        (851, fill.liquidity),
    ]
    if fill.fee:
        pairs += [(136, 1), (137, fill.fee), (139, EXCHANGE_FEE)]
    return _text(pairs)


def baseline_text(symbol: str, quantity_base: Decimal, cost_basis_quote: Decimal) -> str:
    """35=AP: the position a run starts from."""
    return _text([(35, "AP"), (55, symbol), (53, quantity_base), (381, cost_basis_quote)])


def cancel_text(order_id: str) -> str:
    """35=F (information): a venue order this run did not place, cancelled over REST."""
    return _text([(35, "F"), (37, order_id), (58, "not placed by this run: cancelled")])
