"""The known instrument list under 35=y and 35=BK."""

from decimal import Decimal

from truex_qf.domain.model import (
    ListUpdateAction,
    SecurityInfo,
    SecurityList,
    SecurityListUpdate,
    SecurityUpdate,
)
from truex_qf.marketdata.instruments import InstrumentChanges, KnownInstruments

BTC = SecurityInfo("BTC-PYUSD", "CSPOT", "PYUSD")
ETH = SecurityInfo("ETH-PYUSD", "CSPOT", "PYUSD")
SOL = SecurityInfo("SOL-PYUSD", "CSPOT", "PYUSD")


def listed(*securities: SecurityInfo, result: str | None = "0") -> SecurityList:
    return SecurityList("SL1", result, securities)


def update(*entries: tuple[ListUpdateAction, SecurityInfo]) -> SecurityListUpdate:
    return SecurityListUpdate("SL1", tuple(SecurityUpdate(a, s) for a, s in entries))


def test_a_list_replaces_the_known_instruments() -> None:
    known = KnownInstruments()
    assert known.apply_list(listed(BTC, ETH)) == InstrumentChanges(added=("BTC-PYUSD", "ETH-PYUSD"))
    changes = known.apply_list(listed(BTC, SOL))
    assert changes == InstrumentChanges(added=("SOL-PYUSD",), removed=("ETH-PYUSD",))
    assert known.symbols == {"BTC-PYUSD", "SOL-PYUSD"}


def test_a_failed_list_changes_nothing() -> None:
    known = KnownInstruments()
    known.apply_list(listed(BTC))
    assert not known.apply_list(listed(result="2"))
    assert "BTC-PYUSD" in known


def test_each_update_action() -> None:
    known = KnownInstruments()
    known.apply_list(listed(BTC, ETH))
    busier = SecurityInfo("BTC-PYUSD", "CSPOT", "PYUSD", Decimal(5), Decimal(7))
    changes = known.apply_update(
        update(
            (ListUpdateAction.ADD, SOL),
            (ListUpdateAction.DELETE, ETH),
            (ListUpdateAction.MODIFY, busier),
            (ListUpdateAction.SNAPSHOT, SOL),
        )
    )
    assert changes == InstrumentChanges(
        added=("SOL-PYUSD",), removed=("ETH-PYUSD",), modified=("BTC-PYUSD",)
    )
    assert known.symbols == {"BTC-PYUSD", "SOL-PYUSD"}
    assert known.get("BTC-PYUSD") == busier
    assert known.get("ETH-PYUSD") is None


def test_deleting_an_unknown_symbol_or_restating_a_known_one_changes_nothing() -> None:
    known = KnownInstruments()
    known.apply_list(listed(BTC))
    changes = known.apply_update(
        update((ListUpdateAction.DELETE, ETH), (ListUpdateAction.SNAPSHOT, BTC))
    )
    assert not changes
    assert known.symbols == {"BTC-PYUSD"}
