#!/usr/bin/env python3
"""Build TrueX's QuickFIX data dictionaries from QuickFIX's standard ones.

Writes ``spec/TrueX_FIXT11.xml`` (transport: header, trailer, admin messages) and
``spec/TrueX_FIX50SP2.xml`` (application messages).

Why a generator instead of hand-edited XML: TrueX publishes its own dictionaries, but under an
unknown licence, so we derive ours. Field definitions (numbers, types, enumerations) come from
QuickFIX's ``FIXT11.xml`` and ``FIX50SP2.xml`` (QuickFIX licence, redistributable); which
messages, fields, groups and values TrueX uses comes from the tables of
``shared/truex-fix-spec.md`` and is written down below as data. Every departure from the
standard carries its reason, and the generator copies that reason into the XML as a comment, so
a reviewer reads the "why" next to the definition it explains.

Choices that apply throughout:

* Required flags follow the spec's "Req" columns, except where TrueX has been seen (or is
  documented) to omit a field: QuickFIX refuses a whole inbound message that lacks a required
  field, and a refused ExecutionReport is a lost fill.
* Enumerations are trimmed to TrueX's documented values where the spec gives a firm list. Where
  the spec marks the values as uncertain, the enumeration is dropped (not trimmed) for the same
  reason: QuickFIX refuses a message over one unlisted value.
* Only what TrueX uses is defined. QuickFIX rejects a tag missing from ``<fields>`` as an invalid
  tag, so an undefined tag is the cheapest way to refuse what TrueX never sends.
* QuickFIX 1.16 (C++) checks values and formats of top-level fields only, not of fields inside
  repeating groups. Group-member enumerations (452, 269, 279, 139, 871, 1324, 2446) and the
  MDEntryTime type are still written as TrueX uses them: they document TrueX, and engines that do
  check groups (QuickFIX/J) would otherwise refuse TrueX's market data.

Usage::

    python3 scripts/build_dictionaries.py [--source DIR] [--output DIR]

``--source`` defaults to ``share/quickfix`` under ``sys.prefix`` (where the quickfix wheel
installs its dictionaries); ``--output`` defaults to the repository's ``spec/``. The output is a
pure function of the two source files, so rerunning it reproduces the committed files byte for
byte.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "spec"
TRANSPORT_SOURCE = "FIXT11.xml"
APPLICATION_SOURCE = "FIX50SP2.xml"
TRANSPORT_OUTPUT = "TrueX_FIXT11.xml"
APPLICATION_OUTPUT = "TrueX_FIX50SP2.xml"


# --------------------------------------------------------------------------------------------
# The layout language: what a message, component or group holds.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A field inside a message, component or group; ``why`` becomes an XML comment."""

    name: str
    required: bool = False
    why: str = ""


@dataclass(frozen=True)
class Component:
    """A reference to a component defined in ``COMPONENTS``."""

    name: str
    required: bool = False
    why: str = ""


@dataclass(frozen=True)
class Group:
    """A repeating group, named by its NumInGroup field; the first member is the delimiter."""

    name: str
    members: tuple[Member, ...]
    required: bool = False
    why: str = ""


Member = Field | Component | Group


@dataclass(frozen=True)
class Message:
    """One message definition of a dictionary."""

    name: str
    msgtype: str
    msgcat: str
    members: tuple[Member, ...]
    why: str = ""


@dataclass(frozen=True)
class FieldPatch:
    """A TrueX change to a standard field definition.

    ``values`` keeps only the listed enumeration values (in that order), taking descriptions
    from QuickFIX; ``extra_values`` adds values QuickFIX does not know; ``no_values`` drops the
    enumeration altogether; ``type`` replaces the FIX type.
    """

    why: str
    type: str | None = None
    values: tuple[str, ...] | None = None
    extra_values: tuple[tuple[str, str], ...] = ()
    no_values: bool = False


# --------------------------------------------------------------------------------------------
# Transport dictionary (FIXT.1.1): spec §3 and §4.
# --------------------------------------------------------------------------------------------

HEADER: tuple[Member, ...] = (
    Field("BeginString", True),
    Field("BodyLength", True),
    Field("MsgType", True),
    Field(
        "ApplVerID",
        why="Not sent by TrueX; kept because QuickFIX picks the application dictionary by it.",
    ),
    Field("SenderCompID", True),
    Field("TargetCompID", True),
    Field("MsgSeqNum", True),
    Field("PossDupFlag", why="QuickFIX sets it on resends and checks it on receipt."),
    Field("PossResend"),
    Field("SendingTime", True),
    Field(
        "OrigSendingTime",
        why="QuickFIX adds it to resends; TrueX answered a resend carrying it with "
        "'Invalid tag (122)' (spec §1.6), so the application should strip it.",
    ),
)

TRAILER: tuple[Member, ...] = (Field("CheckSum", True),)

TEXT = Field("Text")

ADMIN_MESSAGES: tuple[Message, ...] = (
    Message("Heartbeat", "0", "admin", (Field("TestReqID"),)),
    Message(
        "TestRequest",
        "1",
        "admin",
        (Field("TestReqID", True),),
    ),
    Message(
        "ResendRequest",
        "2",
        "admin",
        (Field("BeginSeqNo", True), Field("EndSeqNo", True)),
    ),
    Message(
        "Reject",
        "3",
        "admin",
        (
            Field("RefSeqNum", True),
            Field("RefTagID"),
            Field("RefMsgType"),
            Field("SessionRejectReason"),
            TEXT,
        ),
    ),
    Message(
        "SequenceReset",
        "4",
        "admin",
        (Field("GapFillFlag"), Field("NewSeqNo", True)),
    ),
    Message("Logout", "5", "admin", (Field("SessionStatus"), TEXT)),
    Message(
        "Logon",
        "A",
        "admin",
        (
            Field(
                "EncryptMethod",
                why="Required by FIX but absent from TrueX's Logon reply (spec §12); QuickFIX "
                "always sends 98=0, so it stays defined, optional.",
            ),
            Field("HeartBtInt", True),
            Field("ResetSeqNumFlag"),
            Field(
                "NextExpectedMsgSeqNum",
                why="QuickFIX 1.16 sends it when EnableNextExpectedMsgSeqNum=Y.",
            ),
            Field(
                "Username",
                why="Optional in TrueX's dictionary, required in practice: the API key id.",
            ),
            Field(
                "Password",
                why="Optional in TrueX's dictionary, required in practice: the HMAC signature.",
            ),
            Field("SessionStatus"),
            Field("DefaultApplVerID", True),
            Field(
                "Text",
                why="The JS client sends 58=CancelOnDisconnect=Y here; whether TrueX honours it "
                "is unverified.",
            ),
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# Application dictionary (FIX 5.0 SP2): spec §4.8, §5, §6 and §8.
# --------------------------------------------------------------------------------------------

COMPONENTS: tuple[tuple[str, tuple[Member, ...]], ...] = (
    (
        "Parties",
        (
            Group(
                "NoPartyIDs",
                (Field("PartyID"), Field("PartyRole")),
                why="TrueX puts its client ID (a decimal from REST GET /api/v1/client) in 448 "
                "with role 3; no PartyIDSource (447).",
            ),
        ),
    ),
    (
        "Instrument",
        (
            Field(
                "Symbol",
                why="Optional, as TrueX publishes it: a required 55 would make QuickFIX refuse "
                "a whole ExecutionReport or snapshot that lacks it (a lost fill); the readers "
                "and the simulator say what is missing instead.",
            ),
            Field("SecurityType"),
        ),
    ),
    (
        "InstrumentExtension",
        (Component("AttrbGrp"),),
    ),
    (
        "AttrbGrp",
        (Group("NoInstrAttrib", (Field("InstrAttribType"), Field("InstrAttribValue"))),),
    ),
    (
        "MiscFeesGrp",
        (Group("NoMiscFees", (Field("MiscFeeAmt"), Field("MiscFeeType"))),),
    ),
    (
        "MDFullGrp",
        (
            Group(
                "NoMDEntries",
                (
                    Field("MDEntryType", True),
                    Field("MDEntryID"),
                    Field("MDEntryPx"),
                    Field("MDEntrySize"),
                    Field("MDEntryTime"),
                    Field(
                        "MDPriceLevel",
                        why="TrueX sends 1023 before 273; QuickFIX only needs 269 first.",
                    ),
                    Field("AggressorSide"),
                ),
            ),
        ),
    ),
    (
        "MDIncGrp",
        (
            Group(
                "NoMDEntries",
                (
                    Field("MDUpdateAction", True),
                    Field("MDEntryType"),
                    Field("MDEntryID"),
                    Component(
                        "Instrument",
                        why="The official client reads 55 from every entry.",
                    ),
                    Field("MDEntryPx"),
                    Field("MDEntrySize"),
                    Field("MDEntryTime"),
                    Field("MDPriceLevel"),
                    Field("AggressorSide"),
                ),
            ),
        ),
    ),
    (
        "InstrmtMDReqGrp",
        (
            Group(
                "NoRelatedSym",
                (
                    Component("Instrument", True),
                    Component("InstrumentExtension"),
                    Field("Currency"),
                    Field("MDEntrySize", why="In TrueX's definition; purpose undocumented."),
                ),
            ),
        ),
    ),
    (
        "SecListGrp",
        (
            Group(
                "NoRelatedSym",
                (Component("Instrument"), Component("InstrumentExtension"), Field("Currency")),
            ),
        ),
    ),
    (
        "SecLstUpdRelSymGrp",
        (
            Group(
                "NoRelatedSym",
                (
                    Field("ListUpdateAction"),
                    Component("Instrument"),
                    Component("InstrumentExtension"),
                    Field("Currency"),
                ),
                why="Spec §8.3 lists 1324 first. QuickFIX also starts an entry on the first "
                "group field it meets, so entries that lead with 55 still parse.",
            ),
        ),
    ),
)

PARTIES_IN_PRACTICE = (
    "Optional in TrueX's dictionary, required in practice: without it TrueX answers "
    "'Invalid client' (an execution report, not a session reject)."
)

APP_MESSAGES: tuple[Message, ...] = (
    Message(
        "ExecutionReport",
        "8",
        "app",
        (
            Field("OrderID", True, why="'NONE' when TrueX rejects before accepting the order."),
            Field("ClOrdID"),
            Field("OrigClOrdID"),
            Component("Parties"),
            Field("ExecID", True),
            Field("ExecType", True),
            Field("OrdStatus", True),
            Component("Instrument", True),
            Field("Side", True),
            Field("OrdType"),
            Field("OrderQty", True),
            Field("Price"),
            Field("Currency"),
            Field("TimeInForce"),
            Field("LastQty"),
            Field("LastPx"),
            Field("LeavesQty", True),
            Field("CumQty", True),
            Field("AvgPx"),
            Field("TransactTime"),
            TEXT,
            Field(
                "LastLiquidityInd",
                why="TrueX addition (spec §11.3): maker/taker flag on fills.",
            ),
            Component("MiscFeesGrp"),
            Field("TrdMatchID", why="TrueX addition (10/1/2025): globally unique trade ID."),
            Field(
                "SelfMatchPreventionInstruction",
                why="Echoed by TrueX since Feb 2025.",
            ),
            Field(
                "OrdRejReason",
                why="Not in TrueX's dictionary; read by TrueX's sample client, never observed. "
                "Optional so a report carrying it is not refused.",
            ),
            Field(
                "ExecInst",
                why="TrueX patch (spec §11.3): ALO orders may echo 18=6 on their reports.",
            ),
        ),
    ),
    Message(
        "OrderCancelReject",
        "9",
        "app",
        (
            Field("OrderID", True),
            Field("ClOrdID", True),
            Field("OrigClOrdID"),
            Field(
                "OrdStatus",
                why="Required by FIX and by TrueX's newer dictionary, but missing from the "
                "earlier published version: optional, so a gateway on that version cannot "
                "make QuickFIX refuse every cancel reject.",
            ),
            Field("CxlRejResponseTo", True),
            Field("CxlRejReason"),
            TEXT,
        ),
    ),
    Message(
        "NewOrderSingle",
        "D",
        "app",
        (
            Field("ClOrdID", True),
            Component("Parties", why=PARTIES_IN_PRACTICE),
            Field(
                "ExecInst",
                why="TrueX patch: not in TrueX's D definition, yet 18=6 (Add Liquidity Only) "
                "is sent on every maker order by the JS client and accepted.",
            ),
            Field("SelfMatchPreventionInstruction"),
            Component("Instrument", True),
            Field("Side", True),
            Field("OrderQty", True),
            Field("OrdType", True),
            Field("Price", why="Required for limit orders; TrueX's client sets it on market too."),
            Field("TimeInForce"),
        ),
        why="No TransactTime (60): TrueX's D does not define it and no sample sends it.",
    ),
    Message(
        "OrderCancelRequest",
        "F",
        "app",
        (
            Field(
                "OrigClOrdID",
                why="Optional in TrueX's dictionary, needed in practice to name the order.",
            ),
            Field("ClOrdID", True),
            Component("Parties", why=PARTIES_IN_PRACTICE),
        ),
        why="No Side, Symbol, OrderQty or TransactTime: TrueX's F defines none of them.",
    ),
    Message(
        "OrderCancelReplaceRequest",
        "G",
        "app",
        (
            Component("Parties", why=PARTIES_IN_PRACTICE),
            Field("OrigClOrdID"),
            Field("ClOrdID", True),
            Field("OrdType", True),
            Field("OrderQty", True),
            Field("Price"),
        ),
    ),
    Message(
        "BusinessMessageReject",
        "j",
        "app",
        (
            Field("RefSeqNum"),
            Field(
                "RefMsgType",
                why="Required by FIX and TrueX, but the only recorded TrueX reject (45|380|58) "
                "did not show it: optional, so a throttle notice is never refused.",
            ),
            Field("BusinessRejectRefID"),
            Field("BusinessRejectReason", True),
            TEXT,
            Field(
                "DefaultApplVerID",
                why="Not from TrueX. QuickFIX's Session::generateBusinessReject adds 1137 on "
                "FIXT sessions, so a QuickFIX peer's reject (our simulator's) must validate.",
            ),
        ),
    ),
    Message(
        "MarketDataRequest",
        "V",
        "app",
        (
            Field("MDReqID", True),
            Field("SubscriptionRequestType", True),
            Field(
                "MarketDepth",
                why="TrueX patch: missing from TrueX's V definition but documented (10/1/2025):"
                " 0 full book (20 levels in the snapshot), 1 top of book (default), N levels.",
            ),
            Component(
                "InstrmtMDReqGrp",
                why="Required by TrueX's table, but TrueX's own client unsubscribes (263=2) "
                "without it: optional.",
            ),
        ),
        why="No 265 or 267/269: TrueX does not define them; bids, offers and trades all come.",
    ),
    Message(
        "MarketDataSnapshotFullRefresh",
        "W",
        "app",
        (
            Field("MDReqID"),
            Component("Instrument", True),
            Component("MDFullGrp", True),
        ),
    ),
    Message(
        "MarketDataIncrementalRefresh",
        "X",
        "app",
        (Field("MDReqID"), Component("MDIncGrp", True)),
    ),
    Message(
        "MarketDataRequestReject",
        "Y",
        "app",
        (Field("MDReqID", True), TEXT),
        why="No MDReqRejReason (281): TrueX does not define it.",
    ),
    Message(
        "SecurityListRequest",
        "x",
        "app",
        (
            Field("SecurityReqID", True),
            Field("SecurityListRequestType", True),
            Component("Instrument"),
            Field("SubscriptionRequestType"),
        ),
    ),
    Message(
        "SecurityList",
        "y",
        "app",
        (
            Field("SecurityReqID"),
            Field("SecurityResponseID"),
            Field("SecurityRequestResult"),
            Field("TotNoRelatedSym"),
            Field("LastFragment"),
            Component("SecListGrp"),
        ),
    ),
    Message(
        "SecurityListUpdateReport",
        "BK",
        "app",
        (
            Field("SecurityReqID"),
            Field("SecurityResponseID"),
            Field("SecurityRequestResult"),
            Field("TotNoRelatedSym"),
            Field("LastFragment"),
            Field("SecurityUpdateAction"),
            Component("SecLstUpdRelSymGrp"),
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# Field patches: TrueX's departures from the standard definitions (spec §5.5, §11.3).
# --------------------------------------------------------------------------------------------

TRANSPORT_PATCHES: dict[str, FieldPatch] = {
    "EncryptMethod": FieldPatch(
        why="No enumeration, as TrueX publishes it: QuickFIX always sends 98=0.", no_values=True
    ),
    "ApplVerID": FieldPatch(
        why="No enumeration, as TrueX publishes it: TrueX does not send 1128.", no_values=True
    ),
    "DefaultApplVerID": FieldPatch(
        why="No enumeration on purpose: QuickFIX sends 1137=9 and TrueX replies 9, but the JS "
        "client's literal 1137=FIX.5.0SP2 was accepted too (spec §1.2).",
        no_values=True,
    ),
    "SessionStatus": FieldPatch(
        why="No enumeration on purpose: documented 0-8 (TrueX sends 4 with 'goodbye'), but "
        "other values are unverified (spec §14.19) and refusing a Logon reply would keep the "
        "session down.",
        no_values=True,
    ),
}

APPLICATION_PATCHES: dict[str, FieldPatch] = {
    "PartyRole": FieldPatch(why="TrueX uses only role 3 (client ID).", values=("3",)),
    "SecurityType": FieldPatch(
        why="TrueX custom value: CSPOT (crypto spot) is its only security type.",
        values=(),
        extra_values=(("CSPOT", "CRYPTO_SPOT"),),
    ),
    "MDEntryTime": FieldPatch(
        why="TrueX patch: typed UTCTIMEONLY by FIX and by TrueX's dictionary, but TrueX sends "
        "date, time and nanoseconds (19700101-00:00:00.000000000): a timestamp.",
        type="UTCTIMESTAMP",
    ),
    "SelfMatchPreventionInstruction": FieldPatch(
        why="No enumeration on purpose: TrueX documents 1 = cancel aggressive and 2 = cancel "
        "both (FIX: 2 = passive, 3 = both), but the JS client sends 2964=0 and TrueX accepts "
        "it; the meaning of 0 and 3 is unknown (spec §14.9).",
        no_values=True,
    ),
    "ExecInst": FieldPatch(
        why="No enumeration on purpose: TrueX is known to take only 6 (Add Liquidity Only / "
        "post-only); what else it accepts or echoes is undocumented (spec §14.10).",
        no_values=True,
    ),
    "LastLiquidityInd": FieldPatch(
        why="No enumeration on purpose: TrueX documents 1 = added (maker), 2 = removed "
        "(taker), but no fill was ever captured (spec §14.12); a fill must not be refused.",
        no_values=True,
    ),
    "OrdRejReason": FieldPatch(
        why="No enumeration on purpose: never observed from TrueX.", no_values=True
    ),
    "BusinessRejectReason": FieldPatch(
        why="TrueX uses 18 = invalid price increment (custom for 380).",
        values=("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "18"),
    ),
    "CxlRejReason": FieldPatch(
        why="TrueX uses 18 = invalid price increment.",
        values=("0", "1", "2", "3", "4", "5", "6", "7", "8", "18", "99"),
    ),
    "Side": FieldPatch(why="Spot buy and sell only.", values=("1", "2")),
    "OrdType": FieldPatch(why="Market and limit only (spec §7.1).", values=("1", "2")),
    "TimeInForce": FieldPatch(why="GTC and IOC only (spec §7.1).", values=("1", "3")),
    "ExecType": FieldPatch(
        why="TrueX's values (spec §7.2).",
        values=("0", "4", "5", "6", "8", "A", "C", "E", "F"),
    ),
    "OrdStatus": FieldPatch(
        why="TrueX's values (spec §7.2).",
        values=("0", "1", "2", "4", "5", "6", "8", "9", "A", "C", "E"),
    ),
    "MDEntryType": FieldPatch(why="Bid, offer and trade only.", values=("0", "1", "2")),
    "MDUpdateAction": FieldPatch(why="New, change and delete only.", values=("0", "1", "2")),
    "AggressorSide": FieldPatch(
        why="QuickFIX leaves 2446 unenumerated; TrueX sends 1 (buyer) or 2 (seller) on trades.",
        extra_values=(("1", "BUY"), ("2", "SELL")),
    ),
    "SecurityListRequestType": FieldPatch(
        why="0 = one symbol, 4 = all securities (spec §8.1).", values=("0", "4")
    ),
    "MiscFeeType": FieldPatch(why="Exchange fees and other (spec §5.4).", values=("4", "7")),
    "InstrAttribType": FieldPatch(
        why="40 = average daily notional, 41 = average daily trades (TrueX's 24h stats).",
        values=("40", "41"),
    ),
}


# --------------------------------------------------------------------------------------------
# Reading QuickFIX's dictionaries.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDef:
    """A field definition as QuickFIX's dictionary gives it."""

    number: int
    name: str
    type: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BaseDictionary:
    """The parts of a QuickFIX dictionary the generator reads: its version and its fields."""

    version: tuple[str, str, str, str]
    fields: dict[str, FieldDef]


def load_base(path: Path, expected_version: tuple[str, str, str, str]) -> BaseDictionary:
    """Read a QuickFIX dictionary, refusing any other version than the expected one.

    The check matters because the output claims to be FIXT.1.1 / FIX.5.0SP2: deriving it from,
    say, FIX44.xml would silently produce a wrong but loadable dictionary.
    """
    root = ET.parse(path).getroot()
    type_, major, minor, servicepack = (
        root.get(key, "0") for key in ("type", "major", "minor", "servicepack")
    )
    version = (type_, major, minor, servicepack)
    if version != expected_version:
        raise SystemExit(f"{path}: expected a {expected_version} dictionary, found {version}")
    fields: dict[str, FieldDef] = {}
    for element in root.iterfind("fields/field"):
        values = tuple((v.get("enum", ""), v.get("description", "")) for v in element)
        definition = FieldDef(
            int(element.get("number", "0")),
            element.get("name", ""),
            element.get("type", ""),
            values,
        )
        fields[definition.name] = definition
    return BaseDictionary(version, fields)


# --------------------------------------------------------------------------------------------
# Deriving the trimmed dictionaries.
# --------------------------------------------------------------------------------------------


def walk_field_names(
    members: Iterable[Member], components: dict[str, tuple[Member, ...]]
) -> Iterator[str]:
    """Yield every field name a layout uses, following component references and groups."""
    for member in members:
        if isinstance(member, Field):
            yield member.name
        elif isinstance(member, Group):
            yield member.name
            yield from walk_field_names(member.members, components)
        else:
            yield from walk_field_names(components[member.name], components)


def patched_definition(base: FieldDef, patch: FieldPatch | None) -> FieldDef:
    """Apply a TrueX patch to a QuickFIX field definition."""
    if patch is None:
        return base
    values = base.values
    if patch.no_values:
        values = ()
    elif patch.values is not None:
        known = dict(base.values)
        missing = [value for value in patch.values if value not in known]
        if missing:
            raise SystemExit(f"{base.name}: values {missing} are not in QuickFIX's enumeration")
        values = tuple((value, known[value]) for value in patch.values)
    values += patch.extra_values
    return FieldDef(base.number, base.name, patch.type or base.type, values)


def select_fields(
    names: Iterable[str], base: BaseDictionary, patches: dict[str, FieldPatch]
) -> list[FieldDef]:
    """Definitions of the used fields, patched, in tag order like QuickFIX's own files."""
    used = set(names)
    unknown = sorted(used - base.fields.keys())
    if unknown:
        raise SystemExit(f"fields not defined by QuickFIX: {unknown}")
    stale = sorted(patches.keys() - used)
    if stale:
        raise SystemExit(f"patches for fields no message uses: {stale}")
    definitions = [patched_definition(base.fields[name], patches.get(name)) for name in used]
    return sorted(definitions, key=lambda definition: definition.number)


def msgtype_values(messages: Iterable[Message]) -> tuple[tuple[str, str], ...]:
    """35's enumeration: every message type of both dictionaries, named as QuickFIX names them.

    QuickFIX checks header values against the transport dictionary, so an application message
    type missing here would be refused even though the application dictionary defines it.
    """
    return tuple((m.msgtype, re.sub(r"(?<!^)(?=[A-Z])", "_", m.name).upper()) for m in messages)


# --------------------------------------------------------------------------------------------
# Writing XML.
# --------------------------------------------------------------------------------------------


def yes_no(flag: bool) -> str:
    """QuickFIX's spelling of a required flag."""
    return "Y" if flag else "N"


def add_comment(parent: ET.Element, text: str) -> None:
    """Append an XML comment; '--' is illegal inside one, so refuse it early."""
    if "--" in text:
        raise SystemExit(f"comment text may not contain '--': {text}")
    parent.append(ET.Comment(f" {text} "))


def add_members(parent: ET.Element, members: Iterable[Member]) -> None:
    """Append field, component and group references, each preceded by its reason if any."""
    for member in members:
        if member.why:
            add_comment(parent, member.why)
        tag = {Field: "field", Component: "component", Group: "group"}[type(member)]
        element = ET.SubElement(parent, tag, name=member.name, required=yes_no(member.required))
        if isinstance(member, Group):
            add_members(element, member.members)


def add_messages(parent: ET.Element, messages: Iterable[Message]) -> None:
    """Append the ``<messages>`` section."""
    section = ET.SubElement(parent, "messages")
    for message in messages:
        if message.why:
            add_comment(section, message.why)
        element = ET.SubElement(
            section, "message", name=message.name, msgtype=message.msgtype, msgcat=message.msgcat
        )
        add_members(element, message.members)


def add_fields(
    parent: ET.Element, definitions: Iterable[FieldDef], patches: dict[str, FieldPatch]
) -> None:
    """Append the ``<fields>`` section, each patched field preceded by the patch's reason."""
    section = ET.SubElement(parent, "fields")
    for definition in definitions:
        if definition.name in patches:
            add_comment(section, patches[definition.name].why)
        element = ET.SubElement(
            section,
            "field",
            number=str(definition.number),
            name=definition.name,
            type=definition.type,
        )
        for enum, description in definition.values:
            ET.SubElement(element, "value", enum=enum, description=description)


def new_root(version: tuple[str, str, str, str], about: str) -> ET.Element:
    """The ``<fix>`` element with the provenance comment every generated file carries."""
    kind, major, minor, servicepack = version
    root = ET.Element("fix", type=kind, major=major, minor=minor, servicepack=servicepack)
    add_comment(
        root,
        f"{about} Generated by scripts/build_dictionaries.py from QuickFIX 1.16's "
        "dictionaries (QuickFIX Software License) and the TrueX FIX spec tables. "
        "Do not edit by hand: change the generator and rerun it.",
    )
    return root


def serialize(root: ET.Element) -> bytes:
    """Indented, deterministic UTF-8 bytes, so reruns compare equal byte for byte."""
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "utf-8") + b"\n"


def build_transport(base: BaseDictionary) -> bytes:
    """The FIXT.1.1 dictionary: header, trailer and the admin messages TrueX uses."""
    root = new_root(base.version, "TrueX transport dictionary (FIXT.1.1).")
    add_members(ET.SubElement(root, "header"), HEADER)
    add_messages(root, ADMIN_MESSAGES)
    add_members(ET.SubElement(root, "trailer"), TRAILER)
    ET.SubElement(root, "components")
    names = walk_field_names(HEADER + TRAILER + all_members(ADMIN_MESSAGES), {})
    patches = {
        **TRANSPORT_PATCHES,
        "MsgType": FieldPatch(
            why="Every message type TrueX uses, admin and application: QuickFIX checks 35 "
            "against this list for all messages.",
            extra_values=msgtype_values(ADMIN_MESSAGES + APP_MESSAGES),
        ),
    }
    add_fields(root, select_fields(names, base, patches), patches)
    return serialize(root)


def build_application(base: BaseDictionary) -> bytes:
    """The FIX 5.0 SP2 dictionary: the application messages and components TrueX uses."""
    root = new_root(base.version, "TrueX application dictionary (FIX 5.0 SP2).")
    ET.SubElement(root, "header")
    add_messages(root, APP_MESSAGES)
    ET.SubElement(root, "trailer")
    components = dict(COMPONENTS)
    section = ET.SubElement(root, "components")
    for name, members in COMPONENTS:
        add_members(ET.SubElement(section, "component", name=name), members)
    names = walk_field_names(all_members(APP_MESSAGES), components)
    add_fields(root, select_fields(names, base, APPLICATION_PATCHES), APPLICATION_PATCHES)
    return serialize(root)


def all_members(messages: Iterable[Message]) -> tuple[Member, ...]:
    """Every top-level member of the given messages, for collecting the fields they use."""
    return tuple(member for message in messages for member in message.members)


# --------------------------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------------------------


def default_source() -> Path:
    """Where the quickfix wheel installs its dictionaries: ``share/quickfix`` under the prefix."""
    return Path(sys.prefix) / "share" / "quickfix"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="directory holding QuickFIX's FIXT11.xml and FIX50SP2.xml "
        f"(default: {default_source()})",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}"
    )
    return parser.parse_args(argv)


def resolve_source(source: Path | None) -> Path:
    """The source directory, with an error that says what to pass when none is found."""
    directory = source or default_source()
    for name in (TRANSPORT_SOURCE, APPLICATION_SOURCE):
        if not (directory / name).is_file():
            raise SystemExit(
                f"{directory / name} not found: install quickfix into this Python's prefix "
                "or pass --source DIR (for example an unpacked quickfix-1.16.0/spec)"
            )
    return directory


def main(argv: list[str] | None = None) -> int:
    """Generate both dictionaries into the output directory."""
    args = parse_args(argv)
    source = resolve_source(args.source)
    transport = load_base(source / TRANSPORT_SOURCE, ("FIXT", "1", "1", "0"))
    application = load_base(source / APPLICATION_SOURCE, ("FIX", "5", "0", "2"))
    args.output.mkdir(parents=True, exist_ok=True)
    for name, content in (
        (TRANSPORT_OUTPUT, build_transport(transport)),
        (APPLICATION_OUTPUT, build_application(application)),
    ):
        (args.output / name).write_bytes(content)
        print(f"wrote {args.output / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
