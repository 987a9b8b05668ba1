"""The database URL, the engine, the Alembic migrations and the schema check, on real databases.

The migrated schema must be exactly ``schema.metadata`` (Alembic's own autogenerate comparison
finds nothing) on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text

from tests.support.services import postgres_url_or_skip, temporary_postgres_database
from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.storage import database
from truex_qf.storage.database import (
    alembic_config,
    check_schema,
    database_url,
    make_engine,
    upgrade,
)
from truex_qf.storage.schema import SCHEMA_REVISION, metadata


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'truex-qf.db'}"
        return
    with temporary_postgres_database(postgres_url_or_skip()) as url:
        yield url


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def schema_differences(url: str, target: MetaData = metadata) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, target))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- migrations


def test_upgrade_builds_exactly_the_schema(empty_url: str) -> None:
    assert upgrade(empty_url) == SCHEMA_REVISION == "0002"
    assert schema_differences(empty_url) == []
    engine = make_engine(empty_url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert names == set(metadata.tables) | {"alembic_version"}


def test_the_comparison_would_see_a_difference(empty_url: str) -> None:
    """A control for the test above: the comparison is not vacuous."""
    upgrade(empty_url)
    changed = MetaData()
    for table in metadata.sorted_tables:
        copy = table.to_metadata(changed)
        if table.name == "orders":
            copy.append_column(Column("extra", Integer))
    kinds = {diff[0] for diff in schema_differences(empty_url, changed)}  # type: ignore[index]
    assert kinds == {"add_column"}
    without_journal = MetaData()
    for table in metadata.sorted_tables:
        if table.name != "fix_journal":
            table.to_metadata(without_journal)
    assert {d[0] for d in schema_differences(empty_url, without_journal)} == {  # type: ignore[index]
        "remove_index",
        "remove_table",
    }


def test_upgrade_twice_is_harmless_and_downgrade_removes_everything(empty_url: str) -> None:
    upgrade(empty_url)
    assert upgrade(empty_url) == SCHEMA_REVISION
    command.downgrade(alembic_config(empty_url), "base")  # env.py opens its own connection
    engine = make_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    assert upgrade(empty_url) == SCHEMA_REVISION
    assert schema_differences(empty_url) == []


def test_0002_adds_quote_snapshots_and_keeps_what_0001_stored(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "0001")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO runs (run_id, mode, venue, sender_comp_id, started_at) "
                    "VALUES ('old-run', 'demo', 'x', 'ME', '2026-12-01 10:00:00+00')"
                )
            )
        assert "quote_snapshots" not in inspect(engine).get_table_names()
        assert upgrade(empty_url) == "0002"
        assert "quote_snapshots" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT run_id FROM runs")).scalars().all() == [
                "old-run"
            ]
    finally:
        engine.dispose()
    assert schema_differences(empty_url) == []
    command.downgrade(alembic_config(empty_url), "0001")
    engine = make_engine(empty_url)
    try:
        assert "quote_snapshots" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_default_sqlite_store_is_migrated_forward_on_start(tmp_path: Path) -> None:
    """The demo's and run's own SQLite file, made by an older truex-qf: the program migrates
    it; a store named by DATABASE_URL is left to `truex-qf db upgrade`."""
    from truex_qf.app.pipeline import pipeline_settings, prepare_database

    state = tmp_path / "state"
    url = f"sqlite:///{state / 'truex-qf.db'}"
    command.upgrade(alembic_config(url), "0001")  # as the previous version left it
    prepare_database(pipeline_settings(state, "default", env={}))
    check_schema(url)

    named = f"sqlite:///{tmp_path / 'named.db'}"
    command.upgrade(alembic_config(named), "0001")
    with pytest.raises(TruexError, match="revision 0001, this program needs 0002"):
        prepare_database(pipeline_settings(state, "default", env={"DATABASE_URL": named}))


# --------------------------------------------------------------------------- check_schema


def test_check_schema_refuses_an_empty_database_then_accepts_it_upgraded(empty_url: str) -> None:
    with pytest.raises(TruexError) as refused:
        check_schema(empty_url)
    assert "has no schema" in str(refused.value)
    assert "run `truex-qf db upgrade`" in str(refused.value)
    upgrade(empty_url)
    check_schema(empty_url)


def test_check_schema_names_the_revision_it_found(empty_url: str, monkeypatch) -> None:
    upgrade(empty_url)
    monkeypatch.setattr(database, "SCHEMA_REVISION", "0003")  # as a newer program would
    with pytest.raises(TruexError) as older:
        check_schema(empty_url)
    assert str(older.value) == (
        "database schema is at revision 0002, this program needs 0003: run `truex-qf db upgrade`"
    )
    monkeypatch.undo()
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    finally:
        engine.dispose()
    with pytest.raises(TruexError) as newer:
        check_schema(empty_url)
    assert "revision ffff, which this version of truex-qf does not know" in str(newer.value)


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    url = f"postgresql+psycopg2://trader:s3cret@127.0.0.1:{closed_port()}/truexqf"
    started = time.monotonic()
    with pytest.raises(TruexError) as unreachable:
        check_schema(url)
    assert time.monotonic() - started < 5
    message = str(unreachable.value)
    assert message.startswith(
        "cannot reach the database at postgresql+psycopg2://trader:***@127.0.0.1:"
    )
    assert "s3cret" not in message and "\n" not in message
    assert "Connection refused" in message
    with pytest.raises(TruexError) as also:
        upgrade(url)
    assert "s3cret" not in str(also.value)


def test_a_failed_migration_is_one_line(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        metadata.create_all(engine)  # tables, but not made by Alembic
    finally:
        engine.dispose()
    with pytest.raises(TruexError) as failed:
        upgrade(empty_url)
    message = str(failed.value)
    assert message.startswith("upgrading the database at ") and " failed: " in message
    assert "runs" in message and "already exists" in message and "\n" not in message


# --------------------------------------------------------------------------- URL and engine


def test_the_default_is_sqlite_in_the_state_directory(tmp_path: Path) -> None:
    url = database_url(tmp_path / "state", env={})
    assert url == f"sqlite:///{tmp_path / 'state' / 'truex-qf.db'}"
    assert database_url(tmp_path, env={"DATABASE_URL": "  "}) == f"sqlite:///{tmp_path}/truex-qf.db"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgres://u:p@db:5432/tq", "postgresql+psycopg2://u:p@db:5432/tq"),
        ("postgresql://u@db/tq", "postgresql+psycopg2://u@db/tq"),
        ("postgresql+psycopg2://u:p%40ss@db/tq", "postgresql+psycopg2://u:p%40ss@db/tq"),
        ("sqlite:////var/lib/truex/x.db", "sqlite:////var/lib/truex/x.db"),
    ],
)
def test_database_url_from_the_environment(tmp_path: Path, given: str, expected: str) -> None:
    assert database_url(tmp_path, env={"DATABASE_URL": given}) == expected


@pytest.mark.parametrize(
    "given, problem",
    [
        ("not a url", "not a database URL"),
        ("postgresql://u:hunter2@db:notaport/x", "not a database URL"),
        ("mysql://u:hunter2@db/x", "unsupported database mysql+"),
        ("postgresql+asyncpg://u:hunter2@db/x", "unsupported database postgresql+asyncpg"),
    ],
)
def test_a_bad_database_url_names_the_setting_not_the_password(
    tmp_path: Path, given: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as bad:
        database_url(tmp_path, env={"DATABASE_URL": given})
    assert bad.value.setting == "DATABASE_URL"
    assert str(bad.value).startswith("DATABASE_URL: ")
    assert problem in str(bad.value)
    assert "hunter2" not in str(bad.value)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_engine_settings() -> None:
    engine = make_engine(postgres_url_or_skip())
    try:
        assert engine.pool._pre_ping  # type: ignore[attr-defined]
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW application_name").scalar() == "truex-qf"
    finally:
        engine.dispose()
