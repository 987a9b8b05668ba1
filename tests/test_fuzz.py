"""Fuzzing the FIX edges: "no crash, no hang, every bad message answered or logged".

Three parts, all with fixed seeds (``random.Random``) so that a failure replays exactly:

1. The readers (:mod:`truex_qf.fix.readers`) on mutated TrueX messages: each call returns a
   value of the right type or raises ``MalformedMessage``/``ValueError``, the only exceptions
   the client application handles as "cannot read".
2. The simulated venue's acceptor, over real sockets: a hand-rolled peer logs on to both
   gateways and sends mutated D/F/G/V/x messages (correctly framed) and raw garbage. Every
   well-framed message must be answered (35=3/j/8/9/W/Y/y, a ResendRequest naming it, or a
   dropped session), the venue must answer a TestRequest after each message, and at the end a
   normal QuickFIX client still logs on and trades.
3. The client application's ``fromApp`` guard logs and swallows what a reader raises.

Every socket read has a deadline; pytest's ``faulthandler_timeout`` dumps the threads if the
file hangs anyway, and the acceptor test arms a tighter faulthandler watchdog of its own.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import itertools
import logging
import random
import string
import time
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import quickfix as fix

from tests.support.rawfix import SOH, RawFixPeer, frame, now
from truex_qf.app.demo import DEMO_SYMBOL, LocalVenue
from truex_qf.config import UAT_MARKET_DATA_TARGET, UAT_ORDER_ENTRY_TARGET, Credentials
from truex_qf.domain.model import (
    BusinessMessageReject,
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataReject,
    MarketDataSnapshot,
    NewOrder,
    OrderCancelReject,
    SecurityList,
    SecurityListUpdate,
    SessionRole,
    Side,
)
from truex_qf.fix.application import TruexApplication
from truex_qf.fix.readers import READERS, MalformedMessage
from truex_qf.fix.settings import SPEC_DIR

SEED = 20261124


def wire(text: str) -> str:
    return text.replace("|", SOH)


# =========================================================================== 1. readers

READER_SEEDS: dict[str, list[str]] = {
    "8": [
        # PendingNew and New (spec §12)
        wire(
            "8=FIXT.1.1|9=236|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=3|52=20250910-18:32:27.345901|"
            "11=BUY29147251|17=1922892243|37=1922892243|38=0.001|40=2|44=113391|54=1|59=1|151=0|"
            "14=0|60=20250910-18:32:27.341860|55=BTC-PYUSD|453=1|448=10000000000000001|452=3|"
            "150=A|39=A|10=005|"
        ),
        wire(
            "8=FIXT.1.1|9=240|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=4|52=20250910-18:32:27.354201|"
            "11=BUY29147251|17=1922957780|37=1922892243|38=0.001|40=2|44=113391|54=1|59=1|"
            "151=0.001|14=0|60=20250910-18:32:27.351388|55=BTC-PYUSD|453=1|"
            "448=10000000000000001|452=3|150=0|39=0|10=165|"
        ),
        # a partial fill with fees (MiscFeesGrp) and liquidity indicator
        wire(
            "8=FIXT.1.1|9=300|35=8|49=TRUEX_UAT_OE|56=CLI|34=9|52=20250910-18:32:28.000001|"
            "11=Q1|17=9|37=5|38=2|40=2|44=100000.5|54=2|55=BTC-PYUSD|59=1|150=F|39=1|151=1.5|"
            "14=0.5|32=0.5|31=100000.5|6=100000.5|851=1|880=T77|60=20250910-18:32:28.000000|"
            "136=2|137=1.25|139=4|137=0.1|139=7|453=1|448=10000000000000001|452=3|10=000|"
        ),
        # IOC remainder cancelled, and a pre-validation reject (OrderID NONE)
        wire(
            "8=FIXT.1.1|9=278|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=5|52=20250910-18:28:00.636132|"
            "11=BUY28880518|41=BUY28880518|17=881066443|37=881000905|38=0.001|40=2|44=113406.5|"
            "54=1|59=3|151=0|14=0|60=20250910-18:28:00.633994|55=BTC-PYUSD|453=1|"
            "448=10000000000000001|452=3|150=4|39=4|58=Order parameter request|10=224|"
        ),
        wire(
            "8=FIXT.1.1|9=233|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=3|52=20250910-17:45:35.287906|"
            "37=NONE|11=TEST_BUY_1757526335158|17=2444669499|38=0.001|39=8|40=2|44=113634.50|"
            "54=1|55=BTC-USD|150=8|59=3|151=0|14=0|58=Invalid ClOrdID|"
            "60=20250910-17:45:35.287906|10=011|"
        ),
    ],
    "9": [
        wire(
            "8=FIXT.1.1|9=150|35=9|49=TRUEX_UAT_OE|56=CLI|34=7|52=20251010-13:36:05.100000|"
            "37=NONE|11=C9|41=NOPE|39=8|434=1|102=1|58=Unknown order|10=000|"
        ),
        wire(
            "8=FIXT.1.1|9=150|35=9|49=TRUEX_UAT_OE|56=CLI|34=8|52=20251010-13:36:05.200000|"
            "37=1922892243|11=R2|41=R1|39=0|434=2|102=18|58=Invalid price increment|10=000|"
        ),
    ],
    "j": [
        wire(
            "8=FIXT.1.1|9=100|35=j|49=|56=|34=4|52=20250910-14:39:14.411802|45=0|372=V|380=0|"
            "58=Invalid session ID|10=000|"
        ),
        wire(
            "8=FIXT.1.1|9=100|35=j|49=TRUEX_UAT_OE|56=CLI|34=5|52=20250910-14:39:14.411802|"
            "45=12|372=D|379=Q77|380=8|58=Throttle limit exceeded|10=000|"
        ),
    ],
    "W": [
        wire(
            "8=FIXT.1.1|9=236|35=W|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=2|52=20250910-14:39:14.463394|"
            "262=MD_BTC_1757515154372|55=BTC-PYUSD|167=CSPOT|268=2|269=0|270=0|271=0|1023=1|"
            "273=19700101-00:00:00.000000000|269=1|270=0|271=0|1023=1|"
            "273=19700101-00:00:00.000000000|10=019|"
        ),
        wire(
            "8=FIXT.1.1|9=300|35=W|49=TRUEX_UAT_MD|56=CLI|34=3|52=20250910-14:39:15.000000|"
            "262=MD1|55=BTC-PYUSD|167=CSPOT|268=5|269=0|270=99900|271=0.01|1023=1|"
            "269=0|270=99800|271=0.02|1023=2|269=1|270=100100|271=0.01|1023=1|"
            "269=1|270=100200.5|271=0.5|1023=2|269=2|270=100000|271=0.001|10=000|"
        ),
    ],
    "X": [
        wire(
            "8=FIXT.1.1|9=300|35=X|49=TRUEX_UAT_MD|56=CLI|34=4|52=20250910-14:39:16.000000|"
            "262=MD1|268=4|279=0|269=0|55=BTC-PYUSD|270=99950|271=0.01|1023=1|"
            "279=1|269=1|55=BTC-PYUSD|270=100100|271=0.02|"
            "279=2|269=0|55=BTC-PYUSD|270=99800|271=0|"
            "279=0|269=2|55=BTC-PYUSD|270=100100|271=0.001|2446=1|10=000|"
        ),
    ],
    "Y": [
        wire(
            "8=FIXT.1.1|9=100|35=Y|49=TRUEX_UAT_MD|56=CLI|34=2|52=20250910-14:39:14.000000|"
            "262=MD9|58=Unknown symbol DOGE-PYUSD|10=000|"
        ),
    ],
    "y": [
        wire(
            "8=FIXT.1.1|9=300|35=y|49=TRUEX_UAT_MD|56=CLI|34=2|52=20250910-14:39:14.000000|"
            "320=SL1|322=SL1|560=0|393=2|893=Y|146=2|55=BTC-PYUSD|167=CSPOT|15=PYUSD|"
            "55=ETH-PYUSD|167=CSPOT|15=PYUSD|10=000|"
        ),
    ],
    "BK": [
        wire(
            "8=FIXT.1.1|9=300|35=BK|49=TRUEX_UAT_MD|56=CLI|34=3|52=20250910-14:39:15.000000|"
            "320=SL1|322=SL2|980=M|146=2|1324=A|55=SOL-PYUSD|167=CSPOT|870=2|871=40|872=10.5|"
            "871=41|872=3|15=PYUSD|1324=D|55=ETH-PYUSD|167=CSPOT|15=PYUSD|10=000|"
        ),
    ],
}

READER_RESULTS: dict[str, type] = {
    "8": ExecutionReport,
    "9": OrderCancelReject,
    "j": BusinessMessageReject,
    "W": MarketDataSnapshot,
    "X": MarketDataIncrement,
    "Y": MarketDataReject,
    "y": SecurityList,
    "BK": SecurityListUpdate,
}

MUTATIONS_PER_READER = 300  # 7 readers: 2,100 mutated messages

# Values a hostile or broken peer could put in a field (no SOH: inserting one is a mutation).
HOSTILE_VALUES = (
    "",
    " ",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999",
    "-1e999",
    "1e999999999999999999",
    "1e-999999999999999999",
    "0",
    "-0",
    "-1",
    "-0.001",
    "0.000000000000000000000000000000001",
    "9" * 40,
    "9" * 5000,  # above int()'s 4,300-digit limit
    "1" + "0" * 28,
    "1_000",
    "0x10",
    "1,5",
    "1.2.3",
    "١٢٣",  # Arabic-Indic digits: str.isdigit() is True
    "²",  # superscript two: isdigit() is True, int() refuses it
    "é€漢字",
    "\x00",
    "\x7f\x80\xff",
    "\ud800",  # a lone surrogate
    "=",
    "a=b",
    "Y",
    "Z",
    "99",
)

GROUP_TAGS = (268, 269, 279, 146, 55, 453, 448, 136, 137, 139, 1023)


def _random_text(rng: random.Random) -> str:
    kind = rng.randrange(4)
    length = rng.choice((1, 2, 5, 17, 64, 300))
    if kind == 0:
        return "".join(rng.choice(string.printable) for _ in range(length))
    if kind == 1:
        return "".join(chr(rng.randrange(256)) for _ in range(length))
    if kind == 2:
        return "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(length))
    return "".join(rng.choice(string.digits) for _ in range(length))


def _random_tag(rng: random.Random) -> str:
    return rng.choice(
        (
            str(rng.randrange(1, 1200)),
            str(rng.choice(GROUP_TAGS)),
            str(rng.randrange(5000, 100000)),
            "0",
            "-5",
            "",
            "abc",
            "1e3",
            " 38",
            "²",
            "99999999999999999999",
        )
    )


def mutate_items(items: list[str], rng: random.Random) -> list[str]:
    """One random mutation of a message given as ``tag=value`` strings (header included)."""
    items = list(items)
    if not items:
        return [f"{_random_tag(rng)}={_random_text(rng)}"]
    i = rng.randrange(len(items))
    tag, _, value = items[i].partition("=")
    op = rng.randrange(12)
    if op == 0:  # drop a field
        del items[i]
    elif op == 1:  # duplicate a field somewhere
        items.insert(rng.randrange(len(items) + 1), items[i])
    elif op == 2:  # swap two fields
        j = rng.randrange(len(items))
        items[i], items[j] = items[j], items[i]
    elif op == 3:  # a hostile value
        items[i] = f"{tag}={rng.choice(HOSTILE_VALUES)}"
    elif op == 4:  # random bytes / unicode
        items[i] = f"{tag}={_random_text(rng)}"
    elif op == 5:  # another tag number
        items[i] = f"{_random_tag(rng)}={value}"
    elif op == 6:  # SOH or '=' inside a value
        cut = rng.randrange(len(value) + 1)
        items[i] = f"{tag}={value[:cut]}{rng.choice((SOH, '=', SOH + '=', '=' + SOH))}{value[cut:]}"
    elif op == 7:  # move a block of fields (reorders group entries)
        j = rng.randrange(i, min(len(items), i + 8) + 1)
        block, rest = items[i:j], items[:i] + items[j:]
        k = rng.randrange(len(rest) + 1)
        items = rest[:k] + block + rest[k:]
    elif op == 8:  # delete a group count, or make it wrong
        counts = [n for n, item in enumerate(items) if item.split("=", 1)[0] in COUNT_TAGS]
        if counts:
            n = rng.choice(counts)
            if rng.random() < 0.5:
                del items[n]
            else:
                count_tag = items[n].split("=", 1)[0]
                items[n] = f"{count_tag}={rng.choice(('0', '-1', '1', '7', '999999', 'x'))}"
    elif op == 9:  # a stray group delimiter or member
        stray = f"{rng.choice(GROUP_TAGS)}={rng.choice((*HOSTILE_VALUES, '0', '1', '2'))}"
        items.insert(rng.randrange(len(items) + 1), stray)
    elif op == 10:  # a huge, negative or exotic number in a numeric-looking field
        numeric = [n for n, item in enumerate(items) if _numeric(item.partition("=")[2])]
        n = rng.choice(numeric) if numeric else i
        number_tag = items[n].partition("=")[0]
        items[n] = f"{number_tag}={rng.choice(HOSTILE_VALUES[2:24])}"
    else:  # drop every field with one tag (e.g. a required one, everywhere)
        items = [item for item in items if item.partition("=")[0] != tag]
    return items


COUNT_TAGS = frozenset({"268", "146", "453", "136"})


def _numeric(value: str) -> bool:
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


def mutated_raw(seed_raw: str, rng: random.Random) -> str:
    items = [item for item in seed_raw.split(SOH) if item]
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        items = mutate_items(items, rng)
    raw = SOH.join(items) + (SOH if rng.random() < 0.9 else "")
    if rng.random() < 0.05:  # truncated anywhere, mid-field included
        raw = raw[: rng.randrange(len(raw) + 1)]
    return raw


def _conforms(value: object, hint: object) -> bool:
    """Whether ``value`` matches a resolved type hint (unions, ``tuple[X, ...]``, dataclasses)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arm) for arm in typing.get_args(hint))
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        return isinstance(value, tuple) and all(_conforms(item, item_hint) for item in value)
    if hint is type(None):
        return value is None
    if not isinstance(hint, type) or not isinstance(value, hint):
        return False
    if _field_names(hint):
        return _problem(value) is None
    return True


def _field_names(record: type) -> tuple[str, ...]:
    """The fields of a record type, dataclass or named tuple; () for anything else."""
    if dataclasses.is_dataclass(record):
        return tuple(item.name for item in dataclasses.fields(record))
    return getattr(record, "_fields", ())


def _problem(value: object) -> str | None:
    """The first field of a record (dataclass or named tuple) whose type does not match its
    annotation, nested records included."""
    hints = typing.get_type_hints(type(value))
    for name in _field_names(type(value)):
        field_value = getattr(value, name)
        if not _conforms(field_value, hints[name]):
            return f"{type(value).__name__}.{name} = {field_value!r} is not {hints[name]}"
    return None


def read_outcome(msg_type: str, raw: str) -> str | None:
    """None when the reader kept its contract on ``raw``, else what it did wrong."""
    try:
        result = READERS[msg_type](raw, 0)
    except (MalformedMessage, ValueError):
        return None
    except Exception as exc:  # escaping anything else is the bug we look for
        return f"raised {type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    if not isinstance(result, READER_RESULTS[msg_type]):
        return f"returned {type(result).__name__}, not {READER_RESULTS[msg_type].__name__}"
    return _problem(result)


def _shrink(msg_type: str, raw: str, verdict: str) -> str:
    """Drop fields while the same kind of violation remains: the minimal input for a report."""
    kind = verdict.split(":", 1)[0]
    items = raw.split(SOH)
    changed = True
    while changed:
        changed = False
        for n in range(len(items)):
            candidate = items[:n] + items[n + 1 :]
            outcome = read_outcome(msg_type, SOH.join(candidate))
            if outcome is not None and outcome.split(":", 1)[0] == kind:
                items, changed = candidate, True
                break
    return SOH.join(items)


@pytest.mark.parametrize("msg_type", sorted(READERS))
def test_readers_keep_their_contract_on_mutated_messages(msg_type: str) -> None:
    """Each reader returns its type or raises MalformedMessage/ValueError, nothing else."""
    rng = random.Random(f"{SEED}-reader-{msg_type}")
    seeds = READER_SEEDS[msg_type]
    for raw in seeds:
        assert read_outcome(msg_type, raw) is None, f"seed message not read: {raw!r}"
    failures: dict[str, tuple[str, int]] = {}  # violation kind -> (smallest input, count)
    started = time.monotonic()
    for _ in range(MUTATIONS_PER_READER):
        raw = mutated_raw(rng.choice(seeds), rng)
        verdict = read_outcome(msg_type, raw)
        if verdict is not None:
            kind = verdict.split(":", 1)[0]
            smallest, count = failures.get(kind, (raw, 0))
            failures[kind] = (min(smallest, raw, key=len), count + 1)
    assert time.monotonic() - started < 10, "readers are too slow on hostile input"
    report = [
        f"{count}x {read_outcome(msg_type, _shrink(msg_type, raw, kind))} "
        f"minimal input: {_shrink(msg_type, raw, kind)!r}"
        for kind, (raw, count) in failures.items()
    ]
    assert not report, f"35={msg_type} reader broke its contract:\n" + "\n".join(report)


# =========================================================================== 2. the acceptor

OE, MD = SessionRole.ORDER_ENTRY, SessionRole.MARKET_DATA
WELL_FRAMED = {"D": 110, "F": 45, "G": 50, "V": 60, "x": 35}  # 300 mutated messages
CROSS_SESSION = 5  # per gateway: a valid message of the other gateway's kind
HEADER_MUTATIONS = 12
GARBAGE_CHUNKS = 50
ANSWER_TIMEOUT_S = 5.0  # the venue answers in milliseconds; only a lost message waits this long
GARBAGE_TIMEOUT_S = 0.4  # after garbage a TestRequest may be swallowed: retry, then reconnect
WATCHDOG_S = 100.0


class FuzzPeer(RawFixPeer):
    """RawFixPeer whose reads survive any bytes (a closed connection shows in ``eof``)."""

    def receive(self, timeout_s: float = 5.0) -> dict[int, str] | None:
        raw = self.next_frame(timeout_s)
        if raw is None:
            return None
        fields: dict[int, str] = {}
        for item in raw.decode("utf-8", "replace").split(SOH):
            tag, _, value = item.partition("=")
            if tag.isdecimal():
                fields.setdefault(int(tag), value)
        return fields


@dataclass
class Window:
    """What came back between sending one message and the venue's answer to our TestRequest."""

    messages: list[dict[int, str]] = field(default_factory=list)
    resend_from: set[int] = field(default_factory=set)  # BeginSeqNo of ResendRequests
    logout: bool = False
    disconnected: bool = False
    alive: bool = False  # our TestRequest was answered


@dataclass
class Tally:
    """Counts for the report."""

    sent: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    disconnects: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    gap_fills: int = 0
    garbage: Counter[str] = field(default_factory=Counter)
    unanswered: list[str] = field(default_factory=list)
    # the venue engine's event log (truex_qf.fix.events), when the test captures it
    engine_events: Callable[[], list[logging.LogRecord]] = list


class FuzzSession:
    """One gateway session held logged on: reconnects, gap-fills, answers TestRequests."""

    def __init__(self, local: LocalVenue, role: SessionRole, tally: Tally) -> None:
        settings = local.client_settings
        self.port = settings.order_entry_port if role is OE else settings.market_data_port
        self.target = UAT_ORDER_ENTRY_TARGET if role is OE else UAT_MARKET_DATA_TARGET
        self.sender = settings.sender_comp_id
        self.credentials = settings.credentials
        self.role = role
        self.tally = tally
        self.test_ids = itertools.count(1)
        self.peer: FuzzPeer = self._logon()

    def _logon(self, timeout_s: float = 15.0) -> FuzzPeer:
        deadline = time.monotonic() + timeout_s
        while True:
            peer = None
            try:
                peer = FuzzPeer(self.port, self.sender, self.target)
                peer.logon(self.credentials.api_key, self.credentials.secret_key)
                if peer.receive_type("A", 2.0) is not None:
                    return peer
            except OSError:
                pass
            if peer is not None:
                peer.close()
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.role.value}: the venue no longer accepts a logon")
            time.sleep(0.1)  # the venue may not have seen our last connection close yet

    def reconnect(self) -> None:
        self.peer.close()
        self.tally.reconnects += 1
        self.peer = self._logon()

    def send_fields(self, fields: list[tuple[object, str]]) -> bool:
        """Frame ``fields`` (35 first) as they are and send them; False if the socket is gone."""
        return self.send_bytes(frame(fields))  # type: ignore[arg-type]

    def send_bytes(self, data: bytes) -> bool:
        try:
            self.peer.send_bytes(data)
        except OSError:
            return False
        return True

    def header(self, msg_type: str) -> list[tuple[object, str]]:
        return list(self.peer.header(msg_type))

    def barrier(self, timeout_s: float = ANSWER_TIMEOUT_S) -> Window:
        """Send a TestRequest and collect everything until its Heartbeat, EOF or the timeout."""
        window = Window()
        test_id = f"FZ{self.role.value[:2]}{next(self.test_ids)}"
        if not self.send_fields([*self.header("1"), (112, test_id)]):
            window.disconnected = True
            return window
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.peer.receive(remaining)
            if message is None:
                window.disconnected = self.peer.eof
                return window
            msg_type = message.get(35)
            if msg_type == "0" and message.get(112) == test_id:
                window.alive = True
                return window
            if msg_type == "1":  # the venue's own liveness check
                self.send_fields([*self.header("0"), (112, message.get(112, ""))])
            elif msg_type == "2":
                begin = int(message.get(7, "0") or 0)
                window.resend_from.add(begin)
                self._gap_fill(begin)
            elif msg_type == "5":
                window.logout = True
            else:
                window.messages.append(message)
        return window

    def _gap_fill(self, begin: int) -> None:
        """SequenceReset-GapFill over the one message the venue says it never got."""
        self.tally.gap_fills += 1
        stamp = now()
        new_seq = min(begin + 1, self.peer.seq + 1)
        self.send_fields(
            [
                (35, "4"),
                (49, self.sender),
                (56, self.target),
                (34, str(begin)),
                (43, "Y"),
                (52, stamp),
                (122, stamp),
                (123, "Y"),
                (36, str(new_seq)),
            ]
        )

    def logout(self) -> None:
        if self.send_fields([*self.header("5")]):
            self.peer.receive_type("5", 2.0)
        self.peer.close()


@dataclass
class Sent:
    """One well-framed message and what would identify its answer."""

    kind: str
    seq: int
    fields: list[tuple[object, str]]
    label: str = ""

    def first(self, tag: int) -> str | None:
        return next((value for t, value in self.fields if str(t) == str(tag)), None)


# The request's own ID that an answer echoes: ClOrdID, MDReqID, SecurityReqID.
ANSWER_ID_TAGS = {"8": 11, "9": 11, "W": 262, "Y": 262, "y": 320}


def answer_of(sent: Sent, window: Window) -> str | None:
    """The message type that answered ``sent`` in ``window``, or None."""
    seq = str(sent.seq)
    for message in window.messages:
        msg_type = message.get(35)
        if msg_type in ("3", "j") and message.get(45) == seq:
            return msg_type
        id_tag = ANSWER_ID_TAGS.get(str(msg_type))
        request_id = sent.first(id_tag) if id_tag is not None else None
        if request_id is not None and message.get(id_tag) == request_id:  # type: ignore[arg-type]
            return msg_type
    if sent.seq in window.resend_from:
        return "2"  # the engine could not parse it (logged) and asked for it again
    if window.logout or window.disconnected:
        return "disconnect"
    if sent.kind in ("V", "x") and sent.first(263) == "2":
        # A valid unsubscribe (market data, or security-list updates) is not answered: the
        # spec records no answer to either, so the simulator takes the quiet side.
        return "none (unsubscribe)"
    return None


# -------------------------------------------------------------- valid messages to mutate

FUZZ_VALUES = (
    "",
    "abc",
    "-1",
    "0",
    "-0.001",
    "0.0000001",
    "9" * 30,
    "1" + "0" * 27,
    "-" + "9" * 25,
    "1e5",
    "NaN",
    "99999999999",
    "2147483648",
    "1.2.3",
    "é€漢",
    "=",
    "a=b",
    " ",
    "\x7f",
    "Y",
    "N",
    "x" * 300,
)
ENUM_TAGS = ("54", "40", "59", "18", "2964", "263", "264", "559", "452", "146", "453")
UNKNOWN_TAGS = ("0", "9999", "5000", "20000", "167", "1", "60", "122", "2147483647")
UNPARSEABLE_TAGS = ("abc", "-5", "99999999999", "1e3")


class MessageFactory:
    """Valid D/F/G/V/x bodies, and their mutations, from one seeded generator."""

    def __init__(self, rng: random.Random, client_id: str) -> None:
        self.rng = rng
        self.client_id = client_id
        self.ids = itertools.count(1)
        self.resting: list[str] = []  # ClOrdIDs of orders that may be working

    def cl_ord_id(self) -> str:
        return f"FZ{next(self.ids):06d}"

    def parties(self) -> list[tuple[object, str]]:
        return [(453, "1"), (448, self.client_id), (452, "3")]

    def valid(self, kind: str) -> list[tuple[object, str]]:
        rng = self.rng
        if kind == "D":
            side = rng.choice("12")
            ticks = rng.randrange(50, 400)
            price = Decimal(100000) + (ticks if side == "2" else -ticks) * Decimal(5)
            body: list[tuple[object, str]] = [(11, self.cl_ord_id())]
            if rng.random() < 0.3:
                body.append((2964, rng.choice("12")))
            body += [
                (38, rng.choice(("0.001", "0.002", "0.0015"))),
                (40, "2"),
                (44, str(price)),
                (54, side),
                (55, DEMO_SYMBOL),
                (59, rng.choice("13")),
                *self.parties(),
            ]
            return body
        if kind in ("F", "G"):
            orig = rng.choice(self.resting) if self.resting and rng.random() < 0.7 else "NOPE1"
            body = [(11, self.cl_ord_id()), (41, orig)]
            if kind == "G":
                body += [(38, "0.003"), (40, "2"), (44, str(99000 + 5 * rng.randrange(100)))]
            return body + self.parties()
        if kind == "V":
            return [
                (262, f"MD{next(self.ids)}"),
                (263, rng.choice("01")),
                (264, rng.choice(("0", "1", "5"))),
                (146, "1"),
                (55, rng.choice((DEMO_SYMBOL, "ETH-PYUSD"))),
            ]
        assert kind == "x"
        if rng.random() < 0.5:
            return [(320, f"SL{next(self.ids)}"), (559, "4")]
        return [(320, f"SL{next(self.ids)}"), (559, "0"), (55, DEMO_SYMBOL)]

    def mutate(self, body: list[tuple[object, str]]) -> list[tuple[object, str]]:
        rng = self.rng
        body = list(body)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            if not body:
                break
            i = rng.randrange(len(body))
            tag, value = body[i]
            op = rng.randrange(11)
            if op == 0:  # missing (possibly required) tag
                del body[i]
            elif op == 1:  # a value of the wrong type, empty, huge, exotic
                body[i] = (tag, rng.choice(FUZZ_VALUES))
            elif op == 2:  # random text
                length = rng.choice((1, 3, 20, 64))
                body[i] = (tag, "".join(rng.choice(string.printable[:94]) for _ in range(length)))
            elif op == 3:  # an unknown or misplaced tag
                body.insert(rng.randrange(len(body) + 1), (rng.choice(UNKNOWN_TAGS), "1"))
            elif op == 4:  # another tag number
                body[i] = (rng.choice((*UNKNOWN_TAGS, str(rng.randrange(1, 1000)))), value)
            elif op == 5:  # a bad enum value
                enum_tag = rng.choice(ENUM_TAGS)
                spots = [n for n, (t, _) in enumerate(body) if str(t) == enum_tag]
                bad = rng.choice(("Z", "9", "-1", "", "A", "0", "3", "11", "2"))
                if spots:
                    body[spots[0]] = (enum_tag, bad)
                else:
                    body.insert(rng.randrange(len(body) + 1), (enum_tag, bad))
            elif op == 6:  # a repeating group with a wrong count, repeated, or without count
                count_spots = [n for n, (t, _) in enumerate(body) if str(t) in ("453", "146")]
                if count_spots:
                    n = count_spots[0]
                    choice = rng.randrange(3)
                    if choice == 0:
                        body[n] = (body[n][0], rng.choice(("0", "2", "3", "-1", "x")))
                    elif choice == 1:
                        body[n + 1 : n + 1] = body[n + 1 : n + 3]  # the entry twice, count 1
                    else:
                        del body[n]
            elif op == 7:  # a duplicated field
                body.insert(rng.randrange(len(body) + 1), body[i])
            elif op == 8:  # two fields swapped (breaks a group's delimiter-first order)
                j = rng.randrange(len(body))
                body[i], body[j] = body[j], body[i]
            elif op == 9:  # huge numbers where numbers go
                numeric = [n for n, (t, _) in enumerate(body) if str(t) in ("38", "44", "264")]
                n = rng.choice(numeric) if numeric else i
                huge = rng.choice(("9" * rng.randrange(20, 40), "1" + "0" * rng.randrange(24, 34)))
                body[n] = (body[n][0], huge)
            elif rng.random() < 0.25:  # a tag the engine cannot even parse (rare)
                body.insert(rng.randrange(len(body) + 1), (rng.choice(UNPARSEABLE_TAGS), "1"))
            else:  # a fresh, possibly invalid, ClOrdID
                spots = [n for n, (t, _) in enumerate(body) if str(t) == "11"]
                if spots:
                    body[spots[0]] = (
                        11,
                        rng.choice(
                            (self.cl_ord_id(), "TEST_BUY_1757526335158", "bad id!", "ü" * 5)
                        ),
                    )
        return body


def _garbage(rng: random.Random, session: FuzzSession) -> tuple[str, bytes]:
    """A chunk with broken framing; it never consumes one of our sequence numbers."""
    header = [
        (35, "D"),
        (49, session.sender),
        (56, session.target),
        (34, str(session.peer.seq + 1)),
        (52, now()),
    ]
    good = frame([*header, (11, "GARBAGE1"), (38, "0.001"), (40, "2"), (44, "99000")])
    body_start = good.index(b"\x0135=") + 1
    body_end = good.rindex(b"10=")
    length = body_end - body_start
    kind = rng.randrange(9)
    if kind == 0:
        return "bad checksum", good[:-4] + b"%03d\x01" % ((int(good[-4:-1]) + 1) % 256)
    if kind == 1:
        return "checksum not a number", good[:-4] + b"x!?\x01"
    if kind == 2:
        short = rng.randrange(1, length)
        return "BodyLength short", good.replace(b"9=%d\x01" % length, b"9=%d\x01" % short, 1)
    if kind == 3:
        longer = length + rng.randrange(1, 120)
        return "BodyLength long", good.replace(b"9=%d\x01" % length, b"9=%d\x01" % longer, 1)
    if kind == 4:
        bad = rng.choice((b"abc", b"-5", b"", b"99999999999999", b"0"))
        return "BodyLength not a number", good.replace(b"9=%d\x01" % length, b"9=" + bad + b"\x01")
    if kind == 5:
        return "no checksum", good[: good.rindex(b"10=")]
    if kind == 6:
        return "truncated", good[: rng.randrange(3, len(good) - 1)]
    if kind == 7:
        return "random bytes", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    wrong = good[: good.rindex(b"10=")].replace(b"8=FIXT.1.1", b"8=FIX.4.2", 1)
    return "wrong BeginString", wrong + b"10=%03d\x01" % (sum(wrong) % 256)


def _header_mutation(
    rng: random.Random, session: FuzzSession, msg_type: str, body: list
) -> tuple[str, list]:
    """A well-framed message whose header is wrong: answered, or the session is dropped."""
    header = session.header(msg_type)  # 35, 49, 56, 34, 52
    kind = rng.randrange(8)
    if kind == 0:
        header[1] = (49, "INTRUDER")
        return "wrong SenderCompID", header + body
    if kind == 1:
        header[2] = (56, "TRUEX_PROD_OE")
        return "wrong TargetCompID", header + body
    if kind == 2:
        header[3] = (34, "1")
        return "MsgSeqNum too low", header + body
    if kind == 3:
        del header[4]
        return "no SendingTime", header + body
    if kind == 4:
        header[4] = (52, "yesterday")
        return "SendingTime garbage", header + body
    if kind == 5:
        header.insert(4, (43, "Y"))
        return "PossDupFlag without OrigSendingTime", header + body
    if kind == 6:
        header[0] = (35, rng.choice(("ZZ", "AE", "BE", "A")))
        return f"MsgType {header[0][1]}", header + body
    # a header field after a body field
    return "header field after the body", header[:3] + body[:1] + header[3:] + body[1:]


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Dump every thread's stack if the block runs longer than ``seconds`` (then pytest's own
    faulthandler_timeout and pytest-timeout take over)."""
    faulthandler.dump_traceback_later(seconds, exit=False)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def _exchange(session: FuzzSession, sent: Sent, tally: Tally) -> None:
    """Send ``sent``, wait for the barrier, classify the answer; reconnect if dropped."""
    window = Window()
    mark = len(tally.engine_events())
    if not session.send_fields(sent.fields):
        window.disconnected = True
    else:
        window = session.barrier()
    answer = answer_of(sent, window)
    if answer == "2" and not any(
        "Invalid message" in record.getMessage() for record in tally.engine_events()[mark:]
    ):
        answer = None  # asked for again, but the engine did not say why: not good enough
    if answer is None:
        got = [message.get(35) for message in window.messages]
        tally.unanswered.append(
            f"{session.role.value} {sent.kind} {sent.label} seq {sent.seq}: "
            f"{SOH.join(f'{t}={v}' for t, v in sent.fields)!r} -> got {got}, "
            f"alive={window.alive}"
        )
    else:
        kind = f"header[{sent.label}]" if sent.kind == "header" else sent.kind
        tally.answers[f"{kind}->{answer}"] += 1
    if window.logout or window.disconnected or not window.alive:  # logged out: log on again
        tally.disconnects[f"{sent.kind} {sent.label}".strip()] += 1
        session.reconnect()


def _well_framed(session: FuzzSession, kind: str, body: list, tally: Tally, label: str) -> None:
    header = session.header(kind)
    tally.sent[kind] += 1
    _exchange(session, Sent(kind, session.peer.seq, header + body, label), tally)


def _send_garbage(session: FuzzSession, rng: random.Random, tally: Tally) -> None:
    label, data = _garbage(rng, session)
    tally.sent["garbage"] += 1
    if not session.send_bytes(data):
        tally.garbage[f"{label}: dropped"] += 1
        session.reconnect()
        return
    for attempt in range(3):
        window = session.barrier(GARBAGE_TIMEOUT_S)
        if window.alive:
            outcome = "alive" if attempt == 0 else "alive after a lost TestRequest"
            tally.garbage[f"{label}: {outcome}"] += 1
            return
        if window.disconnected or window.logout:
            tally.garbage[f"{label}: dropped"] += 1
            tally.disconnects[f"garbage {label}"] += 1
            session.reconnect()
            return
    tally.garbage[f"{label}: stalled, reconnected"] += 1
    session.reconnect()


def _fuzz_gateway(
    session: FuzzSession,
    kinds: dict[str, int],
    cross_kind: str,
    factory: MessageFactory,
    rng: random.Random,
    tally: Tally,
) -> None:
    plan = [kind for kind, count in kinds.items() for _ in range(count)]
    plan += ["cross"] * CROSS_SESSION + ["header"] * (HEADER_MUTATIONS // 2)
    plan += ["garbage"] * (GARBAGE_CHUNKS // 2)
    rng.shuffle(plan)
    if "D" in kinds:  # a few working orders for F and G to aim at
        plan = ["valid D"] * 6 + plan
    for number, step in enumerate(plan):
        if step == "valid D":
            body = factory.valid("D")
            factory.resting.append(str(body[0][1]))
            _well_framed(session, "D", body, tally, "valid")
        elif step == "cross":
            _well_framed(session, cross_kind, factory.valid(cross_kind), tally, "wrong gateway")
        elif step == "header":
            kind = "D" if session.role is OE else "V"
            # a valid body, so that the engine's header checks are what answers
            label, fields = _header_mutation(rng, session, kind, factory.valid(kind))
            seq = next((int(v) for t, v in fields if t == 34), session.peer.seq)
            tally.sent["header"] += 1
            _exchange(session, Sent("header", seq, fields, label), tally)
        elif step == "garbage":
            _send_garbage(session, rng, tally)
        else:
            _well_framed(session, step, factory.mutate(factory.valid(step)), tally, "mutated")
        # after each batch of 20: alive, on this connection or after a reconnect
        if number % 20 == 19 and not session.barrier().alive:
            session.reconnect()
            assert session.barrier().alive, f"{session.role.value}: the venue stopped answering"


def test_acceptor_survives_mutated_and_garbage_fix(
    local_venue: LocalVenue, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(f"{SEED}-acceptor")
    tally = Tally(engine_events=lambda: caplog.records)
    factory = MessageFactory(rng, local_venue.client_settings.client_id)
    started = time.monotonic()
    with watchdog(WATCHDOG_S), caplog.at_level(logging.INFO, logger="truex_qf.fix.events"):
        order_entry = FuzzSession(local_venue, OE, tally)
        market_data = FuzzSession(local_venue, MD, tally)
        oe_kinds = {kind: WELL_FRAMED[kind] for kind in "DFG"}
        md_kinds = {kind: WELL_FRAMED[kind] for kind in "Vx"}
        _fuzz_gateway(order_entry, oe_kinds, "V", factory, rng, tally)
        _fuzz_gateway(market_data, md_kinds, "D", factory, rng, tally)
        order_entry.logout()
        market_data.logout()
    elapsed = time.monotonic() - started
    print(
        f"\nacceptor fuzz in {elapsed:.1f} s: sent {dict(tally.sent)}\n"
        f"answers {dict(sorted(tally.answers.items()))}\n"
        f"disconnects {dict(tally.disconnects)}, reconnects {tally.reconnects}, "
        f"gap fills {tally.gap_fills}\ngarbage {dict(sorted(tally.garbage.items()))}"
    )

    # The process neither crashed nor hung: a normal QuickFIX client logs on and trades.
    client = request.getfixturevalue("client")
    events = request.getfixturevalue("events")
    client.wait_logged_on(OE, 10)
    client.wait_logged_on(MD, 10)
    best_offer = local_venue.venue.engine.depth(DEMO_SYMBOL, 1).offers[0]
    assert client.send(
        NewOrder("AFTERFUZZ1", DEMO_SYMBOL, Side.BUY, Decimal("0.001"), best_offer.price)
    )
    events.wait_for(
        lambda e: isinstance(e, ExecutionReport)
        and e.cl_ord_id == "AFTERFUZZ1"
        and e.exec_type is ExecType.TRADE
    )

    if tally.unanswered:
        pytest.fail(
            f"{len(tally.unanswered)} well-framed messages got no answer (see the venue's "
            "'error in engine callback' log for why):\n" + "\n".join(tally.unanswered[:20])
        )


HUGE_QUANTITY = "1" + "0" * 24  # OrderQty / lot (0.0001) has 29 digits: more than 28
HUGE_PRICE = "1" + "0" * 28  # Price / tick (1) has 29 digits


@pytest.mark.parametrize(
    ("msg_type", "quantity", "price"),
    [("D", HUGE_QUANTITY, "99000"), ("D", "0.001", HUGE_PRICE), ("G", HUGE_QUANTITY, "99000")],
    ids=["D huge OrderQty", "D huge Price", "G huge OrderQty"],
)
def test_venue_answers_orders_with_huge_numbers(
    local_venue: LocalVenue, msg_type: str, quantity: str, price: str
) -> None:
    """Found by the fuzz test: the grid check's ``%`` raises DivisionImpossible beyond the
    decimal context's 28 digits, the guard swallows it, and the order is never answered."""
    client_id = local_venue.client_settings.client_id
    parties = [(453, "1"), (448, client_id), (452, "3")]
    resting = [(11, "HUGE0"), (38, "0.001"), (40, "2"), (44, "99000"), (54, "1")]
    if msg_type == "D":
        body = [(11, "HUGE1"), (38, quantity), (40, "2"), (44, price), (54, "1")]
        body += [(55, DEMO_SYMBOL), (59, "1"), *parties]
    else:
        body = [(11, "HUGE1"), (41, "HUGE0"), (38, quantity), (40, "2"), (44, price), *parties]
    session = FuzzSession(local_venue, OE, Tally())
    try:
        session.send_fields(
            session.header("D") + resting + [(55, DEMO_SYMBOL), (59, "1")] + parties
        )
        assert session.barrier().alive
        sent = Sent(msg_type, 0, session.header(msg_type) + body)
        sent.seq = session.peer.seq
        assert session.send_fields(sent.fields)
        window = session.barrier()
    finally:
        session.logout()
    assert window.alive
    assert answer_of(sent, window) in ("8", "9"), f"no answer to {msg_type} {quantity}@{price}"


# =========================================================================== 3. fromApp guard


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


CLIENT_SESSION = ("FIXT.1.1", "A", "B")


def _application(sink: Callable[[object], None]) -> tuple[TruexApplication, fix.SessionID]:
    session_id = fix.SessionID(*CLIENT_SESSION)
    app = TruexApplication(
        Credentials(api_key="key", secret_key="secret"),
        {session_id.toString(): OE},
        sink,  # type: ignore[arg-type]
    )
    return app, session_id


_DICTIONARIES: list[fix.DataDictionary] = []


def _engine_message(fields: list[tuple[object, str]]) -> fix.Message:
    """A message as the engine would hand it over: framed, parsed with the client's
    dictionaries (so repeating groups keep their order), not validated."""
    if not _DICTIONARIES:
        _DICTIONARIES.extend(
            fix.DataDictionary(str(SPEC_DIR / name))
            for name in ("TrueX_FIXT11.xml", "TrueX_FIX50SP2.xml")
        )
    transport, application = _DICTIONARIES
    raw = frame(fields).decode()  # type: ignore[arg-type]
    return fix.Message(raw, transport, application, False)


ER_HEADER = [(35, "8"), (49, "B"), (56, "A"), (34, "2"), (52, "20251010-13:36:00.000")]
ER_BODY = [
    (37, "1922892243"),
    (11, "BUY29147251"),
    (17, "1922957780"),
    (150, "0"),
    (39, "0"),
    (55, "BTC-PYUSD"),
    (54, "1"),
    (38, "0.001"),
    (44, "113391"),
    (151, "0.001"),
    (14, "0"),
]


def test_from_app_logs_and_swallows_what_a_reader_refuses(caplog: pytest.LogCaptureFixture):
    sink: list[object] = []
    app, session_id = _application(sink.append)
    app.fromApp(_engine_message(ER_HEADER + ER_BODY), session_id)
    assert len(sink) == 1 and isinstance(sink[0], ExecutionReport)  # the unmutated one reads

    sink.clear()
    broken = [(tag, "abc" if tag == 38 else value) for tag, value in ER_BODY if tag != 17]
    with caplog.at_level(logging.ERROR, logger="truex_qf.fix"):
        assert app.fromApp(_engine_message(ER_HEADER + broken), session_id) is None
    assert sink == []
    assert any("cannot read" in record.getMessage() for record in caplog.records)


def test_from_app_guard_swallows_an_unexpected_reader_exception(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """A reader bug (anything but MalformedMessage/ValueError) must not reach the engine."""

    def broken_reader(raw: str, received_ns: int = 0) -> object:
        raise KeyError(269)

    sink: list[object] = []
    app, session_id = _application(sink.append)
    monkeypatch.setitem(READERS, "8", broken_reader)
    with caplog.at_level(logging.ERROR, logger="truex_qf.fix"):
        assert app.fromApp(_engine_message(ER_HEADER + ER_BODY), session_id) is None
    assert sink == []
    assert any("error in engine callback" in record.getMessage() for record in caplog.records)


def test_from_app_on_mutated_reports_only_emits_well_typed_events(caplog):
    """Mutated ER/W/X through the real fromApp: no exception, sink gets only typed values."""
    rng = random.Random(f"{SEED}-from-app")
    sink: list[object] = []
    app, session_id = _application(sink.append)
    delivered = refused = 0
    with caplog.at_level(logging.ERROR, logger="truex_qf.fix"):
        for _ in range(200):
            msg_type = rng.choice(("8", "W", "X"))
            raw = mutated_raw(rng.choice(READER_SEEDS[msg_type]), rng)
            items = [item.partition("=") for item in raw.split(SOH) if item]
            header_tags = ("8", "9", "10", "34", "35", "49", "52", "56")
            body = [(t, v) for t, _, v in items if t not in header_tags]
            if any(SOH in v or not t.isdecimal() or not _utf8(v) for t, v in body):
                continue  # the engine would not deliver what it cannot parse
            fields = [(35, msg_type), (49, "B"), (56, "A"), (34, "2"), (52, now()), *body]
            try:
                message = _engine_message(fields)
            except fix.InvalidMessage:
                continue
            before = len(sink)
            assert app.fromApp(message, session_id) is None
            if len(sink) > before:
                delivered += 1
                assert isinstance(sink[-1], READER_RESULTS[msg_type])
                assert _problem(sink[-1]) is None
            else:
                refused += 1
    assert delivered and refused  # both paths exercised
    assert sum("cannot read" in r.getMessage() for r in caplog.records) >= refused
