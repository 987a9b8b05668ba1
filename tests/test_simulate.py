"""Whom ``truex-qf simulate`` accepts, and the export lines it prints for a client."""

from __future__ import annotations

import shlex
from decimal import Decimal

import pytest

from truex_qf.domain.errors import ConfigError
from truex_qf.sim.service import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_SECRET_KEY,
    DEMO_SENDER_COMP_ID,
    client_exports,
    client_host,
    simulator_identity,
    starting_balances,
)

USER_KEY = "11111111-2222-4333-8444-555555555555"
USER_SECRET = "s3cr3t with spaces'and quotes"


def exported(lines: list[str]) -> dict[str, str]:
    """What a shell would hold after running ``lines`` (``export NAME`` alone sets nothing)."""
    values = {}
    for line in lines:
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            for word in words[1:]:
                name, sep, value = word.partition("=")
                if sep:
                    values[name] = value
    return values


def test_nothing_set_is_the_demo_identity_printed_in_full() -> None:
    identity = simulator_identity({})
    assert identity.demo_credentials
    account = identity.account
    assert (account.sender_comp_id, account.client_id) == (DEMO_SENDER_COMP_ID, DEMO_CLIENT_ID)
    lines = client_exports(identity, "127.0.0.1", 19484, 20484, "http://127.0.0.1:9742")
    assert exported(lines) == {
        "TRUEX_FIX_HOST": "127.0.0.1",
        "TRUEX_ORDER_ENTRY_PORT": "19484",
        "TRUEX_MARKET_DATA_PORT": "20484",
        "TRUEX_REST_URL": "http://127.0.0.1:9742",
        "TRUEX_API_KEY": DEMO_API_KEY,
        "TRUEX_SECRET_KEY": DEMO_SECRET_KEY,
        "TRUEX_SENDER_COMP_ID": DEMO_SENDER_COMP_ID,
        "TRUEX_CLIENT_ID": DEMO_CLIENT_ID,
    }
    assert any("not secrets" in line for line in lines if line.startswith("#"))


def test_the_environments_key_and_secret_are_named_never_printed() -> None:
    env = {"TRUEX_API_KEY": USER_KEY, "TRUEX_SECRET_KEY": USER_SECRET, "TRUEX_CLIENT_ID": "42"}
    identity = simulator_identity(env)
    assert not identity.demo_credentials
    assert identity.account.credentials.secret_key == USER_SECRET
    assert identity.account.client_id == "42"
    assert identity.account.sender_comp_id == DEMO_SENDER_COMP_ID  # unset: the demo one
    lines = client_exports(identity, "127.0.0.1", 1, 2, "http://127.0.0.1:3")
    text = "\n".join(lines)
    assert USER_SECRET not in text and USER_KEY not in text
    assert "export TRUEX_API_KEY TRUEX_SECRET_KEY" in lines
    assert "TRUEX_API_KEY" not in exported(lines) and "TRUEX_SECRET_KEY" not in exported(lines)
    assert exported(lines)["TRUEX_CLIENT_ID"] == "42"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TRUEX_API_KEY": USER_KEY}, "TRUEX_SECRET_KEY"),
        ({"TRUEX_SECRET_KEY": USER_SECRET}, "TRUEX_API_KEY"),
        ({"TRUEX_SENDER_COMP_ID": "has space"}, "TRUEX_SENDER_COMP_ID"),
        ({"TRUEX_CLIENT_ID": "x1"}, "TRUEX_CLIENT_ID"),
    ],
)
def test_a_half_or_malformed_setting_is_a_config_error(env, named) -> None:
    with pytest.raises(ConfigError) as caught:
        simulator_identity(env)
    assert caught.value.setting == named
    assert USER_SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("listen", "dial"),
    [("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("127.0.0.2", "127.0.0.2")],
)
def test_a_wildcard_listen_address_is_dialled_on_loopback(listen, dial) -> None:
    assert client_host(listen) == dial
    lines = client_exports(simulator_identity({}), listen, 1, 2, f"http://{dial}:3")
    assert exported(lines)["TRUEX_FIX_HOST"] == dial


def test_balance_options_replace_or_add_one_currency_each() -> None:
    assert starting_balances([]) == {"PYUSD": Decimal(1_000_000), "BTC": Decimal(10)}
    assert starting_balances(["btc=0.5", "ETH=3", "PYUSD=0"]) == {
        "PYUSD": Decimal(0),
        "BTC": Decimal("0.5"),
        "ETH": Decimal(3),
    }


@pytest.mark.parametrize(
    "text", ["BTC", "=5", "B-TC=1", "BTC=x", "BTC=-1", "BTC=NaN", "BTC=Infinity", "BTC=1e30"]
)
def test_a_malformed_balance_option_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        starting_balances([text])
    assert caught.value.setting == "--balance"
