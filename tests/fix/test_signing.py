"""The Logon signature against the worked examples in the TrueX spec (§2.2).

The expected values were computed independently with Python's hmac module from the spec's
invented credentials; they are written out here, not recomputed by the code under test.
"""

from truex_qf.fix.signing import logon_signature, signature_matches

API_KEY = "11111111-2222-4333-8444-555555555555"
SECRET = "example-secret-do-not-use"


def test_order_entry_worked_example():
    assert (
        logon_signature(
            SECRET, "20251010-13:35:58.250", "A", "1", "MYFIRM_OE1", "TRUEX_UAT_OE", API_KEY
        )
        == "251SVgKeyDM4jdxndWMYlbWJmonHOsnprapUFOZw8a8="
    )


def test_market_data_worked_example():
    assert (
        logon_signature(
            SECRET, "20251010-13:35:59.001", "A", "1", "MYFIRM_MD1", "TRUEX_UAT_MD", API_KEY
        )
        == "aQLrVOyVYyZO6B32TX1ACNV5Qh5+ICvLIPqP/UU3gGU="
    )


def test_every_part_changes_the_signature():
    parts = ["20251010-13:35:58.250", "A", "1", "MYFIRM_OE1", "TRUEX_UAT_OE", API_KEY]
    base = logon_signature(SECRET, *parts)
    for index in range(len(parts)):
        changed = list(parts)
        changed[index] += "x"
        assert logon_signature(SECRET, *changed) != base
    assert logon_signature(SECRET + "x", *parts) != base


def test_signature_matches_is_exact():
    assert signature_matches("abc=", "abc=")
    assert not signature_matches("abc=", "abd=")
    assert not signature_matches("abc=", "")
