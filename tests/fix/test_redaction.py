from truex_qf.fix.redaction import printable, redact

LOGON = (
    "8=FIXT.1.1\x019=180\x0135=A\x0149=MYFIRM_OE1\x0156=TRUEX_UAT_OE\x0134=1\x01"
    "52=20251010-13:35:58.250\x0198=0\x01108=30\x01141=Y\x01"
    "553=11111111-2222-4333-8444-555555555555\x01"
    "554=251SVgKeyDM4jdxndWMYlbWJmonHOsnprapUFOZw8a8=\x011137=9\x0110=228\x01"
)


def test_signature_is_masked_and_key_shortened():
    text = redact(LOGON)
    assert "251SVgKey" not in text
    assert "\x01554=***\x01" in text
    assert "\x01553=11111111***\x01" in text
    assert "4333-8444" not in text


def test_other_fields_untouched():
    order = "8=FIXT.1.1\x0135=D\x0111=Q1\x0144=100.5\x01"
    assert redact(order) == order
    assert printable(order) == "8=FIXT.1.1|35=D|11=Q1|44=100.5|"


def test_tag_suffix_is_not_mistaken_for_password():
    # 1554 or 9554 must not be treated as 554
    text = "35=X\x011554=keep\x01554=secret\x01"
    assert redact(text) == "35=X\x011554=keep\x01554=***\x01"
