"""The TrueX data dictionaries in spec/, loaded into the real QuickFIX engine.

Every message TrueX was seen sending or that we construct (spec §12) is parsed and validated the
way QuickFIX's ``Session::next`` does it: admin messages against the transport dictionary
alone, application messages against both. The negative cases show the dictionaries refuse what
TrueX never sends, and the last test shows the committed XML is exactly what the generator makes.

Examples are written with ``|`` for SOH and may carry the spec's placeholders; ``to_wire``
substitutes them and recomputes BodyLength and CheckSum.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import quickfix as fix
import quickfix50sp2 as fix50sp2

from scripts.dictionary_facts import (
    README,
    dictionary_facts,
    diff,
    load_differences,
    load_published,
    readme_table,
    render_table,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = REPO_ROOT / "spec"
TRANSPORT_XML = SPEC_DIR / "TrueX_FIXT11.xml"
APPLICATION_XML = SPEC_DIR / "TrueX_FIX50SP2.xml"
GENERATOR = REPO_ROOT / "scripts" / "build_dictionaries.py"

SOH = "\x01"
CLIENT_ID = "12345678901234567"
PLACEHOLDERS = {
    "<CLIENT_ID>": CLIENT_ID,
    "<SENDER_COMP_ID>": "CLI_CLIENT",
    # The §2.2 worked example's key and signature stand in for the elided ones.
    "<API_KEY>": "11111111-2222-4333-8444-555555555555",
    "<SIGNATURE>": "251SVgKeyDM4jdxndWMYlbWJmonHOsnprapUFOZw8a8=",
}
ADMIN_TYPES = ("0", "1", "2", "3", "4", "5", "A")
APP_TYPES = ("8", "9", "D", "F", "G", "j", "V", "W", "X", "Y", "x", "y", "BK")

# Spec §12, verbatim: captured traffic and the constructed D/F/V.
SPEC_EXAMPLES: dict[str, str] = {
    "logon-reply-oe": (
        "8=FIXT.1.1|9=88|35=A|49=TRUEX_UAT_OE|56=<SENDER_COMP_ID>|34=1|"
        "52=20251010-11:53:37.912159|108=30|1137=9|10=219|"
    ),
    "logon-reply-gw": (
        "8=FIXT.1.1|9=82|35=A|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=1|52=20250910-14:39:14.411802|"
        "108=30|1137=9|10=031|"
    ),
    "logon-js-client": (
        "8=FIXT.1.1|9=…|35=A|49=CLI_CLIENT|56=TRUEX_UAT_OE|34=1|52=20251009-20:22:04.738|"
        "98=0|108=30|141=Y|553=<API_KEY>|554=<SIGNATURE>|1137=FIX.5.0SP2|10=…|"
    ),
    "heartbeat": (
        "8=FIXT.1.1|9=68|35=0|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=3|52=20250910-14:39:45.063673|"
        "10=164|"
    ),
    "test-request": (
        "8=FIXT.1.1|9=88|35=1|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=4|52=20250910-14:39:51.063695|"
        "112=TEST-CLI_CLIENT|10=222|"
    ),
    "logout-goodbye": (
        "8=FIXT.1.1|9=87|35=5|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=40|"
        "52=20250910-14:40:27.063673|1409=4|58=goodbye|10=167|"
    ),
    "snapshot-empty-book": (
        "8=FIXT.1.1|9=236|35=W|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=2|"
        "52=20250910-14:39:14.463394|262=MD_BTC_1757515154372|55=BTC-PYUSD|167=CSPOT|268=2|"
        "269=0|270=0|271=0|1023=1|273=19700101-00:00:00.000000000|269=1|270=0|271=0|1023=1|"
        "273=19700101-00:00:00.000000000|10=019|"
    ),
    "er-pending-new": (
        "8=FIXT.1.1|9=236|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=3|"
        "52=20250910-18:32:27.345901|11=BUY29147251|17=1922892243|37=1922892243|38=0.001|"
        "40=2|44=113391|54=1|59=1|151=0|14=0|60=20250910-18:32:27.341860|55=BTC-PYUSD|453=1|"
        "448=<CLIENT_ID>|452=3|150=A|39=A|10=005|"
    ),
    "er-new": (
        "8=FIXT.1.1|9=240|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=4|"
        "52=20250910-18:32:27.354201|11=BUY29147251|17=1922957780|37=1922892243|38=0.001|"
        "40=2|44=113391|54=1|59=1|151=0.001|14=0|60=20250910-18:32:27.351388|55=BTC-PYUSD|"
        "453=1|448=<CLIENT_ID>|452=3|150=0|39=0|10=165|"
    ),
    "er-ioc-cancelled": (
        "8=FIXT.1.1|9=278|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=5|"
        "52=20250910-18:28:00.636132|11=BUY28880518|41=BUY28880518|17=881066443|37=881000905|"
        "38=0.001|40=2|44=113406.5|54=1|59=3|151=0|14=0|60=20250910-18:28:00.633994|"
        "55=BTC-PYUSD|453=1|448=<CLIENT_ID>|452=3|150=4|39=4|58=Order parameter request|"
        "10=224|"
    ),
    "er-price-band-reject": (
        "8=FIXT.1.1|9=270|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=4|"
        "52=20250910-18:13:09.929311|11=BUY27989857|17=1696727464|37=1696661927|38=0.001|"
        "40=2|44=113718|54=1|59=3|151=0|14=0|60=20250910-18:13:09.926445|55=BTC-PYUSD|453=1|"
        "448=<CLIENT_ID>|452=3|150=8|39=8|58=Order outside book price bands|10=023|"
    ),
    "er-invalid-client": (
        "8=FIXT.1.1|9=251|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=3|"
        "52=20250911-12:44:48.839835|37=NONE|11=BUY94688507|17=3832986397|38=0.001|39=8|40=2|"
        "44=113863.50|54=1|55=BTC-PYUSD|150=8|59=1|151=0|14=0|58=Invalid client|"
        "60=20250911-12:44:48.839835|453=1|448=<CLIENT_ID>|452=3|10=252|"
    ),
    "er-invalid-clordid": (
        "8=FIXT.1.1|9=233|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=3|"
        "52=20250910-17:45:35.287906|37=NONE|11=TEST_BUY_1757526335158|17=2444669499|"
        "38=0.001|39=8|40=2|44=113634.50|54=1|55=BTC-USD|150=8|59=3|151=0|14=0|"
        "58=Invalid ClOrdID|60=20250910-17:45:35.287906|10=011|"
    ),
    "new-order-single": (
        "8=FIXT.1.1|9=175|35=D|49=MYFIRM_OE1|56=TRUEX_UAT_OE|34=2|52=20251010-13:36:00.383|"
        "11=Qab12Cx9Yz000001|18=6|2964=1|38=0.001|40=2|44=113391.50|54=1|55=BTC-PYUSD|59=1|"
        "453=1|448=<CLIENT_ID>|452=3|10=055|"
    ),
    "order-cancel-request": (
        "8=FIXT.1.1|9=133|35=F|49=MYFIRM_OE1|56=TRUEX_UAT_OE|34=3|52=20251010-13:36:05.000|"
        "11=Qab12Cx9Yz000002|41=Qab12Cx9Yz000001|453=1|448=<CLIENT_ID>|452=3|10=062|"
    ),
    "market-data-request": (
        "8=FIXT.1.1|9=109|35=V|49=MYFIRM_MD1|56=TRUEX_UAT_MD|34=2|52=20251010-13:36:00.000|"
        "262=MD-BTC-1|263=1|264=5|146=1|55=BTC-PYUSD|10=092|"
    ),
}

OE_TO_CLIENT = "8=FIXT.1.1|35={}|49=TRUEX_UAT_OE|56=CLI_CLIENT|34=7|52=20251010-13:36:06.000001|"
CLIENT_TO_OE = "8=FIXT.1.1|35={}|49=MYFIRM_OE1|56=TRUEX_UAT_OE|34=4|52=20251010-13:36:06.000|"
MD_TO_CLIENT = "8=FIXT.1.1|35={}|49=TRUEX_UAT_MD|56=MYFIRM_MD1|34=3|52=20251010-13:36:01.000001|"
CLIENT_TO_MD = "8=FIXT.1.1|35={}|49=MYFIRM_MD1|56=TRUEX_UAT_MD|34=3|52=20251010-13:36:01.000|"
PARTIES = "453=1|448=<CLIENT_ID>|452=3|"

# Messages §12 records only as fragments (completed with a header) and message types no
# capture shows, built from the spec's tables so that every TrueX message type is exercised.
CONSTRUCTED_EXAMPLES: dict[str, str] = {
    "reject-authentication": OE_TO_CLIENT.format("3") + "45=1|373=8|58=Authentication failed|",
    "reject-orig-sending-time": OE_TO_CLIENT.format("3") + "45=2|58=Invalid tag (122)|",
    "reject-second-logon": OE_TO_CLIENT.format("3")
    + "45=2|58=Already authenticated cannot logon again|",
    "resend-request": OE_TO_CLIENT.format("2") + "7=2|16=0|",
    "sequence-reset-gap-fill": OE_TO_CLIENT.format("4").replace(
        "|52=", "|43=Y|52=20251010-13:36:06.000002|122="
    )
    + "123=Y|36=9|",
    "business-reject-session": OE_TO_CLIENT.format("j") + "45=0|380=0|58=Invalid session ID|",
    "business-reject-price-increment": OE_TO_CLIENT.format("j")
    + "45=4|372=D|379=Qab12Cx9Yz000001|380=18|58=Invalid price increment|",
    "er-partial-fill": OE_TO_CLIENT.format("8")
    + "37=1922892243|11=Qab12Cx9Yz000001|17=1922957781|150=F|39=1|55=BTC-PYUSD|54=1|"
    "38=0.002|40=2|44=113391|15=PYUSD|59=1|32=0.001|31=113391|151=0.001|14=0.001|6=113391|"
    "60=20251010-13:36:06.000000|851=1|136=1|137=0.0567|139=4|880=TM-77|2964=1|18=6|" + PARTIES,
    "cancel-replace-request": CLIENT_TO_OE.format("G")
    + PARTIES
    + "41=Qab12Cx9Yz000001|11=Qab12Cx9Yz000003|40=2|38=0.002|44=113392|",
    "cancel-reject": OE_TO_CLIENT.format("9")
    + "37=1922892243|11=Qab12Cx9Yz000002|41=Qab12Cx9Yz000001|39=0|434=1|102=1|"
    "58=Unknown order|",
    "market-data-unsubscribe": CLIENT_TO_MD.format("V") + "262=MD-BTC-1|263=2|264=0|",
    "incremental-refresh": MD_TO_CLIENT.format("X")
    + "262=MD-BTC-1|268=3|279=0|269=0|278=b1|55=BTC-PYUSD|167=CSPOT|270=113390.5|271=0.25|"
    "273=20251010-13:36:01.123456789|1023=3|279=2|269=1|55=BTC-PYUSD|270=113400|271=0|"
    "1023=4|279=0|269=2|55=BTC-PYUSD|270=113395|271=0.01|2446=1|",
    "market-data-reject": MD_TO_CLIENT.format("Y") + "262=MD-BTC-1|58=Unknown symbol|",
    "security-list-request": CLIENT_TO_MD.format("x") + "320=SEC-1|559=4|263=1|",
    "security-list": MD_TO_CLIENT.format("y")
    + "320=SEC-1|322=R-1|560=0|393=1|893=Y|146=1|55=BTC-PYUSD|167=CSPOT|870=2|871=40|"
    "872=1234567.89|871=41|872=321|15=PYUSD|",
    "security-list-update": MD_TO_CLIENT.format("BK")
    + "320=SEC-1|322=R-2|980=M|146=1|1324=M|55=BTC-PYUSD|167=CSPOT|870=1|871=40|"
    "872=7654321|15=PYUSD|",
}


def to_wire(example: str) -> str:
    """Substitute placeholders, drop the example's 9 and 10 and recompute them."""
    text = example
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    fields = [field for field in text.split("|") if field]
    body = "".join(field + SOH for field in fields if not field.startswith(("8=", "9=", "10=")))
    head = f"{fields[0]}{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}"


@dataclass(frozen=True)
class Dictionaries:
    """Both TrueX dictionaries, parsing and validating as QuickFIX's Session does."""

    transport: fix.DataDictionary
    application: fix.DataDictionary

    def parse(self, example: str) -> fix.Message:
        """Parse with validation on (structure, BodyLength, CheckSum), as the brief's engine."""
        return fix.Message(to_wire(example), self.transport, self.application, True)

    def validate(self, message: fix.Message) -> None:
        """Raise the engine's FIX exception if the dictionaries refuse the message."""
        if message.getHeader().getField(35) in ADMIN_TYPES:
            self.transport.validate(message)
        else:
            fix.DataDictionary.validate(message, self.transport, self.application)

    def accept(self, example: str) -> fix.Message:
        """Parse and validate; the message if both succeed."""
        message = self.parse(example)
        self.validate(message)
        return message


@pytest.fixture(scope="module")
def dicts() -> Dictionaries:
    """The committed dictionaries, loaded once per module (loading parses the XML)."""
    return Dictionaries(
        fix.DataDictionary(str(TRANSPORT_XML)), fix.DataDictionary(str(APPLICATION_XML))
    )


def group_entry(message: fix.FieldMap, index: int, group: fix.Group) -> fix.Group:
    """Entry ``index`` (1-based) of a repeating group, read into ``group``."""
    message.getGroup(index, group)
    return group


def test_dictionaries_declare_their_versions(dicts: Dictionaries) -> None:
    """QuickFIX checks BeginString against the transport version on every message.

    QuickFIX 1.16 names a dictionary from type, major and minor only, so the SP2 application
    dictionary reports FIX.5.0, as QuickFIX's own FIX50SP2.xml does.
    """
    assert dicts.transport.getVersion() == "FIXT.1.1"
    assert dicts.application.getVersion() == "FIX.5.0"
    assert ET.parse(APPLICATION_XML).getroot().get("servicepack") == "2"


def test_every_message_type_is_defined_and_enumerated(dicts: Dictionaries) -> None:
    """35 lists every type of both files; each file defines its own, and nothing more."""
    for msgtype in ADMIN_TYPES:
        assert dicts.transport.isMsgType(msgtype)
    for msgtype in APP_TYPES:
        assert dicts.application.isMsgType(msgtype)
    for msgtype in ADMIN_TYPES + APP_TYPES:
        assert dicts.transport.isFieldValue(35, msgtype), msgtype
    for unused in ("AE", "AD", "E", "n"):
        assert not dicts.application.isMsgType(unused)
        assert not dicts.transport.isFieldValue(35, unused)


@pytest.mark.parametrize("name", [n for n, e in SPEC_EXAMPLES.items() if "<" not in e])
def test_examples_without_placeholders_keep_their_captured_checksum(name: str) -> None:
    """Guards the copied examples (and to_wire) against typos: 9 and 10 must come out equal."""
    assert to_wire(SPEC_EXAMPLES[name]).replace(SOH, "|") == SPEC_EXAMPLES[name]


@pytest.mark.parametrize("name", sorted(SPEC_EXAMPLES))
def test_spec_example_validates(dicts: Dictionaries, name: str) -> None:
    """Every §12 message, captured or constructed, passes the engine's validation."""
    message = dicts.accept(SPEC_EXAMPLES[name])
    assert message.getHeader().getField(35) == SPEC_EXAMPLES[name].split("|")[2][3:]


@pytest.mark.parametrize("name", sorted(CONSTRUCTED_EXAMPLES))
def test_constructed_example_validates(dicts: Dictionaries, name: str) -> None:
    """Completed fragments and the message types no capture shows validate too."""
    dicts.accept(CONSTRUCTED_EXAMPLES[name])


def test_snapshot_has_two_entries_with_truex_timestamps(dicts: Dictionaries) -> None:
    """268 parses as two entries, 1023 before 273 included, and 273 reads back verbatim."""
    message = dicts.accept(SPEC_EXAMPLES["snapshot-empty-book"])
    assert message.groupCount(268) == 2
    assert message.getField(55) == "BTC-PYUSD"
    assert message.getField(167) == "CSPOT"
    entries = [
        group_entry(message, i, fix50sp2.MarketDataSnapshotFullRefresh.NoMDEntries())
        for i in (1, 2)
    ]
    assert [entry.getField(269) for entry in entries] == ["0", "1"]
    for entry in entries:
        assert entry.getField(270) == "0"
        assert entry.getField(271) == "0"
        assert entry.getField(1023) == "1"
        assert entry.getField(273) == "19700101-00:00:00.000000000"


def test_incremental_refresh_entries_carry_their_symbol(dicts: Dictionaries) -> None:
    """Each X entry holds its own 55, and trade entries their aggressor side."""
    message = dicts.accept(CONSTRUCTED_EXAMPLES["incremental-refresh"])
    assert message.groupCount(268) == 3
    entries = [group_entry(message, i, fix.Group(268, 279)) for i in (1, 2, 3)]
    assert [entry.getField(279) for entry in entries] == ["0", "2", "0"]
    assert [entry.getField(269) for entry in entries] == ["0", "1", "2"]
    assert all(entry.getField(55) == "BTC-PYUSD" for entry in entries)
    assert entries[2].getField(2446) == "1"
    assert not entries[1].isSetField(273)


def test_execution_report_parties_and_body(dicts: Dictionaries) -> None:
    """The Parties group ends at 452, so 150 and 39 after it land in the body."""
    message = dicts.accept(SPEC_EXAMPLES["er-pending-new"])
    assert message.groupCount(453) == 1
    party = group_entry(message, 1, fix.Group(453, 448))
    assert party.getField(448) == CLIENT_ID
    assert party.getField(452) == "3"
    assert message.getField(150) == "A"
    assert message.getField(39) == "A"


def test_fill_report_fee_group(dicts: Dictionaries) -> None:
    """A fill's MiscFeesGrp, TrdMatchID and liquidity flag are all readable."""
    message = dicts.accept(CONSTRUCTED_EXAMPLES["er-partial-fill"])
    fee = group_entry(message, 1, fix.Group(136, 137))
    assert (fee.getField(137), fee.getField(139)) == ("0.0567", "4")
    assert message.getField(880) == "TM-77"
    assert message.getField(851) == "1"


def test_new_order_single_carries_truex_instructions(dicts: Dictionaries) -> None:
    """ALO (18=6) and SMP (2964) are body fields of D; Parties carries the client ID."""
    message = dicts.accept(SPEC_EXAMPLES["new-order-single"])
    assert message.getField(18) == "6"
    assert message.getField(2964) == "1"
    party = group_entry(message, 1, fix50sp2.NewOrderSingle.NoPartyIDs())
    assert party.getField(448) == CLIENT_ID


def test_market_data_request_symbol_group(dicts: Dictionaries) -> None:
    """V's 146 group holds the symbol and 264 sits in the body."""
    message = dicts.accept(SPEC_EXAMPLES["market-data-request"])
    assert message.getField(264) == "5"
    entry = group_entry(message, 1, fix50sp2.MarketDataRequest.NoRelatedSym())
    assert entry.getField(55) == "BTC-PYUSD"


def test_security_list_nested_attribute_group(dicts: Dictionaries) -> None:
    """The 870 group nests inside the 146 entry of y."""
    message = dicts.accept(CONSTRUCTED_EXAMPLES["security-list"])
    symbol = group_entry(message, 1, fix.Group(146, 55))
    assert symbol.getField(15) == "PYUSD"
    assert symbol.groupCount(870) == 2
    statistic = group_entry(symbol, 2, fix.Group(870, 871))
    assert (statistic.getField(871), statistic.getField(872)) == ("41", "321")


NEW_ORDER = SPEC_EXAMPLES["new-order-single"]
LOGON = SPEC_EXAMPLES["logon-reply-oe"]


@pytest.mark.parametrize(
    ("example", "error"),
    [
        pytest.param(
            NEW_ORDER.replace("|59=1|", "|59=1|1=ACCOUNT1|"),
            fix.InvalidTagNumber,
            id="unknown-tag-in-new-order",
        ),
        pytest.param(
            NEW_ORDER.replace("|59=1|", "|59=1|9999=x|"),
            fix.InvalidTagNumber,
            id="user-defined-tag-in-new-order",
        ),
        pytest.param(
            NEW_ORDER.replace("|59=1|", "|59=1|60=20251010-13:36:00.383|"),
            fix.TagNotDefinedForMessage,
            id="tag-of-another-message-in-new-order",
        ),
        pytest.param(
            NEW_ORDER.replace(
                "|52=20251010-13:36:00.383|11=Qab12Cx9Yz000001|",
                "|11=Qab12Cx9Yz000001|52=20251010-13:36:00.383|",
            ),
            fix.TagOutOfOrder,
            id="header-field-after-body-field",
        ),
        pytest.param(
            NEW_ORDER.replace("|34=2|", "|34=2|50=DESK1|"),
            fix.InvalidTagNumber,
            id="header-field-truex-does-not-use",
        ),
        pytest.param(NEW_ORDER.replace("35=D", "35=ZZ"), fix.InvalidMessageType, id="unknown"),
        pytest.param(
            NEW_ORDER.replace("35=D", "35=AE"), fix.InvalidMessageType, id="standard-type-unused"
        ),
        pytest.param(NEW_ORDER.replace("|40=2|", "|40=3|"), fix.IncorrectTagValue, id="stop"),
        pytest.param(
            NEW_ORDER.replace("|55=BTC-PYUSD|", "|55=BTC-PYUSD|167=FUT|"),
            fix.IncorrectTagValue,
            id="security-type-not-cspot",
        ),
        pytest.param(
            NEW_ORDER.replace("|453=1|", "|453=2|"),
            fix.RepeatingGroupCountMismatch,
            id="party-count-mismatch",
        ),
        pytest.param(LOGON.replace("|108=30|", "|"), fix.RequiredTagMissing, id="logon-no-hbt"),
        pytest.param(
            LOGON.replace("|108=30|", "|108=30|95=4|96=abcd|"),
            fix.InvalidTagNumber,
            id="logon-raw-data",
        ),
    ],
)
def test_dictionaries_refuse(
    dicts: Dictionaries, example: str, error: type[fix.FIXException]
) -> None:
    """Messages TrueX never sends are refused, with the engine's own reason."""
    message = dicts.parse(example)
    with pytest.raises(error):
        dicts.validate(message)


@pytest.mark.parametrize(
    "example",
    [
        pytest.param(NEW_ORDER.replace("|2964=1|", "|2964=0|"), id="smp-zero-as-js-sends"),
        pytest.param(NEW_ORDER.replace("|2964=1|", "|"), id="no-smp"),
        pytest.param(NEW_ORDER.replace("|453=1|448=<CLIENT_ID>|452=3|", "|"), id="no-parties"),
        pytest.param(
            CONSTRUCTED_EXAMPLES["cancel-reject"].replace("|39=0|", "|"), id="cancel-reject-no-39"
        ),
        pytest.param(
            CONSTRUCTED_EXAMPLES["er-partial-fill"].replace("|851=1|", "|851=0|103=99|"),
            id="fill-with-unlisted-liquidity-and-reject-reason",
        ),
        pytest.param(
            SPEC_EXAMPLES["snapshot-empty-book"].replace("|273=19700101-00:00:00.000000000", ""),
            id="snapshot-without-entry-time",
        ),
        # 55 is optional in TrueX's Instrument: the readers and the simulator say it is missing.
        pytest.param(NEW_ORDER.replace("|55=BTC-PYUSD|", "|"), id="new-order-without-symbol"),
        pytest.param(
            SPEC_EXAMPLES["er-new"].replace("|55=BTC-PYUSD|", "|"), id="report-without-symbol"
        ),
        pytest.param(
            SPEC_EXAMPLES["snapshot-empty-book"].split("|268=")[0] + "|10=0|",
            id="snapshot-without-entries",
        ),
        pytest.param(CONSTRUCTED_EXAMPLES["business-reject-session"], id="reject-without-372"),
    ],
)
def test_dictionaries_tolerate_what_truex_may_send(dicts: Dictionaries, example: str) -> None:
    """Lenience chosen on purpose (see the comments in the XML): these must validate."""
    dicts.accept(example)


def test_group_member_values_are_not_checked_by_this_engine(dicts: Dictionaries) -> None:
    """QuickFIX 1.16 C++ checks values of top-level fields only.

    So the trimmed enumerations of group members (452, 269, 279, 139, 871, 1324, 2446) document
    TrueX rather than police it; this test fails if an engine upgrade starts enforcing them.
    """
    dicts.accept(NEW_ORDER.replace("|452=3|", "|452=7|"))


def field_definition(path: Path, number: int) -> ET.Element:
    """The ``<field>`` definition of a tag in a dictionary file."""
    element = ET.parse(path).getroot().find(f"fields/field[@number='{number}']")
    assert element is not None, number
    return element


def enum_values(path: Path, number: int) -> list[str]:
    """The enumeration of a tag, empty when it has none."""
    return [value.get("enum", "") for value in field_definition(path, number)]


def test_truex_patches_are_in_the_xml() -> None:
    """The field-definition patches from spec §5.5 and §11.3."""
    assert field_definition(APPLICATION_XML, 273).get("type") == "UTCTIMESTAMP"
    assert enum_values(APPLICATION_XML, 2964) == []
    assert enum_values(APPLICATION_XML, 18) == []
    assert enum_values(APPLICATION_XML, 167) == ["CSPOT"]
    assert enum_values(APPLICATION_XML, 452) == ["3"]
    assert "18" in enum_values(APPLICATION_XML, 380)
    assert "18" in enum_values(APPLICATION_XML, 102)
    assert enum_values(TRANSPORT_XML, 1137) == []
    assert enum_values(TRANSPORT_XML, 1409) == []


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    """Rerunning the generator from QuickFIX's installed dictionaries changes no byte."""
    subprocess.run(
        [sys.executable, str(GENERATOR), "--output", str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    for committed in (TRANSPORT_XML, APPLICATION_XML):
        assert (tmp_path / committed.name).read_bytes() == committed.read_bytes(), committed.name


def test_dictionaries_differ_from_truex_only_as_recorded() -> None:
    """Ours against TrueX's published dictionaries: every difference is a row of
    spec/differences.toml (with its reason), and every row is still a difference."""
    differences = diff(load_published(), dictionary_facts(SPEC_DIR))
    live = {(d.key, d.published, d.ours) for d in differences}
    recorded = {(d.key, d.published, d.ours) for d in load_differences()}
    assert sorted(live - recorded) == [], "differences not in spec/differences.toml"
    assert sorted(recorded - live) == [], "rows of spec/differences.toml that no longer differ"


def test_every_recorded_difference_says_why() -> None:
    """A row without a reason is not a deliberate difference."""
    rows = load_differences()
    assert all(len(row.reason) > 20 for row in rows)
    assert len({row.key for row in rows}) == len(rows)


def test_readme_table_is_rendered_from_the_recorded_differences() -> None:
    """spec/README.md shows the TOML, not a second copy that drifts
    (refresh it with ``python3 scripts/dictionary_facts.py table``)."""
    assert readme_table(README.read_text()) == render_table(load_differences())


def test_facts_see_what_quickfix_sees(tmp_path: Path) -> None:
    """The comparison notices a required flag, a group's order and a type, through components."""
    facts = dictionary_facts(SPEC_DIR)
    assert facts["FIX50SP2 W 268[]"] == "269 278 270 271 273 1023 2446"
    assert facts["FIX50SP2 W 55"] == "N"  # Instrument is required on W, Symbol inside it is not
    assert facts["FIX50SP2 BK 146.870.871"] == "N"
    for name in (TRANSPORT_XML.name, APPLICATION_XML.name):
        (tmp_path / name).write_text(
            (SPEC_DIR / name)
            .read_text()
            .replace('name="MDEntryTime" required="N"', 'name="MDEntryTime" required="Y"')
        )
    changed = {d.key for d in diff(facts, dictionary_facts(tmp_path))}
    assert changed == {"FIX50SP2 W 268.273", "FIX50SP2 X 268.273"}
