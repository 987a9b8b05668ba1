"""``truex-qf doctor`` against the real simulator and against fake venues, all on 127.0.0.1.

Each failure mode of the team's notes is staged for real (a silent TCP server, a server that
drops the Logon, swapped ports on the simulator, ...) and the test asserts the distinct words
the doctor uses for it. Every run also asserts that neither the secret nor a Logon signature
appears in any printed line.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.processes import account_vars
from tests.support.rawfix import frame
from truex_qf.app.demo import LocalVenue
from truex_qf.config import FixSettings
from truex_qf.domain.errors import ConfigError
from truex_qf.domain.netutil import free_port
from truex_qf.ops.doctor import (
    CLOCK_SKEW,
    CONFIG,
    DNS_FIX,
    LOGON_MD,
    LOGON_OE,
    RATE_LIMITED,
    REST_HEALTH,
    TCP_MD,
    TCP_OE,
    TCP_REST,
    VENUE_SILENT,
    WRONG_PORT,
    Check,
    Verdict,
    _Doctor,
    exit_code,
    format_check,
    parse_sending_time,
    run_doctor,
)
from truex_qf.sim.rest_server import SimulatorRestServer

TIMEOUT_S = 1.0
# Against the real simulator a probe waits only when something is wrong, so a longer bound
# costs nothing: in one full run on a loaded machine, a cross-probe of the simulator got no
# answer within 1 s and the swapped ports read as a rate limit.
VENUE_TIMEOUT_S = 5.0
SOH = "\x01"


# --------------------------------------------------------------------------- helpers


def env_for(settings: FixSettings, **overrides: str) -> dict[str, str]:
    """The doctor's environment for ``settings``; REST off unless overridden."""
    return {**account_vars(settings), "TRUEX_REST_URL": "off", **overrides}


def fake_env(oe_port: int, md_port: int, **overrides: str) -> dict[str, str]:
    env = {
        "TRUEX_FIX_HOST": "127.0.0.1",
        "TRUEX_ORDER_ENTRY_PORT": str(oe_port),
        "TRUEX_MARKET_DATA_PORT": str(md_port),
        "TRUEX_API_KEY": "11111111-2222-4333-8444-555555555555",
        "TRUEX_SECRET_KEY": "fake-secret-never-printed",
        "TRUEX_SENDER_COMP_ID": "DOCTOR_TEST",
        "TRUEX_CLIENT_ID": "10000000000000001",
        "TRUEX_REST_URL": "off",
    }
    env.update(overrides)
    return env


class Diagnosis:
    """One doctor run: the checks, the printed lines, and lookups by check name."""

    def __init__(
        self, env: dict[str, str], signatures: Sequence[str] = (), timeout_s: float = TIMEOUT_S
    ) -> None:
        self.lines: list[str] = []
        self.reported: list[Check] = []

        def report(check: Check) -> None:
            self.reported.append(check)
            self.lines.append(format_check(check))

        started = time.monotonic()
        self.checks = run_doctor(env, timeout_s=timeout_s, report=report)
        self.elapsed_s = time.monotonic() - started
        self.output = "\n".join(self.lines)
        assert self.reported == self.checks  # reported as they ran, in order
        assert all("\n" not in line for line in self.lines)  # one line per check
        secret = env.get("TRUEX_SECRET_KEY", "")
        if secret:
            assert secret not in self.output
        for signature in signatures:
            assert signature not in self.output
        assert not re.search(r"554=(?!\*\*\*)", self.output)

    def __getitem__(self, name: str) -> Check:
        (check,) = [check for check in self.checks if check.name == name]
        return check


class FakeVenue:
    """A TCP server that reads the client's Logon and then does what ``behaviour`` says.

    ``behaviour(conn, logon)`` gets the connection and the Logon's fields; connections it
    leaves open stay open (and unanswered) until :meth:`stop`. The 554 values received are
    kept so that tests can check they never show up in the doctor's output.
    """

    def __init__(self, behaviour: Callable[[socket.socket, dict[int, str]], None]) -> None:
        self.behaviour = behaviour
        self.signatures: list[str] = []
        self.logons = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        logon = read_message(conn, self._stop)
        if logon is None:
            return
        self.logons += 1
        if 554 in logon:
            self.signatures.append(logon[554])
        self.behaviour(conn, logon)

    def stop(self) -> None:
        self._stop.set()
        self._server.close()
        for conn in self._connections:
            conn.close()
        for thread in self._threads:
            thread.join(timeout=2)


def read_message(conn: socket.socket, stop: threading.Event) -> dict[int, str] | None:
    """One FIX message off ``conn`` (None when closed or stopped)."""
    buffer = b""
    conn.settimeout(0.05)
    while not stop.is_set():
        end = buffer.find(b"\x0110=")
        if end >= 0 and buffer.find(b"\x01", end + 1) >= 0:
            fields: dict[int, str] = {}
            for item in buffer.decode().split(SOH):
                if item:
                    tag, _, value = item.partition("=")
                    fields.setdefault(int(tag), value)
            return fields
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return None
        if not chunk:
            return None
        buffer += chunk
    return None


def venue_stamp(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).strftime("%Y%m%d-%H:%M:%S.%f")


def answer(conn: socket.socket, logon: dict[int, str], msg_type: str, *body: tuple[int, str]):
    """Send a venue message answering ``logon`` (49/56 mirrored)."""
    header = [(35, msg_type), (49, logon[56]), (56, logon[49]), (34, "1"), (52, venue_stamp())]
    conn.sendall(frame(header + list(body)))


def accept_logon(
    offset_s: float = 0.0, comp_id: str | None = None
) -> Callable[[socket.socket, dict[int, str]], None]:
    """A behaviour: answer 35=A (with a shifted SendingTime / another CompID), then Logout."""

    def behaviour(conn: socket.socket, logon: dict[int, str]) -> None:
        reply = [
            (35, "A"),
            (49, comp_id or logon[56]),
            (56, logon[49]),
            (34, "1"),
            (52, venue_stamp(offset_s)),
            (108, "30"),
            (1137, "9"),
        ]
        conn.sendall(frame(reply))
        if read_message(conn, threading.Event()) is not None:
            answer(conn, logon, "5")
        conn.close()

    return behaviour


def stay_silent(conn: socket.socket, logon: dict[int, str]) -> None:
    """Accept, read the Logon, never answer (the connection stays open)."""


def drop_connection(conn: socket.socket, logon: dict[int, str]) -> None:
    conn.close()


@pytest.fixture
def fakes() -> Iterator[list[FakeVenue]]:
    started: list[FakeVenue] = []
    yield started
    for fake in started:
        fake.stop()


def start_fake(fakes: list[FakeVenue], behaviour) -> FakeVenue:  # type: ignore[no-untyped-def]
    fake = FakeVenue(behaviour)
    fakes.append(fake)
    return fake


@pytest.fixture
def rest_server(local_venue: LocalVenue) -> Iterator[SimulatorRestServer]:
    server = SimulatorRestServer(local_venue.venue)
    server.start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- the simulator


def test_every_check_passes_against_the_simulator(local_venue, rest_server) -> None:
    settings = local_venue.client_settings
    diagnosis = Diagnosis(
        env_for(settings, TRUEX_REST_URL=rest_server.url), timeout_s=VENUE_TIMEOUT_S
    )
    assert [check.verdict for check in diagnosis.checks] == [Verdict.OK] * 10, diagnosis.output
    assert exit_code(diagnosis.checks) == 0
    assert "accepted the Logon" in diagnosis[LOGON_OE].detail
    assert "TRUEX_UAT_MD" in diagnosis[LOGON_MD].detail
    assert "is ACTIVE" in diagnosis[REST_HEALTH].detail
    skew = float(re.search(r"is (\d+\.\d+) s", diagnosis[CLOCK_SKEW].detail).group(1))
    assert skew < 0.5
    assert settings.credentials.api_key not in diagnosis.output  # only its first characters


def test_wrong_secret_fails_the_logon_with_the_venues_text(local_venue, rest_server) -> None:
    settings = local_venue.client_settings
    env = env_for(
        settings, TRUEX_SECRET_KEY="not-the-secret-at-all", TRUEX_REST_URL=rest_server.url
    )
    diagnosis = Diagnosis(env, timeout_s=VENUE_TIMEOUT_S)
    for name in (LOGON_OE, LOGON_MD):
        check = diagnosis[name]
        assert check.verdict is Verdict.FAIL
        assert '"Authentication failed"' in check.detail
        assert "373=8" in check.detail
        assert "TRUEX_SECRET_KEY" in check.hint
    assert diagnosis[REST_HEALTH].verdict is Verdict.FAIL
    assert "401" in diagnosis[REST_HEALTH].detail
    assert settings.credentials.secret_key not in diagnosis.output
    assert exit_code(diagnosis.checks) == 1


def test_nothing_listening_is_refused(local_venue) -> None:
    dead_port = free_port()
    diagnosis = Diagnosis(
        env_for(local_venue.client_settings, TRUEX_ORDER_ENTRY_PORT=str(dead_port)),
        timeout_s=VENUE_TIMEOUT_S,
    )
    tcp = diagnosis[TCP_OE]
    assert tcp.verdict is Verdict.FAIL
    assert f"127.0.0.1:{dead_port} refused the connection" in tcp.detail
    assert "nothing listens there" in tcp.hint
    assert diagnosis[LOGON_OE].verdict is Verdict.SKIP
    assert diagnosis[LOGON_MD].verdict is Verdict.OK
    assert exit_code(diagnosis.checks) == 1


def test_a_dropped_syn_is_a_timeout_not_a_refusal(fakes) -> None:
    # A listener with a full accept queue drops further SYNs (Linux): the connect hangs.
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            try:
                fillers.append(socket.create_connection(("127.0.0.1", port), timeout=0.3))
            except TimeoutError:
                break
        else:
            pytest.skip("this kernel does not drop SYNs on a full accept queue")
        fake = start_fake(fakes, stay_silent)
        diagnosis = Diagnosis(fake_env(port, fake.port))
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    tcp = diagnosis[TCP_OE]
    assert tcp.verdict is Verdict.FAIL
    assert "connect timed out after 1 s" in tcp.detail
    assert "refused" not in tcp.detail
    assert "firewall" in tcp.hint


def test_unknown_host_fails_dns_and_skips_the_rest(fakes) -> None:
    env = fake_env(1, 2, TRUEX_FIX_HOST="no-such-host.invalid")
    diagnosis = Diagnosis(env)
    assert diagnosis[DNS_FIX].verdict is Verdict.FAIL
    assert "cannot resolve no-such-host.invalid" in diagnosis[DNS_FIX].detail
    for name in (TCP_OE, TCP_MD, LOGON_OE, LOGON_MD, CLOCK_SKEW):
        assert diagnosis[name].verdict is Verdict.SKIP


# --------------------------------------------------------------------------- failure modes


def test_proxy_up_but_venue_silent(fakes) -> None:
    oe, md = start_fake(fakes, stay_silent), start_fake(fakes, stay_silent)
    diagnosis = Diagnosis(fake_env(oe.port, md.port), oe.signatures)
    for name, fake in ((LOGON_OE, oe), (LOGON_MD, md)):
        check = diagnosis[name]
        assert check.verdict is Verdict.FAIL
        assert f"127.0.0.1:{fake.port} accepts TCP connections but nothing answered" in check.detail
        assert VENUE_SILENT in check.detail
        assert "proxy or VPN endpoint with no venue behind it, or a wrong port" in check.hint
        assert RATE_LIMITED not in check.detail and WRONG_PORT not in check.detail
    assert diagnosis[TCP_OE].verdict is Verdict.OK  # the TCP endpoint itself is fine
    assert diagnosis[CLOCK_SKEW].verdict is Verdict.SKIP
    assert oe.signatures and all(
        sig not in diagnosis.output for sig in oe.signatures + md.signatures
    )
    assert diagnosis.elapsed_s < 6 * TIMEOUT_S  # every wait is bounded


def test_rate_limit_connection_closed_right_after_logon(fakes) -> None:
    oe, md = start_fake(fakes, drop_connection), start_fake(fakes, drop_connection)
    diagnosis = Diagnosis(fake_env(oe.port, md.port))
    for name in (LOGON_OE, LOGON_MD):
        check = diagnosis[name]
        assert check.verdict is Verdict.FAIL
        assert "closed the connection right after the" in check.detail
        assert RATE_LIMITED in check.detail
        assert "wait several minutes before retrying" in check.hint
        assert "do not retry in a loop" in check.hint
        assert WRONG_PORT not in check.detail and VENUE_SILENT not in check.detail
    # one cross-probe per session (to rule out swapped ports), no more
    assert oe.logons + md.logons == 4


def test_rate_limit_logout_text_from_a_fake_venue(fakes) -> None:
    def refuse(conn: socket.socket, logon: dict[int, str]) -> None:
        answer(conn, logon, "5", (1409, "7"), (58, "Logons not allowed now"))
        conn.close()

    oe, md = start_fake(fakes, refuse), start_fake(fakes, accept_logon())
    diagnosis = Diagnosis(fake_env(oe.port, md.port))
    check = diagnosis[LOGON_OE]
    assert check.verdict is Verdict.FAIL
    assert '"Logons not allowed now" (35=5, 1409=7)' in check.detail
    assert RATE_LIMITED in check.detail
    assert "wait several minutes before retrying" in check.hint
    assert diagnosis[LOGON_MD].verdict is Verdict.OK


def test_rate_limit_drill_of_the_simulator(local_venue) -> None:
    local_venue.venue.application.refuse_logons = 1
    diagnosis = Diagnosis(env_for(local_venue.client_settings), timeout_s=VENUE_TIMEOUT_S)
    check = diagnosis[LOGON_OE]
    assert check.verdict is Verdict.FAIL
    assert "Logons not allowed now" in check.detail
    assert RATE_LIMITED in check.detail
    assert "wait several minutes before retrying" in check.hint
    assert diagnosis[LOGON_MD].verdict is Verdict.OK  # the drill refused one logon only


def test_ports_swapped_against_the_simulator(local_venue) -> None:
    settings = local_venue.client_settings
    env = env_for(
        settings,
        TRUEX_ORDER_ENTRY_PORT=str(settings.market_data_port),
        TRUEX_MARKET_DATA_PORT=str(settings.order_entry_port),
    )
    diagnosis = Diagnosis(env, timeout_s=VENUE_TIMEOUT_S)
    # The simulator drops a Logon for a CompID pair it does not serve on that port; the
    # cross-probe finds each session on the other port.
    for name, other_port in (
        (LOGON_OE, settings.order_entry_port),
        (LOGON_MD, settings.market_data_port),
    ):
        check = diagnosis[name]
        assert check.verdict is Verdict.FAIL
        assert WRONG_PORT in check.detail
        assert f"but port {other_port}" in check.detail
        assert "look swapped" in check.detail
        assert "19484 for OE and 20484 for MD" in check.hint
        assert RATE_LIMITED not in check.detail
    assert exit_code(diagnosis.checks) == 1


def test_identical_ports_warn_and_the_second_session_fails(local_venue) -> None:
    settings = local_venue.client_settings
    env = env_for(settings, TRUEX_MARKET_DATA_PORT=str(settings.order_entry_port))
    diagnosis = Diagnosis(env, timeout_s=VENUE_TIMEOUT_S)
    config = diagnosis[CONFIG]
    assert config.verdict is Verdict.WARN
    assert f"OE and MD use the same port {settings.order_entry_port}" in config.detail
    assert "TrueX uses 19484 for OE and 20484 for MD" in config.hint
    assert diagnosis[LOGON_OE].verdict is Verdict.OK
    md = diagnosis[LOGON_MD]
    assert md.verdict is Verdict.FAIL
    assert WRONG_PORT in md.detail
    assert "both use port" in md.detail


def test_md_port_answering_with_the_oe_comp_id(fakes) -> None:
    oe = start_fake(fakes, accept_logon())
    md = start_fake(fakes, accept_logon(comp_id="TRUEX_UAT_OE"))
    diagnosis = Diagnosis(fake_env(oe.port, md.port))
    assert diagnosis[LOGON_OE].verdict is Verdict.OK
    check = diagnosis[LOGON_MD]
    assert check.verdict is Verdict.FAIL
    assert "answered the MD Logon as TRUEX_UAT_OE instead of TRUEX_UAT_MD" in check.detail
    assert WRONG_PORT in check.detail


@pytest.mark.parametrize(
    ("msg_type", "body", "shown"),
    [
        ("j", ((45, "0"), (372, "A"), (380, "0"), (58, "Invalid session ID")), "35=j, 380=0"),
        ("5", ((58, "Unknown CompID TRUEX_UAT_OE"),), "35=5"),
    ],
)
def test_oe_logon_refused_as_wrong_session(fakes, msg_type, body, shown) -> None:
    def refuse(conn: socket.socket, logon: dict[int, str]) -> None:
        answer(conn, logon, msg_type, *body)
        conn.close()

    oe, md = start_fake(fakes, refuse), start_fake(fakes, accept_logon())
    diagnosis = Diagnosis(fake_env(oe.port, md.port))
    check = diagnosis[LOGON_OE]
    assert check.verdict is Verdict.FAIL
    assert f"({shown})" in check.detail
    assert WRONG_PORT in check.detail
    assert RATE_LIMITED not in check.detail


def test_venue_echoing_the_signature_and_secret_is_scrubbed(fakes) -> None:
    env = fake_env(0, 0)
    secret = env["TRUEX_SECRET_KEY"]

    def echo(conn: socket.socket, logon: dict[int, str]) -> None:
        answer(conn, logon, "3", (373, "8"), (58, f"bad 554={logon[554]} for {secret}"))
        conn.close()

    oe, md = start_fake(fakes, echo), start_fake(fakes, echo)
    env.update(TRUEX_ORDER_ENTRY_PORT=str(oe.port), TRUEX_MARKET_DATA_PORT=str(md.port))
    diagnosis = Diagnosis(env, oe.signatures + md.signatures)
    assert "bad 554=*** for ***" in diagnosis[LOGON_OE].detail


# --------------------------------------------------------------------------- clock


@pytest.mark.parametrize(
    ("offset_s", "verdict", "low", "high"),
    [(-10.0, Verdict.WARN, 9.5, 10.5), (-200.0, Verdict.FAIL, 199.5, 200.5)],
)
def test_clock_skew_from_the_venues_logon_reply(fakes, offset_s, verdict, low, high) -> None:
    oe, md = start_fake(fakes, accept_logon(offset_s)), start_fake(fakes, accept_logon(offset_s))
    diagnosis = Diagnosis(fake_env(oe.port, md.port))
    assert diagnosis[LOGON_OE].verdict is Verdict.OK
    check = diagnosis[CLOCK_SKEW]
    assert check.verdict is verdict
    measured = float(re.search(r"clock is (\d+\.\d+) s behind ours", check.detail).group(1))
    assert low < measured < high
    assert "35=A" in check.detail
    assert "NTP" in check.hint
    assert exit_code(diagnosis.checks) == (1 if verdict is Verdict.FAIL else 0)


def test_parse_sending_time() -> None:
    base = datetime(2025, 10, 10, 13, 35, 58, tzinfo=UTC).timestamp()
    assert parse_sending_time("20251010-13:35:58") == base
    assert parse_sending_time("20251010-13:35:58.250") == pytest.approx(base + 0.25)
    assert parse_sending_time("20251010-13:35:58.250123") == pytest.approx(base + 0.250123)
    assert parse_sending_time("garbage") is None
    assert parse_sending_time("") is None


# --------------------------------------------------------------------------- config


def test_missing_config_names_the_variable_and_skips_the_rest() -> None:
    env = fake_env(19484, 20484)
    del env["TRUEX_SECRET_KEY"]
    diagnosis = Diagnosis(env)
    config = diagnosis[CONFIG]
    assert config.verdict is Verdict.FAIL
    assert config.detail == "not set: TRUEX_SECRET_KEY"
    assert [check.verdict for check in diagnosis.checks[1:]] == [Verdict.SKIP] * 9
    assert all("configuration incomplete" in check.detail for check in diagnosis.checks[1:])
    assert exit_code(diagnosis.checks) != 0


def test_malformed_rest_url_is_a_config_failure() -> None:
    diagnosis = Diagnosis(fake_env(19484, 20484, TRUEX_REST_URL="ftp://example"))
    assert diagnosis[CONFIG].verdict is Verdict.FAIL
    assert diagnosis[CONFIG].detail.startswith("TRUEX_REST_URL:")
    assert diagnosis[TCP_REST].verdict is Verdict.SKIP


def test_swapped_default_ports_warn() -> None:
    # Nothing listens on these ports on the test host: only the config line matters here.
    env = fake_env(20484, 19484, TRUEX_FIX_HOST="no-such-host.invalid")
    diagnosis = Diagnosis(env)
    assert diagnosis[CONFIG].verdict is Verdict.WARN
    assert "look swapped" in diagnosis[CONFIG].detail


@pytest.mark.parametrize(
    ("host", "rest_url", "verdict"),
    [
        ("127.0.0.1", None, Verdict.WARN),  # the old recipe: FIX at simulate, REST at UAT
        ("localhost", None, Verdict.WARN),
        ("127.0.0.1", "http://127.0.0.1:9742", Verdict.OK),
        ("127.0.0.1", "off", Verdict.OK),
        ("uat.truex.co", None, Verdict.OK),
    ],
)
def test_fix_on_this_machine_with_rest_at_uat_warns(host, rest_url, verdict) -> None:
    # Only the config line: the later checks would reach the network for TrueX UAT.
    env = fake_env(19484, 20484, TRUEX_FIX_HOST=host)
    del env["TRUEX_REST_URL"]
    if rest_url is not None:
        env["TRUEX_REST_URL"] = rest_url
    reported: list[Check] = []
    assert _Doctor(env, TIMEOUT_S, reported.append).check_config() is not None
    (config,) = reported
    assert config.verdict is verdict, config
    if verdict is Verdict.WARN:
        assert "TRUEX_REST_URL unset" in config.detail
        assert "TRUEX_REST_URL" in config.hint and "simulate" in config.hint


@pytest.mark.parametrize("timeout_s", [0.0, -1.0, float("nan"), float("inf")])
def test_a_timeout_that_is_not_a_positive_number_is_a_config_error(timeout_s) -> None:
    with pytest.raises(ConfigError) as caught:
        run_doctor(fake_env(19484, 20484), timeout_s=timeout_s)
    assert caught.value.setting == "--timeout"


def test_format_check_is_one_line_with_the_hint() -> None:
    line = format_check(Check(TCP_MD, Verdict.FAIL, "127.0.0.1:1 refused the connection", "hm"))
    assert line == "FAIL  TCP MD         127.0.0.1:1 refused the connection -- hint: hm"
    assert format_check(Check(TCP_REST, Verdict.OK, "fine")) == "OK    TCP REST       fine"


def test_a_proxy_answering_something_that_is_not_fix(fakes) -> None:
    def http(conn: socket.socket, logon: dict[int, str]) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    oe, md = start_fake(fakes, http), start_fake(fakes, accept_logon())
    check = Diagnosis(fake_env(oe.port, md.port))[LOGON_OE]
    assert check.verdict is Verdict.FAIL
    assert "it sent 28 bytes that are not FIX" in check.detail
    assert VENUE_SILENT in check.detail
