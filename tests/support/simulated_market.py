"""The simulator with its simulated traders moving and trading the demo symbol's book: the live
market of the end-to-end tests (real QuickFIX on the simulator's side)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.sessions import unique_comp_id
from truex_qf.app.demo import DEMO_SYMBOL, LocalVenue, demo_account, start_local_venue
from truex_qf.sim.flow import FlowSettings, SimulatedFlow


@dataclass(frozen=True)
class SimulatedMarket:
    """The running simulator (``local``: how to reach it) and the flow that moves its book."""

    local: LocalVenue
    flow: SimulatedFlow


@contextmanager
def simulated_market(
    state_dir: Path,
    *,
    on_reference: Callable[[Decimal], None] | None = None,
    **flow_settings: Any,
) -> Iterator[SimulatedMarket]:
    """A simulator on free ports for a fresh account, its book left empty for the flow to fill,
    and a :class:`SimulatedFlow` of :data:`DEMO_SYMBOL` started on it with ``flow_settings``
    (:class:`FlowSettings` fields: give ``seed`` for a reproducible market). ``on_reference``:
    the flow's fair value each step (a simulated reference feed). Both stop on exit."""
    local = start_local_venue(state_dir, demo_account(unique_comp_id()), seed=False)
    try:
        app = local.venue.application
        flow = SimulatedFlow(
            local.venue.engine,
            app.publish,
            app.lock,
            FlowSettings(symbol=DEMO_SYMBOL, **flow_settings),
            on_reference=on_reference,
        )
        flow.start()
        try:
            yield SimulatedMarket(local, flow)
        finally:
            flow.stop()
    finally:
        local.venue.stop(force=True)
