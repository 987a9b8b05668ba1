"""The strategy file: symbols, spreads, levels, sizes, skew and limits, validated once at start.

:func:`load_strategy` reads a TOML file (``strategy.example.toml`` at the repository root lists
every key with its default, unit and meaning) and builds the objects the trading code uses:
:class:`~truex_qf.strategy.quoting.QuoteParams`,
:class:`~truex_qf.strategy.fair_value.FairValueConfig` and
:class:`~truex_qf.trading.risk.RiskLimits`. Every key is optional; with no file at all
(``path=None``) the defaults quote BTC-PYUSD only.

Every problem is one :class:`~truex_qf.domain.errors.ConfigError` whose setting names the file and
the field, e.g. ``strategy.toml: symbols.BTC-PYUSD.spread_bps: must be a positive number,
got -3``: unknown keys (typos), wrong types, out-of-range values, malformed symbols, an
unreadable file and invalid TOML (with TOML's line and column). Checks that span fields are
made here too, so a setting that would make the program silently refuse every order (a level
larger than ``risk.max_order_qty``, an outer level beyond the price collar, too few open
orders allowed for the quotes) fails at start instead.

Numbers may be written as TOML numbers or as strings; prices, sizes and bps become
:class:`~decimal.Decimal` through ``str()``, so ``0.1`` is exactly ``Decimal("0.1")``.
Optional thresholds are switched off with the string ``"off"``, and ``reference = "none"``
means TrueX-only pricing (TOML has no null).
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from truex_qf.domain.errors import ConfigError
from truex_qf.domain.limits import RiskLimits
from truex_qf.strategy.coinbase import DEFAULT_BASE_URL
from truex_qf.strategy.coinbase import SOURCE_NAME as COINBASE
from truex_qf.strategy.fair_value import FairValueConfig
from truex_qf.strategy.quoting import QuoteParams, RequoteMode, level_distance_bps
from truex_qf.strategy.reference import KRAKEN, MEDIAN

__all__ = [
    "DEFAULT_SYMBOL",
    "REFERENCE_SOURCES",
    "StrategySettings",
    "SymbolStrategy",
    "default_strategy",
    "load_strategy",
    "read_strategy_document",
    "strategy_from_document",
]

DEFAULT_SYMBOL = "BTC-PYUSD"  # the UAT test market (spec §7.6)
REFERENCE_SOURCES = (COINBASE, KRAKEN, MEDIAN)
"""External price sources a symbol may name as its ``reference``."""

_NO_REFERENCE = "none"
_OFF = "off"
_TOO_LARGE = Decimal("1e12")
_TOO_SMALL_EXP = -18  # 1e-18: far below any tick, lot or bps a strategy needs
_MAX_LEVELS_PER_SIDE = 25  # the UAT cap of 50 open orders per client ID (§7.8), both sides
_SYMBOL = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")  # BASE-QUOTE, uppercase (spec §7.6)

# ----------------------------------------------------------------------------- defaults
# One place for every default; strategy.example.toml repeats them (a test keeps them equal).

_DEFAULT_QUOTING = QuoteParams(
    levels_per_side=2,  # TrueX asked the JS team for 2 levels per side in production (§7.8)
    spread_bps=Decimal(30),  # the JS reference's production half-spread, 80 then 30 (§13.1)
    level_spacing_bps=Decimal(10),
    level_size_base=Decimal("0.001"),  # ~100 PYUSD at BTC 100k: far above min notional 1 (§7.7)
    size_decay=Decimal(1),
    max_position_base=Decimal("0.05"),  # the JS reference's production max position (§13.1)
    inventory_skew_bps=Decimal(10),
    max_skew_bps=Decimal(10),
    maker_fee_bps=Decimal(0),  # fee bps are not published; the JS reference used 0 (§7.8)
    min_edge_bps=Decimal(5),  # a spread floor whatever the skew does (§13.2 item 18)
    post_only=True,  # ALO, ExecInst 18=6, on every maker order as the JS reference did (§13.1)
)

_DEFAULT_FAIR_VALUE = FairValueConfig(
    primary="truex",
    truex_method="mid",
    book_stale_s=30.0,
    reference_stale_s=5.0,  # the JS reference's staleness was 5-10 s (§13.1)
    divergence_limit_bps=Decimal(50),
    divergence_widen_bps=Decimal(25),
    widen_bps=Decimal(10),
)

_DEFAULT_REFERENCE: str | None = None

# max_position_base is per symbol: it comes from the symbols' tables.
_DEFAULT_RISK = RiskLimits(
    max_position_base={},
    max_order_qty=Decimal("0.01"),  # 10 default levels: catches a size typo, not a strategy
    max_order_notional=Decimal(2000),
    max_open_orders=20,  # 4 quotes need 4; the UAT cap is 50 per client ID (§7.8)
    price_collar_bps=Decimal(200),  # inside the venue's ~2.5 % (250 bps) price band (§7.8)
    max_book_age_s=60.0,
    max_messages_per_s=8,  # below the reported ~10 orders/s (§7.8)
    max_messages_per_min=240,  # below the reported 300/min (§7.8)
)


@dataclass(frozen=True)
class SymbolStrategy:
    """How one symbol is quoted and priced.

    ``max_position_base`` is the same value as ``quoting.max_position_base`` and the symbol's
    entry of :attr:`RiskLimits.max_position_base`. ``reference`` names the external price
    source (one of :data:`REFERENCE_SOURCES`), or is None for TrueX-only pricing.
    """

    symbol: str
    quoting: QuoteParams
    fair_value: FairValueConfig
    max_position_base: Decimal
    reference: str | None


@dataclass(frozen=True)
class StrategySettings:
    """Everything the market maker's trading loop is configured with.

    ``requote_mode``: how a working order outside tolerance is moved (35=G or 35=F then 35=D).
    ``requote_tolerance_bps`` / ``requote_size_tolerance``: a working order within this many
    bps of the wanted price and this fraction of the wanted size is left alone.
    ``market_depth``: MarketDepth(264) of the market-data subscription (0 = full book).
    ``ack_timeout_s``: a request unanswered this long makes its order UNCERTAIN.
    ``loop_interval_s``: how often the loop re-evaluates quotes when no data arrives.
    ``coinbase_base_url``: the Coinbase Exchange REST root for ``reference = "coinbase"``.
    ``max_decision_lag_us``: during a burst of market data the quote decision is coalesced,
    never later than this after the oldest message it covers (app/decision_gate.py).
    """

    symbols: tuple[SymbolStrategy, ...]
    risk: RiskLimits
    requote_mode: RequoteMode
    requote_tolerance_bps: Decimal
    requote_size_tolerance: Decimal
    market_depth: int
    ack_timeout_s: float
    loop_interval_s: float
    coinbase_base_url: str
    max_decision_lag_us: int = 300

    @property
    def symbol_names(self) -> tuple[str, ...]:
        """The configured symbols, in file order."""
        return tuple(s.symbol for s in self.symbols)

    def symbol(self, name: str) -> SymbolStrategy:
        """The configuration of ``name``; KeyError when it is not configured."""
        for strategy in self.symbols:
            if strategy.symbol == name:
                return strategy
        raise KeyError(name)


_DEFAULTS: dict[str, Any] = {
    # CANCEL_NEW: TrueX's 35=G behaviour is unverified (§14 item 13) and the JS reference
    # fixed one-sided books and "Insufficient balance" rejects by cancelling first (§13.2).
    "requote_mode": RequoteMode.CANCEL_NEW,
    "requote_tolerance_bps": Decimal(2),
    "requote_size_tolerance": Decimal("0.1"),
    "market_depth": 0,  # full book (initial snapshot up to 20 levels per side, §8.4)
    "ack_timeout_s": 5.0,
    "loop_interval_s": 1.0,
    "coinbase_base_url": DEFAULT_BASE_URL,
    "max_decision_lag_us": 300,
}


def default_strategy() -> StrategySettings:
    """The settings used when no strategy file is given: BTC-PYUSD only."""
    return load_strategy(None)


# ----------------------------------------------------------------------------- loading


def load_strategy(path: Path | None) -> StrategySettings:
    """Read and validate the strategy file at ``path``; None gives the defaults.

    Raises :class:`ConfigError` naming the file and the field on any problem.
    """
    if path is None:
        return strategy_from_document({}, "defaults")
    return strategy_from_document(read_strategy_document(path), str(path))


def strategy_from_document(document: Mapping[str, Any], source: str) -> StrategySettings:
    """Validate a parsed strategy document (a file's TOML, or one a backtest sweep changed a
    value of) as :func:`load_strategy` does; errors name ``source`` and the field."""
    return _Loader(source).settings(document)


def read_strategy_document(path: Path) -> dict[str, Any]:
    """The strategy file at ``path`` as parsed TOML, not yet validated; a ConfigError naming
    the file when it cannot be read or is not TOML."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(source, f"cannot read the strategy file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, f"not UTF-8 text (byte {exc.start})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"invalid TOML: {exc}") from None
    except ValueError as exc:  # an integer of more than 4300 digits (int's own limit)
        raise ConfigError(source, f"invalid TOML: {exc}") from None
    return document


def _show(value: object) -> str:
    """A value as the user wrote it in TOML, short enough for a one-line error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        text = str(value)
        return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"
    if isinstance(value, str):
        text = json.dumps(value)
        return text if len(text) <= 40 else text[:36] + '..."'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _choices(options: tuple[str, ...]) -> str:
    return ", ".join(json.dumps(option) for option in options)


_T = TypeVar("_T")


class _Table:
    """One TOML table: hands out its keys and remembers which were used, to catch typos."""

    def __init__(self, loader: _Loader, name: str, data: Mapping[str, Any]) -> None:
        self.loader = loader
        self.name = name
        self.data = data
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def error(self, key: str, problem: str) -> ConfigError:
        return self.loader.error(self.field(key), problem)

    def get(self, key: str) -> Any:
        """The raw value of ``key``, or None when absent (TOML has no null)."""
        self.used.add(key)
        return self.data.get(key)

    def table(self, key: str) -> _Table:
        value = self.get(key)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {_show(value)}")
        return _Table(self.loader, self.field(key), value)

    def finish(self) -> None:
        """Fail on the first key nobody asked for, suggesting the closest known key."""
        for key in self.data:
            if key not in self.used:
                close = difflib.get_close_matches(key, sorted(self.used), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                known = ", ".join(sorted(self.used))
                raise self.error(key, f"unknown key{hint}; known keys: {known}")

    # ------------------------------------------------------------------- typed values

    def decimal(
        self, key: str, default: Decimal, check: Callable[[Decimal], str | None] | None = None
    ) -> Decimal:
        value = self.get(key)
        if value is None:
            return default
        number = self._number(key, value)
        self._check(key, number, check)
        return number

    def optional_decimal(
        self,
        key: str,
        default: Decimal | None,
        check: Callable[[Decimal], str | None] | None = None,
    ) -> Decimal | None:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lower() == _OFF:
            return None
        number = self._number(key, value, or_off=True)
        self._check(key, number, check)
        return number

    def integer(
        self, key: str, default: int, check: Callable[[Decimal], str | None] | None = None
    ) -> int:
        value = self.get(key)
        if value is None:
            return default
        number = self._number(key, value)
        if number != number.to_integral_value():
            raise self.error(key, f"must be a whole number, got {_show(value)}")
        self._check(key, number, check)
        return int(number)

    def seconds(
        self, key: str, default: float, check: Callable[[Decimal], str | None] | None = None
    ) -> float:
        value = self.get(key)
        if value is None:
            return default
        number = self._number(key, value)
        self._check(key, number, check)
        return float(number)

    def optional_seconds(
        self, key: str, default: float | None, check: Callable[[Decimal], str | None] | None = None
    ) -> float | None:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lower() == _OFF:
            return None
        number = self._number(key, value, or_off=True)
        self._check(key, number, check)
        return float(number)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {_show(value)}")
        return value

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or value not in options:
            raise self.error(key, f"must be one of {_choices(options)}, got {_show(value)}")
        return value

    def text(self, key: str, default: str) -> str:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {_show(value)}")
        return value.strip()

    def _number(self, key: str, value: Any, or_off: bool = False) -> Decimal:
        expected = 'a number or "off"' if or_off else "a number"
        # bool is an int in Python; in TOML it is not a number.
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.error(key, f"must be {expected}, got {_show(value)}")
        try:
            # str() first: Decimal(0.1) would keep the binary float's 55 digits.
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.error(key, f"must be {expected}, got {_show(value)}") from None
        if not number.is_finite():
            raise self.error(key, f"must be a finite number, got {_show(value)}")
        # copy_abs, not abs(): abs() rounds in the context and 1e1000000 would overflow there.
        # Both bounds keep later Decimal arithmetic clear of overflow and underflow.
        if number.copy_abs() >= _TOO_LARGE or (number and number.adjusted() < _TOO_SMALL_EXP):
            raise self.error(key, f"is out of range, got {_show(value)}")
        return number

    def _check(
        self, key: str, number: Decimal, check: Callable[[Decimal], str | None] | None
    ) -> None:
        problem = check(number) if check is not None else None
        if problem is not None:
            raise self.error(key, f"{problem}, got {number}")


def _positive(number: Decimal) -> str | None:
    return None if number > 0 else "must be a positive number"


def _non_negative(number: Decimal) -> str | None:
    return None if number >= 0 else "must be zero or a positive number"


def _positive_whole(number: Decimal) -> str | None:
    return None if number >= 1 else "must be a positive whole number"


def _level_count(number: Decimal) -> str | None:
    if 1 <= number <= _MAX_LEVELS_PER_SIDE:
        return None
    return f"must be a whole number from 1 to {_MAX_LEVELS_PER_SIDE}"


def _non_negative_whole(number: Decimal) -> str | None:
    return None if number >= 0 else "must be zero or a positive whole number"


def _fraction(number: Decimal) -> str | None:
    return None if 0 <= number <= 1 else "must be between 0 and 1"


def _any(number: Decimal) -> str | None:
    return None


class _Loader:
    """Builds :class:`StrategySettings` from a parsed TOML document, naming ``source``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, field: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {field}", problem)

    def settings(self, document: Mapping[str, Any]) -> StrategySettings:
        top = _Table(self, "", document)
        mode = top.choice(
            "requote_mode",
            _DEFAULTS["requote_mode"].value,
            tuple(m.value for m in RequoteMode),
        )
        tolerance_bps = top.decimal(
            "requote_tolerance_bps", _DEFAULTS["requote_tolerance_bps"], _non_negative
        )
        size_tolerance = top.decimal(
            "requote_size_tolerance", _DEFAULTS["requote_size_tolerance"], _fraction
        )
        market_depth = top.integer("market_depth", _DEFAULTS["market_depth"], _non_negative_whole)
        ack_timeout_s = top.seconds("ack_timeout_s", _DEFAULTS["ack_timeout_s"], _positive)
        loop_interval_s = top.seconds("loop_interval_s", _DEFAULTS["loop_interval_s"], _positive)
        base_url = top.text("coinbase_base_url", _DEFAULTS["coinbase_base_url"])
        max_lag_us = top.integer(
            "max_decision_lag_us", _DEFAULTS["max_decision_lag_us"], _positive_whole
        )
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", base_url):
            raise top.error("coinbase_base_url", f"must be an http(s) URL, got {_show(base_url)}")

        symbols = self._symbols(top)
        risk = self._risk(top.table("risk"), symbols)
        top.finish()
        return StrategySettings(
            symbols=symbols,
            risk=risk,
            requote_mode=RequoteMode(mode),
            requote_tolerance_bps=tolerance_bps,
            requote_size_tolerance=size_tolerance,
            market_depth=market_depth,
            ack_timeout_s=ack_timeout_s,
            loop_interval_s=loop_interval_s,
            coinbase_base_url=base_url,
            max_decision_lag_us=max_lag_us,
        )

    # ------------------------------------------------------------------- symbols

    def _symbols(self, top: _Table) -> tuple[SymbolStrategy, ...]:
        if top.data.get("symbols") is None:
            return (self._symbol(_Table(self, f"symbols.{DEFAULT_SYMBOL}", {}), DEFAULT_SYMBOL),)
        table = top.table("symbols")
        if not table.data:
            raise top.error("symbols", "no symbol configured (add a [symbols.BTC-PYUSD] table)")
        strategies = []
        for name in table.data:
            if not _SYMBOL.fullmatch(name):
                raise table.error(
                    name, "not a TrueX symbol (BASE-QUOTE in uppercase, e.g. BTC-PYUSD)"
                )
            strategies.append(self._symbol(table.table(name), name))
        return tuple(strategies)

    def _symbol(self, table: _Table, symbol: str) -> SymbolStrategy:
        d = _DEFAULT_QUOTING
        quoting = _construct(
            self,
            table.name,
            QuoteParams,
            levels_per_side=table.integer("levels_per_side", d.levels_per_side, _level_count),
            spread_bps=table.decimal("spread_bps", d.spread_bps, _positive),
            level_spacing_bps=table.decimal(
                "level_spacing_bps", d.level_spacing_bps, _non_negative
            ),
            level_size_base=table.decimal("level_size_base", d.level_size_base, _positive),
            size_decay=table.decimal("size_decay", d.size_decay, _positive),
            max_position_base=table.decimal("max_position_base", d.max_position_base, _positive),
            inventory_skew_bps=table.decimal(
                "inventory_skew_bps", d.inventory_skew_bps, _non_negative
            ),
            max_skew_bps=table.decimal("max_skew_bps", d.max_skew_bps, _non_negative),
            maker_fee_bps=table.decimal("maker_fee_bps", d.maker_fee_bps, _any),
            min_edge_bps=table.decimal("min_edge_bps", d.min_edge_bps, _non_negative),
            post_only=table.boolean("post_only", d.post_only),
        )
        reference_name = table.choice(
            "reference",
            _DEFAULT_REFERENCE or _NO_REFERENCE,
            (*REFERENCE_SOURCES, _NO_REFERENCE),
        )
        reference = None if reference_name == _NO_REFERENCE else reference_name
        fair_value = self._fair_value(table.table("fair_value"), table, reference)
        table.finish()
        return SymbolStrategy(
            symbol=symbol,
            quoting=quoting,
            fair_value=fair_value,
            max_position_base=quoting.max_position_base,
            reference=reference,
        )

    def _fair_value(
        self, table: _Table, symbol_table: _Table, reference: str | None
    ) -> FairValueConfig:
        d = _DEFAULT_FAIR_VALUE
        primary = table.choice("primary", d.primary, ("truex", "reference"))
        if primary == "reference" and reference is None:
            raise table.error(
                "primary",
                f'"reference" needs a reference price source: set {symbol_table.field("reference")}'
                f" to one of {_choices(REFERENCE_SOURCES)}",
            )
        limit = table.decimal("divergence_limit_bps", d.divergence_limit_bps, _positive)
        config = _construct(
            self,
            table.name,
            FairValueConfig,
            primary=primary,
            truex_method=table.choice("truex_method", d.truex_method, ("mid", "micro")),
            book_stale_s=table.optional_seconds("book_stale_s", d.book_stale_s, _positive),
            reference_stale_s=table.seconds("reference_stale_s", d.reference_stale_s, _positive),
            divergence_limit_bps=limit,
            divergence_widen_bps=table.optional_decimal(
                "divergence_widen_bps",
                d.divergence_widen_bps,
                lambda n: (
                    None
                    if 0 < n < limit
                    else f"must be positive and below divergence_limit_bps ({limit})"
                ),
            ),
            widen_bps=table.decimal("widen_bps", d.widen_bps, _non_negative),
        )
        table.finish()
        return config

    # ------------------------------------------------------------------- risk

    def _risk(self, table: _Table, symbols: tuple[SymbolStrategy, ...]) -> RiskLimits:
        d = _DEFAULT_RISK
        per_s = table.integer("max_messages_per_s", d.max_messages_per_s, _positive_whole)
        limits = _construct(
            self,
            table.name,
            RiskLimits,
            max_position_base=MappingProxyType({s.symbol: s.max_position_base for s in symbols}),
            max_order_qty=table.decimal("max_order_qty", d.max_order_qty, _positive),
            max_order_notional=table.decimal("max_order_notional", d.max_order_notional, _positive),
            max_open_orders=table.integer("max_open_orders", d.max_open_orders, _positive_whole),
            price_collar_bps=table.decimal("price_collar_bps", d.price_collar_bps, _positive),
            max_book_age_s=table.seconds("max_book_age_s", d.max_book_age_s, _positive),
            max_messages_per_s=per_s,
            max_messages_per_min=table.integer(
                "max_messages_per_min",
                d.max_messages_per_min,
                lambda n: (
                    None
                    if n >= per_s
                    else f"must be a whole number at least max_messages_per_s ({per_s})"
                ),
            ),
        )
        table.finish()
        self._check_risk_fits_quotes(table, limits, symbols)
        return limits

    def _check_risk_fits_quotes(
        self, table: _Table, limits: RiskLimits, symbols: tuple[SymbolStrategy, ...]
    ) -> None:
        """Fail on limits that would deny the configured quotes on every loop."""
        for s in symbols:
            q = s.quoting
            largest = q.level_size_base * max(Decimal(1), q.size_decay) ** (q.levels_per_side - 1)
            if largest > limits.max_order_qty:
                raise self.error(
                    f"symbols.{s.symbol}.level_size_base",
                    f"levels up to {largest} base exceed risk.max_order_qty "
                    f"({limits.max_order_qty}), so the risk check would deny them",
                )
        quotes = sum(2 * s.quoting.levels_per_side for s in symbols)
        if limits.max_open_orders < quotes:
            raise table.error(
                "max_open_orders",
                f"must be at least {quotes} (two sides x levels_per_side of every symbol), "
                f"got {limits.max_open_orders}",
            )
        for s in symbols:
            farthest = _farthest_quote_bps(s)
            if farthest > limits.price_collar_bps:
                raise table.error(
                    "price_collar_bps",
                    f"must be at least {farthest} (the outermost {s.symbol} quote: spread, "
                    f"level spacing, max skew and any widening), got {limits.price_collar_bps}",
                )


def _farthest_quote_bps(strategy: SymbolStrategy) -> Decimal:
    """How far from fair value the symbol's outermost quote can sit, before tick rounding:
    the quoting pipeline's own distance of its last level, widened, plus the largest skew (or
    the minimum edge, when that is farther)."""
    q = strategy.quoting
    widen = strategy.fair_value.widen_bps if strategy.reference is not None else Decimal(0)
    outermost = level_distance_bps(q, q.levels_per_side, widen)
    return max(outermost + q.max_skew_bps, q.min_distance_bps)


def _construct(loader: _Loader, prefix: str, factory: Callable[..., _T], **kwargs: Any) -> _T:
    """``factory(**kwargs)``, its own ValueError turned into a ConfigError naming the field.

    The loader checks every constraint first with better messages; this keeps any constraint
    added to the target classes later from escaping as a traceback.
    """
    try:
        return factory(**kwargs)
    except ValueError as exc:
        message = str(exc)
        # QuoteParams / FairValueConfig: "field: problem"; RiskLimits: "RiskLimits.field ...".
        match = re.match(r"(?:\w+\.)?(\w+)(?:\[[^\]]*\])?:? (.*)", message)
        if match and match.group(1) in kwargs:
            field = f"{prefix}.{match.group(1)}" if prefix else match.group(1)
            raise loader.error(field, match.group(2)) from None
        raise loader.error(prefix or "strategy", message) from None
