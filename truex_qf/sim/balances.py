"""The simulated exchange's one balance book: what each account owns, per asset.

TrueX refuses an order whose funds are not there (``58=Insufficient balance``, spec §7.3 and
§13.2 item 16): the order plus what the account's resting orders already hold must fit in
the available balance, where available = balance - order_hold - transfer_hold (§9.5). The
matching engine owns this book: it checks orders against it and moves it with every trade;
the REST API reads the same book for ``GET /api/v1/balances``, so what a client is told and
what the venue enforces cannot drift apart.

The book keeps balances only. Holds are not stored: they are what the account's working
orders tie up right now (:func:`hold_of`), so the engine computes them from its orders and
no bookkeeping of partial fills, replaces and cancels can leak. ``transfer_hold`` is always
0 here (the simulator has no transfers).

Owners whose ID starts with ``SIM-`` (the simulator's own traders) are never limited and not
recorded: they stand for the rest of the market, whose funds are not ours to model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import Side

# What a new account starts with: large enough that the demo and every test keep trading
# around BTC-PYUSD 100000 (ten BTC, a million PYUSD).
DEFAULT_BALANCES: dict[str, Decimal] = {"PYUSD": Decimal(1_000_000), "BTC": Decimal(10)}
SIMULATED_OWNER_PREFIX = "SIM-"
ZERO = Decimal(0)
_ASSET_NAME = re.compile(r"[A-Z0-9]{1,16}")


@dataclass(frozen=True, slots=True)
class AssetBalance:
    """One asset of one account, as TrueX's balance object reports it."""

    asset: str
    balance: Decimal
    order_hold: Decimal
    transfer_hold: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        """What a new order may still use (spec §9.5)."""
        return self.balance - self.order_hold - self.transfer_hold


def parse_balances(
    texts: Iterable[str], option: str = "--balance", base: Mapping[str, Decimal] | None = None
) -> dict[str, Decimal]:
    """Balances from ``CCY=AMOUNT`` texts (an option given once per currency), each replacing
    or adding one currency of ``base`` (none: only those given).

    Raises :class:`ConfigError` naming ``option`` for anything else (a missing ``=``, a name
    that is not letters and digits, a negative, non-finite or absurdly large amount).
    """
    balances = dict(base or {})
    for text in texts:
        name, sep, amount_text = text.partition("=")
        name = name.strip().upper()
        if not sep or not _ASSET_NAME.fullmatch(name):
            raise ConfigError(option, f"{text[:40]!r}: expected CCY=AMOUNT, e.g. PYUSD=50000")
        try:
            amount = Decimal(amount_text.strip())
        except InvalidOperation:
            raise ConfigError(
                option, f"{text[:40]!r}: {amount_text[:30]!r} is not a number"
            ) from None
        if not amount.is_finite() or amount < 0 or (amount and not -18 <= amount.adjusted() < 15):
            raise ConfigError(
                option, f"{text[:40]!r}: the amount must be 0 or a positive number below 1e15"
            )
        balances[name] = amount
    return balances


def assets_of(symbol: str, quote: str | None = None) -> tuple[str, str]:
    """(base, quote) of a ``BASE-QUOTE`` symbol; ``quote`` overrides the part after the dash."""
    base, _, after_dash = symbol.partition("-")
    return base, quote or after_dash


def hold_of(
    side: Side, quantity: Decimal, price: Decimal, base: str, quote: str
) -> tuple[str, Decimal]:
    """The asset and amount ``quantity`` of an order ties up: a buy spends the quote currency
    (quantity x price), a sell the base currency (quantity)."""
    if side is Side.BUY:
        return quote, quantity * price
    return base, quantity


class BalanceBook:
    """Balances per account and asset, moved by trades.

    Every account starts with ``starting`` (a copy; an asset not named starts at 0). With
    ``enforced`` False the book still records but never refuses: that is the matching engine
    on its own, a pure price-time matcher for its unit tests; the simulated venue builds an
    enforced book from its settings.
    """

    def __init__(
        self,
        starting: Mapping[str, Decimal] | None = None,
        *,
        enforced: bool = True,
    ) -> None:
        self._starting = dict(DEFAULT_BALANCES if starting is None else starting)
        for asset, amount in self._starting.items():
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
                raise ValueError(f"starting balance of {asset} must be a Decimal >= 0: {amount!r}")
        self.enforced = enforced
        self._accounts: dict[str, dict[str, Decimal]] = {}

    @property
    def starting(self) -> dict[str, Decimal]:
        """What a new account starts with (a copy)."""
        return dict(self._starting)

    def is_limited(self, owner: str) -> bool:
        """Whether ``owner``'s orders must fit its balance (never for ``SIM-`` owners)."""
        return self.enforced and not owner.startswith(SIMULATED_OWNER_PREFIX)

    def balances(self, owner: str) -> dict[str, Decimal]:
        """``owner``'s balance of every asset it has or started with (a copy)."""
        return dict(self._account(owner))

    def balance(self, owner: str, asset: str) -> Decimal:
        """``owner``'s balance of ``asset`` (0 for an asset it never had)."""
        return self._account(owner).get(asset, ZERO)

    def settle(
        self,
        buy_owner: str,
        sell_owner: str,
        base: str,
        quote: str,
        quantity: Decimal,
        price: Decimal,
    ) -> None:
        """One trade: the buyer gets ``quantity`` of ``base`` for quantity x price of
        ``quote``, the seller the reverse. Fees are not charged (TrueX's fee currency is not
        recorded in the spec; the simulator's fees are 0 unless configured)."""
        notional = quantity * price
        for owner, sign in ((buy_owner, 1), (sell_owner, -1)):
            if owner.startswith(SIMULATED_OWNER_PREFIX):
                continue
            account = self._account(owner)
            account[base] = account.get(base, ZERO) + sign * quantity
            account[quote] = account.get(quote, ZERO) - sign * notional

    def _account(self, owner: str) -> dict[str, Decimal]:
        account = self._accounts.get(owner)
        if account is None:
            account = self._accounts[owner] = dict(self._starting)
        return account
