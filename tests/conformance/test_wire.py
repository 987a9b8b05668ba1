"""The suite's own client is checked against the spec's worked examples before it is trusted."""

from __future__ import annotations

from tests.conformance.wire import frame, logon_password, parse_fields, unframe

KEY = "11111111-2222-4333-8444-555555555555"
SECRET = "example-secret-do-not-use"


def test_logon_password_matches_spec_worked_examples() -> None:
    """§2.2: both published signatures, OE and MD."""
    oe_time, md_time = "20251010-13:35:58.250", "20251010-13:35:59.001"
    oe = logon_password(SECRET, oe_time, "A", "1", "MYFIRM_OE1", "TRUEX_UAT_OE", KEY)
    md = logon_password(SECRET, md_time, "A", "1", "MYFIRM_MD1", "TRUEX_UAT_MD", KEY)
    assert oe == "251SVgKeyDM4jdxndWMYlbWJmonHOsnprapUFOZw8a8="
    assert md == "aQLrVOyVYyZO6B32TX1ACNV5Qh5+ICvLIPqP/UU3gGU="


def test_frame_matches_spec_logon_bytes() -> None:
    """§2.2: the resulting Logon has 9=180 and 10=228."""
    fields = parse_fields(
        "35=A|49=MYFIRM_OE1|56=TRUEX_UAT_OE|34=1|52=20251010-13:35:58.250|98=0|108=30|141=Y"
        f"|553={KEY}|554=251SVgKeyDM4jdxndWMYlbWJmonHOsnprapUFOZw8a8=|1137=9"
    )
    raw = frame(fields)
    assert raw.startswith(b"8=FIXT.1.1\x019=180\x0135=A\x01")
    assert raw.endswith(b"\x0110=228\x01")
    assert unframe(raw)[2:-1] == fields


def test_unframe_checks_captured_exchange_logon() -> None:
    """§12: a captured exchange Logon reply verifies byte for byte (9=88, 10=219)."""
    capture = (
        "8=FIXT.1.1|9=88|35=A|49=TRUEX_UAT_OE|56=<SENDER_COMP_ID>|34=1"
        "|52=20251010-11:53:37.912159|108=30|1137=9|10=219|"
    )
    pairs = unframe(capture.replace("|", "\x01").encode())
    assert (35, "A") in pairs and (1137, "9") in pairs
