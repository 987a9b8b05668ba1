"""Configuration errors are one line naming the setting and never echo a secret."""

from pathlib import Path

import pytest

from truex_qf.config import load_env_file, load_fix_settings
from truex_qf.errors import ConfigError

GOOD = {
    "TRUEX_API_KEY": "11111111-2222-4333-8444-555555555555",
    "TRUEX_SECRET_KEY": "s3cret-value-never-printed",
    "TRUEX_SENDER_COMP_ID": "MYFIRM_OE1",
    "TRUEX_CLIENT_ID": "12345678901234567",
}


def test_defaults_point_at_uat():
    settings = load_fix_settings(GOOD)
    assert (settings.host, settings.order_entry_port, settings.market_data_port) == (
        "uat.truex.co",
        19484,
        20484,
    )
    assert (settings.order_entry_target, settings.market_data_target) == (
        "TRUEX_UAT_OE",
        "TRUEX_UAT_MD",
    )
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("TRUEX_API_KEY", "", "not set"),
        ("TRUEX_SECRET_KEY", "", "not set"),
        ("TRUEX_SENDER_COMP_ID", "bad id", "malformed"),
        ("TRUEX_CLIENT_ID", "abc", "digits"),
        ("TRUEX_ORDER_ENTRY_PORT", "19x84", "not a port"),
        ("TRUEX_MARKET_DATA_PORT", "70000", "not a port"),
        ("TRUEX_FIX_HOST", "bad host", "malformed"),
    ],
)
def test_bad_setting_named(name, value, fragment):
    with pytest.raises(ConfigError) as caught:
        load_fix_settings({**GOOD, name: value})
    assert caught.value.setting == name
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_secret_never_in_error():
    with pytest.raises(ConfigError) as caught:
        load_fix_settings({**GOOD, "TRUEX_SECRET_KEY": " s3cret-value-never-printed "})
    assert "s3cret" not in str(caught.value)


def test_sender_must_not_be_api_key():
    with pytest.raises(ConfigError, match="must not be the API key"):
        load_fix_settings({**GOOD, "TRUEX_SENDER_COMP_ID": "APIKEY1", "TRUEX_API_KEY": "APIKEY1"})


def test_env_file_parsing(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_text(
        "# creds\nexport TRUEX_API_KEY='k1'\nTRUEX_SECRET_KEY=\"a=b\"\n\nTRUEX_CLIENT_ID=1\n"
    )
    assert load_env_file(env) == {
        "TRUEX_API_KEY": "k1",
        "TRUEX_SECRET_KEY": "a=b",
        "TRUEX_CLIENT_ID": "1",
    }


def test_env_file_bad_line_does_not_echo(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_text("TRUEX_API_KEY=k1\nthis-is-my-secret\n")
    with pytest.raises(ConfigError) as caught:
        load_env_file(env)
    assert caught.value.setting.endswith(":2")
    assert "this-is-my-secret" not in str(caught.value)
