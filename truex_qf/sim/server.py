"""The simulated TrueX exchange as a service: an acceptor on two ports around a matching engine."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import quickfix as fix

from truex_qf.config import UAT_MARKET_DATA_TARGET, UAT_ORDER_ENTRY_TARGET
from truex_qf.domain.errors import SessionTimeoutError, TruexError
from truex_qf.domain.model import NewOrder, SessionRole, Side
from truex_qf.domain.netutil import free_port
from truex_qf.fix.engine_log import RedactingLogFactory
from truex_qf.fix.settings import settings_from_sections
from truex_qf.sim.balances import DEFAULT_BALANCES, BalanceBook
from truex_qf.sim.dictionaries import APPLICATION_FILE, TRANSPORT_FILE, venue_spec_dir
from truex_qf.sim.fix_acceptor import VenueAccount, VenueApplication
from truex_qf.sim.gate import Route, VenueGate
from truex_qf.sim.matching import MatchingEngine

DEFAULT_SYMBOLS = {"BTC-PYUSD": "PYUSD", "ETH-PYUSD": "PYUSD"}
HOUSE_OWNER = "SIM-HOUSE"  # the simulator's own liquidity; "SIM-" owners get no FIX reports


@dataclass(frozen=True)
class SimulatorSettings:
    """Where the simulated venue listens and whom it accepts."""

    account: VenueAccount
    order_entry_port: int
    market_data_port: int
    host: str = "127.0.0.1"
    order_entry_comp_id: str = UAT_ORDER_ENTRY_TARGET
    market_data_comp_id: str = UAT_MARKET_DATA_TARGET
    symbols: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SYMBOLS))
    heartbeat_s: int = 30
    # A connection that has not sent its Logon by then is closed (TrueX's own limit is not
    # published; QuickFIX's LogonTimeout default is the same 10 s).
    logon_deadline_s: float = 10.0
    # What the account starts with, per asset; its orders must fit (TrueX's "Insufficient
    # balance"). The simulator's own traders ("SIM-" owners) are not limited.
    balances: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_BALANCES))


def acceptor_settings(
    settings: SimulatorSettings, engine_ports: tuple[int, int] | None = None
) -> tuple[fix.SessionSettings, dict[str, SessionRole]]:
    """Strict acceptor settings: the TrueX dictionaries validate every inbound message.

    They are the simulator's copy (:mod:`truex_qf.sim.dictionaries`): spec/ plus what TrueX's
    gateway was seen to accept. With ``engine_ports`` (order entry, market data) the engine
    listens there on the loopback, behind :class:`~truex_qf.sim.gate.VenueGate`;
    without, on the public ports itself.
    """
    spec_dir = venue_spec_dir()
    host, ports = settings.host, (settings.order_entry_port, settings.market_data_port)
    if engine_ports is not None:
        host, ports = "127.0.0.1", engine_ports
    default = {
        "ConnectionType": "acceptor",
        "BeginString": "FIXT.1.1",
        "DefaultApplVerID": "FIX.5.0SP2",
        "StartTime": "00:00:00",
        "EndTime": "00:00:00",
        "NonStopSession": "Y",
        "SocketAcceptAddress": host,
        "SocketNodelay": "Y",
        "TimestampPrecision": "6",
        "HeartBtInt": str(settings.heartbeat_s),
        "UseDataDictionary": "Y",
        "TransportDataDictionary": spec_dir / TRANSPORT_FILE,
        "AppDataDictionary": spec_dir / APPLICATION_FILE,
        "ValidateFieldsOutOfOrder": "Y",
        "ValidateFieldsHaveValues": "Y",
        "ValidateUserDefinedFields": "Y",
        "AllowUnknownMsgFields": "N",
        "PersistMessages": "Y",
        # Whether TrueX checks SendingTime accuracy is unknown (spec §14.21; no 373=10 seen):
        # the lenient side, a stale SendingTime is accepted.
        "CheckLatency": "N",
    }
    sessions = [
        {
            "SenderCompID": comp_id,
            "TargetCompID": settings.account.sender_comp_id,
            "SocketAcceptPort": port,
        }
        for comp_id, port in zip(
            (settings.order_entry_comp_id, settings.market_data_comp_id), ports, strict=True
        )
    ]
    engine_settings = settings_from_sections(default, sessions, "simulator settings")
    roles = {}
    for session_id in engine_settings.getSessions():
        comp_id = session_id.getSenderCompID().getValue()
        roles[session_id.toString()] = (
            SessionRole.ORDER_ENTRY
            if comp_id == settings.order_entry_comp_id
            else SessionRole.MARKET_DATA
        )
    return engine_settings, roles


class SimulatedVenue:
    """Owns the gate, the acceptor behind it, their factories and the matching engine."""

    def __init__(self, settings: SimulatorSettings, engine: MatchingEngine | None = None) -> None:
        self.settings = settings
        self.engine = engine or MatchingEngine(
            settings.symbols, balances=BalanceBook(settings.balances)
        )
        self._routes = [
            Route(settings.order_entry_port, free_port()),
            Route(settings.market_data_port, free_port()),
        ]
        engine_ports = (self._routes[0].upstream_port, self._routes[1].upstream_port)
        engine_settings, roles = acceptor_settings(settings, engine_ports)
        self._engine_settings = engine_settings
        self.application = VenueApplication(settings.account, self.engine, roles, settings.symbols)
        self._store_factory = fix.MemoryStoreFactory()
        self._log_factory = RedactingLogFactory()
        self._acceptor: fix.ThreadedSocketAcceptor | None = None
        self.gate: VenueGate | None = None

    def start(self) -> None:
        self.application.closed = False
        try:
            self._acceptor = fix.ThreadedSocketAcceptor(
                self.application, self._store_factory, self._engine_settings, self._log_factory
            )
            self._acceptor.start()
        except (fix.ConfigError, fix.RuntimeError) as exc:
            # dropped, so that its sessions leave QuickFIX's registry with it: another
            # acceptor for the same account (a retry on other ports) may be made next
            self._acceptor = None
            raise TruexError(f"cannot start the simulated exchange: {exc}") from None
        self.gate = VenueGate(
            self.settings.host, self._routes, logon_deadline_s=self.settings.logon_deadline_s
        )
        try:
            self.gate.start()
        except OSError as exc:
            self.gate = None
            self.stop(force=True)
            raise TruexError(f"cannot start the simulated exchange: {exc}") from None

    def stop(self, force: bool = False) -> None:
        """Close the gate (every client connection), stop publishing (other threads may still
        hold the engine), then stop the engine."""
        if self.gate is not None:
            self.gate.stop()
            self.gate = None
        self.application.close()
        if self._acceptor is not None:
            self._acceptor.stop(force)
            self._acceptor = None

    def wait_client_logged_on(self, role: SessionRole, timeout_s: float) -> None:
        """For tests: until the client's session of ``role`` is logged on here."""
        deadline = time.monotonic() + timeout_s
        while not self.application.is_logged_on(role):
            if time.monotonic() > deadline:
                raise SessionTimeoutError(f"client {role.value} session not logged on")
            time.sleep(0.01)

    def seed_book(
        self,
        symbol: str,
        mid: Decimal,
        levels: int = 5,
        spacing_bps: Decimal = Decimal(10),
        size: Decimal = Decimal("0.01"),
    ) -> None:
        """Rest house orders around ``mid`` so that there is a market to price against."""
        grid = self.engine.grid
        self.engine.set_reference_price(symbol, mid)
        orders = []
        for level in range(1, levels + 1):
            offset = mid * spacing_bps * level / Decimal(10_000)
            for side, price in ((Side.BUY, mid - offset), (Side.SELL, mid + offset)):
                rounded = grid.round_price(price, side is Side.BUY)
                orders.append(
                    NewOrder(
                        f"H{symbol[:3]}{side.value}{level:03d}{time.time_ns() % 10**8:08d}",
                        symbol,
                        side,
                        grid.round_quantity(rounded, size),
                        rounded,
                    )
                )
        for order in orders:
            self.application.publish(self.engine.submit(HOUSE_OWNER, order))
