"""Where the database is, how to connect to it, and whether its schema is the one we need.

The program stores into SQLite (a file in the state directory, the default) or PostgreSQL
(``DATABASE_URL``). The schema is created and moved forward only by Alembic
(``truex-qf db upgrade`` → :func:`upgrade`); the program checks the revision at start
(:func:`check_schema`) and refuses a database at any other revision rather than half-working.
Every message that names a database shows its URL with the password masked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from truex_qf.config import database_url_setting
from truex_qf.domain import netutil
from truex_qf.domain.errors import ConfigError, TruexError
from truex_qf.storage.schema import SCHEMA_REVISION

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE_NAME = "truex-qf.db"
UPGRADE_HINT = "run `truex-qf db upgrade`"

# An unreachable PostgreSQL must fail in seconds, not after the kernel's TCP timeout; the
# keepalives notice a server that vanished under an open connection.
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "application_name": "truex-qf",
}
_SUPPORTED_DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg2")}


def mask_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return netutil.mask_url(url)


def database_url(state_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """``DATABASE_URL`` when set, else the SQLite file ``truex-qf.db`` in ``state_dir``.

    ``postgres://`` and ``postgresql://`` mean PostgreSQL through psycopg2. Raises
    :class:`ConfigError` naming ``DATABASE_URL`` (with the password masked) when it does not
    parse or names a database this program cannot write to.
    """
    raw = database_url_setting(env)  # the environment (or ``env``), read by truex_qf.config
    if not raw:
        path = Path(state_dir).expanduser().resolve() / SQLITE_FILE_NAME
        return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)
    for scheme in ("postgres://", "postgresql://"):
        if raw.startswith(scheme):
            raw = "postgresql+psycopg2://" + raw[len(scheme) :]
    try:
        url = make_url(raw)
        port = url.port
    except (ArgumentError, ValueError):
        raise ConfigError("DATABASE_URL", f"not a database URL: {_masked_head(raw)}") from None
    backend = url.get_backend_name()
    try:
        driver = url.get_driver_name()
    except ArgumentError:  # NoSuchModuleError: no dialect of that name (mongodb://, http://)
        driver = ""
    if (backend, driver) not in _SUPPORTED_DRIVERS:
        name = f"{backend}+{driver}" if driver else backend
        raise ConfigError(
            "DATABASE_URL",
            f"unsupported database {name} in {mask_url(url)}: "
            "use postgresql://user@host/db or sqlite:///path/to/file.db",
        )
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("DATABASE_URL", f"port {port} is not a port number (1-65535)")
    if backend == "sqlite":
        _check_sqlite_folder(url.database)
    return url.render_as_string(hide_password=False)


def _masked_head(raw: str) -> str:
    """What can be shown of a URL that does not parse: its scheme, never what may be a secret."""
    scheme, sep, _ = raw.partition("://")
    return f"{scheme[:20]}://..." if sep else "(no scheme://)"


def _check_sqlite_folder(database: str | None) -> None:
    """Refuse a SQLite path that can never be a file: below a file, or itself a folder.

    Nothing is created here (:func:`make_engine` makes the folder); a folder that cannot be
    written fails when connecting, with SQLite's reason.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    if path.is_dir():
        raise ConfigError("DATABASE_URL", f"{path} is a folder, not a database file")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError("DATABASE_URL", f"{existing} is a file, not a folder, in {path}")


def make_engine(url: str, *, sqlite_begin: str = "BEGIN") -> Engine:
    """An engine for ``url``: SQLite in WAL mode, PostgreSQL with a short connect timeout.

    On SQLite, transactions are real ones (pysqlite's own handling would leave SELECTs and DDL
    outside them): each starts with ``sqlite_begin``. The writer passes ``"BEGIN IMMEDIATE"``
    so that reading the journal's last hash and appending to it hold the write lock together,
    even against another process writing the same file.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # a fresh state directory; if it cannot be made, connecting says why
            with contextlib.suppress(OSError):
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(sqlite_begin)

        return engine
    connect_args = {k: v for k, v in POSTGRES_CONNECT_ARGS.items() if k not in parsed.query}
    return create_engine(
        parsed, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True
    )


def one_line(error: BaseException) -> str:
    """A driver error as one short line (psycopg2's span several, SQLAlchemy adds a link)."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error) or type(error).__name__
    text = text.split("(Background on this error", 1)[0]
    return " ".join(text.split())[:300]


def alembic_config(url: str) -> Config:
    """Alembic's configuration built in code: no alembic.ini is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url  # not a main option: '%' would be interpolated
    return config


def _connect(engine: Engine, url: str) -> Connection:
    try:
        return engine.connect()
    except SQLAlchemyError as error:
        message = f"cannot reach the database at {mask_url(url)}: {one_line(error)}"
        raise TruexError(message) from None


def upgrade(url: str) -> str:
    """Migrate the database at ``url`` to the newest schema; returns its revision."""
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with _connect(engine, url) as connection:
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    return current_revision_of(connection) or ""
            except SQLAlchemyError as error:
                message = f"upgrading the database at {mask_url(url)} failed: {one_line(error)}"
                raise TruexError(message) from None
    finally:
        engine.dispose()


def current_revision_of(connection: Any) -> str | None:
    """The Alembic revision the connected database is at; None when it has no schema."""
    return MigrationContext.configure(connection).get_current_revision()


def check_schema(url: str) -> None:
    """Raise :class:`TruexError` unless the database at ``url`` is at :data:`SCHEMA_REVISION`."""
    engine = make_engine(url)
    try:
        with _connect(engine, url) as connection:
            try:
                revision = current_revision_of(connection)
            except SQLAlchemyError as error:
                message = (
                    f"reading the schema revision at {mask_url(url)} failed: {one_line(error)}"
                )
                raise TruexError(message) from None
    finally:
        engine.dispose()
    if revision == SCHEMA_REVISION:
        return
    if revision is None:
        raise TruexError(f"database at {mask_url(url)} has no schema: {UPGRADE_HINT}")
    known = {
        script.revision
        for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
    }
    if revision not in known:
        raise TruexError(
            f"database schema is at revision {revision}, which this version of truex-qf does "
            f"not know (a newer truex-qf migrated it); this program needs {SCHEMA_REVISION}"
        )
    raise TruexError(
        f"database schema is at revision {revision}, this program needs {SCHEMA_REVISION}: "
        f"{UPGRADE_HINT}"
    )
