"""What the live state says of an ACTIVE run that quotes without reconciliation: a paper run
says it is paper (its orders are at no venue), a run without REST says it has no REST client.
The runner is built as the CLI builds it (not started: no session is needed for the state)."""

from __future__ import annotations

from pathlib import Path

from tests.support.market_maker import strategy
from tests.support.sessions import unique_comp_id
from truex_qf.app.live_view import state_text
from truex_qf.app.paper import PAPER, PaperVenue
from truex_qf.app.runner import Runner
from truex_qf.config import Credentials, FixSettings
from truex_qf.domain.model import SessionLoggedOn, SessionRole
from truex_qf.domain.netutil import free_port
from truex_qf.observe.live_state import state_detail


def _settings(state_dir: Path) -> FixSettings:
    return FixSettings(
        host="127.0.0.1",
        order_entry_port=free_port(),
        market_data_port=free_port(),
        sender_comp_id=unique_comp_id(),
        client_id="10000000000000001",
        credentials=Credentials("11111111-2222-4333-8444-555555555555", "example-secret"),
        state_dir=state_dir,
    )


def _state_once_order_entry_is_up(runner: Runner, session_name: str) -> tuple[str, str]:
    try:
        runner.mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, session_name))
        return state_detail(runner.mm), state_text(runner.mm)
    finally:
        runner.close()


def test_a_paper_run_says_it_quotes_unreconciled_because_it_is_paper(tmp_path):
    settings = strategy()
    runner = Runner(_settings(tmp_path), settings, order_venue=PaperVenue(settings))
    detail, text = _state_once_order_entry_is_up(runner, PAPER)
    assert detail.startswith("quoting without reconciliation; paper trading")
    assert "REST" not in detail
    assert text == f"ACTIVE ({detail})"


def test_a_run_without_rest_says_it_has_no_rest_client(tmp_path):
    runner = Runner(_settings(tmp_path), strategy(), rest=None)
    detail, text = _state_once_order_entry_is_up(runner, "oe")
    assert detail == "quoting without reconciliation; no REST client (TRUEX_REST_URL=off)"
    assert "paper" not in text
