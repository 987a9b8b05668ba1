"""The simulator started on free ports starts even when a port it was given is taken first.

Ports are picked free and bound a moment later; an outgoing connection anywhere on the
machine may be given one in between (CI saw ``[Errno 98] Address already in use``). Here the
first port handed out is one a listening socket holds, for the public gateway port and for the
engine's port behind the gate in turn.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.support.rawfix import RawFixPeer
from tests.support.sessions import unique_comp_id
from truex_qf.app import demo
from truex_qf.app.demo import demo_account, start_local_venue
from truex_qf.config import UAT_ORDER_ENTRY_TARGET
from truex_qf.domain.netutil import free_port
from truex_qf.sim import server


@pytest.fixture
def taken_port() -> Iterator[int]:
    holder = socket.create_server(("127.0.0.1", 0))
    yield holder.getsockname()[1]
    holder.close()


@pytest.mark.parametrize("module", [demo, server], ids=["gateway-port", "engine-port"])
def test_a_port_taken_before_it_is_bound_is_replaced(
    tmp_path, monkeypatch, taken_port: int, module: object
) -> None:
    handed = iter([taken_port])
    monkeypatch.setattr(module, "free_port", lambda: next(handed, None) or free_port())
    local = start_local_venue(tmp_path / "state", demo_account(unique_comp_id()))
    try:
        settings = local.client_settings
        assert taken_port not in (settings.order_entry_port, settings.market_data_port)
        peer = RawFixPeer(
            settings.order_entry_port, settings.sender_comp_id, UAT_ORDER_ENTRY_TARGET
        )
        peer.logon(settings.credentials.api_key, settings.credentials.secret_key)
        assert peer.receive_type("A", 5.0) is not None  # the venue that started works
        peer.close()
    finally:
        local.venue.stop(force=True)
