"""The instruments the venue lists, kept current by 35=y and 35=BK.

TrueX answers a SecurityListRequest with a SecurityList (35=y) and, with 263=1, follows it
with SecurityListUpdateReports (35=BK) whose entries add (A), delete (D) or modify (M) one
instrument, or restate it as part of a snapshot (S). A symbol the venue deletes can no longer
be traded: whoever quotes it must cancel and stop. This module only keeps the list and says
what changed; the trading side decides what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from truex_qf.domain.model import ListUpdateAction, SecurityInfo, SecurityList, SecurityListUpdate


@dataclass(frozen=True, slots=True)
class InstrumentChanges:
    """What one SecurityList or SecurityListUpdate changed in the known list."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)


class KnownInstruments:
    """Symbol -> SecurityInfo as the venue last described it. Plain state, one owner."""

    def __init__(self) -> None:
        self._instruments: dict[str, SecurityInfo] = {}

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._instruments

    def get(self, symbol: str) -> SecurityInfo | None:
        return self._instruments.get(symbol)

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(self._instruments)

    def apply_list(self, security_list: SecurityList) -> InstrumentChanges:
        """A SecurityList replaces the whole list (TrueX sends all of it in one message).

        A list the venue marks as failed (560 other than 0) changes nothing: "no instruments
        found" on a bad request is not a delisting of everything.
        """
        if security_list.result not in (None, "0"):
            return InstrumentChanges()
        new = {security.symbol: security for security in security_list.securities}
        old = self._instruments
        self._instruments = new
        return InstrumentChanges(
            added=tuple(sorted(new.keys() - old.keys())),
            removed=tuple(sorted(old.keys() - new.keys())),
            modified=tuple(sorted(s for s in new.keys() & old.keys() if new[s] != old[s])),
        )

    def apply_update(self, update: SecurityListUpdate) -> InstrumentChanges:
        """Apply each entry in order: A and S add or restate, M replaces, D removes."""
        added: list[str] = []
        removed: list[str] = []
        modified: list[str] = []
        for entry in update.updates:
            symbol = entry.security.symbol
            known = symbol in self._instruments
            if entry.action is ListUpdateAction.DELETE:
                if known:
                    del self._instruments[symbol]
                    removed.append(symbol)
                continue
            if not known:
                added.append(symbol)
            elif self._instruments[symbol] != entry.security:
                modified.append(symbol)
            self._instruments[symbol] = entry.security
        return InstrumentChanges(tuple(added), tuple(removed), tuple(modified))
