"""The real servers some tests need: PostgreSQL and Redis on 127.0.0.1.

A test asks for a server with :func:`postgres_url_or_skip` / :func:`redis_url_or_skip`. Without
the server the test is skipped, unless ``TRUEX_QF_REQUIRE_SERVICES=1`` (CI), where a missing
server is a failure: CI must never pass by skipping. ``TRUEX_QF_TEST_POSTGRES_URL`` and
``TRUEX_QF_TEST_REDIS_URL`` point the tests at other servers.

:func:`temporary_postgres_database` gives a test its own empty database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get(
    "TRUEX_QF_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TRUEX_QF_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CONNECT_TIMEOUT_S = 3


def services_required() -> bool:
    return os.environ.get("TRUEX_QF_REQUIRE_SERVICES") == "1"


def _unavailable(message: str) -> None:
    if services_required():
        pytest.fail(f"{message} (TRUEX_QF_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def postgres_url_or_skip() -> str:
    """The test PostgreSQL server's URL, once it answers a query; else skip (or fail in CI)."""
    masked = make_url(POSTGRES_URL).render_as_string(hide_password=True)
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        _unavailable(f"PostgreSQL not reachable at {masked}: {reason}")
    finally:
        engine.dispose()
    return POSTGRES_URL


def redis_url_or_skip() -> str:
    """The test Redis server's URL (database 15), once it answers PING; else skip (or fail)."""
    import redis

    client = redis.Redis.from_url(
        REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        client.ping()
    except Exception as error:
        _unavailable(f"Redis not reachable at {REDIS_URL}: {error}")
    finally:
        client.close()
    return REDIS_URL


@contextmanager
def temporary_postgres_database(server_url: str, prefix: str = "truexqf_test") -> Iterator[str]:
    """A new empty database on ``server_url``'s server, dropped on exit; yields its URL.

    Created and dropped over an autocommit connection to the ``postgres`` database; the drop
    is forced, so a connection a failed test left open cannot keep it alive.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server = make_url(server_url)
    admin = create_engine(
        server.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
