"""The simulator's lead and lag: the TrueX book follows the reference walk some steps late,
and informed takers pick off what rests on the wrong side of the reference."""

from __future__ import annotations

import threading
from decimal import Decimal as D

from truex_qf.domain.model import ExecutionReport, NewOrder, Side
from truex_qf.sim import MatchingEngine, ToClient, VenueEvent
from truex_qf.sim.flow import INFORMED_OWNER, FlowSettings, SimulatedFlow

SYMBOL = "BTC-PYUSD"
CLIENT = "CLIENT"


def flow_on(
    engine: MatchingEngine, published: list[VenueEvent], **settings: object
) -> tuple[SimulatedFlow, list[D]]:
    references: list[D] = []
    flow = SimulatedFlow(
        engine,
        published.extend,
        threading.RLock(),
        FlowSettings(symbol=SYMBOL, seed=19, taker_probability=0.0, **settings),  # type: ignore[arg-type]
        on_reference=references.append,
    )
    return flow, references


def test_the_book_follows_the_reference_late() -> None:
    engine = MatchingEngine([SYMBOL])
    flow, references = flow_on(engine, [], book_lag_steps=3)
    for _ in range(10):
        flow.step()
    assert references[-1] == flow.fair_value  # the reference is told every new value
    assert len(set(references)) > 3  # it walks
    assert flow.book_value == references[-4]  # the ladder is three steps behind
    # the innermost maker bid: 8 bps under the value three steps ago, on the price grid
    lagged_bid = engine.grid.round_price(references[-4] * (1 - D(8) / D(10000)), True)
    assert engine.depth(SYMBOL, 1).bids[0].price == lagged_bid
    assert lagged_bid != engine.grid.round_price(references[-1] * (1 - D(8) / D(10000)), True)


def picked_off(informed_probability: float) -> tuple[list[ExecutionReport], list[str]]:
    """A client bid resting above the reference (the maker offer is further up): filled by an
    informed taker or not."""
    engine = MatchingEngine([SYMBOL])
    published: list[VenueEvent] = []
    flow, _ = flow_on(
        engine,
        published,
        volatility_bps_per_step=D(0),
        informed_taker_probability=informed_probability,
    )
    flow.step()  # the makers' ladder around 100000: best offer 100080
    bid = NewOrder("C1", SYMBOL, Side.BUY, D("0.01"), D("100050"))
    published.extend(engine.submit(CLIENT, bid))
    for _ in range(3):
        flow.step()
    fills = [
        e
        for e in published
        if isinstance(e, ToClient) and isinstance(e.message, ExecutionReport) and e.message.last_qty
    ]
    return [e.message for e in fills if e.owner == CLIENT], [e.owner for e in fills]


def test_informed_takers_pick_off_a_quote_on_the_wrong_side_of_the_reference() -> None:
    fills, owners = picked_off(1.0)
    assert fills and fills[0].last_px == D("100050")
    assert fills[0].cl_ord_id == "C1"
    assert set(owners) == {CLIENT, INFORMED_OWNER}  # taken by an informed taker


def test_without_informed_takers_it_rests() -> None:
    assert picked_off(0.0) == ([], [])
