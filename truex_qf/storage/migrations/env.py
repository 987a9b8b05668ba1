"""Alembic's environment, run by :func:`truex_qf.storage.database.upgrade` (no alembic.ini).

The program builds Alembic's configuration in code and hands over an open connection
(``config.attributes["connection"]``). To author the next revision against a database at the
current head, without an ini file::

    from alembic import command
    from truex_qf.storage.database import alembic_config
    command.revision(alembic_config(url), "what changed", autogenerate=True, rev_id="0002")

then check the generated ops by hand and bump ``SCHEMA_REVISION`` in ``schema.py``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from truex_qf.config import database_url_setting
from truex_qf.storage.schema import metadata

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: later revisions rebuild tables in batch mode
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    # imported here: the program's path above never needs an engine of its own
    from truex_qf.storage.database import make_engine

    url = config.attributes.get("database_url") or database_url_setting()
    if not url:
        raise RuntimeError("set DATABASE_URL to the database to migrate")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run them on a database")
run_migrations()
