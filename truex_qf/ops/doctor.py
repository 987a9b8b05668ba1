"""``truex-qf doctor``: can this machine trade on TrueX? One line per check, with a hint.

The checks run in order, each reported as soon as it is done, and a check whose precondition
failed is reported as SKIP instead of piling a second error on the first:

1. ``config``: every setting present and well formed (the variable named, never its value);
   identical or swapped OE/MD ports are a warning.
2. ``DNS FIX host`` / ``DNS REST host``: the names resolve (bounded by the timeout).
3. ``TCP OE`` / ``TCP MD`` / ``TCP REST``: connect, telling *refused* (nothing listens: wrong
   port or gateway down) from *timed out* (packets dropped: firewall, wrong host, VPN down).
4. ``FIX logon OE`` / ``FIX logon MD``: a signed Logon per session; accepted, refused with the
   venue's own text, or no answer. The failure modes met in practice each get their own words:
   :data:`VENUE_SILENT`, :data:`RATE_LIMITED` and :data:`WRONG_PORT`.
5. ``clock skew``: the venue's SendingTime(52) on its answer against our clock (WARN above
   :data:`SKEW_WARN_S`, FAIL above QuickFIX's MaxLatency, :data:`SKEW_FAIL_S`).
6. ``REST health``: one authenticated GET of the API key's clients.

Why the logon probe is a raw socket and not :class:`~truex_qf.fix.client.FixClient`: the
doctor needs what the engine hides. It must tell "no answer" from "connection closed" from
"refused with this text", bound every wait by its own timeout (QuickFIX reconnects on its own
schedule and reports a refusal only as a Logout callback), read the venue's SendingTime and
CompIDs off the reply, and log on twice to the same gateway (a cross-probe) without touching
QuickFIX's process-wide session registry or the engine's store in ``TRUEX_STATE_DIR``. The
Logon follows the spec's recipe (§1.5, §2) and is signed by the same
:func:`~truex_qf.fix.signing.logon_signature` the engine uses, so the probe cannot pass where
the real client would fail. After an accepted Logon the probe logs out at once.

Nothing printed ever holds the secret or a Logon signature: every line goes through a scrubber
that masks both, even if a venue were to echo them back.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from urllib.parse import urlsplit

from truex_qf.config import (
    UAT_MARKET_DATA_PORT,
    UAT_ORDER_ENTRY_PORT,
    UAT_REST_URL,
    FixSettings,
    load_fix_settings,
    rest_url_is_set,
)
from truex_qf.config import rest_url as config_rest_url
from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.fix.signing import logon_signature
from truex_qf.observe.runbook import doctor_link
from truex_qf.rest.client import AUTH_HINT, CLIENT_HINT, RestError, TruexRestClient, one_line

DEFAULT_REST_URL = UAT_REST_URL
SKEW_WARN_S = 2.0
SKEW_FAIL_S = 120.0  # QuickFIX's MaxLatency default, which sessions.cfg keeps
LOGOUT_WAIT_S = 1.0  # how long an accepted probe waits for the venue's Logout answer

# The diagnoses of the team's notes, each its own words so a user (and a test) can tell them
# apart.
VENUE_SILENT = "proxy up but venue silent"
RATE_LIMITED = "logons refused after repeated attempts (rate limit?)"
WRONG_PORT = "wrong port for this session?"
RATE_LIMIT_HINT = (
    "wait several minutes before retrying, and do not retry in a loop "
    "(many rapid logons are what gets them refused)"
)
PORTS_HINT = (
    "TrueX uses 19484 for OE and 20484 for MD; check TRUEX_ORDER_ENTRY_PORT and "
    "TRUEX_MARKET_DATA_PORT"
)
AUTH_LOGON_HINT = (
    "check TRUEX_API_KEY and TRUEX_SECRET_KEY (UAT and production keys differ) and that "
    "TRUEX_SENDER_COMP_ID is a name you chose"
)

SPLIT_VENUE_HINT = (
    "against truex-qf simulate, export the TRUEX_REST_URL it prints (reconciliation against "
    "another venue never matches); through a local proxy to TrueX UAT this is right"
)

# Check names, in report order.
CONFIG = "config"
DNS_FIX = "DNS FIX host"
DNS_REST = "DNS REST host"
TCP_OE = "TCP OE"
TCP_MD = "TCP MD"
TCP_REST = "TCP REST"
LOGON_OE = "FIX logon OE"
LOGON_MD = "FIX logon MD"
CLOCK_SKEW = "clock skew"
REST_HEALTH = "REST health"

REQUIRED = ("TRUEX_API_KEY", "TRUEX_SECRET_KEY", "TRUEX_SENDER_COMP_ID", "TRUEX_CLIENT_ID")

_RATE_TEXT = re.compile(
    r"not allowed|rate.?limit|too many|throttl|try again later|temporarily", re.IGNORECASE
)
_SESSION_TEXT = re.compile(
    r"comp.?id|invalid session|unknown session|session id|no such session|wrong session",
    re.IGNORECASE,
)
_AUTH_TEXT = re.compile(r"authenticat|signature|password|username|api key", re.IGNORECASE)
_RATE_SESSION_STATUS = "7"  # 1409: logons not allowed now
_THROTTLE_REASONS = frozenset({"8", "9", "10"})  # 380: throttle limit exceeded ...
_SOH = "\x01"


class Verdict(str, Enum):
    """The outcome of one check; SKIP means a check it depends on failed (or it is off)."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Check:
    """One line of the diagnosis: what was checked, the verdict, what was seen, what to do."""

    name: str
    verdict: Verdict
    detail: str
    hint: str = ""


def format_check(check: Check) -> str:
    """``check`` as one line: verdict, name, detail and, if any, the hint."""
    line = f"{check.verdict.value:<4}  {check.name:<13}  {check.detail}"
    return f"{line} -- hint: {check.hint}" if check.hint else line


def runbook_line(checks: list[Check]) -> str:
    """Where docs/runbook.md explains each failed or warned check ('' when every one passed)."""
    flagged = [c for c in checks if c.verdict in (Verdict.FAIL, Verdict.WARN)]
    if not flagged:
        return ""
    return "runbook: " + ", ".join(doctor_link(c.name) for c in flagged)


def exit_code(checks: list[Check]) -> int:
    """0 when no check failed, else 1 (the doctor's exit status)."""
    return 1 if any(check.verdict is Verdict.FAIL for check in checks) else 0


# --------------------------------------------------------------------------- the FIX probe


class Answer(str, Enum):
    """How a gateway reacted to our Logon."""

    ACCEPTED = "accepted"  # 35=A
    REFUSED = "refused"  # 35=3, 35=5 or 35=j
    SILENT = "silent"  # connection open, nothing decisive within the timeout
    CLOSED = "closed"  # connection closed (or reset) with no decisive answer
    NO_CONNECTION = "no connection"  # TCP connect failed


@dataclass(frozen=True)
class LogonProbe:
    """One Logon attempt: the answer, the venue's first decisive message and when it came."""

    host: str
    port: int
    target: str
    answer: Answer
    fields: dict[int, str] = field(default_factory=dict)
    sent_at: float = 0.0  # epoch seconds, just before the Logon was sent
    received_at: float = 0.0  # epoch seconds, when the answer was read
    note: str = ""  # what else was seen (a reset, bytes that are not FIX, a connect error)
    signature: str = field(default="", repr=False)  # what we sent in 554, for the scrubber

    @property
    def where(self) -> str:
        """``host:port`` as the lines show it."""
        return f"{self.host}:{self.port}"


def probe_logon(settings: FixSettings, port: int, target: str, timeout_s: float) -> LogonProbe:
    """Connect to ``settings.host:port``, log on to ``target`` and read the answer.

    The Logon is the spec's (34=1, 98=0, 108=30, 141=Y, 553, signed 554, 1137=9). An accepted
    session is logged out at once. Every wait is bounded by ``timeout_s``.
    """
    host = settings.host
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        return LogonProbe(host, port, target, Answer.NO_CONNECTION, note=_connect_error(exc))
    with sock:
        sending_time = _utc_stamp()
        credentials = settings.credentials
        sender = settings.sender_comp_id
        signature = logon_signature(
            credentials.secret_key, sending_time, "A", "1", sender, target, credentials.api_key
        )
        logon = _frame(
            [
                (35, "A"),
                (49, sender),
                (56, target),
                (34, "1"),
                (52, sending_time),
                (98, "0"),
                (108, "30"),
                (141, "Y"),
                (553, credentials.api_key),
                (554, signature),
                (1137, "9"),
            ]
        )
        reader = _FixReader(sock)
        sent_at = time.time()
        try:
            sock.sendall(logon)
        except OSError:
            return LogonProbe(
                host,
                port,
                target,
                Answer.CLOSED,
                sent_at=sent_at,
                note="the connection broke while the Logon was being sent",
                signature=signature,
            )
        deadline = time.monotonic() + timeout_s
        while (message := reader.next_message(deadline)) is not None:
            if message.get(35) in ("A", "3", "5", "j"):
                received_at = time.time()
                accepted = message[35] == "A"
                if accepted:
                    _log_out(sock, reader, sender, target, min(timeout_s, LOGOUT_WAIT_S))
                return LogonProbe(
                    host,
                    port,
                    target,
                    Answer.ACCEPTED if accepted else Answer.REFUSED,
                    fields=message,
                    sent_at=sent_at,
                    received_at=received_at,
                    signature=signature,
                )
        notes = []
        if reader.reset:
            notes.append("connection reset")
        if reader.stray_bytes:
            notes.append(f"it sent {reader.stray_bytes} bytes that are not FIX")
        return LogonProbe(
            host,
            port,
            target,
            Answer.CLOSED if reader.closed else Answer.SILENT,
            sent_at=sent_at,
            note="; ".join(notes),
            signature=signature,
        )


class _FixReader:
    """Whole FIX messages off a socket, each as {tag: first value}, within a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.closed = False
        self.reset = False

    @property
    def stray_bytes(self) -> int:
        """How many unread bytes do not start a FIX message (a proxy speaking HTTP, TLS, ...)."""
        return 0 if b"8=FIX".startswith(self.buffer[:5]) else len(self.buffer)

    def next_message(self, deadline: float) -> dict[int, str] | None:
        """The next message, or None at the deadline or when the peer closed."""
        while True:
            message = self._take()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            except OSError:
                self.closed = self.reset = True
                return None
            if not chunk:
                self.closed = True
                return None
            self.buffer += chunk

    def _take(self) -> dict[int, str] | None:
        end = self.buffer.find(b"\x0110=")
        stop = self.buffer.find(b"\x01", end + 1) if end >= 0 else -1
        if stop < 0:
            return None
        raw, self.buffer = self.buffer[: stop + 1], self.buffer[stop + 1 :]
        fields: dict[int, str] = {}
        for item in raw.decode("utf-8", "replace").split(_SOH):
            tag, _, value = item.partition("=")
            if tag.isdigit():
                fields.setdefault(int(tag), value)
        return fields


def _log_out(
    sock: socket.socket, reader: _FixReader, sender: str, target: str, wait_s: float
) -> None:
    """Send our Logout and wait briefly for the venue's, so no half-open session is left."""
    logout = _frame([(35, "5"), (49, sender), (56, target), (34, "2"), (52, _utc_stamp())])
    try:
        sock.sendall(logout)
    except OSError:
        return
    deadline = time.monotonic() + wait_s
    while (message := reader.next_message(deadline)) is not None:
        if message.get(35) == "5":
            return


def _frame(fields: list[tuple[int, str]]) -> bytes:
    """8, 9 and 10 around ``fields`` (which start with 35)."""
    body = "".join(f"{tag}={value}{_SOH}" for tag, value in fields)
    head = f"8=FIXT.1.1{_SOH}9={len(body.encode())}{_SOH}"
    checksum = sum((head + body).encode()) % 256
    return (head + body + f"10={checksum:03d}{_SOH}").encode()


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def parse_sending_time(value: str) -> float | None:
    """A FIX UTCTimestamp (seconds, milli-, micro- or nanoseconds) as epoch seconds."""
    whole, _, fraction = value.partition(".")
    try:
        stamp = datetime.strptime(whole, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    if fraction and not fraction.isdigit():
        return None
    return stamp.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _connect_error(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"unreachable ({exc.strerror or type(exc).__name__})"


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class _Session:
    role: str  # "OE" or "MD"
    target: str
    port: int
    port_variable: str
    tcp_check: str
    logon_check: str


class _Scrubber:
    """Masks the secret and every signature we sent, wherever they would appear."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= 4:
            self._values.add(value)

    def __call__(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, "***")
        return re.sub(r"\b(554|925|96)=[^\s|\x01]*", r"\1=***", text)


class _Doctor:
    """One run of the checks; each result goes through the scrubber, then to ``report``."""

    def __init__(
        self, env: Mapping[str, str], timeout_s: float, report: Callable[[Check], None]
    ) -> None:
        self.env = env
        self.timeout_s = timeout_s
        self.report = report
        self.checks: list[Check] = []
        self.scrub = _Scrubber()

    def emit(self, name: str, verdict: Verdict, detail: str, hint: str = "") -> Check:
        check = Check(name, verdict, self.scrub(detail), self.scrub(hint))
        self.checks.append(check)
        self.report(check)
        return check

    def skip(self, names: tuple[str, ...], why: str) -> None:
        for name in names:
            self.emit(name, Verdict.SKIP, f"not run: {why}")

    # ------------------------------------------------------------------ stages

    def run(self) -> list[Check]:
        secret = self.env.get("TRUEX_SECRET_KEY", "")
        self.scrub.add(secret)
        self.scrub.add(secret.strip())
        loaded = self.check_config()
        if loaded is None:
            self.skip((DNS_FIX, DNS_REST, TCP_OE, TCP_MD, TCP_REST), "configuration incomplete")
            self.skip((LOGON_OE, LOGON_MD, CLOCK_SKEW, REST_HEALTH), "configuration incomplete")
            return self.checks
        settings, rest_url = loaded
        sessions = (
            _Session(
                "OE",
                settings.order_entry_target,
                settings.order_entry_port,
                "TRUEX_ORDER_ENTRY_PORT",
                TCP_OE,
                LOGON_OE,
            ),
            _Session(
                "MD",
                settings.market_data_target,
                settings.market_data_port,
                "TRUEX_MARKET_DATA_PORT",
                TCP_MD,
                LOGON_MD,
            ),
        )
        rest_host, rest_port = _rest_endpoint(rest_url) if rest_url else ("", 0)

        fix_resolves = self.check_dns(DNS_FIX, settings.host, "TRUEX_FIX_HOST")
        rest_resolves = False
        if rest_url:
            rest_resolves = self.check_dns(DNS_REST, rest_host, "TRUEX_REST_URL")
        else:
            self.skip((DNS_REST,), "TRUEX_REST_URL=off")

        reachable: dict[str, bool] = {}
        for session in sessions:
            if fix_resolves:
                reachable[session.role] = self.check_tcp(
                    session.tcp_check, settings.host, session.port, session.port_variable
                )
            else:
                self.skip((session.tcp_check,), f"{settings.host} did not resolve")
        rest_reachable = False
        if rest_resolves:
            rest_reachable = self.check_tcp(TCP_REST, rest_host, rest_port, "TRUEX_REST_URL")
        else:
            self.skip((TCP_REST,), "TRUEX_REST_URL=off" if not rest_url else "no DNS answer")

        answers: list[LogonProbe] = []
        if fix_resolves:
            for session in sessions:
                if not reachable.get(session.role):
                    self.skip((session.logon_check,), "no TCP connection")
                    continue
                other = sessions[1] if session is sessions[0] else sessions[0]
                answers.extend(self.check_logon(settings, session, other, reachable))
            self.check_clock(answers)
        else:
            self.skip((LOGON_OE, LOGON_MD, CLOCK_SKEW), f"{settings.host} did not resolve")

        if rest_reachable:
            self.check_rest(rest_url, settings)
        else:
            self.skip((REST_HEALTH,), "TRUEX_REST_URL=off" if not rest_url else "no connection")
        return self.checks

    def check_config(self) -> tuple[FixSettings, str] | None:
        """The settings and the REST URL ("" when off), or None after reporting a FAIL."""
        missing = [name for name in REQUIRED if not self.env.get(name, "").strip()]
        if missing:
            self.emit(
                CONFIG,
                Verdict.FAIL,
                f"not set: {', '.join(missing)}",
                "set them in the environment or a .env file (truex-qf --env-file); "
                "the README lists every TRUEX_* variable",
            )
            return None
        try:
            settings = load_fix_settings(self.env)
            rest_url = config_rest_url(self.env) or ""
        except ConfigError as exc:
            self.emit(CONFIG, Verdict.FAIL, str(exc), f"fix {exc.setting}")
            return None
        key = settings.credentials.api_key
        detail = (
            f"FIX {settings.host} OE port {settings.order_entry_port} "
            f"({settings.order_entry_target}), MD port {settings.market_data_port} "
            f"({settings.market_data_target}), sender {settings.sender_comp_id}, "
            f"API key {key[:8]}..., REST {rest_url or 'off'}"
        )
        oe_port, md_port = settings.order_entry_port, settings.market_data_port
        if oe_port == md_port:
            self.emit(
                CONFIG,
                Verdict.WARN,
                f"OE and MD use the same port {oe_port}: {WRONG_PORT} ({detail})",
                PORTS_HINT,
            )
        elif (oe_port, md_port) == (UAT_MARKET_DATA_PORT, UAT_ORDER_ENTRY_PORT):
            self.emit(
                CONFIG,
                Verdict.WARN,
                f"OE port {oe_port} and MD port {md_port} look swapped ({detail})",
                PORTS_HINT,
            )
        elif _is_loopback(settings.host) and not rest_url_is_set(self.env):
            self.emit(
                CONFIG,
                Verdict.WARN,
                f"FIX goes to this machine ({settings.host}) but REST to TrueX UAT "
                f"({rest_url}, TRUEX_REST_URL unset) ({detail})",
                SPLIT_VENUE_HINT,
            )
        else:
            self.emit(CONFIG, Verdict.OK, f"complete: {detail}")
        return settings, rest_url

    def check_dns(self, name: str, host: str, variable: str) -> bool:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            self.emit(name, Verdict.OK, f"{host} is an IP address, nothing to resolve")
            return True
        addresses, error = _resolve(host, self.timeout_s)
        if addresses:
            shown = ", ".join(addresses[:3]) + (" ..." if len(addresses) > 3 else "")
            self.emit(name, Verdict.OK, f"{host} resolves to {shown}")
            return True
        self.emit(
            name,
            Verdict.FAIL,
            f"cannot resolve {host}: {error}",
            f"check {variable} and the resolver; a private (VPN) name resolves only with "
            "the VPN up",
        )
        return False

    def check_tcp(self, name: str, host: str, port: int, variable: str) -> bool:
        where = f"{host}:{port}"
        started = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=self.timeout_s):
                pass
        except ConnectionRefusedError:
            self.emit(
                name,
                Verdict.FAIL,
                f"{where} refused the connection",
                f"nothing listens there: a wrong port ({variable}), or the gateway or the "
                "local proxy is down",
            )
            return False
        except TimeoutError:
            self.emit(
                name,
                Verdict.FAIL,
                f"{where}: connect timed out after {self.timeout_s:g} s",
                "the packets are dropped: a firewall, a wrong host, or the VPN is down "
                "(production is reachable only through it)",
            )
            return False
        except OSError as exc:
            self.emit(
                name,
                Verdict.FAIL,
                f"{where} unreachable: {exc.strerror or type(exc).__name__}",
                "no route to the host: check the network, the VPN and the host name",
            )
            return False
        elapsed_ms = (time.monotonic() - started) * 1000
        self.emit(name, Verdict.OK, f"{where} accepts connections ({elapsed_ms:.0f} ms)")
        return True

    def check_logon(
        self,
        settings: FixSettings,
        session: _Session,
        other: _Session,
        reachable: Mapping[str, bool],
    ) -> list[LogonProbe]:
        """Log on to ``session``; every probe made (the venue's answers feed the clock check)."""
        probe = self.probe(settings, session.port, session.target)
        probes = [probe]
        where = probe.where
        name = session.logon_check
        if probe.answer is Answer.ACCEPTED:
            answered_as = probe.fields.get(49, "")
            elapsed_ms = (probe.received_at - probe.sent_at) * 1000
            if answered_as != session.target:
                self.emit(
                    name,
                    Verdict.FAIL,
                    f"{where} answered the {session.role} Logon as {answered_as or '(no 49)'} "
                    f"instead of {session.target}: {WRONG_PORT}",
                    PORTS_HINT,
                )
            else:
                self.emit(
                    name,
                    Verdict.OK,
                    f"{session.target} at {where} accepted the Logon ({elapsed_ms:.0f} ms)",
                )
        elif probe.answer is Answer.REFUSED:
            self.refused(name, session, probe)
        elif probe.answer is Answer.SILENT:
            note = f" ({probe.note})" if probe.note else ""
            self.emit(
                name,
                Verdict.FAIL,
                f"{where} accepts TCP connections but nothing answered the {session.role} "
                f"Logon within {self.timeout_s:g} s{note}: {VENUE_SILENT}",
                "a proxy or VPN endpoint with no venue behind it, or a wrong port "
                f"({session.port_variable}); check the proxy's upstream and the VPN",
            )
        elif probe.answer is Answer.CLOSED:
            if other.port == session.port:
                self.emit(
                    name,
                    Verdict.FAIL,
                    f"{where} closed the connection after the {session.role} Logon without "
                    f"answering, and OE and MD both use port {session.port}: {WRONG_PORT}",
                    PORTS_HINT,
                )
                return probes
            cross = None
            if reachable.get(other.role):
                # One more logon tells a swapped port from a venue refusing logons.
                cross = self.probe(settings, other.port, session.target)
                probes.append(cross)
            if (
                cross is not None
                and cross.answer is Answer.ACCEPTED
                and cross.fields.get(49) == session.target
            ):
                self.emit(
                    name,
                    Verdict.FAIL,
                    f"{where} dropped the {session.role} Logon, but port {other.port} "
                    f"({other.port_variable}) accepts it: {WRONG_PORT} "
                    "(the OE and MD ports look swapped)",
                    PORTS_HINT,
                )
            else:
                note = f" ({probe.note})" if probe.note else ""
                self.emit(
                    name,
                    Verdict.FAIL,
                    f"{where} closed the connection right after the {session.role} Logon "
                    f"without answering{note}: {RATE_LIMITED}",
                    f"{RATE_LIMIT_HINT}; an unknown API key or another connection already "
                    "logged on with this SenderCompID can look the same",
                )
        else:
            self.emit(
                name,
                Verdict.FAIL,
                f"{where}: connecting for the Logon failed ({probe.note}), though the TCP "
                "check passed a moment ago",
                "the endpoint is flapping: a restarting gateway or proxy; try again later",
            )
        return probes

    def refused(self, name: str, session: _Session, probe: LogonProbe) -> None:
        """A Reject, Logout or Business Reject answered our Logon: say which failure it is."""
        fields = probe.fields
        msg_type = fields.get(35, "")
        text = _venue_text(fields.get(58, ""))
        codes = [f"35={msg_type}"] + [
            f"{tag}={fields[tag]}" for tag in (373, 380, 1409) if fields.get(tag)
        ]
        said = f'{session.target} at {probe.where} refused the {session.role} Logon: "{text}" '
        said += f"({', '.join(codes)})"
        rate = (
            fields.get(1409) == _RATE_SESSION_STATUS
            or (msg_type == "j" and fields.get(380) in _THROTTLE_REASONS)
            or _RATE_TEXT.search(text) is not None
        )
        if rate:
            self.emit(name, Verdict.FAIL, f"{said}: {RATE_LIMITED}", RATE_LIMIT_HINT)
        elif msg_type == "j" or fields.get(373) == "9" or _SESSION_TEXT.search(text):
            self.emit(name, Verdict.FAIL, f"{said}: {WRONG_PORT}", PORTS_HINT)
        elif "already authenticated" in text.lower():
            self.emit(
                name,
                Verdict.FAIL,
                said,
                "another connection is logged on with this SenderCompID (is truex-qf already "
                "running?); stop it or choose another TRUEX_SENDER_COMP_ID",
            )
        elif fields.get(373) == "8" or fields.get(1409) == "5" or _AUTH_TEXT.search(text):
            self.emit(name, Verdict.FAIL, said, AUTH_LOGON_HINT)
        else:
            self.emit(name, Verdict.FAIL, said, "the venue's text above says why")

    def probe(self, settings: FixSettings, port: int, target: str) -> LogonProbe:
        result = probe_logon(settings, port, target, self.timeout_s)
        self.scrub.add(result.signature)
        return result

    def check_clock(self, probes: list[LogonProbe]) -> None:
        """Skew from the first venue answer that carries a SendingTime(52)."""
        for probe in probes:
            venue_time = parse_sending_time(probe.fields.get(52, ""))
            if venue_time is None or not probe.received_at:
                continue
            # The venue stamped its answer between our send and our read: compare with the
            # midpoint, which is exact to half the round trip.
            ours = (probe.sent_at + probe.received_at) / 2
            skew_s = venue_time - ours
            error_s = (probe.received_at - probe.sent_at) / 2
            direction = "behind" if skew_s < 0 else "ahead of"
            detail = (
                f"the venue's clock is {abs(skew_s):.3f} s {direction} ours (+/- "
                f"{error_s:.3f} s; SendingTime of its 35={probe.fields.get(35)} on port "
                f"{probe.port})"
            )
            if abs(skew_s) > SKEW_FAIL_S:
                self.emit(
                    CLOCK_SKEW,
                    Verdict.FAIL,
                    detail,
                    f"more than QuickFIX's MaxLatency ({SKEW_FAIL_S:g} s): every venue "
                    "message would be rejected; sync the clock (NTP/chrony)",
                )
            elif abs(skew_s) > SKEW_WARN_S:
                self.emit(
                    CLOCK_SKEW,
                    Verdict.WARN,
                    detail,
                    f"above {SKEW_WARN_S:g} s: sync the clock (NTP/chrony); REST timestamps are "
                    f"checked to seconds and QuickFIX rejects beyond {SKEW_FAIL_S:g} s",
                )
            else:
                self.emit(CLOCK_SKEW, Verdict.OK, detail)
            return
        self.skip((CLOCK_SKEW,), "no venue answer with a SendingTime(52) to compare")

    def check_rest(self, rest_url: str, settings: FixSettings) -> None:
        """One authenticated GET (the one ``TruexRestClient.health`` makes), with no retry.

        The client's ``health()`` answers only True/False; the doctor wants the status and the
        venue's reason, so it makes the same call itself.
        """
        path = "GET clients"
        try:
            with TruexRestClient(
                rest_url,
                settings.credentials,
                settings.client_id,
                timeout_s=self.timeout_s,
                max_attempts=1,
            ) as client:
                path = f"GET {client.paths.clients}"
                clients = client.clients()
        except RestError as exc:
            code = str(exc.status) if exc.status is not None else "no answer"
            self.emit(REST_HEALTH, Verdict.FAIL, f"{path}: {code}: {exc.reason}", _rest_hint(exc))
            return
        except TruexError as exc:
            self.emit(REST_HEALTH, Verdict.FAIL, f"{path}: {exc}", "check TRUEX_REST_URL")
            return
        mine = [info for info in clients if info.client_id == settings.client_id]
        if not mine:
            known = ", ".join(info.client_id for info in clients[:3]) or "none"
            self.emit(
                REST_HEALTH,
                Verdict.WARN,
                f"{path} answered, but client ID {settings.client_id} is not among the API "
                f"key's clients ({known})",
                CLIENT_HINT,
            )
        elif mine[0].status.upper() != "ACTIVE":
            self.emit(
                REST_HEALTH,
                Verdict.WARN,
                f"{path} answered: client ID {settings.client_id} is {mine[0].status}",
                "orders need an ACTIVE client; ask TrueX support",
            )
        else:
            self.emit(
                REST_HEALTH,
                Verdict.OK,
                f"{path} answered: client ID {settings.client_id} is ACTIVE",
            )


def run_doctor(
    env: Mapping[str, str],
    *,
    timeout_s: float = 5.0,
    report: Callable[[Check], None] | None = None,
) -> list[Check]:
    """Run every check against the settings in ``env``; each is passed to ``report`` when done.

    Returns the checks in order. ``timeout_s`` bounds each network step (a DNS lookup, a
    connect, the wait for a Logon answer, a REST request). Exit 0 only if none is FAIL
    (:func:`exit_code`).
    """
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ConfigError("--timeout", f"{timeout_s:g} must be a positive number of seconds")
    return _Doctor(env, timeout_s, report or (lambda check: None)).run()


# --------------------------------------------------------------------------- helpers


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (a local simulator or proxy), by name or address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _rest_endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, timeout_s: float) -> tuple[list[str], str]:
    """The host's addresses, or ([], why); the lookup runs on a thread to bound its time."""
    result: dict[str, object] = {}

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc.strerror or str(exc)
        else:
            result["addresses"] = list(dict.fromkeys(str(info[4][0]) for info in infos))

    thread = threading.Thread(target=lookup, name="doctor-dns", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return [], f"no answer from the resolver within {timeout_s:g} s"
    addresses = result.get("addresses")
    if isinstance(addresses, list) and addresses:
        return addresses, ""
    return [], str(result.get("error", "no address"))


def _venue_text(text: str) -> str:
    """The venue's Text(58) on one line, without control characters."""
    return one_line("".join(ch if ch.isprintable() else " " for ch in text)) or "(no text)"


def _rest_hint(error: RestError) -> str:
    if error.status is None:
        return "no HTTP answer: check TRUEX_REST_URL, the network and the VPN"
    if error.status == 401:
        return AUTH_HINT
    if error.status == 403:
        return CLIENT_HINT
    if error.status == 404:
        return "the path is not served: check TRUEX_REST_URL (no /api/v1 suffix needed)"
    if error.status >= 500:
        return "the venue's REST API is failing; try again later"
    return "the venue's reason above says why"
