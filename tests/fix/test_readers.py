"""Readers on real TrueX captures (spec §12, client IDs anonymised)."""

from decimal import Decimal

import pytest

from truex_qf.domain.model import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    ListUpdateAction,
    MDEntryType,
    MDUpdateAction,
    OrdStatus,
    Side,
    TimeInForce,
)
from truex_qf.fix import readers
from truex_qf.fix.readers import (
    MalformedMessage,
    read_business_reject,
    read_cancel_reject,
    read_execution_report,
    read_increment,
    read_security_list,
    read_security_list_update,
    read_snapshot,
)


def wire(text: str) -> str:
    return text.replace("|", "\x01")


PENDING_NEW = wire(
    "8=FIXT.1.1|9=236|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=3|52=20250910-18:32:27.345901|"
    "11=BUY29147251|17=1922892243|37=1922892243|38=0.001|40=2|44=113391|54=1|59=1|151=0|14=0|"
    "60=20250910-18:32:27.341860|55=BTC-PYUSD|453=1|448=12345678901234567|452=3|150=A|39=A|10=005|"
)
IOC_CANCEL = wire(
    "8=FIXT.1.1|9=278|35=8|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=5|52=20250910-18:28:00.636132|"
    "11=BUY28880518|41=BUY28880518|17=881066443|37=881000905|38=0.001|40=2|44=113406.5|54=1|59=3|"
    "151=0|14=0|60=20250910-18:28:00.633994|55=BTC-PYUSD|453=1|448=12345678901234567|452=3|"
    "150=4|39=4|58=Order parameter request|10=224|"
)
EMPTY_SNAPSHOT = wire(
    "8=FIXT.1.1|9=236|35=W|49=TRUEX_UAT_GW|56=CLI_CLIENT|34=2|52=20250910-14:39:14.463394|"
    "262=MD_BTC_1757515154372|55=BTC-PYUSD|167=CSPOT|268=2|269=0|270=0|271=0|1023=1|"
    "273=19700101-00:00:00.000000000|269=1|270=0|271=0|1023=1|273=19700101-00:00:00.000000000|10=019|"
)


def test_pending_new():
    report = read_execution_report(PENDING_NEW, 7)
    assert report.exec_type is ExecType.PENDING_NEW
    assert report.ord_status is OrdStatus.PENDING_NEW
    assert (report.order_id, report.cl_ord_id, report.exec_id) == (
        "1922892243",
        "BUY29147251",
        "1922892243",
    )
    assert report.price == Decimal("113391")
    assert report.order_qty == Decimal("0.001")
    assert report.side is Side.BUY
    assert report.time_in_force is TimeInForce.GTC
    assert report.received_ns == 7
    assert not report.is_fill


def test_ioc_remainder_cancel():
    report = read_execution_report(IOC_CANCEL)
    assert report.exec_type is ExecType.CANCELED
    assert report.orig_cl_ord_id == report.cl_ord_id == "BUY28880518"
    assert report.text == "Order parameter request"
    assert report.price == Decimal("113406.5")


def test_fill_with_fees():
    raw = wire(
        "8=FIXT.1.1|35=8|11=Q1|17=9|37=5|38=2|54=2|55=BTC-PYUSD|150=F|39=1|151=1.5|14=0.5|"
        "32=0.5|31=100000.5|6=100000.5|851=1|880=T77|136=2|137=1.25|139=4|137=0.1|139=7|10=000|"
    )
    report = read_execution_report(raw)
    assert report.is_fill
    assert (report.last_qty, report.last_px, report.cum_qty, report.leaves_qty) == (
        Decimal("0.5"),
        Decimal("100000.5"),
        Decimal("0.5"),
        Decimal("1.5"),
    )
    assert [(fee.amount, fee.fee_type) for fee in report.fees] == [
        (Decimal("1.25"), "4"),
        (Decimal("0.1"), "7"),
    ]
    assert (report.trade_match_id, report.liquidity_indicator) == ("T77", "1")


def test_missing_required_field_named():
    with pytest.raises(MalformedMessage) as caught:
        read_execution_report(wire("35=8|11=Q1|17=1|150=0|39=0|55=X|54=1|38=1|151=1|14=0|"))
    assert caught.value.tag == 37


def test_empty_book_snapshot_has_zero_entries():
    snapshot = read_snapshot(EMPTY_SNAPSHOT)
    assert snapshot.symbol == "BTC-PYUSD"
    assert snapshot.md_req_id == "MD_BTC_1757515154372"
    assert [(e.entry_type, e.price, e.size, e.level) for e in snapshot.entries] == [
        (MDEntryType.BID, Decimal(0), Decimal(0), 1),
        (MDEntryType.OFFER, Decimal(0), Decimal(0), 1),
    ]


def test_increment_entries_in_order():
    raw = wire(
        "8=FIXT.1.1|35=X|262=MD1|268=3|279=0|269=0|55=BTC-PYUSD|270=99999.5|271=0.25|"
        "279=2|269=1|55=BTC-PYUSD|270=100001|271=0|279=0|269=2|55=BTC-PYUSD|270=100000|271=0.1|2446=1|10=000|"
    )
    increment = read_increment(raw)
    assert increment.md_req_id == "MD1"
    assert [(c.action, c.entry_type, c.price, c.size) for c in increment.changes] == [
        (MDUpdateAction.NEW, MDEntryType.BID, Decimal("99999.5"), Decimal("0.25")),
        (MDUpdateAction.DELETE, MDEntryType.OFFER, Decimal("100001"), Decimal(0)),
        (MDUpdateAction.NEW, MDEntryType.TRADE, Decimal("100000"), Decimal("0.1")),
    ]


def test_increment_entry_fields_symbol_level_and_defaults():
    raw = wire(
        "8=FIXT.1.1|35=X|262=MD1|268=2|279=1|269=0|270=99999.5|271=0.5|1023=2|"
        "279=2|269=1|55=ETH-PYUSD|270=3000|10=000|"
    )
    first, second = read_increment(raw).changes
    assert (first.symbol, first.level, first.size) == (None, 2, Decimal("0.5"))
    assert (second.symbol, second.level, second.size) == ("ETH-PYUSD", None, Decimal(0))


@pytest.mark.parametrize(
    ("body", "md_req_id"),
    [
        ("262=MD1|268=1|279=0|269=0|270=5|271=1|", "MD1"),
        ("268=1|279=0|269=0|270=5|271=1|", None),  # no MDReqID: from NoMDEntries
        ("268=1|279=0|269=0|270=5|271=1|262=MD1|", None),  # after the entries: not the body's
        ("279=0|269=0|270=5|271=1|", None),  # neither: the whole text
    ],
)
def test_increment_reads_from_the_body_whatever_the_header_holds(body, md_req_id):
    header = "8=FIXT.1.1|9=200|35=X|34=12|49=TRUEX_UAT_MD|52=20261125-10:00:00.123456|56=C1|"
    increment = read_increment(wire(f"{header}{body}10=000|"))
    assert increment.md_req_id == md_req_id
    assert [(c.action, c.entry_type, c.price, c.size) for c in increment.changes] == [
        (MDUpdateAction.NEW, MDEntryType.BID, Decimal(5), Decimal(1))
    ]


@pytest.mark.parametrize(
    ("entries", "tag"),
    [
        ("279=0|270=1|271=1|", 269),  # no entry type
        ("279=7|269=0|270=1|271=1|", 279),  # unknown action
        ("279=0|269=Q|270=1|271=1|", 269),  # unknown entry type
        ("279=0|269=0|270=NaN|271=1|", 270),  # not a finite price
        ("279=0|269=0|270=1|271=abc|", 271),  # not a number
    ],
)
def test_increment_refuses_what_it_cannot_apply(entries, tag):
    with pytest.raises(MalformedMessage) as error:
        read_increment(wire(f"8=FIXT.1.1|35=X|262=MD1|268=1|{entries}10=000|"))
    assert error.value.tag == tag


def test_increment_prices_seen_before_are_the_same_decimal(monkeypatch):
    monkeypatch.setattr(readers, "_PRICES", {})
    monkeypatch.setattr(readers, "PRICES_KEPT", 3)

    def prices(*texts: str) -> list[Decimal]:
        entries = "".join(f"279=0|269=0|270={text}|271=1|" for text in texts)
        raw = wire(f"8=FIXT.1.1|35=X|268={len(texts)}|{entries}10=000|")
        return [change.price for change in read_increment(raw).changes]

    first = prices("100.0", "100", "99.5")
    assert [str(price) for price in first] == ["100.0", "100", "99.5"]  # exponent kept
    again = prices("99.5", "100.0")
    assert again[0] is first[2] and again[1] is first[0]
    for _ in range(2):  # a bad price is refused every time, never remembered
        with pytest.raises(MalformedMessage):
            prices("NaN")
    later = prices("101", "102", "103", "104")  # beyond PRICES_KEPT: emptied, still right
    assert [str(price) for price in later] == ["101", "102", "103", "104"]
    assert len(readers._PRICES) <= 3
    assert prices("100.0")[0] == Decimal("100.0")


def test_cancel_reject():
    raw = wire("8=FIXT.1.1|35=9|37=NONE|11=C2|41=C1|39=8|434=1|102=1|58=Unknown order|10=000|")
    reject = read_cancel_reject(raw)
    assert (reject.order_id, reject.cl_ord_id, reject.orig_cl_ord_id) == ("NONE", "C2", "C1")
    assert reject.response_to is CxlRejResponseTo.CANCEL
    assert reject.ord_status is OrdStatus.REJECTED
    assert (reject.reason, reject.text) == ("1", "Unknown order")


def test_business_reject_wrong_session():
    reject = read_business_reject(
        wire("8=FIXT.1.1|35=j|49=|56=|45=0|380=0|58=Invalid session ID|10=000|")
    )
    assert (reject.reason, reject.ref_seq_num, reject.text) == ("0", 0, "Invalid session ID")
    assert reject.ref_msg_type == ""
    assert reject.invalid_session


def test_business_reject_other_reasons_are_not_a_wrong_session():
    throttle = read_business_reject(wire("8=FIXT.1.1|35=j|45=4|372=D|380=8|58=Throttled|10=0|"))
    assert not throttle.invalid_session
    other = read_business_reject(wire("8=FIXT.1.1|35=j|45=4|372=D|380=0|58=Other|10=0|"))
    assert not other.invalid_session


# Spec §6.5: every CxlRejReason TrueX's dictionary lists. Only 1 says the order is gone.
CXL_REJ_REASONS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "18", "99"]


@pytest.mark.parametrize("reason", CXL_REJ_REASONS)
def test_cancel_reject_every_truex_reason(reason):
    raw = wire(f"8=FIXT.1.1|35=9|37=77|11=C2|41=C1|39=0|434=2|102={reason}|58=No|10=000|")
    reject = read_cancel_reject(raw)
    assert reject.reason == reason
    assert CxlRejReason(reason).value == reason  # the domain knows every one of them
    assert reject.response_to is CxlRejResponseTo.REPLACE
    assert reject.order_gone is (reason == "1")


def test_cancel_reject_without_reason_or_status_leaves_the_order_live():
    reject = read_cancel_reject(wire("8=FIXT.1.1|35=9|37=77|11=C2|434=1|10=000|"))
    assert (reject.reason, reject.ord_status, reject.orig_cl_ord_id) == (None, None, None)
    assert not reject.order_gone


def test_snapshot_with_level_before_entry_time_and_a_full_timestamp():
    raw = wire(
        "8=FIXT.1.1|35=W|49=TRUEX_UAT_MD|56=C|262=MD1|55=BTC-PYUSD|167=CSPOT|268=2|"
        "269=0|270=100.5|271=2|1023=1|273=20261207-00:00:01.123456789|"
        "269=1|270=101|271=3|1023=1|273=20261207-00:00:01.123456789|2446=1|10=000|"
    )
    snapshot = read_snapshot(raw)
    assert [(e.entry_type, e.price, e.size, e.level) for e in snapshot.entries] == [
        (MDEntryType.BID, Decimal("100.5"), Decimal(2), 1),
        (MDEntryType.OFFER, Decimal(101), Decimal(3), 1),
    ]


SECURITY_LIST = wire(
    "8=FIXT.1.1|35=y|49=TRUEX_UAT_MD|56=C|320=SL1|322=R1|560=0|393=2|893=Y|146=2|"
    "55=BTC-PYUSD|167=CSPOT|870=2|871=40|872=1234567.89|871=41|872=321|15=PYUSD|"
    "55=ETH-PYUSD|167=CSPOT|870=2|871=41|872=12|871=40|872=99.5|15=PYUSD|10=000|"
)


def test_security_list_reads_the_instrument_attributes():
    securities = read_security_list(SECURITY_LIST, 3)
    assert securities.security_req_id == "SL1"
    assert securities.result == "0"
    btc, eth = securities.securities
    assert (btc.symbol, btc.security_type, btc.currency) == ("BTC-PYUSD", "CSPOT", "PYUSD")
    assert (btc.average_daily_notional, btc.average_daily_trades) == (
        Decimal("1234567.89"),
        Decimal(321),
    )
    assert (eth.average_daily_notional, eth.average_daily_trades) == (Decimal("99.5"), 12)


def test_security_list_without_attributes_or_with_odd_ones():
    raw = wire(
        "8=FIXT.1.1|35=y|320=SL1|146=2|55=BTC-PYUSD|15=PYUSD|"
        "55=ETH-PYUSD|870=2|871=39|872=5|871=40|872=n/a|10=000|"
    )
    btc, eth = read_security_list(raw).securities
    assert (btc.average_daily_notional, btc.average_daily_trades) == (None, None)
    assert (eth.symbol, eth.average_daily_notional, eth.average_daily_trades) == (
        "ETH-PYUSD",
        None,
        None,
    )


def test_security_list_update_every_action():
    raw = wire(
        "8=FIXT.1.1|35=BK|49=TRUEX_UAT_MD|56=C|320=SL1|322=R2|146=4|"
        "1324=A|55=SOL-PYUSD|167=CSPOT|870=1|871=40|872=10|15=PYUSD|"
        "1324=D|55=ETH-PYUSD|167=CSPOT|15=PYUSD|"
        "1324=M|55=BTC-PYUSD|870=1|871=41|872=400|"
        "1324=S|55=XRP-PYUSD|10=000|"
    )
    update = read_security_list_update(raw, 9)
    assert update.security_req_id == "SL1"
    assert update.received_ns == 9
    assert [(u.action, u.security.symbol) for u in update.updates] == [
        (ListUpdateAction.ADD, "SOL-PYUSD"),
        (ListUpdateAction.DELETE, "ETH-PYUSD"),
        (ListUpdateAction.MODIFY, "BTC-PYUSD"),
        (ListUpdateAction.SNAPSHOT, "XRP-PYUSD"),
    ]
    assert update.updates[0].security.average_daily_notional == Decimal(10)
    assert update.updates[2].security.average_daily_trades == Decimal(400)
    assert update.deleted_symbols == ("ETH-PYUSD",)
    assert update.added_symbols == ("SOL-PYUSD",)


def test_security_list_update_falls_back_to_the_report_action():
    """Entries without 1324 (leading with 55) take SecurityUpdateAction(980)."""
    raw = wire(
        "8=FIXT.1.1|35=BK|320=SL1|980=D|146=3|55=ETH-PYUSD|55=XRP-PYUSD|1324=A|55=SOL-PYUSD|10=000|"
    )
    update = read_security_list_update(raw)
    assert [(u.action, u.security.symbol) for u in update.updates] == [
        (ListUpdateAction.DELETE, "ETH-PYUSD"),
        (ListUpdateAction.DELETE, "XRP-PYUSD"),
        (ListUpdateAction.ADD, "SOL-PYUSD"),
    ]


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ("146=1|55=ETH-PYUSD|", "missing"),
        ("146=1|1324=X|55=ETH-PYUSD|", "unknown value 'X'"),
        ("146=1|1324=D|167=CSPOT|", "tag 55 is missing"),
    ],
)
def test_security_list_update_refuses_what_it_cannot_act_on(entries, problem):
    with pytest.raises(MalformedMessage, match=problem):
        read_security_list_update(wire(f"8=FIXT.1.1|35=BK|320=SL1|{entries}10=000|"))


def test_security_list_update_is_dispatched():
    assert readers.READERS["BK"] is read_security_list_update


def test_msg_type_is_the_headers_35_not_a_tag_ending_in_35() -> None:
    raw = "8=FIXT.1.1\x019=60\x01135=7\x0135=X\x0149=TRUEX_UAT_MD\x01262=MD1\x0110=000\x01"
    assert readers.msg_type(raw) == "X"
    assert readers.msg_type("8=FIXT.1.1\x019=5\x0135=W\x0110=000\x01") == "W"
