"""``load_run_settings``: a run's settings read once, the first mistake named, nothing later."""

from __future__ import annotations

from pathlib import Path

import pytest

from truex_qf.app.settings import load_run_settings
from truex_qf.domain.errors import ConfigError
from truex_qf.trading.market_maker import DEFAULT_GIVE_UP_S
from truex_qf.trading.reconcile import UnknownOrderPolicy


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "TRUEX_API_KEY": "00000000-0000-4000-8000-00000000d3e0",
        "TRUEX_SECRET_KEY": "a-secret",
        "TRUEX_SENDER_COMP_ID": "MM_ONE",
        "TRUEX_CLIENT_ID": "10000000000000001",
        "TRUEX_STATE_DIR": str(tmp_path / "state"),
        **extra,
    }


def test_defaults_and_environment_in_one_value(tmp_path: Path) -> None:
    settings = load_run_settings(None, env=_env(tmp_path))
    assert settings.fix.sender_comp_id == "MM_ONE"
    assert settings.fix.state_dir.is_dir()  # created before anything starts
    assert settings.strategy.symbols  # the built-in strategy
    assert settings.recording.database_url.startswith("sqlite")
    assert settings.recording.namespace == "MM_ONE"
    assert settings.unknown_orders is UnknownOrderPolicy.CANCEL
    assert settings.give_up_after_s == DEFAULT_GIVE_UP_S
    assert settings.recording.capture_dir is None

    tuned = load_run_settings(
        None,
        capture_dir=tmp_path / "cap",
        env=_env(
            tmp_path,
            TRUEX_UNKNOWN_ORDERS="adopt",
            TRUEX_GIVE_UP_AFTER_S="7.5",
            TRUEX_REST_URL="off",
            TRUEX_LIVE_NAMESPACE="desk",
        ),
    )
    assert tuned.unknown_orders is UnknownOrderPolicy.ADOPT
    assert tuned.give_up_after_s == 7.5
    assert tuned.rest_url is None
    assert tuned.recording.namespace == "desk"
    assert tuned.recording.capture_dir == tmp_path / "cap"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"TRUEX_GIVE_UP_AFTER_S": "soon"}, "TRUEX_GIVE_UP_AFTER_S"),
        ({"TRUEX_UNKNOWN_ORDERS": "keep"}, "TRUEX_UNKNOWN_ORDERS"),
        ({"TRUEX_REST_URL": "ftp://x"}, "TRUEX_REST_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"TRUEX_ORDER_ENTRY_PORT": "0"}, "TRUEX_ORDER_ENTRY_PORT"),
    ],
)
def test_a_mistake_is_named(tmp_path: Path, extra: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_run_settings(None, env=_env(tmp_path, **extra))
    assert str(caught.value).startswith(named)


def test_a_strategy_mistake_names_the_file(tmp_path: Path) -> None:
    strategy = tmp_path / "s.toml"
    strategy.write_text("[symbols.BTC-PYUSD]\nspread_bps = -4\n")
    with pytest.raises(ConfigError) as caught:
        load_run_settings(strategy, env=_env(tmp_path))
    assert str(s := caught.value).startswith(str(strategy)) and "spread" in str(s)
