"""The simulator answers as TrueX does: every row of facts.toml, played over a raw socket.

Each row gets a fresh simulator (its own ports and SenderCompID), so rows are independent and
sequence numbers start at 1. Only the simulator and the helper that starts it come from
``truex_qf``; the client side (framing, parsing, signing) is ``tests/conformance/wire.py``.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.scenario import STEP_KINDS, Scenario, Venue
from tests.support.sessions import unique_comp_id
from truex_qf.app.demo import DEMO_MID, DEMO_SYMBOL, LocalVenue, demo_account, start_local_venue
from truex_qf.domain.model import SessionRole

TABLE = Path(__file__).with_name("facts.toml")
ROW_KEYS = {"id", "section", "fact", "steps", "gateway", "book", "unknown", "note"}
GATEWAY_ROLES = {"OE": SessionRole.ORDER_ENTRY, "MD": SessionRole.MARKET_DATA}


def load_rows() -> list[dict[str, Any]]:
    rows = tomllib.loads(TABLE.read_text())["fact"]
    for row in rows:
        unknown_keys = set(row) - ROW_KEYS
        assert not unknown_keys, f"{row.get('id')}: unknown keys {unknown_keys}"
        assert row["section"].strip() and row["fact"].strip(), row["id"]
        for step in row["steps"]:
            assert sum(kind in step for kind in STEP_KINDS) == 1, f"{row['id']}: {step}"
    return rows


ROWS = load_rows()


def test_table_is_well_formed() -> None:
    """At least 45 facts, unique ids, and every unknown row cites §14."""
    ids = [row["id"] for row in ROWS]
    assert len(ids) >= 45
    assert len(set(ids)) == len(ids)
    for row in ROWS:
        if "unknown" in row:
            assert "§14." in row["unknown"], row["id"]


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Any]:
    """Starts a simulator with a book of ``levels`` a side; stops it after the test."""
    started: list[LocalVenue] = []

    def start(levels: int) -> LocalVenue:
        local = start_local_venue(tmp_path / "state", demo_account(unique_comp_id()), seed=False)
        started.append(local)
        if levels:
            local.venue.seed_book(DEMO_SYMBOL, DEMO_MID, levels=levels)
        return local

    yield start
    for local in started:
        local.venue.stop(force=True)


def _venue(local: LocalVenue) -> Venue:
    """What the raw client may know: ports, CompIDs and the account's credentials."""
    settings = local.venue.settings
    account = settings.account
    application = local.venue.application

    def send_test_request(gateway: str, test_req_id: str) -> bool:
        return application.send_test_request(GATEWAY_ROLES[gateway], test_req_id)

    return Venue(
        host=settings.host,
        ports={"OE": settings.order_entry_port, "MD": settings.market_data_port},
        comp_ids={"OE": settings.order_entry_comp_id, "MD": settings.market_data_comp_id},
        sender=account.sender_comp_id,
        api_key=account.credentials.api_key,
        secret=account.credentials.secret_key,
        client_id=account.client_id,
        send_test_request=send_test_request,
    )


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_truex_fact(row: dict[str, Any], simulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    # The venue's engine events and the simulator's log are kept, so that a failure shows what
    # the venue did (pytest prints them under "Captured log call").
    caplog.set_level(logging.INFO, logger="truex_qf.fix.events")
    caplog.set_level(logging.INFO, logger="truex_qf.sim")
    local = simulator(row.get("book", 5))
    scenario = Scenario(_venue(local), row.get("gateway", "OE"))
    try:
        scenario.run(row["steps"])
    except AssertionError as failure:
        raise AssertionError(f"[{row['section']}] {row['fact']}\n{failure}") from None
    finally:
        scenario.close()
