"""Configuration errors are one line naming the setting and never echo a secret."""

import ast
from pathlib import Path

import pytest

import truex_qf
from truex_qf.config import (
    give_up_after_s,
    live_namespace,
    load_env_file,
    load_fix_settings,
    prepare_state_dir,
    recording_settings,
    redis_url,
    rest_url,
    rest_url_is_set,
    runtime_dir,
    state_dir_setting,
    unknown_orders,
)
from truex_qf.domain.errors import ConfigError

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


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("ftp://uat.truex.co", "ftp:// is not supported"),
        ("http://", "no host"),
        ("http://h:99999", "malformed host or port"),
        ("http://h:0", "port 0"),
        ("uat.truex.co:9742", "is not supported"),
        ("http://user:pa55word@h x", "not a URL"),
    ],
)
def test_rest_url_is_checked_and_never_echoes_a_password(value, fragment):
    with pytest.raises(ConfigError) as caught:
        rest_url({"TRUEX_REST_URL": value})
    assert caught.value.setting == "TRUEX_REST_URL"
    assert fragment in str(caught.value)
    assert "pa55word" not in str(caught.value)


def test_rest_url_default_and_off():
    assert rest_url({}) == "http://uat.truex.co:9742"
    assert rest_url({"TRUEX_REST_URL": "OFF"}) is None


def test_redis_url_accepts_its_schemes():
    assert redis_url({}) is None
    assert redis_url({"REDIS_URL": "rediss://:pw@h:6380/1"}) == "rediss://:pw@h:6380/1"
    assert redis_url({"REDIS_URL": "unix:///run/redis.sock"}) == "unix:///run/redis.sock"
    with pytest.raises(ConfigError, match="REDIS_URL: http:// is not supported"):
        redis_url({"REDIS_URL": "http://h"})


def test_state_dir_is_made_and_proven_writable(tmp_path: Path):
    made = prepare_state_dir(tmp_path / "a" / "b")
    assert made.is_dir()
    assert list(made.iterdir()) == []  # the probe file is gone
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        prepare_state_dir(afile)
    with pytest.raises(ConfigError, match="a part of the path is a file"):
        prepare_state_dir(afile / "sub")
    with pytest.raises(ConfigError, match="cannot write in the folder /proc"):
        prepare_state_dir(Path("/proc"))
    assert state_dir_setting({"TRUEX_STATE_DIR": "  "}) == Path("state")


def test_recording_settings_defaults_and_values():
    assert recording_settings({}) == recording_settings({"TRUEX_METRICS_HOST": " "})
    empty = recording_settings({})
    assert (empty.database_url, empty.redis_url, empty.metrics_port, empty.alert_webhook) == (
        None,
        None,
        None,
        None,
    )
    assert (empty.metrics_host, empty.namespace) == ("127.0.0.1", None)
    given = recording_settings(
        {
            "DATABASE_URL": " postgresql://u@h/db ",
            "REDIS_URL": "redis://h:6379/0",
            "TRUEX_METRICS_PORT": "9100",
            "TRUEX_METRICS_HOST": "0.0.0.0",
            "TRUEX_ALERT_WEBHOOK_URL": "https://hooks.example/x",
            "TRUEX_LIVE_NAMESPACE": "MM1",
        }
    )
    assert given.database_url == "postgresql://u@h/db"
    assert (given.redis_url, given.metrics_port, given.metrics_host) == (
        "redis://h:6379/0",
        9100,
        "0.0.0.0",
    )
    assert (given.alert_webhook, given.namespace) == ("https://hooks.example/x", "MM1")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("TRUEX_METRICS_PORT", "91OO", "not a port number"),
        ("TRUEX_METRICS_HOST", "bad host", "malformed"),
        ("TRUEX_ALERT_WEBHOOK_URL", "ftp://hooks.example", "is not supported"),
        ("REDIS_URL", "http://h", "is not supported"),
    ],
)
def test_recording_settings_name_the_bad_one(name, value, fragment):
    with pytest.raises(ConfigError) as caught:
        recording_settings({name: value})
    assert caught.value.setting == name
    assert fragment in str(caught.value)


def test_run_options_from_the_environment():
    assert unknown_orders({}) == "cancel"
    assert unknown_orders({"TRUEX_UNKNOWN_ORDERS": " Adopt "}) == "adopt"
    with pytest.raises(ConfigError, match="TRUEX_UNKNOWN_ORDERS: 'keep': use cancel or adopt"):
        unknown_orders({"TRUEX_UNKNOWN_ORDERS": "keep"})
    assert give_up_after_s({}) is None
    assert give_up_after_s({"TRUEX_GIVE_UP_AFTER_S": "2.5"}) == 2.5
    for bad, fragment in (("soon", "is not a number"), ("-1", "positive"), ("inf", "positive")):
        with pytest.raises(ConfigError, match=f"TRUEX_GIVE_UP_AFTER_S: .*{fragment}"):
            give_up_after_s({"TRUEX_GIVE_UP_AFTER_S": bad})
    assert live_namespace({"TRUEX_LIVE_NAMESPACE": "  "}) is None
    assert runtime_dir({}) is None
    assert runtime_dir({"XDG_RUNTIME_DIR": "/run/user/1"}) == Path("/run/user/1")
    assert not rest_url_is_set({}) and rest_url_is_set({"TRUEX_REST_URL": "off"})


_ENV_READS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _environment_reads(path: Path) -> list[int]:
    """Lines of ``path`` that touch the process environment (os.environ, os.getenv...)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _ENV_READS:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines.extend(node.lineno for alias in node.names if alias.name in _ENV_READS)
    return lines


def test_only_config_reads_the_environment():
    """Settings in one place: every other module receives values from truex_qf.config."""
    package = Path(truex_qf.__file__).parent
    readers = {
        f"{path.relative_to(package)}:{line}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "config.py" or path.parent != package
        for line in _environment_reads(path)
    }
    assert readers == set()
    assert _environment_reads(package / "config.py")  # the guard sees a read where there is one
