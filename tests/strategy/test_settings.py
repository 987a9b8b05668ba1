"""The strategy file: defaults, the example file, and one-line errors that name the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from truex_qf.domain.errors import ConfigError
from truex_qf.strategy import settings as settings_module
from truex_qf.strategy.quoting import QuoteParams, RequoteMode
from truex_qf.strategy.settings import (
    StrategySettings,
    SymbolStrategy,
    default_strategy,
    load_strategy,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "strategy.example.toml"
BTC = "symbols.BTC-PYUSD"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "strategy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_strategy(path)
    error = caught.value
    assert "\n" not in str(error), "an error must be one line"
    return error


def field_of(error: ConfigError, path: Path) -> str:
    prefix = f"{path}: "
    assert error.setting.startswith(prefix), error.setting
    return error.setting[len(prefix) :]


# ----------------------------------------------------------------------------- defaults


def test_no_file_gives_btc_pyusd_defaults():
    settings = load_strategy(None)
    assert isinstance(settings, StrategySettings)
    assert settings == default_strategy()
    assert settings.symbol_names == ("BTC-PYUSD",)
    btc = settings.symbol("BTC-PYUSD")
    assert isinstance(btc, SymbolStrategy)
    assert btc.quoting.levels_per_side == 2
    assert btc.max_position_base == btc.quoting.max_position_base == Decimal("0.05")
    assert btc.reference is None
    assert dict(settings.risk.max_position_base) == {"BTC-PYUSD": Decimal("0.05")}
    assert settings.risk.max_messages_per_s < 10 and settings.risk.max_messages_per_min < 300
    assert settings.risk.max_open_orders <= 50
    assert settings.requote_mode is RequoteMode.CANCEL_NEW
    assert settings.market_depth == 0
    with pytest.raises(KeyError):
        settings.symbol("ETH-PYUSD")


def test_example_file_equals_defaults():
    assert load_strategy(EXAMPLE) == default_strategy()


def test_example_file_sets_every_key():
    """Removing any one key from the example still loads: so every key there is a real key,
    and the example lists all of them (checked against the loader's known keys)."""
    import tomllib

    document = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    symbol = document["symbols"]["BTC-PYUSD"]
    assert set(document) - {"risk", "symbols"} == {
        "requote_mode",
        "requote_tolerance_bps",
        "requote_size_tolerance",
        "market_depth",
        "ack_timeout_s",
        "loop_interval_s",
        "coinbase_base_url",
    }
    assert set(document["risk"]) == {
        "max_order_qty",
        "max_order_notional",
        "max_open_orders",
        "price_collar_bps",
        "max_book_age_s",
        "max_messages_per_s",
        "max_messages_per_min",
    }
    quote_fields = set(QuoteParams.__dataclass_fields__)
    assert set(symbol) == quote_fields | {"reference", "fair_value"}
    assert set(symbol["fair_value"]) == set(settings_module.FairValueConfig.__dataclass_fields__)


def test_empty_file_gives_defaults(tmp_path):
    assert load_strategy(write(tmp_path, "")) == default_strategy()


def test_symbol_table_without_keys_takes_defaults(tmp_path):
    settings = load_strategy(write(tmp_path, "[symbols.ETH-PYUSD]\n"))
    assert settings.symbol_names == ("ETH-PYUSD",)
    assert settings.symbol("ETH-PYUSD").quoting == default_strategy().symbols[0].quoting
    assert dict(settings.risk.max_position_base) == {"ETH-PYUSD": Decimal("0.05")}


def test_full_file_is_read(tmp_path):
    path = write(
        tmp_path,
        """
requote_mode = "replace"
requote_tolerance_bps = 1.5
market_depth = 5
loop_interval_s = "0.25"
[risk]
max_order_qty = "0.05"
max_open_orders = 12
[symbols.BTC-PYUSD]
levels_per_side = 3
spread_bps = 20
level_size_base = "0.002"
max_position_base = "0.1"
reference = "coinbase"
fair_value.primary = "reference"
fair_value.book_stale_s = "off"
fair_value.divergence_widen_bps = "off"
[symbols.ETH-PYUSD]
level_size_base = 0.01
""",
    )
    settings = load_strategy(path)
    assert settings.requote_mode is RequoteMode.REPLACE
    assert settings.requote_tolerance_bps == Decimal("1.5")
    assert settings.market_depth == 5
    assert settings.loop_interval_s == 0.25
    assert settings.risk.max_order_qty == Decimal("0.05")
    assert settings.risk.max_open_orders == 12
    assert dict(settings.risk.max_position_base) == {
        "BTC-PYUSD": Decimal("0.1"),
        "ETH-PYUSD": Decimal("0.05"),
    }
    btc = settings.symbol("BTC-PYUSD")
    assert btc.quoting.levels_per_side == 3
    assert btc.quoting.spread_bps == Decimal(20)
    assert btc.reference == "coinbase"
    assert btc.fair_value.primary == "reference"
    assert btc.fair_value.book_stale_s is None
    assert btc.fair_value.divergence_widen_bps is None
    assert settings.symbol("ETH-PYUSD").quoting.level_size_base == Decimal("0.01")


@pytest.mark.parametrize("written", ["0.1", '"0.1"', '" 0.1 "'])
def test_float_becomes_exact_decimal(tmp_path, written):
    settings = load_strategy(
        write(tmp_path, f"[risk]\nmax_order_qty = 1\n[{BTC}]\nlevel_size_base = {written}\n")
    )
    size = settings.symbol("BTC-PYUSD").quoting.level_size_base
    assert size == Decimal("0.1")
    assert size.as_tuple() == Decimal("0.1").as_tuple()


def test_float_tolerance_is_exact(tmp_path):
    settings = load_strategy(write(tmp_path, "requote_size_tolerance = 0.1\n"))
    assert str(settings.requote_size_tolerance) == "0.1"


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        # wrong types
        ('requote_tolerance_bps = "two"', "requote_tolerance_bps", 'got "two"'),
        ("requote_tolerance_bps = true", "requote_tolerance_bps", "got true"),
        ("requote_tolerance_bps = [1]", "requote_tolerance_bps", "an array"),
        ('requote_tolerance_bps = "nan"', "requote_tolerance_bps", "finite"),
        ("market_depth = 1.5", "market_depth", "whole number"),
        ('ack_timeout_s = "soon"', "ack_timeout_s", "must be a number"),
        ("requote_mode = 1", "requote_mode", '"replace", "cancel_new"'),
        ('requote_mode = "amend"', "requote_mode", 'got "amend"'),
        ("coinbase_base_url = 5", "coinbase_base_url", "must be a string"),
        ('coinbase_base_url = "ftp://x"', "coinbase_base_url", "http(s) URL"),
        ("risk = 3", "risk", "must be a table"),
        ("symbols = 3", "symbols", "must be a table"),
        ("symbols = {}", "symbols", "no symbol"),
        (f'[{BTC}]\npost_only = "yes"', f"{BTC}.post_only", "true or false"),
        (f'[{BTC}]\nreference = "bitstamp"', f"{BTC}.reference", '"kraken", "median", "none"'),
        (f"[{BTC}]\nfair_value = 1", f"{BTC}.fair_value", "must be a table"),
        # out of range
        ("requote_tolerance_bps = -1", "requote_tolerance_bps", "got -1"),
        ("requote_size_tolerance = 1.5", "requote_size_tolerance", "between 0 and 1"),
        ("market_depth = -1", "market_depth", "got -1"),
        ("ack_timeout_s = 0", "ack_timeout_s", "positive"),
        ("loop_interval_s = -0.5", "loop_interval_s", "positive"),
        (f"[{BTC}]\nspread_bps = -3", f"{BTC}.spread_bps", "must be a positive number, got -3"),
        (f"[{BTC}]\nspread_bps = 0", f"{BTC}.spread_bps", "positive"),
        (f"[{BTC}]\nlevels_per_side = 0", f"{BTC}.levels_per_side", "from 1 to 25, got 0"),
        (f"[{BTC}]\nlevels_per_side = 26", f"{BTC}.levels_per_side", "from 1 to 25, got 26"),
        (f"[{BTC}]\nsize_decay = 1e300", f"{BTC}.size_decay", "out of range"),
        ('ack_timeout_s = "1e400"', "ack_timeout_s", "out of range"),
        ("ack_timeout_s = inf", "ack_timeout_s", "finite"),
        (f"[{BTC}]\nlevels_per_side = 2.5", f"{BTC}.levels_per_side", "whole number"),
        (f"[{BTC}]\nlevel_spacing_bps = -1", f"{BTC}.level_spacing_bps", "got -1"),
        (f"[{BTC}]\nlevel_size_base = 0", f"{BTC}.level_size_base", "positive"),
        (f"[{BTC}]\nsize_decay = 0", f"{BTC}.size_decay", "positive"),
        (f"[{BTC}]\nmax_position_base = -1", f"{BTC}.max_position_base", "positive"),
        (f"[{BTC}]\ninventory_skew_bps = -1", f"{BTC}.inventory_skew_bps", "got -1"),
        (f"[{BTC}]\nmax_skew_bps = -1", f"{BTC}.max_skew_bps", "got -1"),
        (f"[{BTC}]\nmin_edge_bps = -1", f"{BTC}.min_edge_bps", "got -1"),
        (f'[{BTC}.fair_value]\nprimary = "coinbase"', f"{BTC}.fair_value.primary", "one of"),
        (
            f'[{BTC}.fair_value]\nprimary = "reference"',
            f"{BTC}.fair_value.primary",
            f"set {BTC}.reference",
        ),
        (f'[{BTC}.fair_value]\ntruex_method = "vwap"', f"{BTC}.fair_value.truex_method", "vwap"),
        (f"[{BTC}.fair_value]\nbook_stale_s = 0", f"{BTC}.fair_value.book_stale_s", "positive"),
        (
            f'[{BTC}.fair_value]\nbook_stale_s = "never"',
            f"{BTC}.fair_value.book_stale_s",
            'a number or "off"',
        ),
        (
            f"[{BTC}.fair_value]\nreference_stale_s = -5",
            f"{BTC}.fair_value.reference_stale_s",
            "positive",
        ),
        (
            f"[{BTC}.fair_value]\ndivergence_limit_bps = 0",
            f"{BTC}.fair_value.divergence_limit_bps",
            "positive",
        ),
        (
            f"[{BTC}.fair_value]\ndivergence_widen_bps = 60",
            f"{BTC}.fair_value.divergence_widen_bps",
            "below divergence_limit_bps (50), got 60",
        ),
        (f"[{BTC}.fair_value]\nwiden_bps = -1", f"{BTC}.fair_value.widen_bps", "got -1"),
        ("[risk]\nmax_order_qty = 0", "risk.max_order_qty", "positive"),
        ("[risk]\nmax_order_notional = -1", "risk.max_order_notional", "positive"),
        ("[risk]\nmax_open_orders = 0", "risk.max_open_orders", "positive whole"),
        ("[risk]\nprice_collar_bps = 0", "risk.price_collar_bps", "positive"),
        ("[risk]\nmax_book_age_s = 0", "risk.max_book_age_s", "positive"),
        ("[risk]\nmax_messages_per_s = 0", "risk.max_messages_per_s", "positive whole"),
        (
            "[risk]\nmax_messages_per_min = 5",
            "risk.max_messages_per_min",
            "at least max_messages_per_s (8), got 5",
        ),
        # symbols
        ("[symbols.btc-pyusd]", "symbols.btc-pyusd", "BASE-QUOTE"),
        ("[symbols.BTCPYUSD]", "symbols.BTCPYUSD", "BASE-QUOTE"),
        ("[symbols.BTC-PYUSD-X]", "symbols.BTC-PYUSD-X", "BASE-QUOTE"),
        # limits that would deny every quote
        (
            f"[{BTC}]\nlevel_size_base = 0.02",
            f"{BTC}.level_size_base",
            "risk.max_order_qty",
        ),
        (
            f"[{BTC}]\nlevel_size_base = 0.005\nsize_decay = 3",
            f"{BTC}.level_size_base",
            "0.015",
        ),
        (
            f"[risk]\nmax_open_orders = 3\n[{BTC}]",
            "risk.max_open_orders",
            "at least 4",
        ),
        (
            f"[risk]\nprice_collar_bps = 40\n[{BTC}]",
            "risk.price_collar_bps",
            "at least 50",
        ),
        (
            f'[risk]\nprice_collar_bps = 55\n[{BTC}]\nreference = "coinbase"',
            "risk.price_collar_bps",
            "at least 60",
        ),
    ],
)
def test_bad_value_names_the_field(tmp_path, text, field, fragment):
    error = load_error(tmp_path, text + "\n")
    assert field_of(error, tmp_path / "strategy.toml") == field
    assert fragment in error.problem


def test_message_reads_file_field_problem(tmp_path):
    path = write(tmp_path, f"[{BTC}]\nspread_bps = -3\n")
    with pytest.raises(ConfigError) as caught:
        load_strategy(path)
    assert str(caught.value) == (
        f"{path}: symbols.BTC-PYUSD.spread_bps: must be a positive number, got -3"
    )


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        ("requote_tolerance = 2", "requote_tolerance", "requote_tolerance_bps"),
        ("[risk]\nmax_orders = 2", "risk.max_orders", "max_open_orders"),
        (f"[{BTC}]\nspred_bps = 20", f"{BTC}.spred_bps", "spread_bps"),
        (f"[{BTC}.fair_value]\nprimery = 'truex'", f"{BTC}.fair_value.primery", "primary"),
        ("[strategy]\nx = 1", "strategy", None),
    ],
)
def test_unknown_key_is_named(tmp_path, text, field, hint):
    error = load_error(tmp_path, text + "\n")
    assert field_of(error, tmp_path / "strategy.toml") == field
    assert error.problem.startswith("unknown key")
    if hint is not None:
        assert f"did you mean {hint}?" in error.problem


def test_invalid_toml_reports_line_and_column(tmp_path):
    path = write(tmp_path, 'requote_mode = "replace"\nspread_bps = \n')
    error = load_error(tmp_path, path.read_text())
    assert error.setting == str(path)
    assert "invalid TOML" in error.problem
    assert "line 2" in error.problem and "column" in error.problem


def test_duplicate_key_is_invalid_toml(tmp_path):
    error = load_error(tmp_path, f"[{BTC}]\nspread_bps = 1\nspread_bps = 2\n")
    assert "line 3" in error.problem


def test_missing_file_is_one_line(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_strategy(path)
    assert caught.value.setting == str(path)
    assert "cannot read" in caught.value.problem


def test_directory_is_unreadable(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_strategy(tmp_path)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "strategy.toml"
    path.write_bytes(b"requote_mode = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_strategy(path)


def test_target_class_constraint_surfaces_as_config_error(tmp_path, monkeypatch):
    """A constraint the loader does not know yet still names the field, not a traceback."""

    class StricterQuoteParams(QuoteParams):
        def __post_init__(self) -> None:
            super().__post_init__()
            if self.spread_bps > 100:
                raise ValueError("spread_bps: must be at most 100")

    monkeypatch.setattr(settings_module, "QuoteParams", StricterQuoteParams)
    error = load_error(tmp_path, f"[{BTC}]\nspread_bps = 150\n[risk]\nprice_collar_bps = 300\n")
    assert field_of(error, tmp_path / "strategy.toml") == f"{BTC}.spread_bps"
    assert error.problem == "must be at most 100"


def test_risk_limits_message_form_is_mapped(tmp_path, monkeypatch):
    real = settings_module.RiskLimits

    def failing(**kwargs):
        if kwargs["max_order_notional"] > 5000:
            raise ValueError("RiskLimits.max_order_notional must be at most 5000")
        return real(**kwargs)

    monkeypatch.setattr(settings_module, "RiskLimits", failing)
    error = load_error(tmp_path, "[risk]\nmax_order_notional = 9000\n")
    assert field_of(error, tmp_path / "strategy.toml") == "risk.max_order_notional"
    assert error.problem == "must be at most 5000"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f'[{BTC}]\nlevel_size_base = "1e1000000"\n', "level_size_base: is out of range"),
        (f'[{BTC}]\nlevel_size_base = "-1e1000000"\n', "level_size_base: is out of range"),
        (f'[{BTC}]\nlevel_size_base = "1e-1000000"\n', "level_size_base: is out of range"),
        (f'[{BTC}]\nspread_bps = "sNaN"\n', "spread_bps: must be a finite number"),
        (f"[{BTC}]\nspread_bps = nan\n", "spread_bps: must be a finite number"),
        (f"market_depth = {'9' * 5000}\n", "invalid TOML"),
        (f"market_depth = {'9' * 4000}\n", "market_depth: is out of range, got 9999"),
    ],
)
def test_numbers_beyond_decimal_range_are_one_line(tmp_path, text, fragment):
    error = load_error(tmp_path, text)
    assert fragment in str(error)
    assert len(str(error)) < 300
