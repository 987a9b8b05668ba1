"""Where runs are stored, which run a report means, and the list of runs (``truex-qf runs``).

A state folder (``TRUEX_STATE_DIR``) has at most two stores, by a fixed layout, so no index
file is needed and none can go stale:

- the program's: ``DATABASE_URL``, else ``<state>/truex-qf.db`` (what ``run`` writes);
- the demo's: ``<state>/demo/truex-qf.db`` (the demo keeps its log, sequence numbers and store
  in ``<state>/demo`` so that it never mixes with a real account's). With ``DATABASE_URL`` set
  the demo writes to that database too, so there is then only one store.

Every report command looks in both: without a run id it takes the run that started last in
either (:func:`resolve_run`), with one it accepts any unique prefix of it. An unknown or
ambiguous id is a :class:`~truex_qf.domain.errors.ConfigError` (one line, exit 2). A store
that does not exist yet is skipped, never created: reading must not leave files behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.ops.reports import Report, fetch_rows, format_decimal
from truex_qf.storage.database import check_schema, database_url, make_engine
from truex_qf.storage.schema import executions, pnl_snapshots, runs

DEMO_SUBDIR = "demo"
"""The demo's own state folder under TRUEX_STATE_DIR."""

RUN_ID_SHOWN = 8
"""How many characters of a run id the lists show; any unique prefix is accepted back."""


def demo_state_dir(state_dir: Path) -> Path:
    return Path(state_dir) / DEMO_SUBDIR


def store_urls(state_dir: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """The state folder's stores that exist: the program's, then the demo's (module doc)."""
    urls = []
    for folder in (Path(state_dir), demo_state_dir(state_dir)):
        url = database_url(folder, env)
        if url not in urls and _exists(url):
            urls.append(url)
    return urls


def _exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True  # a server: reading it says whether it answers
    return bool(parsed.database and Path(parsed.database).is_file())


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A row of ``runs`` and the store it is in."""

    run_id: str
    mode: str
    sender_comp_id: str
    started_at: datetime
    ended_at: datetime | None
    url: str

    @property
    def short_id(self) -> str:
        return self.run_id[:RUN_ID_SHOWN]


@contextmanager
def open_store(url: str) -> Iterator[Engine]:
    """An engine on ``url`` once its schema is checked; disposed on exit."""
    check_schema(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def stored_runs(urls: list[str]) -> list[StoredRun]:
    """Every run of every store, newest first (by ``started_at``)."""
    found: list[StoredRun] = []
    for url in urls:
        with open_store(url) as engine:
            for row in fetch_rows(engine, select(runs), "runs"):
                found.append(
                    StoredRun(
                        run_id=row["run_id"],
                        mode=row["mode"],
                        sender_comp_id=row["sender_comp_id"],
                        started_at=_utc(row["started_at"]),
                        ended_at=_utc(row["ended_at"]) if row["ended_at"] else None,
                        url=url,
                    )
                )
    found.sort(key=lambda run: (run.started_at, run.run_id), reverse=True)
    return found


def resolve_run(urls: list[str], run_ref: str | None) -> StoredRun:
    """The run ``run_ref`` names (a unique prefix), else the latest; exit 2 when none fits."""
    every = stored_runs(urls)
    if run_ref is None:
        if not every:
            raise TruexError("no run stored yet: start one with `truex-qf demo` or `truex-qf run`")
        return every[0]
    ref = run_ref.strip()
    matches = [run for run in every if run.run_id == ref] or [
        run for run in every if ref and run.run_id.startswith(ref)
    ]
    if not matches:
        raise ConfigError("run id", f"{run_ref!r}: no such run (`truex-qf runs` lists them)")
    if len({run.run_id for run in matches}) > 1:
        shown = ", ".join(run.short_id for run in matches[:5])
        raise ConfigError("run id", f"{run_ref!r} is ambiguous: {shown}; give more of it")
    return matches[0]


# --------------------------------------------------------------------------- the list


@dataclass(frozen=True, slots=True)
class RunLine:
    """One line of ``truex-qf runs``."""

    run: StoredRun
    fills: int
    volume_base: Decimal
    pnl_quote: Decimal | None  # realized + unrealized - fees, from the last snapshots


def run_lines(urls: list[str], limit: int | None = None) -> list[RunLine]:
    """The runs newest first, each with its fills, volume and PnL."""
    every = stored_runs(urls)[:limit] if limit else stored_runs(urls)
    lines = []
    for url in urls:
        mine = [run for run in every if run.url == url]
        if not mine:
            continue
        with open_store(url) as engine:
            totals = _fill_totals(engine, [run.run_id for run in mine])
            pnl = _last_pnl(engine, [run.run_id for run in mine])
        for run in mine:
            fills, volume = totals.get(run.run_id, (0, Decimal(0)))
            lines.append(RunLine(run, fills, volume, pnl.get(run.run_id)))
    lines.sort(key=lambda line: (line.run.started_at, line.run.run_id), reverse=True)
    return lines


def _fill_totals(engine: Engine, run_ids: list[str]) -> dict[str, tuple[int, Decimal]]:
    """Fills and base volume per run, summed here: SQLite's SUM would go through floats."""
    query = select(executions.c.run_id, executions.c.quantity).where(
        executions.c.run_id.in_(run_ids)
    )
    totals: dict[str, tuple[int, Decimal]] = {}
    for row in fetch_rows(engine, query, "executions"):
        count, volume = totals.get(row["run_id"], (0, Decimal(0)))
        totals[row["run_id"]] = (count + 1, volume + Decimal(row["quantity"]))
    return totals


def _last_pnl(engine: Engine, run_ids: list[str]) -> dict[str, Decimal]:
    last_ids = (
        select(func.max(pnl_snapshots.c.id))
        .where(pnl_snapshots.c.run_id.in_(run_ids))
        .group_by(pnl_snapshots.c.run_id, pnl_snapshots.c.symbol)
        .scalar_subquery()
    )
    rows = fetch_rows(
        engine, select(pnl_snapshots).where(pnl_snapshots.c.id.in_(last_ids)), "pnl_snapshots"
    )
    totals: dict[str, Decimal] = {}
    for row in rows:
        value = (
            Decimal(row["realized_pnl_quote"])
            + Decimal(row["unrealized_pnl_quote"] or 0)
            - Decimal(row["fees_quote"])
        )
        totals[row["run_id"]] = totals.get(row["run_id"], Decimal(0)) + value
    return totals


RUNS_COLUMNS = ["id", "started_utc", "duration", "mode", "fills", "volume", "pnl"]


def runs_report(lines: Iterable[RunLine]) -> Report:
    """``truex-qf runs``: :class:`RunLine` rows, as given (newest first).

    ``volume`` is base quantity summed over the run's symbols, ``pnl`` the net PnL
    (realized + unrealized - fees, quote currency) of the last snapshots, at 2 decimals.
    """
    rows = []
    for line in lines:
        run = line.run
        rows.append(
            [
                run.short_id,
                run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                duration_text(run),
                run.mode,
                str(line.fills),
                format_decimal(line.volume_base),
                "" if line.pnl_quote is None else f"{line.pnl_quote:.2f}",
            ]
        )
    return Report(list(RUNS_COLUMNS), rows)


def duration_text(run: StoredRun, now: datetime | None = None) -> str:
    """``1h02m``, ``4m05s``, ``12s``; a run without an end is ``running`` (or crashed)."""
    if run.ended_at is None:
        return "running"
    seconds = max(0, int((run.ended_at - run.started_at).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
