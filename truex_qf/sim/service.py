"""``truex-qf simulate``: a complete local TrueX, and the settings a client needs to reach it.

One process serves what the program talks to at TrueX: the order-entry and market-data FIX
gateways (:class:`~truex_qf.sim.server.SimulatedVenue`), the REST API that
reconciliation, the deadman cancel and ``doctor`` use
(:class:`~truex_qf.sim.rest_server.SimulatorRestServer`) and, on request, simulated traders
(:class:`~truex_qf.sim.flow.SimulatedFlow`).

Whom it accepts comes from the same variables a client reads, so one exported set drives both
ends. With none set it accepts a built-in demo identity, and prints it: a user should get from
``simulate`` in one shell to ``run`` in another by pasting what it printed, nothing else.
The demo key and secret are printed because they open nothing but a simulator; a key or secret
taken from the environment is never printed, only named.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from truex_qf.config import Credentials, load_credentials, load_identity
from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.sim.balances import DEFAULT_BALANCES, parse_balances
from truex_qf.sim.fix_acceptor import VenueAccount
from truex_qf.sim.flow import FlowSettings, SimulatedFlow
from truex_qf.sim.rest_server import SimulatorRestServer
from truex_qf.sim.server import SimulatedVenue, SimulatorSettings

DEFAULT_REST_PORT = 9742  # TrueX UAT's REST port (spec §9.1)

# The simulator's built-in demo identity. None of these is a secret: they are published here,
# and they open only a local simulator, never TrueX.
DEMO_API_KEY = "00000000-0000-4000-8000-00000000d3e0"
DEMO_SECRET_KEY = "truex-qf-simulator-demo-secret-not-a-secret"
DEMO_SENDER_COMP_ID = "DEMO_MM"
DEMO_CLIENT_ID = "10000000000000001"

# The simulated makers' innermost quotes stand this far either side of the fair value: outside
# the default strategy's 30 bps, so that `run` with defaults is at the top of the book and the
# simulated takers (who hit the best price) reach its quotes. `make demo` uses its own,
# narrower settings with its own strategy.
FLOW_MAKER_HALF_SPREAD_BPS = Decimal(40)

CREDENTIAL_VARIABLES = ("TRUEX_API_KEY", "TRUEX_SECRET_KEY")
IDENTITY_DEFAULTS = {
    "TRUEX_SENDER_COMP_ID": DEMO_SENDER_COMP_ID,
    "TRUEX_CLIENT_ID": DEMO_CLIENT_ID,
}
_ANY_ADDRESS = {"", "0.0.0.0", "::"}


@dataclass(frozen=True)
class SimulatorIdentity:
    """The account the simulator accepts, and whether its key and secret are the demo ones."""

    account: VenueAccount
    demo_credentials: bool


def simulator_identity(env: Mapping[str, str]) -> SimulatorIdentity:
    """The account from ``env``; the demo one for whatever is not set.

    The API key and secret go together: both from the environment, or (neither set) both the
    demo ones. One without the other is a mistake worth one line, not a silent mix.
    """
    present = [name for name in CREDENTIAL_VARIABLES if env.get(name, "").strip()]
    if len(present) == 1:
        (missing,) = set(CREDENTIAL_VARIABLES) - set(present)
        raise ConfigError(
            missing,
            f"not set while {present[0]} is; set both, or neither for the simulator's demo "
            "credentials",
        )
    demo = not present
    credentials = (
        Credentials(api_key=DEMO_API_KEY, secret_key=DEMO_SECRET_KEY)
        if demo
        else load_credentials(env)
    )
    merged = dict(IDENTITY_DEFAULTS)
    merged.update({name: env[name] for name in IDENTITY_DEFAULTS if env.get(name, "").strip()})
    sender, client_id = load_identity(merged)
    return SimulatorIdentity(VenueAccount(sender, client_id, credentials), demo)


def starting_balances(settings: Iterable[str]) -> dict[str, Decimal]:
    """The account's starting balances: the defaults, each ``CCY=AMOUNT`` given replacing
    (or adding) one currency (:func:`~truex_qf.sim.balances.parse_balances`). ``BTC=0``
    leaves the account without BTC."""
    return parse_balances(settings, base=DEFAULT_BALANCES)


def client_host(listen_host: str) -> str:
    """The address a client on this machine dials for a server listening on ``listen_host``."""
    return "127.0.0.1" if listen_host in _ANY_ADDRESS else listen_host


def client_exports(
    identity: SimulatorIdentity,
    host: str,
    order_entry_port: int,
    market_data_port: int,
    rest_url: str,
) -> list[str]:
    """The shell lines that point a client (``run``, ``test-order``, ``doctor``) at us.

    Values are shell-quoted. The key and secret are printed only when they are the demo
    ones; from the environment they are named, so that no secret a user set reaches a terminal
    or a log.
    """
    account = identity.account
    lines = [
        "# a client's settings for this simulator; paste them into the client's shell:",
        f"export TRUEX_FIX_HOST={shlex.quote(client_host(host))}",
        f"export TRUEX_ORDER_ENTRY_PORT={order_entry_port}",
        f"export TRUEX_MARKET_DATA_PORT={market_data_port}",
        f"export TRUEX_REST_URL={shlex.quote(rest_url)}",
    ]
    if identity.demo_credentials:
        lines += [
            "# the simulator's built-in demo key and secret: not secrets, they open only a "
            "local simulator",
            f"export TRUEX_API_KEY={shlex.quote(account.credentials.api_key)}",
            f"export TRUEX_SECRET_KEY={shlex.quote(account.credentials.secret_key)}",
        ]
    else:
        lines += [
            "# TRUEX_API_KEY and TRUEX_SECRET_KEY: the simulator accepts this shell's; give the "
            "client the same (not printed)",
            "export TRUEX_API_KEY TRUEX_SECRET_KEY",
        ]
    lines += [
        f"export TRUEX_SENDER_COMP_ID={shlex.quote(account.sender_comp_id)}",
        f"export TRUEX_CLIENT_ID={shlex.quote(account.client_id)}",
    ]
    return lines


class LocalTruex:
    """The FIX gateways, the REST API and the simulated traders, started and stopped together.

    ``seeds`` are (symbol, mid) pairs: with ``flow`` each gets simulated traders around its mid,
    without it a static ladder of resting orders.
    """

    def __init__(
        self,
        settings: SimulatorSettings,
        rest_port: int,
        seeds: Sequence[tuple[str, Decimal]] = (),
        flow: bool = False,
    ) -> None:
        self.settings = settings
        self.venue = SimulatedVenue(settings)
        self.rest = SimulatorRestServer(self.venue, settings.host, rest_port)
        self.seeds = tuple(seeds)
        self.flow = flow
        self._flows: list[SimulatedFlow] = []

    @property
    def rest_url(self) -> str:
        """The REST root a client on this machine uses."""
        return f"http://{client_host(self.settings.host)}:{self.rest.port}"

    def start(self) -> None:
        """Listen on every port, then seed; on any failure what started is stopped again."""
        oe_port, md_port = self.settings.order_entry_port, self.settings.market_data_port
        try:
            host = self.settings.host
            _listen(self.venue.start, host, f"ports {oe_port} and {md_port}", "--oe-port/--md-port")
            _listen(self.rest.start, host, f"port {self.rest.port}", "--rest-port")
            for symbol, mid in self.seeds:
                if self.flow:
                    self._flows.append(self._start_flow(symbol, mid))
                else:
                    self.venue.seed_book(symbol, mid)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Traders first (they drive the engine), then REST, then the FIX gateways."""
        for running in self._flows:
            running.stop()
        self._flows.clear()
        self.rest.stop()
        self.venue.stop()

    def _start_flow(self, symbol: str, mid: Decimal) -> SimulatedFlow:
        running = SimulatedFlow(
            self.venue.engine,
            self.venue.application.publish,
            self.venue.application.lock,
            FlowSettings(
                symbol=symbol,
                start_price=mid,
                maker_half_spread_bps=FLOW_MAKER_HALF_SPREAD_BPS,
            ),
        )
        running.start()
        return running


def _listen(start: Callable[[], None], host: str, where: str, options: str) -> None:
    """``start()``; failing to listen names what to change.

    A port in use is the machine's state (exit 1: stop the other program or pick a port); an
    address that is not this machine's is the user's input (exit 2, naming --host).
    """
    try:
        start()
    except TruexError as exc:
        if "in use" in str(exc):
            raise TruexError(
                f"{exc} ({where}: is another simulator running? Stop it, or choose others "
                f"with {options})"
            ) from None
        raise ConfigError("--host", f"{host!r}: {exc}; give an address of this machine") from None
