"""Plays one row of ``facts.toml`` against a running simulator, as a raw-socket TrueX client.

A row is a list of steps (see README.md for the vocabulary). Steps either send bytes or check
what the venue sent; a check that fails raises AssertionError naming the row's step and the
messages actually received, so a failing row reads as "TrueX says X, the simulator said Y".
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conformance.wire import (
    Connection,
    Fields,
    frame,
    logon_password,
    parse_fields,
    printable,
    sending_time,
)

READ_TIMEOUT_S = 5.0  # a venue on loopback answers in milliseconds; this only bounds a hang
HEADER_TAGS = (49, 56, 34, 52)  # after 35, in this order (spec §3)
DEFAULT_LOGON = "35=A|98=0|108=30|141=Y|553={api_key}|554={signature}|1137=9"
PARTIES = "453=1|448={client_id}|452=3"
SIGNATURE_VARIANTS = ("spec", "wrong-secret", "hex", "time-key")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?:([+-]\d+))?(?::([a-z_-]+))?\}")


@dataclass(frozen=True)
class Venue:
    """What a row needs to know about the simulator it talks to."""

    host: str
    ports: dict[str, int]  # gateway name (OE, MD) -> port
    comp_ids: dict[str, str]  # gateway name -> the venue's CompID
    sender: str
    api_key: str
    secret: str
    client_id: str
    send_test_request: Callable[[str, str], bool]  # (gateway, TestReqID) -> sent?


@dataclass
class Gateway:
    """The client's side of one session: its socket and the sequence numbers it keeps."""

    name: str
    connection: Connection | None = None
    next_seq: int = 1
    received: list[Fields] = field(default_factory=list)  # everything read, for failure texts
    put_back: list[Fields] = field(default_factory=list)  # read, not yet consumed by a step


class Scenario:
    """The client of one row, holding one session per gateway."""

    def __init__(self, venue: Venue, default_gateway: str) -> None:
        self.venue = venue
        self.default_gateway = default_gateway
        self.gateways: dict[str, Gateway] = {}
        self.sync_ids = iter(range(1, 1000))

    # ------------------------------------------------------------------ running

    def run(self, steps: list[dict[str, Any]]) -> None:
        for number, step in enumerate(steps, start=1):
            gateway = self._gateway(step.get("on", self.default_gateway))
            try:
                self._run_step(step, gateway)
            except AssertionError as failure:
                seen = "\n  ".join(printable(m) for m in gateway.received[-8:]) or "(nothing)"
                raise AssertionError(
                    f"step {number} {step!r} on {gateway.name}: {failure}\n"
                    f"last messages from the venue on {gateway.name}:\n  {seen}"
                ) from None

    def close(self) -> None:
        for gateway in self.gateways.values():
            if gateway.connection is not None:
                gateway.connection.close()

    def _run_step(self, step: dict[str, Any], gateway: Gateway) -> None:
        kinds = [kind for kind in STEP_KINDS if kind in step]
        if len(kinds) != 1:
            raise ValueError(f"a step needs exactly one of {STEP_KINDS}: {step!r}")
        getattr(self, f"_step_{kinds[0]}")(step, gateway)

    def _gateway(self, name: str) -> Gateway:
        if name not in self.venue.ports:
            raise ValueError(f"unknown gateway {name!r}")
        return self.gateways.setdefault(name, Gateway(name))

    # ------------------------------------------------------------------ steps that send

    def _step_open(self, step: dict[str, Any], _: Gateway) -> None:
        """Connect, send the standard Logon, and require the venue's Logon back."""
        gateway = self._gateway(step["open"])
        self._connect(gateway)
        self._send(gateway, DEFAULT_LOGON)
        self._expect(gateway, {"expect": "35=A"})

    def _step_connect(self, step: dict[str, Any], _: Gateway) -> None:
        """A new TCP connection; the session's sequence numbers carry on."""
        self._connect(self._gateway(step["connect"]))

    def _step_logon(self, step: dict[str, Any], _: Gateway) -> None:
        """Send a Logon (the standard one, or ``fields``), connecting first if needed."""
        gateway = self._gateway(step["logon"])
        if gateway.connection is None or gateway.connection.closed_by_peer:
            self._connect(gateway)
        self._send(gateway, step.get("fields", DEFAULT_LOGON))

    def _step_send(self, step: dict[str, Any], gateway: Gateway) -> None:
        self._send(gateway, step["send"])

    def _step_send_raw(self, step: dict[str, Any], gateway: Gateway) -> None:
        """Exactly the row's fields between 9 and 10, in the row's order."""
        fields = self._fill(parse_fields(step["send_raw"].replace("{parties}", PARTIES)), gateway)
        self._connection(gateway).send(frame(fields))

    def _step_seq(self, step: dict[str, Any], gateway: Gateway) -> None:
        gateway.next_seq = int(step["seq"])

    def _step_disconnect(self, step: dict[str, Any], gateway: Gateway) -> None:
        self._connection(gateway).close()
        gateway.connection = None

    def _step_venue_test_request(self, step: dict[str, Any], gateway: Gateway) -> None:
        """Have the simulator send a TestRequest now (TrueX sends one after ~36 s of silence)."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        while not self.venue.send_test_request(gateway.name, step["venue_test_request"]):
            assert time.monotonic() < deadline, "the venue would not send a TestRequest"
            time.sleep(0.01)

    # ------------------------------------------------------------------ steps that check

    def _step_expect(self, step: dict[str, Any], gateway: Gateway) -> None:
        self._expect(gateway, step)

    def _step_sync(self, step: dict[str, Any], gateway: Gateway) -> None:
        """A TestRequest whose Heartbeat must be the very next message: proves that nothing
        (no reject, no report) came back for what was sent before it."""
        test_req_id = f"SYNC-{next(self.sync_ids)}"
        self._send(gateway, f"35=1|112={test_req_id}")
        message = self._next(gateway)
        assert message is not None, f"no Heartbeat answering {test_req_id} (connection closed?)"
        assert _first(message, 35) == "0" and _first(message, 112) == test_req_id, (
            f"expected only the Heartbeat 112={test_req_id}, got {printable(message)}"
        )

    def _step_closed(self, step: dict[str, Any], gateway: Gateway) -> None:
        """The venue closes the connection, without ever sending a Logon reply."""
        connection = self._connection(gateway)
        while (message := self._next(gateway)) is not None:
            assert _first(message, 35) != "A", f"the venue logged us on: {printable(message)}"
        assert connection.closed_by_peer, f"still open after {READ_TIMEOUT_S} s"

    # ------------------------------------------------------------------ helpers

    def _connect(self, gateway: Gateway) -> None:
        if gateway.connection is not None:
            gateway.connection.close()
        port = self.venue.ports[gateway.name]
        gateway.connection = Connection(self.venue.host, port, READ_TIMEOUT_S)

    def _connection(self, gateway: Gateway) -> Connection:
        assert gateway.connection is not None, f"no connection on {gateway.name}"
        return gateway.connection

    def _send(self, gateway: Gateway, template: str) -> None:
        """35 first, then the header (49, 56, 34, 52; a row's own value for any of them wins,
        in its header place), then the body in the row's order."""
        fields = parse_fields(template.replace("{parties}", PARTIES))
        if not fields or fields[0][0] != 35:
            raise ValueError(f"a sent message starts with 35: {template!r}")
        given = {tag: value for tag, value in fields if tag in HEADER_TAGS}
        defaults = {49: "{sender}", 56: "{target}", 34: "{seq}", 52: "{now}"}
        header = [(tag, given.get(tag, defaults[tag])) for tag in HEADER_TAGS]
        body = [(tag, value) for tag, value in fields[1:] if tag not in HEADER_TAGS]
        message = self._fill([fields[0], *header, *body], gateway)
        self._connection(gateway).send(frame(message))

    def _fill(self, fields: Fields, gateway: Gateway) -> Fields:
        """Placeholders replaced; {seq} takes the session's next number; {signature} is
        computed last, over the message's own 52, 35, 34, 49, 56 and 553."""
        filled: Fields = []
        for tag, value in fields:
            if "{seq}" in value:
                value = value.replace("{seq}", str(gateway.next_seq))
                gateway.next_seq += 1
            filled.append((tag, self._substitute(value, gateway)))
        if any("{signature" in value for _, value in filled):
            first = dict(reversed(filled))
            filled = [
                (tag, self._sign(value, first)) if "{signature" in value else (tag, value)
                for tag, value in filled
            ]
        return filled

    def _sign(self, value: str, first: dict[int, str]) -> str:
        def one(match: re.Match[str]) -> str:
            variant = match.group(3) or "spec"
            if variant not in SIGNATURE_VARIANTS:
                raise ValueError(f"unknown signature variant {match[0]!r}")
            secret = self.venue.secret if variant != "wrong-secret" else "not-" + self.venue.secret
            parts = [first.get(52, ""), first.get(35, ""), first.get(34, "")]
            parts += [first.get(49, ""), first.get(56, ""), first.get(553, "")]
            if variant == "time-key":  # §13.2 #1: timestamp + API key only
                return logon_password(secret, parts[0], "", "", "", "", parts[5])
            password = logon_password(secret, *parts)
            if variant == "hex":  # §2.1: hex instead of base64 fails
                return base64.b64decode(password).hex()
            return password

        return _PLACEHOLDER.sub(lambda m: one(m) if m.group(1) == "signature" else m[0], value)

    def _substitute(self, text: str, gateway: Gateway) -> str:
        venue = self.venue

        def one(match: re.Match[str]) -> str:
            name, offset = match.group(1), int(match.group(2) or 0)
            if name == "signature":
                return match[0]  # later, once the header is final
            values = {
                "sender": venue.sender,
                "target": venue.comp_ids[gateway.name],
                "api_key": venue.api_key,
                "client_id": venue.client_id,
            }
            if name == "now":
                return sending_time(offset)
            if name == "now_us":
                return sending_time(offset, decimals=6)
            if name not in values:
                raise ValueError(f"unknown placeholder {match[0]!r}")
            return values[name]

        return _PLACEHOLDER.sub(one, text)

    def _next(self, gateway: Gateway) -> Fields | None:
        """The venue's next message, skipping its own plain Heartbeats (every 30 s)."""
        if gateway.put_back:
            return gateway.put_back.pop()
        connection = self._connection(gateway)
        while True:
            message = connection.receive(READ_TIMEOUT_S)
            if message is None:
                return None
            gateway.received.append(message)
            if not (_first(message, 35) == "0" and _first(message, 112) is None):
                return message

    def _expect(self, gateway: Gateway, step: dict[str, Any]) -> None:
        """The next message satisfies every check of ``step``. An ``optional`` expectation
        that the next message does not meet consumes nothing."""
        connection = self._connection(gateway)
        message = self._next(gateway)
        assert message is not None, "no message: " + (
            "the venue closed the connection" if connection.closed_by_peer else "timed out"
        )
        problems = self._problems(message, step, gateway)
        if problems and step.get("optional"):
            gateway.put_back.append(message)
            return
        assert not problems, "; ".join(problems) + f"\n  in {printable(message)}"

    def _problems(self, message: Fields, step: dict[str, Any], gateway: Gateway) -> list[str]:
        problems = []
        for tag, wanted in parse_fields(self._substitute(step.get("expect", ""), gateway)):
            got = _first(message, tag)
            if got is None:
                problems.append(f"{tag} missing (want {wanted})")
            elif wanted != "*" and got != wanted:
                problems.append(f"{tag}={got}, want {wanted}")
        for tag in _tags(step.get("absent", "")):
            if _first(message, tag) is not None:
                problems.append(f"{tag} present ({tag}={_first(message, tag)}), want absent")
        for tag_text, choices in step.get("one_of", {}).items():
            got = _first(message, int(tag_text))
            if got not in choices:
                problems.append(f"{tag_text}={got}, want one of {choices}")
        for spec in _split(step.get("counts", "")):
            key, _, number = spec.rpartition(":")
            tag, _, value = key.partition("=")
            found = sum(1 for t, v in message if t == int(tag) and (not value or v == value))
            if found != int(number):
                problems.append(f"{found} fields {key}, want {number}")
        for pair in _split(step.get("same", "")):
            left, _, right = pair.partition("=")
            if _first(message, int(left)) != _first(message, int(right)):
                problems.append(f"{left}={_first(message, int(left))} differs from {right}")
        if "each" in step:
            problems += _each_problems(message, step["each"])
        return problems


STEP_KINDS = (
    "open",
    "connect",
    "logon",
    "send",
    "send_raw",
    "seq",
    "disconnect",
    "venue_test_request",
    "expect",
    "sync",
    "closed",
)


def _first(message: Fields, tag: int) -> str | None:
    return next((value for t, value in message if t == tag), None)


def _split(text: str) -> list[str]:
    return text.split()


def _tags(text: str) -> list[int]:
    return [int(tag) for tag in text.split()]


def _each_problems(message: Fields, spec: str) -> list[str]:
    """``"269: 270 271 1023=* 273"``: every group entry (from one 269 to the next) holds each
    listed tag, or tag=value. The entry runs to the next delimiter or to CheckSum."""
    delimiter_text, _, wanted_text = spec.partition(":")
    delimiter = int(delimiter_text)
    entries: list[Fields] = []
    for tag, value in message:
        if tag == delimiter:
            entries.append([])
        if entries and tag != 10:
            entries[-1].append((tag, value))
    if not entries:
        return [f"no group entry starting with {delimiter}"]
    problems = []
    for number, entry in enumerate(entries, start=1):
        for item in wanted_text.split():
            tag_text, sep, value = item.partition("=")
            tag = int(tag_text)
            present = any(t == tag and (not sep or value in ("*", v)) for t, v in entry)
            if not present:
                problems.append(f"entry {number} ({delimiter}={entry[0][1]}) lacks {item}")
    return problems
